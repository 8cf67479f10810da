"""The one switch for whalewire's optional C accelerators, read from the environment once.

Every accelerated module (``ws.mask``, ``ws.utf8``, ``ws.frames``, ``ws.protocol``,
``ws.assembly``, ``net._protocol``, ``net.nativetls``, ``venues.templates``,
``venues.books``, ``mempool.tx``, ``mempool.whales``, ``addresses.walk``) loads its
extension through ``load`` and registers its path switch with ``register``; none reads the
environment itself, so one setting holds for all of them:

- ``WHALEWIRE_NO_SPEEDUPS=1``: every module starts on its pure-Python path, the reference
  the C paths are tested against (``setup.py`` also skips the build).
- ``WHALEWIRE_REQUIRE_SPEEDUPS=1`` (CI): an extension that is not built fails the import of
  the module that wants it, loudly, instead of falling back in silence.

``use(enabled)`` moves every registered module to one path at once (tests run the same
vectors over both; benchmarks compare them); ``active()`` says which path each one runs.
Knows no other whalewire module.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType
from typing import Final

__all__ = ["ENABLED", "REQUIRED", "active", "enabled", "load", "register", "use"]

#: False when ``WHALEWIRE_NO_SPEEDUPS=1``: modules start on their pure-Python paths
ENABLED: Final = os.environ.get("WHALEWIRE_NO_SPEEDUPS") != "1"
#: True when ``WHALEWIRE_REQUIRE_SPEEDUPS=1``: a missing extension fails the import
REQUIRED: Final = os.environ.get("WHALEWIRE_REQUIRE_SPEEDUPS") == "1"

#: ``switch(enabled)`` moves a module to a path and returns whether C now runs there
Switch = Callable[[bool], bool]

_enabled = ENABLED
_switches: dict[str, Switch] = {}
_active: dict[str, bool] = {}


def load(name: str) -> ModuleType | None:
    """Import the C extension ``name``; return None when it is not built.

    The extension is imported even when speedups are off, so that ``use(True)`` can switch
    to it later (tests compare both paths in one process).

    Raises:
        ImportError: it is not built and ``WHALEWIRE_REQUIRE_SPEEDUPS=1``.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if REQUIRED:
            raise ImportError(
                f"WHALEWIRE_REQUIRE_SPEEDUPS=1 but the C extension {name} is not built"
            ) from exc
        return None


def register(module: str, switch: Switch) -> None:
    """Put ``module`` on the current path now and on whatever path ``use`` picks later."""
    _switches[module] = switch
    _active[module] = switch(_enabled)


def use(enabled: bool) -> bool:
    """Move every registered module to the C path (where built) or to pure Python.

    Returns the previous setting. Objects that bind their path when built (connections,
    order templates) keep the one they bound.
    """
    global _enabled
    old = _enabled
    _enabled = enabled
    for module, switch in _switches.items():
        _active[module] = switch(enabled)
    return old


def enabled() -> bool:
    """Return whether the C paths are asked for (where built)."""
    return _enabled


def active() -> dict[str, bool]:
    """Return, for each registered module, whether its C path is the one that runs."""
    return dict(_active)

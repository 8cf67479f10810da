"""Fixtures for the ws tests: run each test over the C accelerator and over pure Python.

``impl`` switches every accelerated module (``whalewire.speedups``: ``ws.mask``, ``ws.utf8``,
``ws.frames``, the frame scanner of ``ws.protocol``, ...) to one path for the test's duration. The C
case is skipped when the extension was not built; with ``WHALEWIRE_REQUIRE_SPEEDUPS=1``
(CI) a test in ``test_mask.py`` fails instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from whalewire import speedups
from whalewire.ws import mask

HAVE_C = mask._HAVE_C


@pytest.fixture(params=["c", "python"])
def impl(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with the C accelerator, then with pure Python."""
    name: str = request.param
    if name == "c" and not HAVE_C:
        pytest.skip("whalewire.ws._speedups is not built")
    old = speedups.use(name == "c")
    try:
        yield name
    finally:
        speedups.use(old)

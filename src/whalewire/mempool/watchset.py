"""The watch set: scriptPubKeys mapped to indexes into a list of values, at chain scale.

Holds ``new_watch_set`` (the compact C set when built, else the reference), ``PyWatchSet``
(the pure-Python reference: same methods, same answers, a dict inside), ``script_hash``
(the 64-bit hash the C set places scripts by, kept here so tests can hold both to one
definition) and ``WatchSetLike``, the type detectors accept. The C set
(``whalewire.mempool._scan.WatchSet``, ``_watchset.c``) holds 50 million scripts in about
35 bytes each and is looked up by ``_scan.scan_tx`` without a Python object per output.

A value is shared by many scripts (an entity's role: every deposit address of one
exchange is one value), so a script costs an index, never an object. ``values`` is append
only: a script's index must keep meaning the same value. It knows nothing of transactions
or addresses.
"""

from __future__ import annotations

from typing import Any, Final, Generic, Protocol, TypeVar, overload

__all__ = ["MAX_SCRIPT", "PyWatchSet", "WatchSetLike", "new_watch_set", "script_hash"]

_V = TypeVar("_V")
_D = TypeVar("_D")

#: the longest script the set watches (standard output scripts are at most 42 bytes)
MAX_SCRIPT: Final = 255
_M64: Final = (1 << 64) - 1
_K: Final = 0x9E3779B97F4A7C15


def script_hash(script: bytes) -> int:
    """Return the 64-bit hash the compact set places ``script`` by (``_watchset.c``)."""
    n = len(script)
    h = (0xC2B2AE3D27D4EB4F ^ (n * _K)) & _M64
    for pos in range(0, n, 8):
        h ^= int.from_bytes(script[pos : pos + 8], "little")
        h = (h * _K) & _M64
        h ^= h >> 29
    # MurmurHash3's finaliser
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _M64
    h ^= h >> 33
    return h


class WatchSetLike(Protocol[_V]):
    """What a detector needs from a watch set: either implementation satisfies it."""

    @property
    def values(self) -> list[_V]:
        """Return the list a script's index picks from."""
        ...

    def add(self, script: bytes, index: int, /) -> bool:
        """Watch ``script`` as ``values[index]``; return True when it was not watched."""
        ...

    def add_many(self, scripts: list[bytes], index: int, /) -> int:
        """Watch every script as ``values[index]``; return how many were new."""
        ...

    def discard(self, script: bytes, /) -> bool:
        """Stop watching ``script``; return True when it was watched."""
        ...

    @overload
    def get(self, script: bytes, /) -> _V | None: ...
    @overload
    def get(self, script: bytes, default: _D, /) -> _V | _D: ...

    def reserve(self, count: int, /) -> None:
        """Make room for ``count`` scripts now."""
        ...

    def __len__(self) -> int: ...
    def __contains__(self, script: object, /) -> bool: ...


class PyWatchSet(Generic[_V]):
    """The reference watch set: a dict of script to index, the C set's behaviour exactly."""

    __slots__ = ("_index", "values")

    def __init__(self, values: list[_V]) -> None:
        """Start empty; ``values`` is the list indexes point into (append to it, never cut)."""
        self.values = values
        self._index: dict[bytes, int] = {}

    def add(self, script: bytes, index: int, /) -> bool:
        """Watch ``script`` as ``values[index]``; return True when it was not watched.

        Raises:
            IndexError: ``index`` is not an index of ``values``.
            ValueError: the script is longer than ``MAX_SCRIPT``.
        """
        if not 0 <= index < len(self.values):
            raise IndexError(f"index {index}: values holds {len(self.values)}")
        script = bytes(script)
        if len(script) > MAX_SCRIPT:
            raise ValueError(f"script of {len(script)} bytes: at most {MAX_SCRIPT} are watched")
        new = script not in self._index
        self._index[script] = index
        return new

    def add_many(self, scripts: list[bytes], index: int, /) -> int:
        """Watch every script as ``values[index]``; return how many were new."""
        return sum(self.add(s, index) for s in scripts)

    def discard(self, script: bytes, /) -> bool:
        """Stop watching ``script``; return True when it was watched."""
        return self._index.pop(bytes(script), None) is not None

    def get(self, script: bytes, default: Any = None, /) -> Any:
        """Return the value watched for ``script``, or ``default``."""
        index = self._index.get(script)
        return default if index is None else self.values[index]

    def reserve(self, count: int, /) -> None:
        """Accept a size hint (a dict needs none)."""
        if count < 0:
            raise ValueError("reserve: a negative count")

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, script: object) -> bool:
        return script in self._index


def new_watch_set(values: list[_V]) -> WatchSetLike[_V]:
    """Return an empty watch set over ``values``: the compact C one when it is built."""
    try:
        from whalewire.mempool._scan import WatchSet  # noqa: PLC0415 - optional extension
    except ImportError:
        return PyWatchSet(values)
    made: WatchSetLike[_V] = WatchSet(values)
    return made

"""Types of the optional C walks behind whale detection (see ``_scan.c``)."""

from typing import Generic, TypeVar, overload

_V = TypeVar("_V")
_D = TypeVar("_D")

class WatchSet(Generic[_V]):
    """scriptPubKeys mapped to indexes into ``values`` (compact; see ``_watchset.c``)."""

    def __init__(self, values: list[_V]) -> None: ...
    @property
    def values(self) -> list[_V]: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    def add(self, script: bytes, index: int, /) -> bool: ...
    def add_many(self, scripts: list[bytes], index: int, /) -> int: ...
    def discard(self, script: bytes, /) -> bool: ...
    @overload
    def get(self, script: bytes, /) -> _V | None: ...
    @overload
    def get(self, script: bytes, default: _D, /) -> _V | _D: ...
    def reserve(self, count: int, /) -> None: ...
    def __len__(self) -> int: ...
    def __contains__(self, script: object, /) -> bool: ...

def script_hash(script: bytes) -> int:
    """Return the watch set's 64-bit hash of a script."""

def scan_tx(
    raw: bytes, watch: dict[bytes, _V] | WatchSet[_V], spent: dict[bytes, _V]
) -> tuple[list[tuple[int, int, _V]], list[tuple[int, _V]]] | None:
    """Match outputs against ``watch`` and outpoints against ``spent``; None: use Python."""

def inspect(
    raw: bytes, by_pkh: dict[bytes, _V], by_sh: dict[bytes, _V], by_wsh: dict[bytes, _V]
) -> tuple[bytes, str, list[tuple[int, _V]]] | None:
    """Return the txid (internal order, then display hex) and the inputs whose keys are known.

    None: use Python.
    """

def reveal(
    raw: bytes, by_pkh: dict[bytes, _V], by_sh: dict[bytes, _V], by_wsh: dict[bytes, _V]
) -> list[tuple[int, _V]] | None:
    """Return the inputs whose keys are known, as ``inspect`` does, without the txid.

    None: use Python.
    """

def txid(raw: bytes) -> str | None:
    """Return the display-order hex txid of exactly one transaction; None: use Python."""

def hash160(data: bytes | bytearray | memoryview) -> bytes:
    """Return RIPEMD160(SHA256(data))."""

"""Types of the optional C walks behind whale detection (see ``_scan.c``)."""

from typing import TypeVar

_V = TypeVar("_V")

def scan_tx(
    raw: bytes, watch: dict[bytes, _V], spent: dict[bytes, _V]
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

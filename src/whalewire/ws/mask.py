"""Masking of frame payloads (RFC 6455 §5.3) and the pool of unpredictable mask keys.

Holds ``apply_mask`` (returns a masked copy), ``apply_mask_inplace`` (masks a writable
buffer where it lies) and ``MaskKeyPool``. The C accelerator is used when it was built and
``whalewire.speedups`` says so; ``SPEEDUPS`` says which path is live. This module knows
nothing of frames or connections.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Final

from whalewire import speedups

__all__ = [
    "SPEEDUPS",
    "MaskKeyPool",
    "apply_mask",
    "apply_mask_inplace",
    "default_key_pool",
    "py_apply_mask",
    "py_apply_mask_inplace",
]

BytesLike = bytes | bytearray | memoryview

# None when not built (no compiler at install time): the pure-Python path below is complete
_speedups: ModuleType | None = speedups.load("whalewire.ws._speedups")
_HAVE_C = _speedups is not None


def py_apply_mask(data: BytesLike, key: BytesLike) -> bytes:
    """Return ``data`` XORed with the 4-byte ``key`` repeated (pure Python).

    One big-integer XOR over the whole buffer: CPython does it in C, so this is far faster
    than a per-byte loop.

    Raises:
        ValueError: ``key`` is not 4 bytes long.
    """
    k = bytes(key)
    if len(k) != 4:
        raise ValueError(f"mask key must be 4 bytes, got {len(k)}")
    n = len(data)
    if n == 0:
        return b""
    q, r = divmod(n, 4)
    stream = k * q + k[:r]
    x = int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")
    return x.to_bytes(n, "little")


def py_apply_mask_inplace(buf: bytearray | memoryview, key: BytesLike) -> None:
    """XOR the writable ``buf`` with the 4-byte ``key`` repeated, in place (pure Python).

    Raises:
        ValueError: ``key`` is not 4 bytes long.
        TypeError: ``buf`` is read-only.
    """
    masked = py_apply_mask(buf, key)
    if isinstance(buf, memoryview) and buf.readonly:
        raise TypeError("cannot mask a read-only buffer in place")
    buf[:] = masked


apply_mask = py_apply_mask
apply_mask_inplace = py_apply_mask_inplace
#: True when the C accelerator (``whalewire.ws._speedups``) does the masking
SPEEDUPS = False


def _switch(enabled: bool) -> bool:
    # whalewire.speedups calls this; callers that bound apply_mask at import keep theirs
    global apply_mask, apply_mask_inplace, SPEEDUPS
    if enabled and _speedups is not None:
        apply_mask = _speedups.apply_mask
        apply_mask_inplace = _speedups.apply_mask_inplace
        SPEEDUPS = True
    else:
        apply_mask = py_apply_mask
        apply_mask_inplace = py_apply_mask_inplace
        SPEEDUPS = False
    return SPEEDUPS


speedups.register(__name__, _switch)


class MaskKeyPool:
    """Hand out 4-byte mask keys sliced from a large ``os.urandom`` chunk.

    RFC 6455 §5.3 wants each key "derived from a strong source of entropy" and unpredictable
    to the application; one ``os.urandom`` call per key costs a syscall (~450 ns), one per
    ``chunk_size // 4`` keys costs almost nothing and stays unpredictable. Never ``random``.
    Not thread-safe: use one pool per thread (asyncio runs a connection on one thread).
    """

    __slots__ = ("_chunk", "_chunk_size", "_end", "_pos")

    def __init__(self, chunk_size: int = 4096) -> None:
        """Create a pool that refills ``chunk_size`` random bytes at a time."""
        if chunk_size < 4 or chunk_size % 4:
            raise ValueError("chunk_size must be a positive multiple of 4")
        self._chunk_size = chunk_size
        self._chunk = b""
        self._end = 0
        self._pos = 0

    def next_key(self) -> bytes:
        """Return a fresh 4-byte mask key."""
        pos = self._pos
        if pos >= self._end:
            self._chunk = os.urandom(self._chunk_size)
            self._end = self._chunk_size
            pos = 0
        self._pos = pos + 4
        return self._chunk[pos : pos + 4]

    def discard(self) -> None:
        """Drop the keys left in the chunk (after ``fork``, so parent and child never share)."""
        self._chunk = b""
        self._end = 0
        self._pos = 0


_DEFAULT_POOL: Final = MaskKeyPool(64 * 1024)


def default_key_pool() -> MaskKeyPool:
    """Return the process-wide key pool (refreshed in a forked child)."""
    return _DEFAULT_POOL


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_DEFAULT_POOL.discard)

"""The intent log: a pre-allocated, memory-mapped file of order intents, written before a send.

One record per order intent: the journal sequence number it took and its encoded
``OrderInitialized``. A record is written with a few stores into a ``MAP_SHARED`` mapping
of ``<journal>.intents``, so once ``append`` returns the bytes are in the kernel's page
cache: they survive a SIGKILL of the process at any later instant, exactly like a SQLite
commit under ``synchronous=NORMAL`` (which is a ``write(2)`` into the same page cache).
The journal (``engine/journal.py``) owns the log: it merges records SQLite lacks on open
and clears the log once SQLite holds every record. This module knows nothing of orders or
SQLite; it stores ``(seq, body)`` pairs.

File layout (little-endian)::

    header  16 bytes   b"WWINTENT" | version u32 | owner u32 (a token naming the journal)
    record  16 bytes   crc32 u32 | length u32 | seq u64      (crc over length, seq, body)
            length B   body
    ...                a record header of zeros ends the log

A torn record (the process died mid-append) fails its checksum and ends the scan: that is
safe because the engine sends nothing until ``append`` has returned. Every append also
writes an empty header after its record, so a scan never runs into older records left
behind by a ``clear``; sequence numbers must rise within the log (a record that goes back
ends the scan too).
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

MAGIC = b"WWINTENT"
VERSION = 1
#: the file's header: magic, version, owner token
HEADER = struct.Struct("<8sII")
#: a record's header: crc32, body length, sequence number
RECORD = struct.Struct("<IIQ")
_LENGTH_SEQ = struct.Struct("<IQ")
_END = bytes(RECORD.size)
#: default size: a record is ~300 bytes and the journal clears the log after every order,
#: so 64 KiB holds ~200 intents awaiting their SQLite rows before a forced settle
DEFAULT_SIZE = 64 * 1024


class IntentLogError(Exception):
    """The intent log file cannot be used (not an intent log, another version, too small)."""


class IntentLogFull(IntentLogError):
    """No room for one more record: the owner must settle the records and ``clear()``."""

    def __init__(self, needed: int, free: int) -> None:
        super().__init__(needed, free)
        self.needed = needed
        self.free = free

    def __str__(self) -> str:
        return f"intent log full: a record needs {self.needed} bytes, {self.free} are free"


def _crc(seq: int, body: bytes) -> int:
    return zlib.crc32(body, zlib.crc32(_LENGTH_SEQ.pack(len(body), seq)))


class IntentLog:
    """Append ``(seq, body)`` records to a pre-faulted shared mapping of ``path``.

    Args:
        path: the file; created (and its blocks allocated) if missing.
        owner: a 32-bit token stored in the header, naming whose log this is (the journal
            stores it too, so a log left next to another journal file is recognised).
        size: bytes to map (rounded up to whole pages); an existing larger file keeps its size.

    Raises:
        IntentLogError: the file exists but is not an intent log of this version.
    """

    def __init__(self, path: str | Path, *, owner: int, size: int = DEFAULT_SIZE) -> None:
        self.path = Path(path)
        page = mmap.PAGESIZE
        size = max(size, page) + (-max(size, page) % page)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            existing = os.fstat(fd).st_size
            if existing == 0:
                # blocks allocated now: a store into a hole of a full disk would be a SIGBUS
                os.posix_fallocate(fd, 0, size)
                os.pwrite(fd, HEADER.pack(MAGIC, VERSION, owner), 0)
            else:
                size = max(size, existing)
                if existing < size:
                    os.posix_fallocate(fd, 0, size)
            self._map = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)  # the mapping keeps the file
        self.size = size
        if self._map[: HEADER.size] == bytes(HEADER.size):
            # created, but the process died before the header: no record can follow
            HEADER.pack_into(self._map, 0, MAGIC, VERSION, owner)
        magic, version, self.owner = HEADER.unpack_from(self._map, 0)
        if magic != MAGIC:
            self._map.close()
            raise IntentLogError(f"{self.path} is not a whalewire intent log")
        if version != VERSION:
            self._map.close()
            raise IntentLogError(
                f"{self.path} is an intent log of version {version}, this whalewire reads "
                f"{VERSION}: settle it with the whalewire that wrote it"
            )
        # every page touched once, with a write, now: the first store into a page of a
        # shared file mapping takes a fault (3-13 µs measured), which must not land on an
        # order. After the kernel writes a dirty page back it is write-protected again and
        # the next store faults: the journal's rehearsals (``scratch``) take that one.
        mv = memoryview(self._map)
        for off in range(page, size, page):
            mv[off] = mv[off]
        mv.release()
        self._start = HEADER.size
        self._off = self._start
        self._off = self._end_of_records()

    def append(self, seq: int, body: bytes, *, scratch: bool = False) -> None:
        """Write one record and an end marker after it; the OS has both when this returns.

        With ``scratch``, the same stores go where the next record will, with the checksum
        inverted (a scan takes it for a torn record: never yielded) and the log unchanged:
        a rehearsal of ``append`` that keeps the very page and cache lines the next intent
        will use mapped writable and in cache.

        Raises:
            IntentLogFull: the record and its end marker do not fit; nothing was written.
        """
        off = self._off
        n = len(body)
        start = off + RECORD.size
        end = start + n
        if end + RECORD.size > self.size:
            raise IntentLogFull(2 * RECORD.size + n, self.size - off)
        mm = self._map
        mm[start:end] = body
        mm[end : end + RECORD.size] = _END
        # the header last: until it is complete the record fails its checksum
        RECORD.pack_into(mm, off, _crc(seq, body) ^ (0xFFFFFFFF if scratch else 0), n, seq)
        if not scratch:
            self._off = end

    def records(self) -> Iterator[tuple[int, bytes]]:
        """Yield every complete record from the start, in order, up to the first bad one."""
        mm = self._map
        off = self._start
        last = -1
        while off + RECORD.size <= self.size:
            crc, n, seq = RECORD.unpack_from(mm, off)
            start = off + RECORD.size
            end = start + n
            if n == 0 or end > self.size or seq <= last:
                return
            body = mm[start:end]
            if _crc(seq, body) != crc:
                return  # torn: the process died inside append, before any send
            yield seq, body
            last = seq
            off = end

    def _end_of_records(self) -> int:
        off = self._start
        for _, body in self.records():
            off += RECORD.size + len(body)
        return off

    @property
    def empty(self) -> bool:
        """True when no record was appended since the last ``clear`` (or ever)."""
        return self._off == self._start

    def clear(self) -> None:
        """Forget every record: the next append writes at the start again."""
        self._map[self._start : self._start + RECORD.size] = _END
        self._off = self._start

    def close(self) -> None:
        """Unmap the file (what was appended stays in it)."""
        self._map.close()

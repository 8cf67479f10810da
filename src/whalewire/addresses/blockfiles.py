"""Read Bitcoin Core's ``blk*.dat`` block files in height order.

Core appends each block as it arrives (``4-byte network magic, 4-byte little-endian length,
raw block``; ``node/blockstorage.cpp``), so file order is not height order and stale forks
sit beside the main chain; the files are preallocated, so a file may end in zeros. ``index``
reads every record's header once and ``best_chain`` orders the blocks by their prev-hash links
from the root to the deepest tip. Knows block framing and headers, nothing of transactions.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from whalewire.mempool.tx import dsha256

__all__ = ["BlockFileError", "BlockRef", "best_chain", "index", "read_chain"]


class BlockFileError(ValueError):
    """A block file is cut or framed with a magic other than the network's."""

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        super().__init__(path, offset, reason)
        self.path, self.offset, self.reason = path, offset, reason

    def __str__(self) -> str:
        return f"{self.path} at byte {self.offset}: {self.reason}"


@dataclass(frozen=True, slots=True)
class BlockRef:
    """Where one block is: its hash and prev-hash (internal order), file, offset, length."""

    hash: bytes
    prev: bytes
    path: Path
    offset: int
    length: int


def index(blocks_dir: str | Path, magic: bytes | None = None) -> dict[bytes, BlockRef]:
    """Index every block record of ``blk*.dat`` under ``blocks_dir`` by its hash.

    Args:
        blocks_dir: Core's ``blocks`` directory (or any directory of blk files).
        magic: the network magic; None takes the first record's.

    Raises:
        BlockFileError: a record is cut short or carries another magic.
    """
    found: dict[bytes, BlockRef] = {}
    for path in sorted(Path(blocks_dir).glob("blk*.dat")):
        data = path.read_bytes()
        pos = 0
        while pos + 8 <= len(data):
            head = data[pos : pos + 4]
            if head == b"\x00\x00\x00\x00":
                break  # the preallocated tail
            if magic is None:
                magic = head
            if head != magic:
                raise BlockFileError(path, pos, f"magic {head.hex()}, expected {magic.hex()}")
            (length,) = struct.unpack_from("<I", data, pos + 4)
            if length < 80 or pos + 8 + length > len(data):
                raise BlockFileError(path, pos, f"record of {length} bytes runs past the end")
            header = data[pos + 8 : pos + 88]
            h = dsha256(header)
            found[h] = BlockRef(h, header[4:36], path, pos + 8, length)
            pos += 8 + length
    return found


def best_chain(blocks: dict[bytes, BlockRef]) -> list[BlockRef]:
    """Return the blocks from the root to the deepest tip, following prev-hash links.

    The root is a block whose parent is not in the files (the genesis block for a full
    directory); blocks off the deepest chain (stale forks, orphans) are left out.
    """
    depth: dict[bytes, int] = {}
    for h in blocks:
        # walk up to a block of known depth (or the root), then fill the path back down
        path = []
        cur = h
        while cur not in depth:
            path.append(cur)
            prev = blocks[cur].prev
            if prev not in blocks:
                depth[path.pop()] = 0
                break
            cur = prev
        base = depth[cur]
        for k, p in enumerate(reversed(path), 1):
            depth[p] = base + k
    if not depth:
        return []
    tip = max(depth, key=lambda h: (depth[h], h))
    chain = [blocks[tip]]
    while chain[-1].prev in blocks:
        chain.append(blocks[chain[-1].prev])
    chain.reverse()
    return chain


def read_chain(chain: list[BlockRef], start: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield ``(height, raw block)`` along ``chain`` from ``start``, heights from the root.

    Each block is read on its own (seek, read): mapping whole files would leave every page
    read resident in this process, gigabytes over a long chain.
    """
    files: dict[Path, BinaryIO] = {}
    try:
        for height in range(start, len(chain)):
            ref = chain[height]
            fh = files.get(ref.path)
            if fh is None:
                fh = files[ref.path] = ref.path.open("rb")
            fh.seek(ref.offset)
            yield height, fh.read(ref.length)
    finally:
        for fh in files.values():
            fh.close()

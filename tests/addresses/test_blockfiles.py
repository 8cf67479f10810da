"""Tests for ``whalewire.addresses.blockfiles``: Core's blk*.dat framing and chain order.

Framing per Core's node/blockstorage.cpp: 4-byte network magic, 4-byte little-endian length,
the raw block; a preallocated file ends in zeros. Blocks are the synthetic economy's.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from whalewire.addresses.blockfiles import BlockFileError, best_chain, index, read_chain
from whalewire.addresses.synth import MAGIC
from whalewire.mempool.tx import dsha256


def chain_blocks(economy: Path) -> list[bytes]:
    return [bytes(r) for _, r in read_chain(best_chain(index(economy / "blocks")))]


def write(path: Path, blocks: list[bytes], magic: bytes = MAGIC, tail: bytes = b"") -> None:
    path.write_bytes(b"".join(magic + struct.pack("<I", len(b)) + b for b in blocks) + tail)


def test_preallocated_zero_tail_is_the_end_of_a_file(economy: Path, tmp_path: Path) -> None:
    blocks = chain_blocks(economy)[:5]
    write(tmp_path / "blk00000.dat", blocks, tail=bytes(4096))
    assert [r.hash for r in best_chain(index(tmp_path))] == [dsha256(b[:80]) for b in blocks]


def test_a_stale_fork_is_left_out_of_the_chain(economy: Path, tmp_path: Path) -> None:
    blocks = chain_blocks(economy)[:6]
    # a competitor of block 3: same parent, another nonce; nothing builds on it
    stale = blocks[3][:76] + struct.pack("<I", 12345) + blocks[3][80:]
    write(tmp_path / "blk00000.dat", [blocks[0], blocks[2], stale, blocks[1]])
    write(tmp_path / "blk00001.dat", blocks[3:])
    chain = best_chain(index(tmp_path))
    assert [r.hash for r in chain] == [dsha256(b[:80]) for b in blocks]
    assert [raw for _, raw in read_chain(chain, 4)] == blocks[4:]


@pytest.mark.parametrize(
    ("magic", "cut", "reason"),
    [(b"\x0b\x11\x09\x07", 0, "magic"), (MAGIC, 10, "runs past the end")],
)
def test_bad_framing_names_file_and_offset(
    economy: Path, tmp_path: Path, magic: bytes, cut: int, reason: str
) -> None:
    blocks = chain_blocks(economy)[:3]
    write(tmp_path / "blk00000.dat", blocks[:2])
    data = magic + struct.pack("<I", len(blocks[2])) + blocks[2]
    with (tmp_path / "blk00000.dat").open("ab") as fh:
        fh.write(data[: len(data) - cut])
    with pytest.raises(BlockFileError, match=reason) as info:
        index(tmp_path)
    assert info.value.path.name == "blk00000.dat"
    assert info.value.offset == sum(8 + len(b) for b in blocks[:2])


def test_empty_directory_has_an_empty_chain(tmp_path: Path) -> None:
    assert best_chain(index(tmp_path)) == []

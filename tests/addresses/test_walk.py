"""The learner's block walk: the C walk (``_ingest.walk_block``) equals the Python reference.

Serialisation: Bitcoin Core primitives/block.h, primitives/transaction.h, BIP 144. Vectors:
a real mainnet block (951,658: legacy and segwit spends, a coinbase) and the synthetic
economy's blocks; every cut of a block is refused by both (C: None, Python: TxParseError).
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
from tests.addresses.support import learn, state

from whalewire.addresses import walk
from whalewire.addresses.blockfiles import best_chain, index, read_chain
from whalewire.mempool.tx import TxParseError, parse_block

MAINNET = Path(__file__).parent.parent / "mempool" / "data" / "block_951658.bin.gz"
needs_c = pytest.mark.skipif(walk.walk_block_c is None, reason="built without the C extensions")


def mainnet_block() -> bytes:
    return gzip.decompress(MAINNET.read_bytes())


def economy_blocks(economy: Path) -> list[bytes]:
    return [bytes(raw) for _, raw in read_chain(best_chain(index(economy / "blocks")))]


@needs_c
def test_c_walk_equals_python_on_a_mainnet_block() -> None:
    raw = mainnet_block()
    assert walk.walk_block_c is not None
    assert walk.walk_block_c(raw) == walk.walk_block_py(raw)


@needs_c
def test_c_walk_equals_python_on_every_synthetic_block(economy: Path) -> None:
    assert walk.walk_block_c is not None
    for raw in economy_blocks(economy):
        assert walk.walk_block_c(raw) == walk.walk_block_py(raw)


def test_walk_gives_the_block_hash_and_txids_as_core_computes_them() -> None:
    raw = mainnet_block()
    block_hash, prev_hash, txs = walk.walk_block(raw)
    assert block_hash == hashlib.sha256(hashlib.sha256(raw[:80]).digest()).digest()
    assert prev_hash == raw[4:36]
    block = parse_block(raw)
    assert [t[0][::-1].hex() for t in txs] == [tx.txid for tx in block.txs]
    assert txs[0][1] is None  # the coinbase spends nothing
    assert all(t[1] is not None for t in txs[1:])


@needs_c
@pytest.mark.parametrize("tail", [b"", b"\x00"])
def test_every_cut_or_padded_block_is_refused_by_both(economy: Path, tail: bytes) -> None:
    assert walk.walk_block_c is not None
    raw = economy_blocks(economy)[5]
    cuts = [raw[:n] + tail for n in range(0, len(raw), 7)] if not tail else [raw + tail]
    for bad in cuts:
        assert walk.walk_block_c(bad) is None
        with pytest.raises(TxParseError):
            walk.walk_block_py(bad)
        with pytest.raises(TxParseError):
            walk.walk_block(bad)


@needs_c
def test_the_learner_over_the_python_walk_learns_the_same(
    economy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    over_c = state(learn(economy))
    monkeypatch.setattr(walk, "walk_block_c", None)
    assert state(learn(economy)) == over_c

"""What the learner reads of a block, in one walk: txids, spent outpoints, values, scripts.

``walk_block(raw)`` returns ``(block hash, previous hash, txs)``, hashes in internal byte
order, each transaction as ``(txid internal order, spent outpoints or None for a coinbase,
output values, output scripts, the outpoints it creates)``. The C walk
(``_ingest.walk_block``) builds only those objects, where ``parse_block`` builds one per
input, output and witness (measured: docs/benchmarks.md, "Address learner").
``walk_block_py`` is the reference over ``parse_block``, and the answer whenever the C walk
refuses the bytes (it then raises ``TxParseError`` naming the fault). Knows the
serialisation, nothing of heuristics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from whalewire import speedups
from whalewire.mempool.tx import parse_block

__all__ = ["WalkedBlock", "WalkedTx", "walk_block", "walk_block_c", "walk_block_py"]

#: (txid internal order, spent outpoints or None for a coinbase, output values, scripts,
#: the outpoints it creates)
WalkedTx: TypeAlias = tuple[bytes, list[bytes] | None, list[int], list[bytes], list[bytes]]
#: (block hash internal order, previous block hash internal order, transactions)
WalkedBlock: TypeAlias = tuple[bytes, bytes, list[WalkedTx]]


def walk_block_py(raw: bytes) -> WalkedBlock:
    """Return what the learner reads of block ``raw``, by ``parse_block``.

    Raises:
        TxParseError: ``raw`` is not a block.
    """
    block = parse_block(raw)
    txs: list[WalkedTx] = [
        (
            tx.txid_bytes,
            None if tx.inputs[0].is_coinbase else [i.prevout for i in tx.inputs],
            [o.value for o in tx.outputs],
            [o.script_pubkey for o in tx.outputs],
            [tx.txid_bytes + i.to_bytes(4, "little") for i in range(len(tx.outputs))],
        )
        for tx in block.txs
    ]
    return bytes.fromhex(block.hash)[::-1], bytes(block.prev_hash), txs


_ingest = speedups.load("whalewire.addresses._ingest")
_C_WALK: Callable[[bytes], WalkedBlock | None] | None = (
    None if _ingest is None else _ingest.walk_block
)
#: the C walk ``walk_block`` takes, None when not built or switched off (``whalewire.speedups``)
walk_block_c = _C_WALK


def _switch(enabled: bool) -> bool:
    global walk_block_c
    walk_block_c = _C_WALK if enabled else None
    return walk_block_c is not None


def walk_block(raw: bytes) -> WalkedBlock:
    """Return what the learner reads of block ``raw`` (the C walk when built, else Python).

    Raises:
        TxParseError: ``raw`` is not a block.
    """
    if walk_block_c is not None:
        walked = walk_block_c(raw)
        if walked is not None:
            return walked
    return walk_block_py(raw)


speedups.register(__name__, _switch)

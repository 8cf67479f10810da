"""Private: the few facts about a raw transaction that feeds need before any watch-list work.

Feeds need a txid to deduplicate, the ZMQ feed must recognise a coinbase, and the replay
builder splits a raw block. Parsing itself belongs to ``whalewire.mempool.tx``; this module
only adapts it and knows nothing of feeds or addresses.
"""

from __future__ import annotations

# txid_of: the byte walk and hash without building the transaction (C when built, ~9x
# cheaper than parse_tx(raw).txid): it runs on every feed event, before detection
from whalewire.mempool.tx import TxParseError, parse_block, txid_of

__all__ = ["TxParseError", "coinbase", "split_block", "txid_of"]

# A prevout of 32 zero bytes and index 0xffffffff marks a coinbase input (Bitcoin Core
# primitives/transaction.h, COutPoint::IsNull).
_NULL_PREVOUT = bytes(32) + b"\xff\xff\xff\xff"


def coinbase(raw: bytes) -> bool:
    """Return True when ``raw`` is a coinbase transaction (one input with a null prevout)."""
    # Read in place: cheaper than a parse, and the answer does not need one.
    i = 6 if len(raw) > 5 and raw[4] == 0 and raw[5] != 0 else 4
    return raw[i : i + 1] == b"\x01" and raw[i + 1 : i + 37] == _NULL_PREVOUT


def split_block(block: bytes) -> list[bytes]:
    """Split a serialised block into its serialised transactions."""
    return [tx.serialize() for tx in parse_block(block).txs]

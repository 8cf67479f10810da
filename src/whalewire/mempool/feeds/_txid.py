"""Private: find where a serialised transaction ends, its txid, whether it is a coinbase.

Feeds need a txid for deduplication before the parser (``whalewire.mempool.tx``) has looked at
the transaction, and the replay builder must split a raw block into transactions. This walks
the BIP 144 layout without building objects. It knows nothing of feeds or of addresses.
"""

from __future__ import annotations

import hashlib

__all__ = ["TxScanError", "coinbase", "split_block", "tx_end", "txid_of"]

# A prevout of 32 zero bytes and index 0xffffffff marks a coinbase input (BIP 34 context,
# Bitcoin Core primitives/transaction.h: COutPoint::IsNull).
_NULL_PREVOUT = bytes(32) + b"\xff\xff\xff\xff"


class TxScanError(ValueError):
    """The bytes are not a well-formed transaction: ``field`` broke at byte ``offset``."""

    def __init__(self, offset: int, field: str) -> None:
        super().__init__(offset, field)
        self.offset = offset
        self.field = field

    def __str__(self) -> str:
        return f"malformed transaction: {self.field} at byte {self.offset}"


def _varint(b: bytes | memoryview, i: int, field: str) -> tuple[int, int]:
    n = len(b)
    if i >= n:
        raise TxScanError(i, field)
    first = b[i]
    if first < 0xFD:
        return first, i + 1
    width = 2 if first == 0xFD else 4 if first == 0xFE else 8
    if i + 1 + width > n:
        raise TxScanError(i, field)
    return int.from_bytes(b[i + 1 : i + 1 + width], "little"), i + 1 + width


def _skip(b: bytes | memoryview, i: int, length: int, field: str) -> int:
    end = i + length
    if end > len(b):
        raise TxScanError(i, field)
    return end


def _scan(b: bytes | memoryview, start: int) -> tuple[int, int, int, int]:
    """Return (end, inputs_start, outputs_end, witness_end); segwit iff inputs_start > start+4."""
    i = _skip(b, start, 4, "version")
    segwit = i + 1 < len(b) and b[i] == 0 and b[i + 1] != 0
    if segwit:
        if b[i + 1] != 1:
            raise TxScanError(i + 1, "segwit flag")
        i += 2
    inputs_start = i
    n_in, i = _varint(b, i, "input count")
    # Each input is at least 41 bytes: a forged count must fail here, not in a long loop.
    if n_in * 41 > len(b) - i:
        raise TxScanError(inputs_start, "input count")
    for _ in range(n_in):
        i = _skip(b, i, 36, "prevout")
        script_len, i = _varint(b, i, "scriptSig length")
        i = _skip(b, i, script_len + 4, "scriptSig")
    n_out, i = _varint(b, i, "output count")
    if n_out * 9 > len(b) - i:
        raise TxScanError(i, "output count")
    for _ in range(n_out):
        i = _skip(b, i, 8, "value")
        script_len, i = _varint(b, i, "scriptPubKey length")
        i = _skip(b, i, script_len, "scriptPubKey")
    outputs_end = i
    if segwit:
        for _ in range(n_in):
            n_items, i = _varint(b, i, "witness count")
            if n_items > len(b) - i:
                raise TxScanError(i, "witness count")
            for _ in range(n_items):
                item_len, i = _varint(b, i, "witness item length")
                i = _skip(b, i, item_len, "witness item")
    witness_end = i
    end = _skip(b, i, 4, "locktime")
    return end, inputs_start, outputs_end, witness_end


def tx_end(b: bytes | memoryview, start: int = 0) -> int:
    """Return the offset just past the transaction that starts at ``start``."""
    return _scan(b, start)[0]


def txid_of(raw: bytes) -> str:
    """Return the display-order txid of one whole transaction (BIP 144: witness excluded)."""
    end, inputs_start, outputs_end, witness_end = _scan(raw, 0)
    if end != len(raw):
        raise TxScanError(end, "trailing bytes")
    if inputs_start == 4:
        stripped = raw
    else:
        stripped = raw[:4] + raw[inputs_start:outputs_end] + raw[witness_end:end]
    return hashlib.sha256(hashlib.sha256(stripped).digest()).digest()[::-1].hex()


def coinbase(raw: bytes) -> bool:
    """Return True when ``raw`` is a coinbase transaction (one input with a null prevout)."""
    i = 6 if len(raw) > 5 and raw[4] == 0 and raw[5] != 0 else 4
    return raw[i : i + 1] == b"\x01" and raw[i + 1 : i + 37] == _NULL_PREVOUT


def split_block(block: bytes) -> list[bytes]:
    """Split a serialised block into its serialised transactions (80-byte header skipped)."""
    count, i = _varint(block, 80, "transaction count")
    if count > len(block) - i:
        raise TxScanError(80, "transaction count")
    txs = []
    for _ in range(count):
        end = tx_end(block, i)
        txs.append(block[i:end])
        i = end
    if i != len(block):
        raise TxScanError(i, "trailing bytes")
    return txs

"""Bitcoin transaction and block parsing from raw bytes (legacy and BIP 144 segwit).

Holds ``parse_tx``, ``parse_block``, the ``Tx``/``TxIn``/``TxOut``/``Block`` types, the
``TxParseError`` they raise, and ``scan_outputs``: the hot-path walk that matches output
scriptPubKeys against a watch set without building any object.

It must not know about addresses, exchanges, feeds or orders: bytes in, values out.

Serialisation (Bitcoin Core ``primitives/transaction.h``; BIP 144 for segwit)::

    version:u32 [marker=0x00 flag=0x01] n_in:compact {prevout:36 script_sig seq:u32}
    n_out:compact {value:u64 script_pubkey} [witness per input: n:compact {item}] locktime:u32

The parse has a fast path with no per-field checks; any failure there (a read past the end,
a bad count) re-walks the bytes with ``_diagnose``, which checks every field and raises the
``TxParseError`` naming the offset and the field. Counts are bounded by the bytes left before
anything is allocated, so a forged count costs nothing.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Mapping
from typing import Final, Protocol, TypeVar

import msgspec

from whalewire import speedups

__all__ = [
    "Block",
    "Tx",
    "TxIn",
    "TxOut",
    "TxParseError",
    "compact_size",
    "dsha256",
    "parse_block",
    "parse_tx",
    "scan_outputs",
    "scan_tx",
    "tx_span",
    "txid_of",
]

# None when not built (no compiler or libcrypto at install time): the Python path is complete
_scan = speedups.load("whalewire.mempool._scan")
_HAVE_C = _scan is not None

_u16 = struct.Struct("<H").unpack_from
_i32 = struct.Struct("<i").unpack_from
_u32 = struct.Struct("<I").unpack_from
_u64 = struct.Struct("<Q").unpack_from
_sha256 = hashlib.sha256

#: Bitcoin Core ``MAX_SIZE`` (serialize.h): no compact size above this is accepted.
MAX_COMPACT_SIZE: Final = 0x02000000
#: Smallest serialised input: 32 + 4 prevout, 1 script length, 4 sequence.
_MIN_TXIN: Final = 41
#: Smallest serialised output: 8 value, 1 script length.
_MIN_TXOUT: Final = 9

_V = TypeVar("_V")
_V_co = TypeVar("_V_co", covariant=True)


class Lookup(Protocol[_V_co]):
    """What a scan looks scripts up in: a dict, or a watch set (``mempool.watchset``)."""

    def get(self, key: bytes, /) -> _V_co | None:
        """Return the value for ``key``, or None."""
        ...


class TxParseError(ValueError):
    """Raw bytes are not a valid transaction or block serialisation.

    Attributes:
        offset: byte offset (from the start of the buffer given) where the fault was found.
        field: the field being read there, e.g. ``"input[1].script_sig"``.
        reason: what is wrong with it.
    """

    def __init__(self, offset: int, field: str, reason: str = "truncated") -> None:
        super().__init__(offset, field, reason)
        self.offset = offset
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot parse {self.field} at byte {self.offset}: {self.reason}"


def dsha256(data: bytes) -> bytes:
    """Return SHA256(SHA256(data)), the hash behind txids and block hashes."""
    return _sha256(_sha256(data).digest()).digest()


def compact_size(n: int) -> bytes:
    """Encode ``n`` as Bitcoin's CompactSize, the length prefix of transactions and messages.

    One shared writer for the feeds that build bytes (the mempool.space rebuild, the P2P
    messages); the readers above walk the same encoding in place.
    """
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


class TxIn(msgspec.Struct, gc=False):
    """One transaction input.

    ``prevout`` is the serialised outpoint (32-byte txid in internal byte order, then the
    output index as u32 little-endian); ``prev_txid``/``prev_vout`` read it. Not frozen only
    so the parser can attach the witness, which comes after the outputs, without building
    the input twice; treat it as read-only.
    """

    prevout: bytes
    script_sig: bytes
    sequence: int
    #: witness stack items (BIP 141); empty for legacy transactions and non-witness inputs
    witness: tuple[bytes, ...] = ()

    @property
    def prev_txid(self) -> bytes:
        """Return the spent transaction's id in internal (little-endian) byte order."""
        return self.prevout[:32]

    @property
    def prev_vout(self) -> int:
        """Return the index of the spent output."""
        return int.from_bytes(self.prevout[32:36], "little")

    @property
    def prev_txid_hex(self) -> str:
        """Return the spent transaction's id in display (big-endian) hex."""
        return self.prevout[31::-1].hex()

    @property
    def is_coinbase(self) -> bool:
        """Tell whether this is a coinbase input (null prevout)."""
        return self.prevout == _NULL_PREVOUT


_NULL_PREVOUT: Final = bytes(32) + b"\xff\xff\xff\xff"


class TxOut(msgspec.Struct, gc=False, frozen=True):
    """One transaction output: value in satoshis and the locking script bytes."""

    value: int
    script_pubkey: bytes


class Tx(msgspec.Struct, gc=False):
    """A parsed transaction; ``txid``/``wtxid`` are computed on first access and cached.

    ``raw`` is the buffer the transaction was parsed from (a whole block for block
    transactions) and ``start``/``end`` its byte span in it; the hashes are taken over
    byte ranges of ``raw``, never over a re-serialisation. A msgspec Struct because it is
    the cheapest object to build here (measured: ~2.5x faster than a ``__slots__`` class
    with ``__init__``).
    """

    raw: bytes
    start: int
    end: int
    inputs: list[TxIn]
    outputs: list[TxOut]
    #: offset in ``raw`` where the witness section starts; -1 for a legacy transaction
    witness_start: int
    _txid: str | None = None
    _wtxid: str | None = None

    @property
    def version(self) -> int:
        """Return the transaction version (signed 32-bit, read from the bytes on demand)."""
        return int(_i32(self.raw, self.start)[0])

    @property
    def locktime(self) -> int:
        """Return the lock time (read from the last 4 bytes on demand)."""
        return int(_u32(self.raw, self.end - 4)[0])

    @property
    def is_segwit(self) -> bool:
        """Tell whether the transaction was serialised with BIP 144 witness data."""
        return self.witness_start >= 0

    @property
    def size(self) -> int:
        """Return the serialised size in bytes, witness included."""
        return self.end - self.start

    @property
    def stripped_size(self) -> int:
        """Return the size without marker, flag and witness (the txid's preimage)."""
        if self.witness_start < 0:
            return self.end - self.start
        return self.witness_start - self.start - 2 + 4

    @property
    def weight(self) -> int:
        """Return the BIP 141 weight: stripped size * 3 + total size."""
        return self.stripped_size * 3 + self.size

    @property
    def vsize(self) -> int:
        """Return the virtual size: weight / 4, rounded up."""
        return (self.weight + 3) // 4

    @property
    def txid_bytes(self) -> bytes:
        """Return the txid in internal byte order (hash of the non-witness serialisation)."""
        raw, s, e, w = self.raw, self.start, self.end, self.witness_start
        if w < 0:
            return dsha256(raw[s:e])
        # version, then everything between marker+flag and the witness, then locktime
        # (one concatenation measured faster than three hash updates).
        return _sha256(_sha256(raw[s : s + 4] + raw[s + 6 : w] + raw[e - 4 : e]).digest()).digest()

    @property
    def txid(self) -> str:
        """Return the txid as display-order hex (as Bitcoin Core and explorers show it)."""
        t = self._txid
        if t is None:
            t = self._txid = self.txid_bytes[::-1].hex()
        return t

    @property
    def wtxid(self) -> str:
        """Return the BIP 141 wtxid as display-order hex (equals txid for legacy txs)."""
        t = self._wtxid
        if t is None:
            if self.witness_start < 0:
                t = self.txid
            else:
                t = dsha256(self.raw[self.start : self.end])[::-1].hex()
            self._wtxid = t
        return t

    def serialize(self) -> bytes:
        """Return the transaction's raw bytes (a slice of the buffer it came from)."""
        return self.raw[self.start : self.end]

    def __repr__(self) -> str:
        return (
            f"Tx(txid={self.txid}, inputs={len(self.inputs)}, outputs={len(self.outputs)}, "
            f"segwit={self.is_segwit})"
        )


class Block(msgspec.Struct, gc=False):
    """A parsed block: the 80-byte header fields and its transactions."""

    raw: bytes
    txs: list[Tx]
    _hash: str | None = None

    @property
    def version(self) -> int:
        """Return the header's version field (signed, BIP 9 bits included)."""
        return int.from_bytes(self.raw[0:4], "little", signed=True)

    @property
    def prev_hash(self) -> bytes:
        """Return the previous block hash in internal byte order."""
        return self.raw[4:36]

    @property
    def merkle_root(self) -> bytes:
        """Return the header's merkle root of the txids, internal byte order."""
        return self.raw[36:68]

    @property
    def time(self) -> int:
        """Return the header timestamp (seconds since the epoch, miner's clock)."""
        return int.from_bytes(self.raw[68:72], "little")

    @property
    def bits(self) -> int:
        """Return the compact difficulty target."""
        return int.from_bytes(self.raw[72:76], "little")

    @property
    def nonce(self) -> int:
        """Return the header nonce."""
        return int.from_bytes(self.raw[76:80], "little")

    @property
    def hash(self) -> str:
        """Return the block hash (dSHA256 of the header) as display-order hex."""
        h = self._hash
        if h is None:
            h = self._hash = dsha256(self.raw[:80])[::-1].hex()
        return h

    @property
    def prev_hash_hex(self) -> str:
        """Return the previous block's hash as display-order hex."""
        return self.prev_hash[::-1].hex()

    def __repr__(self) -> str:
        return f"Block(hash={self.hash}, txs={len(self.txs)}, size={len(self.raw)})"

    def compute_merkle_root(self) -> bytes:
        """Return the merkle root of this block's txids (internal order) as computed here."""
        level = [tx.txid_bytes for tx in self.txs]
        while len(level) > 1:
            if len(level) & 1:
                level.append(level[-1])
            level = [dsha256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        return level[0]


def parse_tx(raw: bytes | bytearray | memoryview) -> Tx:
    """Parse one serialised transaction (legacy or BIP 144 segwit).

    Args:
        raw: exactly one transaction's bytes.

    Returns:
        The ``Tx``; its ``txid`` and ``wtxid`` are computed when first read.

    Raises:
        TxParseError: the bytes are truncated, malformed, or followed by extra bytes.
    """
    if type(raw) is not bytes:
        raw = bytes(raw)
    try:
        tx = _fast_parse(raw, 0)
    except (IndexError, struct.error, _Bad):
        _diagnose(raw, 0)
        raise TxParseError(0, "transaction", "malformed") from None  # pragma: no cover
    end = tx.end
    if end != len(raw):
        raise TxParseError(end, "end of transaction", f"{len(raw) - end} trailing bytes")
    return tx


def parse_block(raw: bytes | bytearray | memoryview) -> Block:
    """Parse a serialised block: 80-byte header, transaction count, transactions.

    Raises:
        TxParseError: the bytes are truncated, malformed, or followed by extra bytes.
    """
    if type(raw) is not bytes:
        raw = bytes(raw)
    n = len(raw)
    if n < 80:
        raise TxParseError(n, "block header")
    pos = 80
    if pos >= n:
        raise TxParseError(pos, "block tx count")
    count, pos = _checked_compact(raw, pos, "block tx count")
    if count > (n - pos) // 60:  # the smallest transaction is 60 bytes
        raise TxParseError(80, "block tx count", f"{count} transactions cannot fit")
    txs: list[Tx] = []
    append = txs.append
    for i in range(count):
        try:
            tx = _parse_at(raw, pos)
        except TxParseError as exc:
            exc.field = f"tx[{i}].{exc.field}"
            exc.args = (exc.offset, exc.field, exc.reason)
            raise
        append(tx)
        pos = tx.end
    if pos != n:
        raise TxParseError(pos, "end of block", f"{n - pos} trailing bytes")
    return Block(raw, txs)


def _parse_at(raw: bytes, start: int) -> Tx:
    """Parse the transaction starting at ``start`` (it ends at ``tx.end``)."""
    try:
        return _fast_parse(raw, start)
    except (IndexError, struct.error, _Bad):
        pass
    _diagnose(raw, start)
    # _diagnose checks what _fast_parse assumes; reaching here would be a bug in one of them.
    raise TxParseError(start, "transaction", "malformed")  # pragma: no cover


class _Bad(Exception):
    """Internal: the fast path found a fault; ``_diagnose`` names it."""


def _fast_parse(raw: bytes, start: int) -> Tx:
    # One flat function with local aliases: every attribute lookup saved counts here.
    n = len(raw)
    u32 = _u32
    u64 = _u64
    txin_ = TxIn
    txout_ = TxOut
    pos = start + 4
    c = raw[pos]
    segwit = c == 0
    if segwit:
        if raw[pos + 1] != 1:
            raise _Bad
        pos += 2
        c = raw[pos]
    pos += 1
    if c >= 0xFD:
        c, pos = _compact_tail(raw, pos, c)
    if c > (n - pos) // 41 or (c == 0 and not segwit):  # 41: _MIN_TXIN
        raise _Bad
    inputs: list[TxIn] = []
    add_in = inputs.append
    for _ in range(c):
        ln = raw[pos + 36]
        p = pos + 37
        if ln >= 0xFD:
            ln, p = _compact_tail(raw, p, ln)
        e = p + ln
        add_in(txin_(raw[pos : pos + 36], raw[p:e], u32(raw, e)[0]))
        pos = e + 4
    c = raw[pos]
    pos += 1
    if c >= 0xFD:
        c, pos = _compact_tail(raw, pos, c)
    if c > (n - pos) // 9:  # 9: _MIN_TXOUT
        raise _Bad
    outputs: list[TxOut] = []
    add_out = outputs.append
    for _ in range(c):
        ln = raw[pos + 8]
        p = pos + 9
        if ln >= 0xFD:
            ln, p = _compact_tail(raw, p, ln)
        e = p + ln
        add_out(txout_(u64(raw, pos)[0], raw[p:e]))
        pos = e
    witness_start = -1
    if segwit:
        witness_start = pos
        any_witness = False
        for txin in inputs:
            c = raw[pos]
            pos += 1
            if c == 0:
                continue
            any_witness = True
            if c == 1:
                # A taproot key-path spend: one signature.
                ln = raw[pos]
                pos += 1
                if ln >= 0xFD:
                    ln, pos = _compact_tail(raw, pos, ln)
                e = pos + ln
                txin.witness = (raw[pos:e],)
                pos = e
                continue
            if c == 2:
                # The common P2WPKH stack (signature, public key), unrolled.
                ln = raw[pos]
                pos += 1
                if ln >= 0xFD:
                    ln, pos = _compact_tail(raw, pos, ln)
                e = pos + ln
                first = raw[pos:e]
                ln = raw[e]
                pos = e + 1
                if ln >= 0xFD:
                    ln, pos = _compact_tail(raw, pos, ln)
                e = pos + ln
                txin.witness = (first, raw[pos:e])
                pos = e
                continue
            if c >= 0xFD:
                c, pos = _compact_tail(raw, pos, c)
            if c > n - pos:
                raise _Bad
            items = []
            for _ in range(c):
                ln = raw[pos]
                pos += 1
                if ln >= 0xFD:
                    ln, pos = _compact_tail(raw, pos, ln)
                e = pos + ln
                items.append(raw[pos:e])
                pos = e
            txin.witness = tuple(items)
        if not any_witness:
            raise _Bad
    end = pos + 4
    if end > n:
        raise _Bad
    return Tx(raw, start, end, inputs, outputs, witness_start)


def _compact_tail(raw: bytes, pos: int, first: int) -> tuple[int, int]:
    # The rare multi-byte compact sizes; non-canonical or oversized ones are refused as
    # Bitcoin Core's ReadCompactSize does.
    if first == 0xFD:
        v = _u16(raw, pos)[0]
        if v < 0xFD:
            raise _Bad
        return v, pos + 2
    if first == 0xFE:
        v = _u32(raw, pos)[0]
        if v < 0x10000:
            raise _Bad
        pos += 4
    else:
        v = _u64(raw, pos)[0]
        if v < 0x100000000:
            raise _Bad
        pos += 8
    if v > MAX_COMPACT_SIZE:
        raise _Bad
    return v, pos


def _checked_compact(raw: bytes, pos: int, field: str) -> tuple[int, int]:
    """Read a compact size with every check; raise ``TxParseError`` naming ``field``."""
    n = len(raw)
    if pos >= n:
        raise TxParseError(pos, field)
    first = raw[pos]
    if first < 0xFD:
        return first, pos + 1
    width = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
    if pos + 1 + width > n:
        raise TxParseError(pos, field)
    v = int.from_bytes(raw[pos + 1 : pos + 1 + width], "little")
    if v < {2: 0xFD, 4: 0x10000, 8: 0x100000000}[width]:
        raise TxParseError(pos, field, "non-canonical compact size")
    if v > MAX_COMPACT_SIZE:
        raise TxParseError(pos, field, f"compact size {v} exceeds {MAX_COMPACT_SIZE}")
    return v, pos + 1 + width


def _need(raw: bytes, pos: int, size: int, field: str) -> int:
    if pos + size > len(raw):
        raise TxParseError(pos, field, f"truncated: needs {size} bytes, {len(raw) - pos} left")
    return pos + size


def _diagnose(raw: bytes, start: int) -> None:
    """Walk the transaction at ``start`` checking every field; raise the first fault found."""
    n = len(raw)
    pos = _need(raw, start, 4, "version")
    segwit = pos < n and raw[pos] == 0
    if segwit:
        _need(raw, pos, 2, "marker/flag")
        if raw[pos + 1] != 1:
            raise TxParseError(
                pos + 1, "flag", f"segwit flag must be 0x01, got {raw[pos + 1]:#04x}"
            )
        pos += 2
    n_in, p = _checked_compact(raw, pos, "input count")
    if n_in == 0 and not segwit:
        raise TxParseError(pos, "input count", "no inputs")
    if n_in > (n - p) // _MIN_TXIN:
        raise TxParseError(pos, "input count", f"{n_in} inputs cannot fit in {n - p} bytes")
    pos = p
    for i in range(n_in):
        pos = _need(raw, pos, 36, f"input[{i}].prevout")
        ln, pos = _checked_compact(raw, pos, f"input[{i}].script_sig length")
        pos = _need(raw, pos, ln, f"input[{i}].script_sig")
        pos = _need(raw, pos, 4, f"input[{i}].sequence")
    n_out, p = _checked_compact(raw, pos, "output count")
    if n_out > (n - p) // _MIN_TXOUT:
        raise TxParseError(pos, "output count", f"{n_out} outputs cannot fit in {n - p} bytes")
    pos = p
    for i in range(n_out):
        pos = _need(raw, pos, 8, f"output[{i}].value")
        ln, pos = _checked_compact(raw, pos, f"output[{i}].script_pubkey length")
        pos = _need(raw, pos, ln, f"output[{i}].script_pubkey")
    if segwit:
        witness_start = pos
        any_witness = False
        for i in range(n_in):
            cnt, p = _checked_compact(raw, pos, f"input[{i}].witness count")
            if cnt > n - p:
                raise TxParseError(pos, f"input[{i}].witness count", f"{cnt} items cannot fit")
            pos = p
            any_witness = any_witness or cnt > 0
            for j in range(cnt):
                ln, pos = _checked_compact(raw, pos, f"input[{i}].witness[{j}] length")
                pos = _need(raw, pos, ln, f"input[{i}].witness[{j}]")
        if not any_witness:
            raise TxParseError(witness_start, "witness", "segwit marker but every witness empty")
    _need(raw, pos, 4, "locktime")


def scan_outputs(
    raw: bytes, watch: Mapping[bytes, _V], start: int = 0
) -> list[tuple[int, int, _V]]:
    """Match a raw transaction's output scriptPubKeys against ``watch``, building nothing.

    Walks the bytes from ``start``: skips the inputs, reads each output's value and
    scriptPubKey slice, and looks the slice up in ``watch``. The witness section (after
    the outputs) is never touched. No transaction, input or output object is created.

    Args:
        raw: the serialised transaction (or a buffer holding it at ``start``).
        watch: scriptPubKey bytes -> anything (an entity entry, an id).

    Returns:
        ``(output index, value in satoshis, watch[spk])`` for each match; an empty list when
        nothing matches.

    Raises:
        TxParseError: the bytes run out before the last output (the rest is not checked).
    """
    try:
        pos = start + 4
        c = raw[pos]
        if c == 0:
            pos += 2
            c = raw[pos]
        pos += 1
        if c >= 0xFD:
            c, pos = _compact_tail(raw, pos, c)
        for _ in range(c):
            pos += 36
            ln = raw[pos]
            pos += 1
            if ln >= 0xFD:
                ln, pos = _compact_tail(raw, pos, ln)
            pos += ln + 4
        c = raw[pos]
        pos += 1
        if c >= 0xFD:
            c, pos = _compact_tail(raw, pos, c)
        found: list[tuple[int, int, _V]] = []
        get = watch.get
        for i in range(c):
            p = pos + 8
            ln = raw[p]
            p += 1
            if ln >= 0xFD:
                ln, p = _compact_tail(raw, p, ln)
            e = p + ln
            hit = get(raw[p:e])
            if hit is not None:
                found.append((i, _u64(raw, pos)[0], hit))
            pos = e
        if pos > len(raw):
            raise _Bad
        return found
    except (IndexError, struct.error, _Bad):
        _diagnose(raw, start)
        raise TxParseError(start, "transaction", "malformed") from None


def scan_tx(
    raw: bytes, watch: Lookup[_V], spent: Mapping[bytes, _V]
) -> tuple[list[tuple[int, int, _V]], list[tuple[int, _V]]]:
    """Match outputs against ``watch`` and spent outpoints against ``spent``, building nothing.

    Like ``scan_outputs``, and also looks each input's 36-byte outpoint (txid in internal
    order, then the output index as u32 little-endian) up in ``spent``: how a detector
    recognises a transaction that spends coins it saw paid to a watched address.

    Returns:
        ``(outputs, inputs)``: ``(output index, value, watch[spk])`` per watched output and
        ``(input index, spent[outpoint])`` per recognised input.

    Raises:
        TxParseError: the bytes run out before the last output.
    """
    try:
        pos = 4
        c = raw[pos]
        if c == 0:
            pos += 2
            c = raw[pos]
        pos += 1
        if c >= 0xFD:
            c, pos = _compact_tail(raw, pos, c)
        ins: list[tuple[int, _V]] = []
        sget = spent.get
        for i in range(c):
            hit = sget(raw[pos : pos + 36])
            if hit is not None:
                ins.append((i, hit))
            pos += 36
            ln = raw[pos]
            pos += 1
            if ln >= 0xFD:
                ln, pos = _compact_tail(raw, pos, ln)
            pos += ln + 4
        c = raw[pos]
        pos += 1
        if c >= 0xFD:
            c, pos = _compact_tail(raw, pos, c)
        found: list[tuple[int, int, _V]] = []
        get = watch.get
        for i in range(c):
            p = pos + 8
            ln = raw[p]
            p += 1
            if ln >= 0xFD:
                ln, p = _compact_tail(raw, p, ln)
            e = p + ln
            hit2 = get(raw[p:e])
            if hit2 is not None:
                found.append((i, _u64(raw, pos)[0], hit2))
            pos = e
        if pos > len(raw):
            raise _Bad
        return found, ins
    except (IndexError, struct.error, _Bad):
        _diagnose(raw, 0)
        raise TxParseError(0, "transaction", "malformed") from None


def tx_span(raw: bytes, start: int = 0) -> tuple[int, int]:
    """Walk the transaction at ``start`` without building anything; return its layout.

    Returns:
        ``(end, witness_start)``: the offset just past the transaction, and where its
        witness section starts (-1 for a legacy transaction).

    Raises:
        TxParseError: the bytes are not a well-formed transaction.
    """
    try:
        n = len(raw)
        pos = start + 4
        c = raw[pos]
        segwit = c == 0
        if segwit:
            if raw[pos + 1] != 1:
                raise _Bad
            pos += 2
            c = raw[pos]
        pos += 1
        if c >= 0xFD:
            c, pos = _compact_tail(raw, pos, c)
        if c > (n - pos) // 41 or (c == 0 and not segwit):
            raise _Bad
        n_in = c
        for _ in range(n_in):
            ln = raw[pos + 36]
            pos += 37
            if ln >= 0xFD:
                ln, pos = _compact_tail(raw, pos, ln)
            pos += ln + 4
        c = raw[pos]
        pos += 1
        if c >= 0xFD:
            c, pos = _compact_tail(raw, pos, c)
        if c > (n - pos) // 9:
            raise _Bad
        for _ in range(c):
            ln = raw[pos + 8]
            pos += 9
            if ln >= 0xFD:
                ln, pos = _compact_tail(raw, pos, ln)
            pos += ln
        witness_start = -1
        if segwit:
            witness_start = pos
            any_witness = False
            for _ in range(n_in):
                c = raw[pos]
                pos += 1
                if c == 0:
                    continue
                any_witness = True
                if c >= 0xFD:
                    c, pos = _compact_tail(raw, pos, c)
                if c > n - pos:
                    raise _Bad
                for _ in range(c):
                    ln = raw[pos]
                    pos += 1
                    if ln >= 0xFD:
                        ln, pos = _compact_tail(raw, pos, ln)
                    pos += ln
            if not any_witness:
                raise _Bad
        end = pos + 4
        if end > n:
            raise _Bad
        return end, witness_start
    except (IndexError, struct.error, _Bad):
        _diagnose(raw, start)
        raise TxParseError(start, "transaction", "malformed") from None


def txid_of(raw: bytes) -> str:
    """Return the display-order txid of exactly one serialised transaction, building nothing.

    The feeds' deduplication path: a byte walk (``tx_span``) and the hash of the non-witness
    byte ranges, without the inputs and outputs ``parse_tx`` builds; the walk and the hash
    run in C (``_scan.txid``) when it is built, ~4x faster.

    Raises:
        TxParseError: ``raw`` is not exactly one well-formed transaction.
    """
    walk = _c_txid
    if walk is not None:
        txid = walk(raw)
        if txid is not None:
            return txid
    end, w = tx_span(raw)
    if end != len(raw):
        raise TxParseError(end, "end of transaction", f"{len(raw) - end} trailing bytes")
    if w < 0:
        return _sha256(_sha256(raw).digest()).digest()[::-1].hex()
    body = raw[0:4] + raw[6:w] + raw[end - 4 : end]
    return _sha256(_sha256(body).digest()).digest()[::-1].hex()


# the C walk and hash alone, the str built in place: every feed event pays it, and through
# _scan.inspect it also built a bytes, a list and a tuple that were thrown away
_c_txid: Callable[[bytes], str | None] | None = None
#: True when ``txid_of`` runs in C (``whalewire.mempool._scan``)
SPEEDUPS = False


def _switch(enabled: bool) -> bool:
    # whalewire.speedups calls this
    global _c_txid, SPEEDUPS
    SPEEDUPS = enabled and _scan is not None
    _c_txid = _scan.txid if SPEEDUPS and _scan is not None else None
    return SPEEDUPS


speedups.register(__name__, _switch)

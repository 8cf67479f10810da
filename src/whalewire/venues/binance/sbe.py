"""Binance Spot SBE market-data stream events, decoded sans-IO into the JSON path's types.

Schema ``spot_stream`` id 1, version 0 (``sbe/schemas/stream_1_0.xml`` of
binance-spot-api-docs; little-endian): an 8-byte ``messageHeader`` (``blockLength``,
``templateId``, ``schemaId``, ``version``, all uint16), the root block, repeating groups
(``groupSize16Encoding``: uint16 ``blockLength``, uint16 ``numInGroup``; the trades group
``groupSizeEncoding``: uint16, uint32), then ``symbol`` as ``varString8``. Prices and
quantities are int64 mantissas with the message's int8 ``priceExponent`` / ``qtyExponent``.
Templates: ``TradesStreamEvent`` 10000, ``BestBidAskStreamEvent`` 10001,
``DepthSnapshotStreamEvent`` 10002 (``<symbol>@depth20``: ``eventTime``, ``bookUpdateId``,
the exponents, ``bids`` and ``asks`` groups, ``symbol``), ``DepthDiffStreamEvent`` 10003.
Times are microseconds; the decoded events carry milliseconds, as the JSON ones do. Block
lengths are read from the message, so fields a later schema version appends are skipped.

:func:`decode` returns the same Structs as ``stream_decode.py``'s JSON types (a depth diff as a
``DepthUpdate``, so ``DepthSync`` applies it unchanged; a trades event as a list of
``Trade``), a depth snapshot as a :class:`DepthSnapshot` (no JSON twin: the JSON partial
depth stream names no symbol), and raises :class:`SbeError` for anything short, unknown or
inconsistent.
"""

from __future__ import annotations

import struct

import msgspec

from whalewire.venues.binance.stream_decode import BookTicker, DepthUpdate, Levels, Trade

SCHEMA_ID = 1
TRADES = 10000
BEST_BID_ASK = 10001
DEPTH_SNAPSHOT = 10002
DEPTH_DIFF = 10003

_HEADER = struct.Struct("<HHHH")
_GROUP16 = struct.Struct("<HH")
_GROUP32 = struct.Struct("<HI")
_DIFF_ROOT = struct.Struct("<qqqbb")
_BBA_ROOT = struct.Struct("<qqbbqqqq")
_TRADES_ROOT = struct.Struct("<qqbb")
_SNAPSHOT_ROOT = struct.Struct("<qqbb")
_LEVEL = struct.Struct("<qq")
_TRADE = struct.Struct("<qqqB")


class SbeError(ValueError):
    """An SBE frame that does not fit the schema: where and why."""


class DepthSnapshot(msgspec.Struct, frozen=True):
    """``DepthSnapshotStreamEvent`` ("Partial Book Depth Streams", ``<symbol>@depth20``): the
    best 20 levels a side as of update id ``u``, event time ``E`` in ms."""

    E: int
    s: str
    u: int
    bids: Levels
    asks: Levels


def _scale(exponent: int) -> tuple[bool, float]:
    # divide by 10**-e rather than multiply by 10**e: the division is correctly rounded,
    # so 6000001e-2 becomes exactly float("60000.01"), the key the JSON path makes
    return (True, float(10**-exponent)) if exponent < 0 else (False, float(10**exponent))


def _levels(
    data: memoryview, at: int, p: tuple[bool, float], q: tuple[bool, float]
) -> tuple[list[tuple[float, float]], int]:
    block, count = _GROUP16.unpack_from(data, at)
    at += _GROUP16.size
    if block < _LEVEL.size or at + block * count > len(data):
        raise SbeError(f"level group of {count} x {block} B overruns the frame at {at}")
    (pdiv, pf), (qdiv, qf) = p, q
    out = []
    for i in range(count):
        pm, qm = _LEVEL.unpack_from(data, at + i * block)
        out.append((pm / pf if pdiv else pm * pf, qm / qf if qdiv else qm * qf))
    return out, at + block * count


def _symbol(data: memoryview, at: int) -> str:
    if at >= len(data) or at + 1 + data[at] > len(data):
        raise SbeError(f"symbol overruns the frame at {at}")
    return bytes(data[at + 1 : at + 1 + data[at]]).decode("ascii")


def decode(frame: bytes | memoryview) -> DepthUpdate | DepthSnapshot | BookTicker | list[Trade]:
    """Decode one SBE stream event (a binary frame's payload).

    Raises:
        SbeError: a short frame, another schema, an unknown template, a group overrun.
    """
    data = memoryview(frame)
    try:
        block, template, schema, _version = _HEADER.unpack_from(data, 0)
        if schema != SCHEMA_ID:
            raise SbeError(f"schema id {schema}, expected {SCHEMA_ID}")
        at = _HEADER.size
        if template == DEPTH_DIFF:
            time_us, first, last, pe, qe = _DIFF_ROOT.unpack_from(data, at)
            p, q = _scale(pe), _scale(qe)
            bids, at = _levels(data, at + block, p, q)
            asks, at = _levels(data, at, p, q)
            return DepthUpdate(time_us // 1000, _symbol(data, at), first, last, bids, asks)
        if template == DEPTH_SNAPSHOT:
            time_us, update, pe, qe = _SNAPSHOT_ROOT.unpack_from(data, at)
            p, q = _scale(pe), _scale(qe)
            bids, at = _levels(data, at + block, p, q)
            asks, at = _levels(data, at, p, q)
            return DepthSnapshot(time_us // 1000, _symbol(data, at), update, bids, asks)
        if template == BEST_BID_ASK:
            time_us, update, pe, qe, bp, bq, ap, aq = _BBA_ROOT.unpack_from(data, at)
            (pdiv, pf), (qdiv, qf) = _scale(pe), _scale(qe)
            sym = _symbol(data, at + block)
            price = (bp / pf, ap / pf) if pdiv else (bp * pf, ap * pf)
            qty = (bq / qf, aq / qf) if qdiv else (bq * qf, aq * qf)
            return BookTicker(update, sym, price[0], qty[0], price[1], qty[1])
        if template == TRADES:
            _time_us, transact_us, pe, qe = _TRADES_ROOT.unpack_from(data, at)
            (pdiv, pf), (qdiv, qf) = _scale(pe), _scale(qe)
            at += block
            tblock, count = _GROUP32.unpack_from(data, at)
            at += _GROUP32.size
            if tblock < _TRADE.size or at + tblock * count > len(data):
                raise SbeError(f"trade group of {count} x {tblock} B overruns the frame")
            rows = [_TRADE.unpack_from(data, at + i * tblock) for i in range(count)]
            sym = _symbol(data, at + tblock * count)
            return [
                Trade(
                    e="trade",
                    E=transact_us // 1000,
                    s=sym,
                    p=pm / pf if pdiv else pm * pf,
                    q=qm / qf if qdiv else qm * qf,
                    T=transact_us // 1000,
                    m=bool(maker),
                    t=trade_id,
                )
                for trade_id, pm, qm, maker in rows
            ]
        raise SbeError(f"template {template} is not decoded here")
    except (struct.error, UnicodeDecodeError) as exc:
        raise SbeError(f"short or broken frame: {exc}") from None


# -- encoding: what the emulator sends (and tests build frames with) --------------------


def _group16(levels: list[tuple[int, int]]) -> bytes:
    return _GROUP16.pack(_LEVEL.size, len(levels)) + b"".join(_LEVEL.pack(*lv) for lv in levels)


def _symbol_bytes(symbol: str) -> bytes:
    raw = symbol.encode("ascii")
    return bytes([len(raw)]) + raw


def _book_event(
    template: int,
    root: bytes,
    bids: list[tuple[int, int]],
    asks: list[tuple[int, int]],
    symbol: str,
) -> bytes:
    head = _HEADER.pack(len(root), template, SCHEMA_ID, 0)
    return head + root + _group16(bids) + _group16(asks) + _symbol_bytes(symbol)


def encode_depth_diff(
    symbol: str,
    *,
    time_us: int,
    first: int,
    last: int,
    exponents: tuple[int, int],
    bids: list[tuple[int, int]],
    asks: list[tuple[int, int]],
) -> bytes:
    """Encode a ``DepthDiffStreamEvent``; levels as (price, qty) mantissas."""
    root = _DIFF_ROOT.pack(time_us, first, last, *exponents)
    return _book_event(DEPTH_DIFF, root, bids, asks, symbol)


def encode_depth_snapshot(
    symbol: str,
    *,
    time_us: int,
    update_id: int,
    exponents: tuple[int, int],
    bids: list[tuple[int, int]],
    asks: list[tuple[int, int]],
) -> bytes:
    """Encode a ``DepthSnapshotStreamEvent``; levels best first as (price, qty) mantissas."""
    root = _SNAPSHOT_ROOT.pack(time_us, update_id, *exponents)
    return _book_event(DEPTH_SNAPSHOT, root, bids, asks, symbol)


def encode_best_bid_ask(
    symbol: str, *, time_us: int, update_id: int, exponents: tuple[int, int], top: tuple[int, ...]
) -> bytes:
    """Encode a ``BestBidAskStreamEvent``; ``top`` as (bid, bid qty, ask, ask qty) mantissas."""
    root = _BBA_ROOT.pack(time_us, update_id, *exponents, *top)
    return _HEADER.pack(len(root), BEST_BID_ASK, SCHEMA_ID, 0) + root + _symbol_bytes(symbol)


def encode_trades(
    symbol: str,
    *,
    time_us: int,
    exponents: tuple[int, int],
    trades: list[tuple[int, int, int, bool]],
) -> bytes:
    """Encode a ``TradesStreamEvent``; trades as (id, price, qty, buyer is maker)."""
    root = _TRADES_ROOT.pack(time_us, time_us, *exponents)
    group = _GROUP32.pack(_TRADE.size, len(trades)) + b"".join(
        _TRADE.pack(tid, p, q, int(m)) for tid, p, q, m in trades
    )
    return _HEADER.pack(len(root), TRADES, SCHEMA_ID, 0) + root + group + _symbol_bytes(symbol)

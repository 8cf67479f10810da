"""Binance Spot market-data messages as msgspec types: the streams' events and the snapshot.

Payloads of ``web-socket-streams.md`` ("Diff. Depth Stream", "Trade Streams", "Aggregate
Trade Streams", "Individual Symbol Book Ticker Streams"), the combined-stream envelope, and
the WebSocket API ``depth`` answer. Lax decoding: the venue's decimal strings become floats
(the book's keys). ``sbe.py`` decodes the SBE streams into the same types. Sans-IO.
"""

from __future__ import annotations

import msgspec

Levels = list[tuple[float, float]]


class Envelope(msgspec.Struct):
    """A combined-stream event: its stream name and the raw payload."""

    stream: str
    data: msgspec.Raw


class DepthUpdate(msgspec.Struct, frozen=True):
    """``depthUpdate`` ("Diff. Depth Stream"): first ``U`` and final ``u`` update id."""

    E: int
    s: str
    U: int
    u: int
    b: Levels
    a: Levels


class Trade(msgspec.Struct, frozen=True):
    """``trade`` ("Trade Streams") and ``aggTrade`` ("Aggregate Trade Streams", ``a`` its id)."""

    e: str
    E: int
    s: str
    p: float
    q: float
    T: int
    m: bool
    t: int = 0
    a: int = 0


class BookTicker(msgspec.Struct, frozen=True):
    """``bookTicker`` ("Individual Symbol Book Ticker Streams"): the top of one book."""

    u: int
    s: str
    b: float
    B: float
    a: float
    A: float


class Snapshot(msgspec.Struct, frozen=True):
    """The ``depth`` method's result: the book as of ``lastUpdateId``."""

    lastUpdateId: int  # noqa: N815
    bids: Levels
    asks: Levels


class SnapshotResponse(msgspec.Struct, frozen=True):
    """The WebSocket API envelope around a ``depth`` result (an error has no result)."""

    status: int
    result: Snapshot | None = None


#: the decoders ``market.py`` routes by stream kind
ENVELOPE = msgspec.json.Decoder(Envelope)
DECODERS: dict[str, msgspec.json.Decoder[DepthUpdate | Trade | BookTicker]] = {
    "depth": msgspec.json.Decoder(DepthUpdate, strict=False),
    "depth@100ms": msgspec.json.Decoder(DepthUpdate, strict=False),
    "trade": msgspec.json.Decoder(Trade, strict=False),
    "aggTrade": msgspec.json.Decoder(Trade, strict=False),
    "bookTicker": msgspec.json.Decoder(BookTicker, strict=False),
}
SNAPSHOT = msgspec.json.Decoder(SnapshotResponse, strict=False)

"""Every message the Binance WebSocket API sends us, as msgspec types, decoded sans-IO.

Two kinds arrive on ``/ws-api/v3`` (``web-socket-api.md``): a response to a request
(``id``, ``status``, ``result`` or ``error``, optionally ``rateLimits``) and a User Data
Stream event (``subscriptionId``, ``event``), of which the client reads the
``executionReport`` (``user-data-stream.md``). Results are typed where the client acts on
them: the ``order.place`` acknowledgement and the ``order.status`` answer. Whatever does not
fit raises ``decoding.VenueDecodeError`` naming the message and the field path.
Knows nothing of sockets, orders of record or the engine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from whalewire.venues.decoding import VenueDecodeError, check_amounts, convert, decode

VENUE = "binance"


class ErrorData(msgspec.Struct):
    """``error.data`` of a 418/429 answer: when sending may resume (venue ms)."""

    retryAfter: int | None = None  # noqa: N815 - Binance's field name


class ApiError(msgspec.Struct):
    """An ``error`` object (``errors.md``): the code and its message."""

    code: int
    msg: str = ""
    data: ErrorData | None = None


class Message(msgspec.Struct):
    """One frame from the venue: a response (``id``) or a stream event (``event``)."""

    id: str | int | None = None
    status: int = 0
    #: the result, decoded by who reads it (``order_ack``, ``order_state``, ``result``)
    result: msgspec.Raw = msgspec.Raw()
    error: ApiError | None = None
    #: the rows as objects: ``ratelimit.RateLimiter`` checks each one's fields itself
    rateLimits: list[dict[str, Any]] | None = None  # noqa: N815
    subscriptionId: int | None = None  # noqa: N815
    #: the stream event, decoded only once its type is known (empty: none)
    event: msgspec.Raw = msgspec.Raw()

    def error_fields(self) -> dict[str, object] | None:
        """The ``error`` object as ``outcome.binance_outcome`` reads it."""
        e = self.error
        return None if e is None else {"code": e.code, "msg": e.msg}


class EventHead(msgspec.Struct):
    """Enough of a stream event to route it: its type ``e``."""

    e: str = ""


class ExecutionReport(msgspec.Struct, frozen=True):
    """``executionReport`` (``user-data-stream.md``): what happened to one of our orders.

    ``c`` is the client order id; for a cancel, ``C`` is the canceled order's own. Other
    events decode into it too when their fields fit (``e`` then says what they are).
    """

    e: str = ""
    x: str = ""
    c: str = ""
    s: str = ""
    C: str | None = None
    i: int | None = None
    l: Decimal = Decimal(0)  # noqa: E741 - Binance's field name
    L: Decimal = Decimal(0)
    #: the order's cumulative filled quantity and quote quantity after this event
    z: Decimal | None = None
    Z: Decimal | None = None
    n: Decimal | None = None
    N: str | None = None
    t: int | None = None
    T: int | None = None
    E: int | None = None
    r: str = ""

    def __post_init__(self) -> None:
        if self.e == "executionReport":
            if not self.x or not self.c:
                raise ValueError("[c] an executionReport needs x and c")
            check_amounts(l=self.l, L=self.L, n=self.n, z=self.z, Z=self.Z)

    @property
    def client_order_id(self) -> str:
        """The order it concerns (the canceled one for a cancel)."""
        return (self.C or self.c) if self.x == "CANCELED" else self.c

    def average_px(self) -> Decimal | None:
        """The average price of what the order executed (``Z / z``), None when nothing has."""
        return average(self.z, self.Z)


def average(qty: Decimal | None, quote: Decimal | None) -> Decimal | None:
    """``quote / qty``: an order's average price from its cumulative sums (None if empty)."""
    if not qty or quote is None:
        return None
    return quote / qty


class OrderRef(msgspec.Struct):
    """The client ids of a stream event that failed to decode in full, to name its order."""

    c: str | None = None
    C: str | None = None


class OrderAck(msgspec.Struct):
    """An ``order.place`` result, as much as the client reads."""

    orderId: int | None = None  # noqa: N815


class OrderState(msgspec.Struct):
    """An ``order.status`` result: the order's status and what has filled."""

    orderId: int  # noqa: N815
    status: str
    executedQty: Decimal = Decimal(0)  # noqa: N815
    cummulativeQuoteQty: Decimal = Decimal(0)  # noqa: N815 - sic, Binance's spelling

    def __post_init__(self) -> None:
        check_amounts(executedQty=self.executedQty, cummulativeQuoteQty=self.cummulativeQuoteQty)


class CancelResult(msgspec.Struct):
    """An ``order.cancel`` result: what the order had executed when it was canceled."""

    executedQty: Decimal | None = None  # noqa: N815
    cummulativeQuoteQty: Decimal | None = None  # noqa: N815 - sic, Binance's spelling

    def __post_init__(self) -> None:
        check_amounts(executedQty=self.executedQty, cummulativeQuoteQty=self.cummulativeQuoteQty)


class ServerTime(msgspec.Struct):
    """The ``time`` result."""

    serverTime: int  # noqa: N815


class Filter(msgspec.Struct):
    """One symbol filter (``filters.md``); the client reads ``LOT_SIZE`` and ``PRICE_FILTER``."""

    filterType: str  # noqa: N815
    stepSize: Decimal | None = None  # noqa: N815
    tickSize: Decimal | None = None  # noqa: N815

    def __post_init__(self) -> None:
        check_amounts(stepSize=self.stepSize, tickSize=self.tickSize)
        for name, size in (("stepSize", self.stepSize), ("tickSize", self.tickSize)):
            if size is not None and size < 0:
                raise ValueError(f"[{name}] {size} is negative")


class SymbolInfo(msgspec.Struct):
    """One ``exchangeInfo`` symbol: its name and filters."""

    symbol: str
    filters: list[Filter] = []

    def grid(self) -> tuple[Decimal, Decimal]:
        """Return (step, tick): ``LOT_SIZE.stepSize`` and ``PRICE_FILTER.tickSize``.

        A zero or absent size falls back to 1e-8 and 0.01 (a grid of zero is no grid).
        """
        step, tick = Decimal("0.00000001"), Decimal("0.01")
        for f in self.filters:
            if f.filterType == "LOT_SIZE" and f.stepSize:
                step = f.stepSize
            elif f.filterType == "PRICE_FILTER" and f.tickSize:
                tick = f.tickSize
        return step, tick


class ExchangeInfo(msgspec.Struct):
    """The ``exchangeInfo`` result, as read: rate limits (checked by the limiter) and symbols."""

    rateLimits: list[dict[str, Any]] = []  # noqa: N815
    symbols: list[SymbolInfo] = []


class Depth(msgspec.Struct):
    """The ``depth`` result: price levels as (price, quantity), best first."""

    bids: list[tuple[Decimal, Decimal]] = []
    asks: list[tuple[Decimal, Decimal]] = []

    def __post_init__(self) -> None:
        for side in (self.bids, self.asks):
            for price, qty in side[:1]:
                check_amounts(price=price, qty=qty)


def server_time(result: Any) -> int:
    """Convert a ``time`` result; return ``serverTime``."""
    return convert(VENUE, "time response", result, ServerTime, at="$.result").serverTime


def exchange_info(result: Any) -> ExchangeInfo:
    """Convert an ``exchangeInfo`` result."""
    return convert(VENUE, "exchangeInfo response", result, ExchangeInfo, at="$.result")


def depth(result: Any) -> Depth:
    """Convert a ``depth`` result."""
    return convert(VENUE, "depth response", result, Depth, at="$.result")


def message(data: bytes | str) -> Message:
    """Decode one frame's envelope."""
    return decode(VENUE, "message", data, Message)


def execution_report(event: msgspec.Raw) -> ExecutionReport | None:
    """Decode a stream event that is an ``executionReport``; ``None`` for other events.

    One parse on the way that matters: the event is decoded as an execution report at once,
    and only when that fails is its type read, to tell a malformed report (raised) from
    another event (``outboundAccountPosition``, ``listStatus``, ...: ignored).
    """
    try:
        report = decode(VENUE, "executionReport", event, ExecutionReport, at="$.event")
    except VenueDecodeError:
        if decode(VENUE, "event", event, EventHead, at="$.event").e == "executionReport":
            raise
        return None
    return report if report.e == "executionReport" else None


def order_of(event: msgspec.Raw) -> str | None:
    """Best effort: the client order id of an event that did not decode in full."""
    try:
        ref = msgspec.json.decode(event, type=OrderRef)
    except msgspec.MsgspecError:
        return None
    return ref.C or ref.c


def result(msg: Message) -> Any:
    """Decode a response's ``result`` as plain JSON (``None`` when it carries none)."""
    return decode(VENUE, "result", msg.result, Any, at="$.result") if msg.result else None


def order_ack(msg: Message) -> OrderAck:
    """Decode an ``order.place`` response's result (empty when the answer carries none)."""
    if not msg.result:
        return OrderAck()
    return decode(VENUE, "order.place response", msg.result, OrderAck, at="$.result")


def cancel_result(msg: Message) -> CancelResult:
    """Decode an ``order.cancel`` response's result."""
    return decode(VENUE, "order.cancel response", msg.result, CancelResult, at="$.result")


def order_state(msg: Message) -> OrderState:
    """Decode an ``order.status`` response's result."""
    return decode(VENUE, "order.status response", msg.result, OrderState, at="$.result")


class _IdOnly(msgspec.Struct):
    id: str | int | None = None


def request_id(data: bytes | str) -> str | None:
    """Best effort: the ``id`` of a frame whose envelope did not decode in full."""
    try:
        rid = msgspec.json.decode(data, type=_IdOnly).id
    except msgspec.MsgspecError:
        return None
    return None if rid is None else str(rid)

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
from typing import Any, Literal

import msgspec

from whalewire.venues.decoding import check_amounts, convert, decode

VENUE = "binance"


class ErrorData(msgspec.Struct):
    """``error.data`` of a 418/429 answer: when sending may resume (venue ms)."""

    retryAfter: int | None = None  # noqa: N815 - Binance's field name


class ApiError(msgspec.Struct):
    """An ``error`` object (``errors.md``): the code and its message."""

    code: int
    msg: str = ""
    data: ErrorData | None = None


class RateLimit(msgspec.Struct):
    """One ``rateLimits`` row: a window and how much of it is used."""

    rateLimitType: str  # noqa: N815
    interval: Literal["SECOND", "MINUTE", "HOUR", "DAY"]
    intervalNum: int  # noqa: N815
    limit: int
    count: int | None = None


class Message(msgspec.Struct):
    """One frame from the venue: a response (``id``) or a stream event (``event``)."""

    id: str | int | None = None
    status: int = 0
    result: Any = None
    error: ApiError | None = None
    rateLimits: list[RateLimit] | None = None  # noqa: N815
    subscriptionId: int | None = None  # noqa: N815
    #: the stream event, decoded only once its type is known (empty: none)
    event: msgspec.Raw = msgspec.Raw()

    def limit_rows(self) -> list[dict[str, Any]] | None:
        """The ``rateLimits`` rows as the rate limiter reads them."""
        rows = self.rateLimits
        return None if rows is None else msgspec.to_builtins(rows)

    def error_fields(self) -> dict[str, object] | None:
        """The ``error`` object as ``outcome.binance_outcome`` reads it."""
        e = self.error
        return None if e is None else {"code": e.code, "msg": e.msg}


class EventHead(msgspec.Struct):
    """Enough of a stream event to route it: its type ``e``."""

    e: str = ""


class ExecutionReport(msgspec.Struct, frozen=True):
    """``executionReport`` (``user-data-stream.md``): what happened to one of our orders.

    ``c`` is the client order id; for a cancel, ``C`` is the canceled order's own.
    """

    x: str
    c: str
    s: str = ""
    C: str | None = None
    i: int | None = None
    l: Decimal = Decimal(0)  # noqa: E741 - Binance's field name
    L: Decimal = Decimal(0)
    n: Decimal | None = None
    N: str | None = None
    t: int | None = None
    T: int | None = None
    E: int | None = None
    r: str = ""

    def __post_init__(self) -> None:
        check_amounts(l=self.l, L=self.L, n=self.n)

    @property
    def client_order_id(self) -> str:
        """The order it concerns (the canceled one for a cancel)."""
        return (self.C or self.c) if self.x == "CANCELED" else self.c


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


def message(data: bytes | str) -> Message:
    """Decode one frame's envelope."""
    return decode(VENUE, "message", data, Message)


def event_type(event: msgspec.Raw) -> str:
    """Return a stream event's ``e``."""
    return decode(VENUE, "event", event, EventHead, at="$.event").e


def execution_report(event: msgspec.Raw) -> ExecutionReport:
    """Decode an ``executionReport``."""
    return decode(VENUE, "executionReport", event, ExecutionReport, at="$.event")


def order_of(event: msgspec.Raw) -> str | None:
    """Best effort: the client order id of an event that did not decode in full."""
    try:
        ref = msgspec.json.decode(event, type=OrderRef)
    except msgspec.MsgspecError:
        return None
    return ref.C or ref.c


def order_ack(result: Any) -> OrderAck:
    """Convert an ``order.place`` result (``None`` when the answer carries none)."""
    if result is None:
        return OrderAck()
    return convert(VENUE, "order.place response", result, OrderAck, at="$.result")


def order_state(result: Any) -> OrderState:
    """Convert an ``order.status`` result."""
    return convert(VENUE, "order.status response", result, OrderState, at="$.result")


class _IdOnly(msgspec.Struct):
    id: str | int | None = None


def request_id(data: bytes | str) -> str | None:
    """Best effort: the ``id`` of a frame whose envelope did not decode in full."""
    try:
        rid = msgspec.json.decode(data, type=_IdOnly).id
    except msgspec.MsgspecError:
        return None
    return None if rid is None else str(rid)

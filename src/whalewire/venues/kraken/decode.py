"""Every message Kraken's Spot WebSocket v2 sends us, as msgspec types, decoded sans-IO.

Two kinds arrive (Spot WebSocket v2): a channel message (``channel``, ``type``, ``data``:
``status``, ``heartbeat``, ``executions``, ``ticker``, ``instrument``) and a method
response (``method``, ``req_id``, ``success``, ``result`` or ``error``). The rows the
client acts on are typed: executions, tickers, instrument pairs, the ``add_order`` result.
Whatever does not fit raises ``decoding.VenueDecodeError`` naming the message and the field
path. Knows nothing of sockets, orders of record or the engine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from whalewire.venues.decoding import check_amounts, convert, decode

VENUE = "kraken"


class Message(msgspec.Struct):
    """One frame: a channel message (``channel`` set) or a method response (``req_id``)."""

    channel: str | None = None
    type: str = ""
    #: the channel's rows, decoded once the channel is known (empty: none)
    data: msgspec.Raw = msgspec.Raw()
    method: str | None = None
    req_id: int | None = None
    success: bool = True
    result: Any = None
    error: str | None = None


class Fee(msgspec.Struct):
    """One ``fees`` entry of an execution."""

    asset: str = ""
    qty: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        check_amounts(qty=self.qty)


class Execution(msgspec.Struct):
    """One ``executions`` row ("Spot WebSocket v2" > "Executions"): ``exec_type`` says what."""

    exec_type: str
    order_id: str = ""
    cl_ord_id: str | None = None
    timestamp: str | None = None
    symbol: str | None = None
    last_price: Decimal | None = None
    last_qty: Decimal | None = None
    fees: list[Fee] = []
    exec_id: str | None = None
    trade_id: int | str | None = None
    #: the order's cumulative executed quantity, its cost and average price after this row
    cum_qty: Decimal | None = None
    cum_cost: Decimal | None = None
    avg_price: Decimal | None = None

    def __post_init__(self) -> None:
        check_amounts(
            last_price=self.last_price,
            last_qty=self.last_qty,
            cum_qty=self.cum_qty,
            cum_cost=self.cum_cost,
            avg_price=self.avg_price,
        )
        if self.exec_type == "trade" and (self.last_price is None or self.last_qty is None):
            raise ValueError("[last_qty] a trade needs last_price and last_qty")

    def average_px(self) -> Decimal | None:
        """The average price of what the order executed (``avg_price``, else cost / qty)."""
        if not self.cum_qty:
            return None
        if self.avg_price:
            return self.avg_price
        return None if self.cum_cost is None else self.cum_cost / self.cum_qty


class ExecutionRef(msgspec.Struct):
    """The ids of an execution row that failed to decode in full, to name its order."""

    order_id: str | None = None
    cl_ord_id: str | None = None


class Ticker(msgspec.Struct):
    """One ``ticker`` row: the best bid and ask and the last trade."""

    symbol: str
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None

    def __post_init__(self) -> None:
        check_amounts(bid=self.bid, ask=self.ask, last=self.last)


class Pair(msgspec.Struct):
    """One ``instrument`` pair: its quantity and price increments."""

    symbol: str
    qty_increment: Decimal
    price_increment: Decimal

    def __post_init__(self) -> None:
        check_amounts(qty_increment=self.qty_increment, price_increment=self.price_increment)
        if self.qty_increment <= 0 or self.price_increment <= 0:
            raise ValueError("[qty_increment] increments must be positive")


class Instrument(msgspec.Struct):
    """The ``instrument`` channel's data: the pairs (assets are not read)."""

    pairs: list[Pair] = []


class AddOrderResult(msgspec.Struct):
    """An ``add_order`` result: the venue's order id."""

    order_id: str | None = None


class OrderInfo(msgspec.Struct):
    """One order of REST ``OpenOrders`` / ``ClosedOrders`` ("Spot REST API"), as read."""

    status: str = ""
    vol_exec: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        check_amounts(vol_exec=self.vol_exec, price=self.price, fee=self.fee)


class Orders(msgspec.Struct):
    """The ``result`` of ``OpenOrders`` (``open``) or ``ClosedOrders`` (``closed``)."""

    open: dict[str, OrderInfo] = {}
    closed: dict[str, OrderInfo] = {}


def orders(result: Any, path: str) -> Orders:
    """Convert an ``OpenOrders``/``ClosedOrders`` result (``None``: no orders)."""
    if result is None:
        return Orders()
    return convert(VENUE, f"{path} answer", result, Orders, at="$.result")


class RestAnswer(msgspec.Struct):
    """A private REST answer ("Spot REST API"): ``error`` strings, else ``result``."""

    error: list[str] = []
    result: Any = None


def rest_answer(data: bytes, path: str) -> RestAnswer:
    """Decode a private REST answer's body."""
    return decode(VENUE, f"{path} answer", data, RestAnswer)


class Token(msgspec.Struct):
    """REST ``GetWebSocketsToken``'s result."""

    token: str


class CancelAll(msgspec.Struct):
    """``cancel_all``'s result: how many orders it canceled."""

    count: int = 0


class DeadMan(msgspec.Struct):
    """``cancel_all_orders_after``'s result (``triggerTime`` "0" when disarmed)."""

    currentTime: str = ""  # noqa: N815 - Kraken's field names
    triggerTime: str = ""  # noqa: N815


def token(result: Any) -> str:
    """Convert a ``GetWebSocketsToken`` result; return the token."""
    return convert(VENUE, "GetWebSocketsToken answer", result, Token, at="$.result").token


def cancel_all(result: Any) -> CancelAll:
    """Convert a ``cancel_all`` result."""
    return convert(VENUE, "cancel_all response", result, CancelAll, at="$.result")


def dead_man(result: Any) -> DeadMan:
    """Convert a ``cancel_all_orders_after`` result."""
    return convert(VENUE, "cancel_all_orders_after response", result, DeadMan, at="$.result")


def message(data: bytes | str) -> Message:
    """Decode one frame's envelope."""
    return decode(VENUE, "message", data, Message)


def executions(data: msgspec.Raw) -> list[Execution]:
    """Decode an ``executions`` message's rows."""
    return decode(VENUE, "executions", data, list[Execution], at="$.data")


def execution_refs(data: msgspec.Raw) -> list[ExecutionRef]:
    """Best effort: the ids in ``executions`` rows that did not decode in full."""
    try:
        return msgspec.json.decode(data, type=list[ExecutionRef])
    except msgspec.MsgspecError:
        return []


def tickers(data: msgspec.Raw) -> list[Ticker]:
    """Decode a ``ticker`` message's rows."""
    return decode(VENUE, "ticker", data, list[Ticker], at="$.data")


def instrument(data: msgspec.Raw) -> Instrument:
    """Decode an ``instrument`` message's data."""
    return decode(VENUE, "instrument", data, Instrument, at="$.data")


def add_order_result(result: Any) -> AddOrderResult:
    """Convert an ``add_order`` result (``None`` when the answer carries none)."""
    if result is None:
        return AddOrderResult()
    return convert(VENUE, "add_order response", result, AddOrderResult, at="$.result")


class _IdOnly(msgspec.Struct):
    req_id: int | None = None


def request_id(data: bytes | str) -> int | None:
    """Best effort: the ``req_id`` of a frame whose envelope did not decode in full."""
    try:
        return msgspec.json.decode(data, type=_IdOnly).req_id
    except msgspec.MsgspecError:
        return None

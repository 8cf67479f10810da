"""Every message Coinbase Exchange sends us, as msgspec types, decoded sans-IO.

The WebSocket feed ("Exchange WebSocket Channels"): ``subscriptions``, ``error``,
``heartbeat`` and, on the ``user`` channel, ``received`` / ``open`` / ``match`` / ``done``,
one flat object each (``FeedMessage``). The REST answer to ``POST /orders`` ("Create a new
order": the order with its ``id``; an error: ``message``). Whatever does not fit raises
``decoding.VenueDecodeError`` naming the message and the field path. Knows nothing of
sockets, orders of record or the engine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from whalewire.venues.decoding import check_amounts, convert, decode

VENUE = "coinbase"


class FeedMessage(msgspec.Struct):
    """One feed message; which fields are set depends on ``type``."""

    type: str
    order_id: str | None = None
    client_oid: str | None = None
    product_id: str | None = None
    time: str | None = None
    reason: str | None = None
    price: Decimal | None = None
    size: Decimal | None = None
    #: ``done`` (limit orders): what was left unfilled when the order left the book
    remaining_size: Decimal | None = None
    trade_id: int | str | None = None
    taker_order_id: str | None = None
    maker_order_id: str | None = None
    taker_fee_rate: Decimal | None = None
    maker_fee_rate: Decimal | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        check_amounts(
            price=self.price,
            size=self.size,
            remaining_size=self.remaining_size,
            taker_fee_rate=self.taker_fee_rate,
            maker_fee_rate=self.maker_fee_rate,
        )
        if self.type == "match" and (self.price is None or self.size is None):
            raise ValueError("[size] a match needs price and size")


class FeedRef(msgspec.Struct):
    """The order ids of a feed message that failed to decode in full."""

    order_id: str | None = None
    client_oid: str | None = None
    taker_order_id: str | None = None
    maker_order_id: str | None = None


class OrderAnswer(msgspec.Struct):
    """The body of a ``POST /orders`` answer: the order's ``id``, or an error ``message``."""

    id: str | None = None
    message: str | None = None

    def fields(self) -> dict[str, Any]:
        """The body as ``outcome.coinbase_outcome`` reads it."""
        out: dict[str, Any] = {}
        if self.id is not None:
            out["id"] = self.id
        if self.message is not None:
            out["message"] = self.message
        return out


class OrderState(msgspec.Struct):
    """The body of ``GET /orders/client:<client_oid>`` ("Get single order"), as read."""

    id: str
    status: str = ""
    type: str = ""
    time_in_force: str = ""
    done_reason: str | None = None
    filled_size: Decimal = Decimal(0)
    executed_value: Decimal = Decimal(0)
    fill_fees: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        check_amounts(
            filled_size=self.filled_size,
            executed_value=self.executed_value,
            fill_fees=self.fill_fees,
        )


def order_state(body: Any) -> OrderState:
    """Convert a "Get single order" body."""
    return convert(VENUE, "GET /orders answer", body, OrderState)


class ServerTime(msgspec.Struct):
    """``GET /time`` ("Get server time"): ``epoch`` is decimal seconds."""

    epoch: Decimal

    def __post_init__(self) -> None:
        check_amounts(epoch=self.epoch)


class Product(msgspec.Struct):
    """One ``GET /products`` entry: its id and its size and price increments."""

    id: str
    base_increment: Decimal
    quote_increment: Decimal

    def __post_init__(self) -> None:
        check_amounts(base_increment=self.base_increment, quote_increment=self.quote_increment)
        if self.base_increment <= 0 or self.quote_increment <= 0:
            raise ValueError("[base_increment] increments must be positive")


class Ticker(msgspec.Struct):
    """``GET /products/{id}/ticker``: the last trade's price (absent before any trade)."""

    price: Decimal | None = None

    def __post_init__(self) -> None:
        check_amounts(price=self.price)


def server_time_ms(body: Any) -> int:
    """Convert a ``GET /time`` body; return the venue's time in ms."""
    return int(convert(VENUE, "GET /time answer", body, ServerTime).epoch * 1000)


def products(body: Any) -> list[Product]:
    """Convert a ``GET /products`` body."""
    return convert(VENUE, "GET /products answer", body, list[Product])


def ticker(body: Any) -> Ticker:
    """Convert a ``GET /products/{id}/ticker`` body."""
    return convert(VENUE, "GET ticker answer", body, Ticker)


def feed(data: bytes | str) -> FeedMessage:
    """Decode one feed message."""
    return decode(VENUE, "feed message", data, FeedMessage)


def feed_refs(data: bytes | str) -> FeedRef:
    """Best effort: the order ids of a feed message that did not decode in full."""
    try:
        return msgspec.json.decode(data, type=FeedRef)
    except msgspec.MsgspecError:
        return FeedRef()


def order_answer(body: bytes) -> OrderAnswer:
    """Decode a ``POST /orders`` answer's body (an empty body is an empty answer)."""
    return decode(VENUE, "POST /orders answer", body, OrderAnswer) if body else OrderAnswer()

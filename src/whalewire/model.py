"""Order commands and events: the messages every layer from venues up speaks.

Names follow nautilus_trader: commands are imperative (``SubmitOrder``), events are past
tense with the noun first (``OrderAccepted``). ``OrderDenied`` is our refusal (risk),
``OrderRejected`` the venue's. Every message carries ``ts_init`` (ns, when we created it);
events also carry ``ts_event`` (ns, when it happened: the venue's time where it has one).

They live below ``venues`` and ``engine`` (nautilus_trader's ``model`` layer) so a venue
client reports ``OrderAccepted`` or ``OrderFilled`` itself, with no second type tree and no
mapping between them. Messages are tagged msgspec Structs so the journal stores and replays
them as JSON without a hand-written codec; they hold no secrets (the journal must never see
one).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec


class Side(StrEnum):
    """Order side."""

    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    """Order type; the hot path uses MARKET (or an aggressive LIMIT IOC)."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"


class TimeInForce(StrEnum):
    """Time in force for LIMIT orders."""

    GTC = "GTC"  #: good till canceled
    IOC = "IOC"  #: immediate or cancel: the unfilled rest expires
    FOK = "FOK"  #: fill or kill: all or nothing


class Message(msgspec.Struct, frozen=True, tag=True, kw_only=True):
    """Base of every command and event; ``tag`` is the class name in the journal."""

    client_order_id: str
    ts_init: int


class SubmitOrder(Message, frozen=True, tag=True, kw_only=True):
    """Command: place a new order (what the strategy asks and risk checks)."""

    venue: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    #: why we trade: the whale transaction that triggered this order
    reason: str = ""
    #: the order this one replaces after the venue confirmed the first does not exist
    replaces: str | None = None
    #: the whale transaction this order reacts to ("" for none): one reaction per
    #: transaction, across restarts, because the journal keeps it with the order
    txid: str = ""


class CancelOrder(Message, frozen=True, tag=True, kw_only=True):
    """Command: cancel one open order. Passes risk even when trading is HALTED."""

    venue: str
    symbol: str


class OrderEvent(Message, frozen=True, tag=True, kw_only=True):
    """Base of the events that change an order (``Order.apply`` takes these)."""

    ts_event: int


class OrderInitialized(OrderEvent, frozen=True, tag=True, kw_only=True):
    """The order exists locally: the command passed risk and was journaled."""

    command: SubmitOrder


class OrderDenied(OrderEvent, frozen=True, tag=True, kw_only=True):
    """Our risk engine refused the command; nothing was sent."""

    reason: str
    detail: str = ""


class OrderSubmitted(OrderEvent, frozen=True, tag=True, kw_only=True):
    """The order's bytes were written to the venue's connection."""


class OrderAccepted(OrderEvent, frozen=True, tag=True, kw_only=True):
    """The venue acknowledged the order."""

    venue_order_id: str


class OrderRejected(OrderEvent, frozen=True, tag=True, kw_only=True):
    """The venue refused the order, with its own code and message."""

    code: int
    message: str


class OrderFilled(OrderEvent, frozen=True, tag=True, kw_only=True):
    """A (partial) execution; ``trade_id`` is unique per venue and symbol."""

    trade_id: str
    last_qty: Decimal
    last_px: Decimal
    commission: Decimal = Decimal(0)
    commission_asset: str = ""
    #: the order's cumulative executed quantity after this trade, where the venue states it
    #: (Binance ``z``, Kraken ``cum_qty``): the order counts what goes beyond what it has,
    #: so a trade a query or a cancel already summed is not counted again
    cum_qty: Decimal | None = None


class OrderClosed(OrderEvent, frozen=True, tag=True, kw_only=True):
    """Base of the events that close an order with a rest: what executed before it closed.

    A venue states the order's cumulative executed quantity with its cancel or expiry
    (Binance ``z``/``Z``, Kraken ``cum_qty``/``avg_price``, Coinbase ``done``'s
    ``remaining_size``); the trades' own reports may come later on another channel. The
    order counts that quantity at once, so its position never waits on them, and nothing
    executes after it.
    """

    #: the order's cumulative executed quantity when it closed (None: the venue did not say)
    executed_qty: Decimal | None = None
    #: the average price of ``executed_qty`` (None: not stated)
    avg_px: Decimal | None = None


class OrderCanceled(OrderClosed, frozen=True, tag=True, kw_only=True):
    """The venue canceled the order (by our request or its own rule)."""


class OrderExpired(OrderClosed, frozen=True, tag=True, kw_only=True):
    """The order expired (IOC rest, FOK not fillable)."""


class OrderStatusUnknown(OrderEvent, frozen=True, tag=True, kw_only=True):
    """No definite answer (timeout, disconnect, 5xx): only reconciliation leaves this."""

    reason: str


class OrderNotFound(OrderEvent, frozen=True, tag=True, kw_only=True):
    """Reconciliation: the venue confirms it has no order with this client id."""


AnyMessage = (
    SubmitOrder
    | CancelOrder
    | OrderInitialized
    | OrderDenied
    | OrderSubmitted
    | OrderAccepted
    | OrderRejected
    | OrderFilled
    | OrderCanceled
    | OrderExpired
    | OrderStatusUnknown
    | OrderNotFound
)

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[AnyMessage] = msgspec.json.Decoder(AnyMessage)


def encode(message: Message) -> bytes:
    """Serialise a message to JSON (tagged with its class name)."""
    return _encoder.encode(message)


def decode(data: bytes | str) -> AnyMessage:
    """Parse a message serialised by ``encode``; raises ``msgspec.ValidationError``."""
    return _decoder.decode(data)

"""Small builders for order messages, shared by the engine tests."""

from __future__ import annotations

from decimal import Decimal

from whalewire.model import (
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderNotFound,
    OrderRejected,
    OrderStatusUnknown,
    OrderSubmitted,
    Side,
    SubmitOrder,
)

COID = "ww-test-0001"


def submit(coid: str = COID, qty: str = "1.0") -> SubmitOrder:
    return SubmitOrder(
        client_order_id=coid,
        ts_init=1,
        venue="binance",
        symbol="BTCUSDT",
        side=Side.SELL,
        quantity=Decimal(qty),
    )


def initialized(coid: str = COID, qty: str = "1.0") -> OrderInitialized:
    return OrderInitialized(client_order_id=coid, ts_init=2, ts_event=2, command=submit(coid, qty))


def fill(trade_id: str, qty: str, px: str, coid: str = COID) -> OrderFilled:
    return OrderFilled(
        client_order_id=coid,
        ts_init=5,
        ts_event=5,
        trade_id=trade_id,
        last_qty=Decimal(qty),
        last_px=Decimal(px),
        commission=Decimal("0.1"),
        commission_asset="USDT",
    )


def event(kind: type[OrderEvent], coid: str = COID) -> OrderEvent:
    """One event of each kind with plausible fields (fills are 0.4 of the order)."""
    common = {"client_order_id": coid, "ts_init": 3, "ts_event": 3}
    if kind is OrderSubmitted:
        return OrderSubmitted(**common)
    if kind is OrderAccepted:
        return OrderAccepted(venue_order_id="42", **common)
    if kind is OrderRejected:
        return OrderRejected(code=-2010, message="Account has insufficient balance", **common)
    if kind is OrderFilled:
        return fill("t-any", "0.4", "100", coid)
    if kind is OrderCanceled:
        return OrderCanceled(**common)
    if kind is OrderExpired:
        return OrderExpired(**common)
    if kind is OrderStatusUnknown:
        return OrderStatusUnknown(reason="timeout", **common)
    if kind is OrderNotFound:
        return OrderNotFound(**common)
    if kind is OrderDenied:
        return OrderDenied(reason="VENUE_UNAVAILABLE", **common)
    raise AssertionError(kind)


EVENT_KINDS: list[type[OrderEvent]] = [
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderFilled,
    OrderCanceled,
    OrderExpired,
    OrderStatusUnknown,
    OrderNotFound,
    OrderDenied,
]

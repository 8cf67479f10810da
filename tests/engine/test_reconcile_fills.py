"""Fills learned by reconciliation are cumulative: the engine applies only what is new."""

from __future__ import annotations

from decimal import Decimal

from tests.engine.factories import event, fill, initialized

from whalewire.engine.execution import unseen_part
from whalewire.engine.oms import Order, OrderStatus
from whalewire.model import OrderAccepted, OrderSubmitted
from whalewire.venues.base import RECONCILED_FILL_PREFIX


def accepted_with(*fills: tuple[str, str, str]) -> Order:
    order = Order(initialized(qty="1.0"))
    order.apply(event(OrderSubmitted))
    order.apply(event(OrderAccepted))
    for trade_id, qty, px in fills:
        order.apply(fill(trade_id, qty, px))
    return order


def test_cumulative_fill_adds_only_the_unseen_quantity_at_the_price_that_matches_the_venue() -> (
    None
):
    order = accepted_with(("t1", "0.4", "100"))
    cumulative = fill(f"{RECONCILED_FILL_PREFIX}42:1.0", "1.0", "102")  # venue: all at avg 102
    new = unseen_part(order, cumulative)
    assert new is not None
    assert new.last_qty == Decimal("0.6")
    order.apply(new)
    assert order.status is OrderStatus.FILLED
    assert order.filled_qty == Decimal("1.0")
    assert order.avg_px == Decimal("102")
    # factories.fill charges 0.1 per trade; the venue's cumulative 0.1 was already counted
    assert new.commission == Decimal(0)


def test_cumulative_fill_the_order_already_has_adds_nothing() -> None:
    order = accepted_with(("t1", "0.4", "100"), ("t2", "0.2", "101"))
    assert unseen_part(order, fill(f"{RECONCILED_FILL_PREFIX}42:0.6", "0.6", "100.33")) is None


def test_ordinary_fills_pass_unless_their_trade_id_was_applied() -> None:
    order = accepted_with(("t1", "0.4", "100"))
    assert unseen_part(order, fill("t1", "0.4", "100")) is None
    new_trade = fill("t2", "0.1", "99")
    assert unseen_part(order, new_trade) is new_trade

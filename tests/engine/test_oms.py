"""The order state machine (engine/oms.py): every legal edge, every illegal one, fills."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.engine.factories import EVENT_KINDS, event, fill, initialized

from whalewire.engine.oms import (
    FILL,
    TRANSITIONS,
    DuplicateFill,
    InvalidTransition,
    Order,
    OrderStatus,
)
from whalewire.model import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderNotFound,
    OrderStatusUnknown,
    OrderSubmitted,
)

# Paths of events that bring a fresh order to each status (used to set up edge tests).
REACH: dict[OrderStatus, list[type[OrderEvent]]] = {
    OrderStatus.INITIALIZED: [],
    OrderStatus.SUBMITTED: [OrderSubmitted],
    OrderStatus.ACCEPTED: [OrderSubmitted, OrderAccepted],
    OrderStatus.PARTIALLY_FILLED: [OrderSubmitted, OrderAccepted, OrderFilled],
    OrderStatus.CANCELED: [OrderSubmitted, OrderAccepted, OrderCanceled],
    OrderStatus.UNKNOWN: [OrderSubmitted, OrderStatusUnknown],
    OrderStatus.NOT_FOUND: [OrderSubmitted, OrderStatusUnknown, OrderNotFound],
}


def order_in(status: OrderStatus) -> Order:
    order = Order(initialized())
    for kind in REACH[status]:
        order.apply(event(kind))
    assert order.status is status
    return order


EDGES = [
    (status, kind)
    for status in REACH
    for kind in EVENT_KINDS
    if kind is not OrderFilled or status is not OrderStatus.PARTIALLY_FILLED
]


@pytest.mark.parametrize(("status", "kind"), EDGES, ids=lambda x: getattr(x, "__name__", x))
def test_event_is_applied_only_where_the_table_allows_it(
    status: OrderStatus, kind: type[OrderEvent]
) -> None:
    order = order_in(status)
    target = TRANSITIONS.get((status, kind))
    if target is None:
        before = (order.status, len(order.events), order.filled_qty)
        with pytest.raises(InvalidTransition):
            order.apply(event(kind))
        assert (order.status, len(order.events), order.filled_qty) == before
    else:
        new = order.apply(event(kind))
        if target == FILL:
            assert new in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, order.status)
        else:
            assert new is target


def test_partial_fills_then_complete_fill_averages_price_and_ends_filled() -> None:
    order = order_in(OrderStatus.ACCEPTED)
    assert order.apply(fill("t1", "0.25", "100")) is OrderStatus.PARTIALLY_FILLED
    assert order.apply(fill("t2", "0.75", "104")) is OrderStatus.FILLED
    assert order.filled_qty == Decimal("1.0")
    assert order.avg_px == Decimal("103")
    assert order.commission == Decimal("0.2")
    assert order.is_final
    assert order.leaves_qty == 0


def test_fill_with_a_trade_id_already_applied_is_refused_and_changes_nothing() -> None:
    order = order_in(OrderStatus.ACCEPTED)
    order.apply(fill("t1", "0.25", "100"))
    with pytest.raises(DuplicateFill):
        order.apply(fill("t1", "0.25", "100"))
    assert order.filled_qty == Decimal("0.25")


def test_fill_beyond_the_order_quantity_is_refused() -> None:
    order = order_in(OrderStatus.ACCEPTED)
    with pytest.raises(InvalidTransition):
        order.apply(fill("t1", "1.5", "100"))
    assert order.status is OrderStatus.ACCEPTED


def test_fill_arriving_before_the_ack_fills_the_order_and_the_late_ack_is_harmless() -> None:
    order = order_in(OrderStatus.SUBMITTED)
    assert order.apply(fill("t1", "1.0", "100")) is OrderStatus.FILLED
    assert order.apply(event(OrderAccepted)) is OrderStatus.FILLED
    assert order.venue_order_id == "42"


def test_late_partial_fill_after_cancel_is_counted_and_order_stays_canceled() -> None:
    order = order_in(OrderStatus.CANCELED)
    assert order.apply(fill("t9", "0.5", "100")) is OrderStatus.CANCELED
    assert order.filled_qty == Decimal("0.5")


def test_unknown_is_left_only_by_what_reconciliation_learns() -> None:
    leaving = {kind for (status, kind) in TRANSITIONS if status is OrderStatus.UNKNOWN}
    assert OrderSubmitted not in leaving
    assert leaving >= {OrderAccepted, OrderFilled, OrderCanceled, OrderNotFound}


def test_final_statuses_have_no_way_out_but_late_fills_and_acks() -> None:
    for (status, kind), _target in TRANSITIONS.items():
        if status in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED):
            assert kind in (OrderFilled, OrderAccepted), (status, kind)
        assert status not in (OrderStatus.REJECTED, OrderStatus.DENIED, OrderStatus.NOT_FOUND)


def test_invalid_transition_message_names_order_event_and_status() -> None:
    order = order_in(OrderStatus.NOT_FOUND)
    with pytest.raises(InvalidTransition) as exc:
        order.apply(event(OrderAccepted))
    assert str(exc.value) == (
        "order ww-test-0001: OrderAccepted is not allowed in status NOT_FOUND"
    )

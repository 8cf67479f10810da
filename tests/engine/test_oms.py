"""The order state machine (engine/oms.py): every legal edge, every illegal one, fills.

The expected edges are written out below from what the venues do (``LEGAL``), never read from
``TRANSITIONS``: a lost or changed edge fails the (status, event) pair it breaks.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.engine.factories import COID, EVENT_KINDS, event, fill, initialized, submit

from whalewire.engine.oms import (
    FINAL,
    TRANSITIONS,
    DuplicateFill,
    InvalidTransition,
    Order,
    OrderStatus,
)
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
)

# ---- the legal edges, written out independently of TRANSITIONS ----------------------------
# Each edge is a venue behaviour, not a copy of the table: if TRANSITIONS loses or changes an
# edge, the test below names the (status, event) pair that broke.

ST = OrderStatus
PARTIAL = "partial fill"  # a 0.4 fill of the 1.0 order: status after it depends on the source

#: status -> {event kind -> expected status after one such event}; every pair not listed is
#: illegal. PARTIAL means: the order becomes PARTIALLY_FILLED unless it was already closed
#: (CANCELED/EXPIRED keep their status and count the fill).
LEGAL: dict[OrderStatus, dict[type[OrderEvent], OrderStatus | str]] = {
    ST.INITIALIZED: {
        OrderSubmitted: ST.SUBMITTED,  # the bytes were written
        OrderDenied: ST.DENIED,  # the venue client refused before any byte left
        OrderStatusUnknown: ST.UNKNOWN,  # the write failed midway: maybe sent
    },
    ST.SUBMITTED: {
        OrderAccepted: ST.ACCEPTED,  # Binance order.place ACK, Kraken add_order ok
        OrderRejected: ST.REJECTED,  # e.g. Binance -2010 insufficient balance
        OrderFilled: PARTIAL,  # the user-data stream can beat the order response
        OrderCanceled: ST.CANCELED,  # Kraken/Coinbase can confirm a cancel before the ack
        OrderExpired: ST.EXPIRED,  # an IOC/FOK order that found no liquidity
        OrderStatusUnknown: ST.UNKNOWN,  # timeout, disconnect, 5xx
    },
    ST.ACCEPTED: {
        OrderAccepted: ST.ACCEPTED,  # the response after reconciliation already saw it
        OrderFilled: PARTIAL,
        OrderCanceled: ST.CANCELED,
        OrderExpired: ST.EXPIRED,
        OrderStatusUnknown: ST.UNKNOWN,
    },
    ST.PARTIALLY_FILLED: {
        OrderAccepted: ST.PARTIALLY_FILLED,  # a late ack after the first fill
        OrderFilled: PARTIAL,  # 0.4 + 0.4 of 1.0: still partial
        OrderCanceled: ST.CANCELED,
        OrderExpired: ST.EXPIRED,  # an IOC's rest expires after a partial fill
        OrderStatusUnknown: ST.UNKNOWN,
    },
    ST.FILLED: {
        OrderAccepted: ST.FILLED,  # the order response after the user stream's fill
    },
    ST.CANCELED: {
        OrderFilled: PARTIAL,  # a fill that raced the cancel, reported after it
        OrderCanceled: ST.CANCELED,  # Binance: the cancel's answer and the user stream
    },
    ST.EXPIRED: {
        OrderFilled: PARTIAL,  # a fill that raced the expiry, reported after it
    },
    ST.UNKNOWN: {  # reconciliation: whatever the venue says the order is
        OrderAccepted: ST.ACCEPTED,
        OrderFilled: PARTIAL,
        OrderCanceled: ST.CANCELED,
        OrderExpired: ST.EXPIRED,
        OrderRejected: ST.REJECTED,
        OrderNotFound: ST.NOT_FOUND,
        OrderStatusUnknown: ST.UNKNOWN,  # still no answer
    },
    ST.REJECTED: {},
    ST.DENIED: {},
    ST.NOT_FOUND: {},
}

#: statuses an order ends in (no event but a late fill or ack moves it)
FINAL_STATUSES = {ST.DENIED, ST.FILLED, ST.CANCELED, ST.EXPIRED, ST.REJECTED, ST.NOT_FOUND}

#: event paths from a fresh order to every status (fills carry fresh trade ids)
PATHS: dict[OrderStatus, list[OrderEvent]] = {
    ST.INITIALIZED: [],
    ST.DENIED: [event(OrderDenied)],
    ST.SUBMITTED: [event(OrderSubmitted)],
    ST.ACCEPTED: [event(OrderSubmitted), event(OrderAccepted)],
    ST.PARTIALLY_FILLED: [event(OrderSubmitted), event(OrderAccepted), fill("p1", "0.4", "100")],
    ST.FILLED: [event(OrderSubmitted), event(OrderAccepted), fill("f1", "1.0", "100")],
    ST.CANCELED: [event(OrderSubmitted), event(OrderAccepted), event(OrderCanceled)],
    ST.EXPIRED: [event(OrderSubmitted), event(OrderAccepted), event(OrderExpired)],
    ST.REJECTED: [event(OrderSubmitted), event(OrderRejected)],
    ST.UNKNOWN: [event(OrderSubmitted), event(OrderStatusUnknown)],
    ST.NOT_FOUND: [event(OrderSubmitted), event(OrderStatusUnknown), event(OrderNotFound)],
}


def reached(status: OrderStatus) -> Order:
    order = Order(initialized())
    for step in PATHS[status]:
        order.apply(step)
    assert order.status is status
    return order


def one(kind: type[OrderEvent]) -> OrderEvent:
    """An event of ``kind``; a fill is 0.4 of the order with a trade id no path uses."""
    return fill("edge", "0.4", "100") if kind is OrderFilled else event(kind)


ALL_PAIRS = [(status, kind) for status in OrderStatus for kind in EVENT_KINDS]


def test_the_independent_table_covers_every_status() -> None:
    assert set(LEGAL) == set(OrderStatus) == set(PATHS)


@pytest.mark.parametrize(("status", "kind"), ALL_PAIRS, ids=lambda x: getattr(x, "__name__", x))
def test_every_status_event_pair_matches_the_venues_behaviour(
    status: OrderStatus, kind: type[OrderEvent]
) -> None:
    order = reached(status)
    before = (order.status, list(order.events), order.filled_qty, order.venue_order_id)
    step = one(kind)
    want = LEGAL[status].get(kind)
    if want is None:
        with pytest.raises(InvalidTransition) as info:
            order.apply(step)
        assert (info.value.status, info.value.event) == (status, step)
        assert (order.status, order.events, order.filled_qty, order.venue_order_id) == before
        return
    if want == PARTIAL:
        want = status if status in (ST.CANCELED, ST.EXPIRED) else ST.PARTIALLY_FILLED
    assert order.apply(step) is want
    assert order.status is want
    assert order.events == [*before[1], step]  # the event log grows by exactly this event


@pytest.mark.parametrize(
    "status",
    [s for s in OrderStatus if OrderFilled in LEGAL[s] and s is not ST.PARTIALLY_FILLED],
)
def test_a_fill_of_the_whole_quantity_fills_the_order_from_every_status_that_takes_fills(
    status: OrderStatus,
) -> None:
    order = reached(status)
    assert order.apply(fill("whole", "1.0", "101")) is ST.FILLED
    assert (order.filled_qty, order.avg_px, order.leaves_qty) == (Decimal("1.0"), 101, 0)


@pytest.mark.parametrize("status", list(OrderStatus))
def test_final_statuses_are_exactly_the_ends_of_an_order(status: OrderStatus) -> None:
    order = reached(status)
    assert order.is_final is (status in FINAL_STATUSES)
    # an order that is over has nothing left open at the venue
    filled = order.filled_qty
    assert order.leaves_qty == (0 if status in FINAL_STATUSES else Decimal("1.0") - filled)


def test_final_table_names_denied_expired_rejected_and_not_found() -> None:
    assert FINAL == FINAL_STATUSES


def test_late_partial_fill_after_expiry_is_counted_and_order_stays_expired() -> None:
    order = reached(ST.EXPIRED)
    assert order.apply(fill("late", "0.5", "100")) is ST.EXPIRED
    assert (order.filled_qty, order.leaves_qty) == (Decimal("0.5"), 0)


def test_the_event_log_records_every_applied_event_in_order_and_no_refused_one() -> None:
    init = initialized()
    order = Order(init)
    steps = [event(OrderSubmitted), event(OrderAccepted), fill("a", "0.25", "100")]
    for step in steps:
        order.apply(step)
    with pytest.raises(InvalidTransition):
        order.apply(event(OrderSubmitted))
    with pytest.raises(DuplicateFill):
        order.apply(fill("a", "0.25", "100"))
    with pytest.raises(InvalidTransition):
        order.apply(fill("b", "0.8", "100"))  # 0.25 + 0.8 is more than the order
    assert order.events == [init, *steps]
    assert order.events[0] is init
    assert order.trade_ids == {"a"}


def test_accept_records_the_venue_order_id_and_a_duplicate_ack_replaces_it() -> None:
    order = reached(ST.SUBMITTED)
    assert order.venue_order_id is None
    order.apply(OrderAccepted(client_order_id=COID, ts_init=4, ts_event=4, venue_order_id="v1"))
    assert order.venue_order_id == "v1"
    order.apply(OrderAccepted(client_order_id=COID, ts_init=5, ts_event=5, venue_order_id="v2"))
    assert order.venue_order_id == "v2"


def test_fills_accumulate_quantity_commission_and_volume_weighted_price() -> None:
    order = reached(ST.ACCEPTED)
    order.apply(fill("a", "0.5", "100"))
    order.apply(fill("b", "0.3", "110"))
    # (0.5 * 100 + 0.3 * 110) / 0.8 = 83 / 0.8 = 103.75; commission 0.1 per fill
    assert (order.filled_qty, order.avg_px, order.commission) == (
        Decimal("0.8"),
        Decimal("103.75"),
        Decimal("0.2"),
    )
    assert order.leaves_qty == Decimal("0.2")
    assert order.status is ST.PARTIALLY_FILLED


def test_a_fill_exactly_completing_the_quantity_fills_and_one_unit_more_is_refused() -> None:
    order = reached(ST.ACCEPTED)
    order.apply(fill("a", "0.6", "100"))
    with pytest.raises(InvalidTransition):
        order.apply(fill("b", "0.41", "100"))
    assert order.apply(fill("c", "0.4", "100")) is ST.FILLED


def test_denied_builds_a_final_order_from_the_command_and_the_denial() -> None:
    command = submit()
    denial = OrderDenied(
        client_order_id=COID, ts_init=7, ts_event=9, reason="MAX_POSITION", detail="1.2 > 1"
    )
    order = Order.denied(command, denial)
    assert order.status is ST.DENIED
    assert order.is_final and order.leaves_qty == 0
    assert order.command is command
    assert order.client_order_id == COID
    (init, last) = order.events
    assert isinstance(init, OrderInitialized)
    assert (init.client_order_id, init.ts_init, init.ts_event, init.command) == (
        COID,
        command.ts_init,
        9,
        command,
    )
    assert last is denial
    assert (order.filled_qty, order.avg_px, order.commission, order.venue_order_id) == (
        0,
        0,
        0,
        None,
    )


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_a_denied_order_takes_no_event(kind: type[OrderEvent]) -> None:
    order = Order.denied(submit(), event(OrderDenied))  # type: ignore[arg-type]
    with pytest.raises(InvalidTransition):
        order.apply(one(kind))
    assert order.status is ST.DENIED and len(order.events) == 2


def test_duplicate_fill_message_names_the_trade() -> None:
    order = reached(ST.ACCEPTED)
    order.apply(fill("t7", "0.1", "100"))
    with pytest.raises(DuplicateFill) as exc:
        order.apply(fill("t7", "0.1", "100"))
    assert str(exc.value) == "order ww-test-0001: trade t7 already applied"


def test_repr_names_the_order_side_quantity_venue_and_status() -> None:
    order = reached(ST.PARTIALLY_FILLED)
    assert repr(order) == "Order(ww-test-0001 SELL 1.0 BTCUSDT@binance PARTIALLY_FILLED filled=0.4)"


def test_partial_fills_then_complete_fill_averages_price_and_ends_filled() -> None:
    order = reached(OrderStatus.ACCEPTED)
    assert order.apply(fill("t1", "0.25", "100")) is OrderStatus.PARTIALLY_FILLED
    assert order.apply(fill("t2", "0.75", "104")) is OrderStatus.FILLED
    assert order.filled_qty == Decimal("1.0")
    assert order.avg_px == Decimal("103")
    assert order.commission == Decimal("0.2")
    assert order.is_final
    assert order.leaves_qty == 0


def test_fill_with_a_trade_id_already_applied_is_refused_and_changes_nothing() -> None:
    order = reached(OrderStatus.ACCEPTED)
    order.apply(fill("t1", "0.25", "100"))
    with pytest.raises(DuplicateFill):
        order.apply(fill("t1", "0.25", "100"))
    assert order.filled_qty == Decimal("0.25")


def test_fill_beyond_the_order_quantity_is_refused() -> None:
    order = reached(OrderStatus.ACCEPTED)
    with pytest.raises(InvalidTransition):
        order.apply(fill("t1", "1.5", "100"))
    assert order.status is OrderStatus.ACCEPTED


def test_fill_arriving_before_the_ack_fills_the_order_and_the_late_ack_is_harmless() -> None:
    order = reached(OrderStatus.SUBMITTED)
    assert order.apply(fill("t1", "1.0", "100")) is OrderStatus.FILLED
    assert order.apply(event(OrderAccepted)) is OrderStatus.FILLED
    assert order.venue_order_id == "42"


def test_late_partial_fill_after_cancel_is_counted_and_order_stays_canceled() -> None:
    order = reached(OrderStatus.CANCELED)
    assert order.apply(fill("t9", "0.5", "100")) is OrderStatus.CANCELED
    assert order.filled_qty == Decimal("0.5")


def test_unknown_is_left_only_by_what_reconciliation_learns() -> None:
    leaving = {kind for (status, kind) in TRANSITIONS if status is OrderStatus.UNKNOWN}
    assert OrderSubmitted not in leaving
    assert leaving >= {OrderAccepted, OrderFilled, OrderCanceled, OrderNotFound}


def test_final_statuses_have_no_way_out_but_late_fills_acks_and_repeated_cancels() -> None:
    for (status, kind), target in TRANSITIONS.items():
        if status in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED):
            assert kind in (OrderFilled, OrderAccepted, OrderCanceled), (status, kind)
        if kind is OrderCanceled and status is OrderStatus.CANCELED:
            assert target is OrderStatus.CANCELED
        assert status not in (OrderStatus.REJECTED, OrderStatus.DENIED, OrderStatus.NOT_FOUND)


def test_invalid_transition_message_names_order_event_and_status() -> None:
    order = reached(OrderStatus.NOT_FOUND)
    with pytest.raises(InvalidTransition) as exc:
        order.apply(event(OrderAccepted))
    assert str(exc.value) == (
        "order ww-test-0001: OrderAccepted is not allowed in status NOT_FOUND"
    )


def test_status_values_are_the_names_the_journal_and_status_view_show() -> None:
    # the spelling in `whalewire status`, the dashboards and every message that names a status
    assert {s.name: s.value for s in OrderStatus} == {
        "INITIALIZED": "INITIALIZED",
        "DENIED": "DENIED",
        "SUBMITTED": "SUBMITTED",
        "ACCEPTED": "ACCEPTED",
        "PARTIALLY_FILLED": "PARTIALLY_FILLED",
        "FILLED": "FILLED",
        "CANCELED": "CANCELED",
        "EXPIRED": "EXPIRED",
        "REJECTED": "REJECTED",
        "UNKNOWN": "UNKNOWN",
        "NOT_FOUND": "NOT_FOUND",
    }

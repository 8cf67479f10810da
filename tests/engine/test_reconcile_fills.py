"""An order counts what it executed by cumulative quantity (engine/oms.py ``executed_after``).

Every report states or implies the order's cumulative executed quantity: a query's fill and a
cancel's ``executed_qty`` state it, a trade with ``cum_qty`` states it, a trade without it
implies the trades seen so far plus its own. Only what goes beyond ``filled_qty`` is new.
"""

from __future__ import annotations

from decimal import Decimal

from tests.engine.factories import event, fill, initialized

from whalewire.engine.oms import Order, OrderStatus
from whalewire.model import OrderAccepted, OrderCanceled, OrderFilled, OrderSubmitted
from whalewire.venues.base import RECONCILED_FILL_PREFIX


def accepted_with(*fills: tuple[str, str, str]) -> Order:
    order = Order(initialized(qty="1.0"))
    order.apply(event(OrderSubmitted))
    order.apply(event(OrderAccepted))
    for trade_id, qty, px in fills:
        order.apply(fill(trade_id, qty, px))
    return order


def recon(qty: str, px: str) -> OrderFilled:
    """A query's fill: the order's cumulative quantity at its average price."""
    return fill(f"{RECONCILED_FILL_PREFIX}42:{qty}", qty, px, cum=qty)


def test_cumulative_fill_adds_only_the_unseen_quantity_and_takes_the_venues_average() -> None:
    order = accepted_with(("t1", "0.4", "100"))
    cumulative = recon("1.0", "102")  # venue: all of it at an average of 102
    assert order.executed_after(cumulative) == Decimal("1.0")
    order.apply(cumulative)
    assert order.status is OrderStatus.FILLED
    assert order.filled_qty == Decimal("1.0")
    assert order.avg_px == Decimal("102")
    # factories.fill charges 0.1 per trade; the venue's cumulative 0.1 was already counted
    assert order.commission == Decimal("0.1")


def test_cumulative_fill_the_order_already_has_adds_nothing() -> None:
    order = accepted_with(("t1", "0.4", "100"), ("t2", "0.2", "101"))
    assert order.executed_after(recon("0.6", "100.33")) == Decimal("0.6")
    assert order.executed_after(recon("0.5", "100")) == Decimal("0.6")  # never less


def test_a_trade_already_applied_adds_nothing_and_a_new_one_adds_its_quantity() -> None:
    order = accepted_with(("t1", "0.4", "100"))
    assert order.executed_after(fill("t1", "0.4", "100")) == Decimal("0.4")
    assert order.executed_after(fill("t2", "0.1", "99")) == Decimal("0.5")


def test_trade_after_a_query_that_summed_it_adds_nothing_then_later_trades_count() -> None:
    order = accepted_with()
    order.apply(recon("0.4", "100"))
    order.apply(fill("t1", "0.4", "100"))  # the trade the query summed, by its own id
    assert order.filled_qty == Decimal("0.4")
    order.apply(fill("t2", "0.2", "110"))
    assert order.filled_qty == Decimal("0.6")
    assert order.avg_px == (Decimal("0.4") * 100 + Decimal("0.2") * 110) / Decimal("0.6")


def test_trade_stating_its_cumulative_counts_only_beyond_what_the_order_has() -> None:
    order = accepted_with()
    order.apply(recon("0.5", "100"))
    order.apply(fill("t9", "0.2", "120", cum="0.6"))
    assert order.filled_qty == Decimal("0.6")
    assert order.avg_px == (Decimal("0.5") * 100 + Decimal("0.1") * 120) / Decimal("0.6")


def test_cancel_stating_what_executed_counts_it_and_the_late_trade_adds_nothing() -> None:
    order = accepted_with()
    order.apply(
        OrderCanceled(
            client_order_id=order.client_order_id,
            ts_init=6,
            ts_event=6,
            executed_qty=Decimal("0.3"),
            avg_px=Decimal("105"),
        )
    )
    assert (order.status, order.filled_qty, order.avg_px) == (
        OrderStatus.CANCELED,
        Decimal("0.3"),
        Decimal("105"),
    )
    order.apply(fill("t1", "0.3", "105"))
    assert (order.status, order.filled_qty) == (OrderStatus.CANCELED, Decimal("0.3"))


def test_trade_arriving_late_with_a_stale_cumulative_still_counts_its_own_quantity() -> None:
    order = accepted_with(("t2", "0.2", "100"))  # t2 overtook t1 on the wire
    late = fill("t1", "0.3", "100", cum="0.3")  # its cumulative when it executed
    assert order.executed_after(late) == Decimal("0.5")


def test_query_fill_journaled_before_cumulative_counting_replays_as_the_part_it_added() -> None:
    # such a row holds only what was unseen (0.6 of the 1.0 the venue had), no cum_qty
    order = accepted_with(("t1", "0.4", "100"))
    order.apply(fill(f"{RECONCILED_FILL_PREFIX}42:1.0", "0.6", "103.333"))
    assert order.filled_qty == Decimal("1.0")
    assert order.status is OrderStatus.FILLED

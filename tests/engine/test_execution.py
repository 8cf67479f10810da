"""Execution: the orders of record and the one owner of every order's reserved position.

The worst case risk checks a new order against is position + what every open order on the
same side could still add; that reservation is each open order's unfilled rest, held by
execution alone, so a fill or a cancel in any order moves it exactly once.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.engine.factories import fill, make_engine, submit

from whalewire.engine.oms import OrderStatus
from whalewire.model import (
    CancelOrder,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    Side,
    SubmitOrder,
)

LIMIT_2 = """
[engine]
namespace = "reh"
[risk]
max_orders_per_second = 100
max_orders_per_minute = 1000
[risk.symbols.BTCUSDT]
max_order_qty = 5
max_order_notional = 1_000_000
max_position = 2
max_daily_loss = 1_000_000
"""


def buy(coid: str, qty: str = "1") -> SubmitOrder:
    return submit(coid, qty, Side.BUY)


async def test_fill_after_cancel_does_not_free_another_orders_reservation(tmp_path: Path) -> None:
    engine, venue = make_engine(tmp_path, "late-fill", LIMIT_2)
    a = engine.submit(buy("a"))
    b = engine.submit(buy("b"))
    assert a.status is OrderStatus.SUBMITTED and b.status is OrderStatus.SUBMITTED
    venue.emit(OrderAccepted(client_order_id="a", ts_init=2, ts_event=2, venue_order_id="1"))
    venue.emit(OrderCanceled(client_order_id="a", ts_init=3, ts_event=3))
    # the fill that raced the cancel: 0.5 of a was bought after all
    venue.emit(fill("t1", "0.5", "60000", coid="a"))
    assert a.status is OrderStatus.CANCELED and a.filled_qty == Decimal("0.5")
    # worst case now: 0.5 held + b's 1 open = 1.5; one more BUY of 1 would make 2.5 > 2
    c = engine.submit(buy("c"))
    assert c.status is OrderStatus.DENIED
    denials = [m for m in engine.journal.messages() if isinstance(m, OrderDenied)]
    assert [(d.client_order_id, d.reason) for d in denials] == [("c", "MAX_POSITION")]
    # and half of one still fits
    assert engine.submit(buy("d", "0.5")).status is OrderStatus.SUBMITTED


async def test_kill_switch_journals_a_cancel_for_every_open_order_before_asking(
    tmp_path: Path,
) -> None:
    engine, venue = make_engine(tmp_path, "kill", LIMIT_2)
    engine.submit(buy("open"))
    engine.submit(buy("filled", "0.5"))
    venue.emit(fill("t1", "0.5", "60000", coid="filled"))
    report = await engine.kill("test")
    assert report["canceled"] == {"binance:BTCUSDT": 0}
    cancels = [m for m in engine.journal.messages() if isinstance(m, CancelOrder)]
    assert [c.client_order_id for c in cancels] == ["open"]
    # HALTED: new orders are denied, the open one still holds its reservation
    assert engine.submit(buy("late", "0.1")).status is OrderStatus.DENIED
    assert engine.execution.reserved["BTCUSDT"].buy == Decimal(1)

"""Execution: the orders of record and the one owner of every order's reserved position.

The worst case risk checks a new order against is position + what every open order on the
same side could still add; that reservation is each open order's unfilled rest, held by
execution alone, so a fill or a cancel in any order moves it exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from tests.engine.factories import (
    Clock,
    RecordingVenue,
    fill,
    make_engine,
    submit,
)

from whalewire.engine import history
from whalewire.engine.app import Engine
from whalewire.engine.oms import OrderStatus
from whalewire.model import (
    CancelOrder,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    Side,
    SubmitOrder,
)
from whalewire.venues.base import reconciled_events

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


@dataclass
class Answering(RecordingVenue):
    """A recording venue whose order query answers with ``answers`` (what it has executed)."""

    answers: list[OrderEvent] = field(default_factory=list)

    async def reconcile(self, client_order_id: str, symbol: str) -> list[OrderEvent]:
        return list(self.answers)


def engine_answering(tmp_path: Path, name: str) -> tuple[Engine, Answering]:
    venue = Answering(Clock())
    engine, _ = make_engine(tmp_path, name, LIMIT_2, venue=venue)
    return engine, venue


def held(engine: Engine) -> Decimal:
    """The worst case on the BUY side: position + what open BUY orders could still add."""
    return engine.position("BTCUSDT") + engine.execution.reserved["BTCUSDT"].buy


def assert_journal_agrees(engine: Engine) -> None:
    replayed = engine.journal.replay()
    for coid, order in engine.execution.orders.items():
        again = replayed[coid]
        assert (again.status, again.filled_qty, again.avg_px) == (
            order.status,
            order.filled_qty,
            order.avg_px,
        )


def canceled(coid: str, executed: str | None, avg: str | None = None) -> OrderCanceled:
    return OrderCanceled(
        client_order_id=coid,
        ts_init=3,
        ts_event=3,
        executed_qty=None if executed is None else Decimal(executed),
        avg_px=None if avg is None else Decimal(avg),
    )


async def test_cancel_with_executed_qty_holds_the_fill_before_it_arrives_and_counts_it_once(
    tmp_path: Path,
) -> None:
    engine, venue = make_engine(tmp_path, "cancel-executed", LIMIT_2)
    a = engine.submit(buy("a"))
    engine.submit(buy("b"))
    venue.emit(OrderAccepted(client_order_id="a", ts_init=2, ts_event=2, venue_order_id="1"))
    # the cancel's confirmation says 0.5 executed; that trade's own report is still on its way
    venue.emit(canceled("a", "0.5", "60000"))
    assert a.status is OrderStatus.CANCELED and a.filled_qty == Decimal("0.5")
    assert engine.position("BTCUSDT") == Decimal("0.5")
    assert held(engine) == Decimal("1.5")
    # so a BUY of 1 is refused now, not after the fill arrives (0.5 + 1 + 1 = 2.5 > 2)
    assert engine.submit(buy("c")).status is OrderStatus.DENIED
    venue.emit(fill("t1", "0.5", "60000", "a", cum="0.5"))
    assert engine.position("BTCUSDT") == Decimal("0.5")
    assert held(engine) == Decimal("1.5")
    assert_journal_agrees(engine)


async def test_fill_without_cumulative_after_a_cancel_that_stated_it_is_not_counted_again(
    tmp_path: Path,
) -> None:
    # Coinbase's match carries no cumulative size; its done stated what executed
    engine, venue = make_engine(tmp_path, "cancel-then-match", LIMIT_2)
    a = engine.submit(buy("a"))
    venue.emit(canceled("a", "0.5", "60000"))
    venue.emit(fill("t1", "0.5", "60000", "a"))
    assert a.filled_qty == Decimal("0.5")
    assert engine.position("BTCUSDT") == Decimal("0.5")
    assert_journal_agrees(engine)


@pytest.mark.parametrize("cum", [None, "0.4"], ids=["trade-alone", "trade-with-cumulative"])
async def test_reconciled_cumulative_fill_then_the_same_trade_is_counted_once(
    tmp_path: Path, cum: str | None
) -> None:
    engine, venue = engine_answering(tmp_path, "recon-then-trade")
    a = engine.submit(buy("a"))
    venue.answers = reconciled_events(
        "a", now=4, venue_order_id="1", executed=Decimal("0.4"), avg_price=Decimal("60000")
    )
    await engine.execution.reconcile_open_orders()
    assert a.filled_qty == Decimal("0.4")
    # the trade the query summed arrives on the stream, with its own trade id
    venue.emit(fill("t1", "0.4", "60000", "a", cum=cum))
    assert a.filled_qty == Decimal("0.4")
    assert engine.position("BTCUSDT") == Decimal("0.4")
    assert held(engine) == Decimal(1)
    # a later trade is new
    venue.emit(fill("t2", "0.1", "60000", "a", cum=None if cum is None else "0.5"))
    assert engine.position("BTCUSDT") == Decimal("0.5")
    assert held(engine) == Decimal(1)
    assert_journal_agrees(engine)


async def test_duplicate_fill_and_repeated_query_count_nothing_twice(tmp_path: Path) -> None:
    engine, venue = engine_answering(tmp_path, "duplicates")
    a = engine.submit(buy("a"))
    venue.emit(fill("t1", "0.3", "60000", "a", cum="0.3"))
    venue.emit(fill("t1", "0.3", "60000", "a", cum="0.3"))
    venue.answers = reconciled_events(
        "a", now=4, venue_order_id="1", executed=Decimal("0.3"), avg_price=Decimal("60000")
    )
    await engine.execution.reconcile_open_orders()
    await engine.execution.reconcile_open_orders()
    assert a.filled_qty == Decimal("0.3")
    assert engine.position("BTCUSDT") == Decimal("0.3")
    assert held(engine) == Decimal(1)
    assert_journal_agrees(engine)


async def test_history_of_the_journal_counts_what_a_cancel_stated_like_the_engine(
    tmp_path: Path,
) -> None:
    engine, venue = make_engine(tmp_path, "history", LIMIT_2)
    engine.submit(buy("a"))
    venue.emit(canceled("a", "0.5", "60000"))
    # of the two trades the cancel summed (0.3 + 0.2), one report has arrived so far
    venue.emit(fill("t1", "0.3", "60000", "a", cum="0.3"))
    position = engine.position("BTCUSDT")
    await engine.close()
    engine.journal.close()
    pnl = history.read(engine.journal.path).pnl["BTCUSDT"]
    assert pnl.position == position == Decimal("0.5")

"""Execution's reservations under any sequence of venue events, restarts included.

A hypothesis state machine places, acknowledges, fills (partly, fully, after a cancel),
cancels, rejects, loses (UNKNOWN), reconciles and restarts an engine on a real SQLite
journal, against a venue that answers queries from what it was really told. The venue's
reports may come late and out of turn, as on real venues' separate channels: a trade's
report held back behind the cancel that states it executed, or behind a query that summed
it, and reports delivered twice; trades state the order's cumulative quantity or not
(Binance and Kraken do, Coinbase does not). After every step, the position plus what open
orders hold never exceeds the limit on either side, in the engine's view and in truth (what
the venue executed plus what it still has open), and the engine's orders, position and
reservations equal what the journal, replayed afresh, says.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tests.engine.factories import Clock, NoDetector, RecordingVenue, submit

from whalewire.engine.app import Engine
from whalewire.engine.config import parse_config
from whalewire.engine.journal import Journal
from whalewire.engine.risk import Reserved
from whalewire.model import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderNotFound,
    OrderRejected,
    OrderStatusUnknown,
    Side,
    SubmitOrder,
)
from whalewire.venues.base import reconciled_events
from whalewire.venues.contract import Capabilities

LIMIT = Decimal(2)
CONFIG = f"""
[engine]
namespace = "sm"
rehearse_interval_ms = 0
[risk]
max_orders_per_second = 1000
max_orders_per_minute = 100000
[risk.symbols.BTCUSDT]
max_order_qty = 5
max_order_notional = 1_000_000
max_position = {LIMIT}
max_daily_loss = 1_000_000
"""


@dataclass
class Told:
    """What the venue was really told about one order, and what it did."""

    command: SubmitOrder
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    ended: bool = False
    rejected: bool = False


@dataclass
class Exchange(RecordingVenue):
    """A venue that keeps what it was told across the engine's restarts and answers from it."""

    told: dict[str, Told] = field(default_factory=dict)
    capabilities: Capabilities = field(default_factory=Capabilities)

    def place(self, command: SubmitOrder) -> int:
        self.told[command.client_order_id] = Told(command)
        return self.clock.monotonic()

    async def reconcile(self, client_order_id: str, symbol: str) -> list[OrderEvent]:
        told = self.told.get(client_order_id)
        now = self.clock.monotonic()
        if told is None:
            return [OrderNotFound(client_order_id=client_order_id, ts_init=now, ts_event=now)]
        if told.rejected:
            return [
                OrderRejected(
                    client_order_id=client_order_id, ts_init=now, ts_event=now, code=1, message="no"
                )
            ]
        avg = told.quote / told.executed if told.executed else Decimal(0)
        return reconciled_events(
            client_order_id,
            now=now,
            venue_order_id=client_order_id,
            executed=told.executed,
            avg_price=avg,
            ending=OrderCanceled if told.ended else None,
        )


class ExecutionMachine(RuleBasedStateMachine):
    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = Clock()
        self.exchange = Exchange(self.clock)
        self.path = directory / "journal.db"
        self.coids: list[str] = []
        self.trades = itertools.count()
        #: trade reports the venue has executed but not delivered yet (another channel)
        self.withheld: list[OrderFilled] = []
        #: every trade report delivered so far (to deliver again: duplicates)
        self.delivered: list[OrderFilled] = []
        self.engine = self._build()
        self._run(self.engine.start())

    def _build(self) -> Engine:
        return Engine(
            parse_config(CONFIG),
            venues={"binance": self.exchange},
            detector=NoDetector(),
            journal=Journal(self.path),
            namespace="sm",
            monotonic_ns=self.clock.monotonic,
            wall_ns=self.clock.wall_ns,
            ack_timeout_s=1e6,  # silence is a rule of its own (unknown)
        )

    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def _settle(self) -> None:
        async def reconciled() -> None:
            while self.engine.execution._reconciling:
                await asyncio.sleep(0)

        self._run(reconciled())

    def _emit(self, event: OrderEvent) -> None:
        async def deliver() -> None:
            self.exchange.on_event(event)

        self._run(deliver())
        self._settle()

    def _pick(self, i: int) -> tuple[str, Told | None]:
        coid = self.coids[i % len(self.coids)]
        return coid, self.exchange.told.get(coid)

    def _fill(
        self, coid: str, told: Told, share: Decimal, px: Decimal, stated: bool = False
    ) -> OrderFilled:
        """Execute a trade at the venue; return its report (with the cumulative if ``stated``)."""
        qty = (told.command.quantity - told.executed) * share
        qty = qty.quantize(Decimal("0.001"))
        told.executed += qty
        told.quote += qty * px
        now = self.clock.monotonic()
        return OrderFilled(
            client_order_id=coid,
            ts_init=now,
            ts_event=now,
            trade_id=f"t{next(self.trades)}",
            last_qty=qty,
            last_px=px,
            cum_qty=told.executed if stated else None,
        )

    def _deliver(self, fill: OrderFilled) -> None:
        self._emit(fill)
        self.delivered.append(fill)

    def _cancel_event(self, coid: str, told: Told) -> OrderCanceled:
        """The venue's cancel confirmation, stating what the order executed."""
        told.ended = True
        now = self.clock.monotonic()
        executed = told.executed
        return OrderCanceled(
            client_order_id=coid,
            ts_init=now,
            ts_event=now,
            executed_qty=executed,
            avg_px=told.quote / executed if executed else None,
        )

    @staticmethod
    def _open(told: Told | None) -> bool:
        return not (
            told is None or told.rejected or told.ended or told.executed == told.command.quantity
        )

    def teardown(self) -> None:
        self._run(self.engine.close())
        self.engine.journal.close()
        self.loop.close()

    # -- rules ---------------------------------------------------------------------------
    @rule(
        side=st.sampled_from(Side),
        qty=st.sampled_from(["0.1", "0.5", "1", "1.5"]),
    )
    def place(self, side: Side, qty: str) -> None:
        command = submit(self.engine.ids.next("binance"), qty, side)

        async def send() -> None:
            self.engine.submit(command)

        self._run(send())
        self.coids.append(command.client_order_id)
        self.clock.advance(0.001)

    @precondition(lambda self: self.coids)
    @rule(i=st.integers(0, 1000))
    def ack(self, i: int) -> None:
        coid, _ = self._pick(i)
        now = self.clock.monotonic()
        self._emit(
            OrderAccepted(client_order_id=coid, ts_init=now, ts_event=now, venue_order_id=coid)
        )

    @precondition(lambda self: self.coids)
    @rule(
        i=st.integers(0, 1000),
        share=st.sampled_from([Decimal("0.3"), Decimal("0.5"), Decimal(1)]),
        px=st.sampled_from([Decimal(59000), Decimal(60000), Decimal(61000)]),
        stated=st.booleans(),
    )
    def fill(self, i: int, share: Decimal, px: Decimal, stated: bool) -> None:
        coid, told = self._pick(i)
        # a venue fills nothing it has canceled; a fill that raced the cancel comes with
        # it (fill_racing_a_cancel)
        if self._open(told):
            assert told is not None
            self._deliver(self._fill(coid, told, share, px, stated))

    @precondition(lambda self: self.coids)
    @rule(
        i=st.integers(0, 1000),
        share=st.sampled_from([Decimal("0.3"), Decimal("0.5"), Decimal(1)]),
        stated=st.booleans(),
    )
    def fill_reported_late(self, i: int, share: Decimal, stated: bool) -> None:
        # the venue executed a trade; its report is still on its way (``deliver_late``)
        coid, told = self._pick(i)
        if self._open(told):
            assert told is not None
            self.withheld.append(self._fill(coid, told, share, Decimal(60000), stated))

    @precondition(lambda self: self.withheld)
    @rule(i=st.integers(0, 1000))
    def deliver_late(self, i: int) -> None:
        # a held-back trade report arrives: after the cancel that stated it, after a query
        # that summed it, after a restart, or before any of them
        self._deliver(self.withheld.pop(i % len(self.withheld)))

    @precondition(lambda self: self.delivered)
    @rule(i=st.integers(0, 1000))
    def deliver_again(self, i: int) -> None:
        # a duplicate: the same trade reported twice (a resent stream message)
        self._emit(self.delivered[i % len(self.delivered)])

    @precondition(lambda self: self.coids)
    @rule(i=st.integers(0, 1000))
    def cancel(self, i: int) -> None:
        coid, told = self._pick(i)
        self._run(self.engine.execution.cancel(coid))
        if self._open(told):
            assert told is not None
            self._emit(self._cancel_event(coid, told))

    @precondition(lambda self: self.coids)
    @rule(
        i=st.integers(0, 1000),
        share=st.sampled_from([Decimal("0.5"), Decimal(1)]),
        stated=st.booleans(),
    )
    def fill_racing_a_cancel(self, i: int, share: Decimal, stated: bool) -> None:
        # the venue filled, then canceled the rest; the cancel's confirmation (stating what
        # executed) comes first, the trade's own report later on its channel
        coid, told = self._pick(i)
        if self._open(told):
            assert told is not None
            fill = self._fill(coid, told, share, Decimal(60000), stated)
            self._emit(self._cancel_event(coid, told))
            self.withheld.append(fill)

    @precondition(lambda self: self.coids)
    @rule(i=st.integers(0, 1000))
    def reject(self, i: int) -> None:
        coid, told = self._pick(i)
        if told is None or told.executed or told.ended:
            return
        told.rejected = True
        now = self.clock.monotonic()
        self._emit(
            OrderRejected(client_order_id=coid, ts_init=now, ts_event=now, code=1, message="no")
        )

    @precondition(lambda self: self.coids)
    @rule(i=st.integers(0, 1000))
    def unknown(self, i: int) -> None:
        coid, _ = self._pick(i)
        now = self.clock.monotonic()
        self._emit(
            OrderStatusUnknown(client_order_id=coid, ts_init=now, ts_event=now, reason="silence")
        )

    @rule()
    def reconcile(self) -> None:
        self._run(self.engine.reconcile_open_orders())

    @rule()
    def restart(self) -> None:
        self._run(self.engine.close())
        self.engine.journal.close()
        self.engine = self._build()
        self._run(self.engine.start())

    # -- what must hold after every step --------------------------------------------------
    @invariant()
    def held_within_the_limit_and_equal_to_the_journal(self) -> None:
        engine = self.engine
        position = Decimal(0)
        buy = sell = Decimal(0)
        replayed = engine.journal.replay()
        for coid, live in engine.execution.orders.items():
            again = replayed[coid]
            assert (live.status, live.filled_qty, live.avg_px, live.commission) == (
                again.status,
                again.filled_qty,
                again.avg_px,
                again.commission,
            )
        for order in replayed.values():
            c = order.command
            position += order.filled_qty if c.side is Side.BUY else -order.filled_qty
            if not order.is_final:
                if c.side is Side.BUY:
                    buy += order.leaves_qty
                else:
                    sell += order.leaves_qty
        reserved = engine.execution.reserved.get("BTCUSDT", Reserved())
        assert engine.position("BTCUSDT") == position
        assert (reserved.buy, reserved.sell) == (buy, sell)
        assert abs(position + reserved.buy) <= LIMIT
        assert abs(position - reserved.sell) <= LIMIT
        # each order counts exactly what the venue executed once every report about it has
        # arrived; never more (a trade counted twice), at most a held-back report less
        late = {f.client_order_id for f in self.withheld}
        for coid, told in self.exchange.told.items():
            filled = replayed[coid].filled_qty
            if coid in late:
                assert filled <= told.executed
            else:
                assert filled == told.executed

    @invariant()
    def true_exposure_within_the_limit(self) -> None:
        # what the venue executed, plus what it still has open, on each side: the engine's
        # view may lag a report, never the other way round
        executed = buy = sell = Decimal(0)
        for told in self.exchange.told.values():
            c = told.command
            executed += told.executed if c.side is Side.BUY else -told.executed
            if self._open(told):
                rest = c.quantity - told.executed
                if c.side is Side.BUY:
                    buy += rest
                else:
                    sell += rest
        assert executed + buy <= LIMIT
        assert executed - sell >= -LIMIT


def test_reservations_hold_on_any_sequence_of_venue_events_and_restarts(tmp_path: Path) -> None:
    runs = itertools.count()

    def machine() -> ExecutionMachine:
        directory = tmp_path / str(next(runs))
        directory.mkdir()
        return ExecutionMachine(directory)

    run_state_machine_as_test(
        machine, settings=settings(max_examples=60, stateful_step_count=30, deadline=None)
    )

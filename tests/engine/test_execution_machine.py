"""Execution's reservations under any sequence of venue events, restarts included.

A hypothesis state machine places, acknowledges, fills (partly, fully, after a cancel),
cancels, rejects, loses (UNKNOWN), reconciles and restarts an engine on a real SQLite
journal, against a venue that answers queries from what it was really told. After every
step, the position plus what open orders hold never exceeds the limit on either side, and
both equal what the journal, read afresh, says.
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

    def _fill(self, coid: str, told: Told, share: Decimal, px: Decimal) -> OrderFilled:
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
    )
    def fill(self, i: int, share: Decimal, px: Decimal) -> None:
        coid, told = self._pick(i)
        # a venue fills nothing it has canceled; a fill that raced the cancel comes with
        # it (fill_racing_a_cancel)
        if told is None or told.rejected or told.ended or told.executed == told.command.quantity:
            return
        self._emit(self._fill(coid, told, share, px))

    @precondition(lambda self: self.coids)
    @rule(i=st.integers(0, 1000))
    def cancel(self, i: int) -> None:
        coid, told = self._pick(i)
        self._run(self.engine.execution.cancel(coid))
        if told is None or told.rejected or told.executed == told.command.quantity:
            return
        told.ended = True
        now = self.clock.monotonic()
        self._emit(OrderCanceled(client_order_id=coid, ts_init=now, ts_event=now))

    @precondition(lambda self: self.coids)
    @rule(i=st.integers(0, 1000), share=st.sampled_from([Decimal("0.5"), Decimal(1)]))
    def fill_racing_a_cancel(self, i: int, share: Decimal) -> None:
        # the venue filled, then canceled the rest; the cancel's confirmation comes first
        coid, told = self._pick(i)
        if told is None or told.rejected or told.ended or told.executed == told.command.quantity:
            return
        fill = self._fill(coid, told, share, Decimal(60000))
        told.ended = True
        now = self.clock.monotonic()
        self._emit(OrderCanceled(client_order_id=coid, ts_init=now, ts_event=now))
        self._emit(fill)

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
        for order in engine.journal.replay().values():
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


def test_reservations_hold_on_any_sequence_of_venue_events_and_restarts(tmp_path: Path) -> None:
    runs = itertools.count()

    def machine() -> ExecutionMachine:
        directory = tmp_path / str(next(runs))
        directory.mkdir()
        return ExecutionMachine(directory)

    run_state_machine_as_test(
        machine, settings=settings(max_examples=60, stateful_step_count=30, deadline=None)
    )

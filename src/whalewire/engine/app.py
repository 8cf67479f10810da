"""The engine: composes the pipeline, execution, warm-up and status view over one journal.

Each part is one flow (DESIGN.md): ``pipeline`` is the hot path (feed event → detector →
strategy → risk → intent → ``venue.place``), ``execution`` the orders of record (venue
events, reservations, ack deadlines, reconciliation, cancels), ``warmup`` what keeps the
hot path warm between whales, ``status`` the read-only view, ``ids`` the client order
ids. This module builds them and starts and stops them in order; it makes no decision of
its own (the kill switch is execution's).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from whalewire.engine.config import Config
from whalewire.engine.events import EventLog
from whalewire.engine.execution import Execution
from whalewire.engine.ids import OrderIds
from whalewire.engine.journal import Journal
from whalewire.engine.metrics import Metrics
from whalewire.engine.oms import Order
from whalewire.engine.pipeline import Detector, Pipeline
from whalewire.engine.risk import RiskEngine, TradingState
from whalewire.engine.status import StatusView
from whalewire.engine.strategy import WhaleStrategy
from whalewire.engine.warmup import ShadowAlert, Warmup
from whalewire.venues.contract import Venue


class Engine:
    """One trading engine: its orders, its risk state, its venues."""

    def __init__(
        self,
        config: Config,
        *,
        venues: Mapping[str, Venue],
        detector: Detector,
        journal: Journal,
        namespace: str = "ww",
        metrics: Metrics | None = None,
        monotonic_ns: Callable[[], int] = time.perf_counter_ns,
        wall_ns: Callable[[], int] = time.time_ns,
        ack_timeout_s: float = 5.0,
        max_final_orders: int = 256,
        dead_man_timeout_s: int = 60,
    ) -> None:
        self.config = config
        self.venues = dict(venues)
        self.detector = detector
        self.journal = journal
        self.namespace = namespace
        self.metrics = metrics = metrics or Metrics()
        #: the live event log every part writes to after the send (``engine.events``)
        self.events = events = EventLog()
        self._now = monotonic_ns
        self.risk = risk = RiskEngine(config.risk, monotonic_ns=monotonic_ns, wall_ns=wall_ns)
        self.execution = execution = Execution(
            venues=self.venues,
            journal=journal,
            risk=risk,
            metrics=metrics,
            monotonic_ns=monotonic_ns,
            ack_timeout_s=ack_timeout_s,
            max_final_orders=max_final_orders,
            events=events,
        )
        risk.reserved = execution.reserved  # read by risk, written by execution alone
        self.ids = ids = OrderIds(
            journal,
            {name: v.client_order_id for name, v in self.venues.items()},
            namespace,
        )
        self.strategy = strategy = WhaleStrategy(
            config.strategy, monotonic_ns=monotonic_ns, next_client_order_id=ids.next
        )
        self.pipeline = pipeline = Pipeline(
            detector=detector,
            strategy=strategy,
            risk=risk,
            journal=journal,
            venues=self.venues,
            execution=execution,
            ids=ids,
            metrics=metrics,
            monotonic_ns=monotonic_ns,
        )
        self.warmup = Warmup(
            detector=detector,
            strategy=strategy,
            risk=risk,
            journal=journal,
            venues=self.venues,
            metrics=metrics,
            monotonic_ns=monotonic_ns,
            shadow_alert=ShadowAlert(
                entity=next(iter(config.strategy.routes), "shadow"),
                value=config.strategy.min_value_sats,
            ),
            dead_man_timeout_s=dead_man_timeout_s,
            reflex=pipeline.reflex,
        )
        self.view = StatusView(
            config=config,
            pipeline=pipeline,
            execution=execution,
            risk=risk,
            venues=self.venues,
            metrics=metrics,
            monotonic_ns=monotonic_ns,
        )
        for venue in self.venues.values():
            venue.set_event_sink(pipeline.on_venue_event)  # execution's, then re-arm
        # the hot path's entry points, bound once: no hop through this class per event
        self.on_feed_event = pipeline.on_feed_event
        self.on_alert = pipeline.on_alert
        self.submit = pipeline.submit
        self.rehearse = self.warmup.rehearse
        self.status = self.view.status
        self.metrics_text = self.view.metrics_text
        self.reconcile_open_orders = execution.reconcile_open_orders

    # -- what the parts hold, read through the engine --------------------------------------
    @property
    def orders(self) -> dict[str, Order]:
        """Every order in memory (execution's)."""
        return self.execution.orders

    @property
    def armed(self) -> bool:
        """Whether whales are traded (after start-up reconciled the journal's open orders)."""
        return self.pipeline.armed

    @armed.setter
    def armed(self, value: bool) -> None:
        self.pipeline.armed = value

    @property
    def rehearsals(self) -> int:
        """Rehearsals of the decision path so far."""
        return self.warmup.rehearsals

    @property
    def spins(self) -> int:
        """Event-loop iterations spun by ``[engine] busy_poll``."""
        return self.warmup.spins

    def position(self, symbol: str) -> Decimal:
        """The current position in ``symbol`` as risk sees it."""
        return self.risk.book(symbol).position

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> dict[str, int]:
        """Connect venues, reconcile what the journal left open, then arm the strategy.

        Returns how many journaled orders were found open and what became of them.
        """
        cpu = self.config.engine.cpu
        if cpu is not None:
            pin_to_cpu(cpu)  # first: a CPU this process may not use fails before anything
        for venue in self.venues.values():
            await venue.start()
        # every transaction decided on before: one reaction per transaction, across restarts
        ordered = self.execution.restore()
        self.strategy.remember([*self.journal.decided(), *ordered])
        report = await self.execution.reconcile_open_orders()
        engine = self.config.engine
        self.warmup.start(
            rehearse_interval_s=engine.rehearse_interval_ms / 1000, busy_poll=engine.busy_poll
        )
        # everything built so far (address book, watch set, templates, modules) lives as
        # long as the process: out of the collector's sight, a full collection that lands
        # on a whale walks only what was made since, not the whole heap
        gc.freeze()
        self.pipeline.armed = True
        return report

    async def close(self) -> None:
        """Stop background work and close venue connections."""
        self.pipeline.armed = False
        self.warmup.stop()
        self.execution.close()
        for venue in self.venues.values():
            await venue.close()

    # -- operator -------------------------------------------------------------------------
    async def kill(self, source: str) -> Mapping[str, Any]:
        """Halt trading and cancel every open order on every venue; report what was done."""
        strategy = self.config.strategy
        routed = {r.symbol for r in [strategy.default_route, *strategy.routes.values()]}
        report = await self.execution.kill(source, routed)
        self.pipeline.reflex.rearm()
        self.journal.note("halt", source)
        return report

    def resume(self, source: str) -> Mapping[str, Any]:
        """Move a HALTED engine back to ACTIVE (the operator's decision); journal and log it.

        Refused (``resumed: False`` and why) when trading is not halted. The caller checks
        the kill file: while it exists the control plane refuses before calling this.
        """
        before = self.risk.state
        if before is not TradingState.HALTED:
            return {"resumed": False, "state": before.value, "why": "trading is not halted"}
        self.risk.set_state(TradingState.ACTIVE, f"resumed: {source}")
        self.pipeline.reflex.rearm()
        self.metrics.set("trading_halted", 0)
        self.journal.note("resume", source)
        self.events.emit("resume", {"source": source})
        return {"resumed": True, "state": TradingState.ACTIVE.value, "source": source}


def pin_to_cpu(cpu: int) -> None:
    """Run this thread (the event loop's, where the hot path runs) on ``cpu`` only.

    Raises:
        ValueError: ``cpu`` is not one this process may run on.
    """
    allowed = os.sched_getaffinity(0)
    if cpu not in allowed:
        raise ValueError(
            f"engine.cpu = {cpu}, but this process may only run on CPUs {sorted(allowed)}: "
            "choose one of those (or remove engine.cpu)"
        )
    os.sched_setaffinity(0, {cpu})

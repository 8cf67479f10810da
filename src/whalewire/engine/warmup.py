"""Warm-up: keep the hot path's code and data in cache between whales.

Between whales the decision path is rehearsed on a shadow whale (detector, strategy, risk,
journal row into a scratch file, the venue's fill and sign into a scratch buffer), sending
and keeping nothing; ``[engine] busy_poll`` spins the event loop so it never sleeps in
``epoll_wait``; venues with a dead man's switch have it re-armed. None of this decides or
sends anything real.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

import msgspec

from whalewire.engine.journal import Journal
from whalewire.engine.metrics import Metrics
from whalewire.engine.pipeline import Detector
from whalewire.engine.reflex import Reflex
from whalewire.engine.risk import RiskEngine
from whalewire.engine.strategy import SHADOW_ID, WhaleStrategy
from whalewire.mempool.whales import AlertKind
from whalewire.model import OrderInitialized, SubmitOrder
from whalewire.venues.contract import Venue, VenueError

log = logging.getLogger("whalewire.engine")


class ShadowAlert(msgspec.Struct, frozen=True):
    """The whale alert rehearsals decide on: a deposit no real transaction has."""

    entity: str
    value: int
    txid: str = "0" * 64
    kind: AlertKind = AlertKind.DEPOSIT
    recv_ns: int = 0


class Warmup:
    """Rehearsals, the busy-poll spin and dead man's switch refreshes."""

    def __init__(
        self,
        *,
        detector: Detector,
        strategy: WhaleStrategy,
        risk: RiskEngine,
        journal: Journal,
        venues: Mapping[str, Venue],
        metrics: Metrics,
        monotonic_ns: Callable[[], int],
        shadow_alert: ShadowAlert,
        dead_man_timeout_s: int = 60,
        reflex: Reflex | None = None,
    ) -> None:
        self.detector = detector
        self.reflex = reflex
        self.strategy = strategy
        self.risk = risk
        self.journal = journal
        self.venues = venues
        self.metrics = metrics
        self._now = monotonic_ns
        self.shadow_alert = shadow_alert
        self.dead_man_timeout_s = dead_man_timeout_s
        self.rehearsals = 0
        #: event-loop iterations spun by ``[engine] busy_poll``
        self.spins = 0
        self._tasks: list[asyncio.Task[None]] = []

    def rehearse(self) -> None:
        """Run the decision path once on a shadow alert; send, journal and count nothing.

        Detection (the detector's shadow whale's alert is the one decided on, or the
        engine's own shadow alert when the detector has none), strategy, risk check, the
        journal row (committed into a scratch file) and, where the venue can rehearse, the
        order's fill and sign into a scratch buffer: the same code and data as a real
        whale's, so they are still in cache when one comes (DESIGN.md: everything on the
        hot path is a plain call). No order, id, cooldown, rate window, exposure or journal
        row is taken.
        """
        alert = self.detector.rehearse()
        command = self.strategy.on_alert(alert or self.shadow_alert, shadow=True)
        assert isinstance(command, SubmitOrder) and command.client_order_id == SHADOW_ID
        venue = self.venues.get(command.venue)
        if venue is not None:
            venue.last_price(command.symbol)
        self.risk.check(command, shadow=True)
        if self.reflex is not None:  # the armed order's checks too (engine/reflex.py)
            self.reflex.fire(alert or self.shadow_alert, shadow=True)
        now = self._now()
        self.journal.rehearse(
            OrderInitialized(client_order_id=SHADOW_ID, ts_init=now, ts_event=now, command=command)
        )
        if venue is not None and venue.capabilities.rehearsal:
            venue.rehearse(command)
        self.rehearsals += 1

    def start(self, *, rehearse_interval_s: float, busy_poll: bool) -> None:
        """Start the background work: dead man's switches, rehearsals, the spin."""
        loop = asyncio.get_running_loop()
        for venue in self.venues.values():
            if venue.capabilities.dead_mans_switch:
                self._tasks.append(loop.create_task(self._keep_dead_man_armed(venue)))
        if rehearse_interval_s > 0:
            self.rehearse()  # fails here, at start, rather than silently in the background
            self._tasks.append(loop.create_task(self._keep_warm(rehearse_interval_s)))
        if busy_poll:
            self._tasks.append(loop.create_task(self._spin()))

    def stop(self) -> None:
        """Cancel the background work."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    async def _spin(self) -> None:
        # a ready callback every iteration: the loop polls with a zero timeout and never
        # blocks in epoll_wait, so a transaction is read the moment it lands
        while True:
            await asyncio.sleep(0)
            self.spins += 1

    async def _keep_warm(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.rehearse()
            except Exception:  # a rehearsal must never stop the engine: say so, stop them
                log.exception("rehearsal of the decision path failed; rehearsals stopped")
                self.metrics.inc("rehearsal_failed")
                return

    async def _keep_dead_man_armed(self, venue: Venue) -> None:
        # Kraken's cancel_all_orders_after: if this process dies or hangs, the venue cancels
        # every open order within dead_man_timeout_s ("a call every 15 to 30 seconds")
        while True:
            try:
                await venue.refresh_dead_man(self.dead_man_timeout_s)
                self.metrics.inc("dead_man_refreshed")
            except VenueError as exc:
                self.metrics.inc("dead_man_refresh_failed")
                log.warning("%s: dead man's switch not refreshed: %s", venue.name, exc)
            await asyncio.sleep(self.dead_man_timeout_s / 3)

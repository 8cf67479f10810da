"""The engine: wires feeds, whale detection, strategy, risk, journal and venues together.

The hot path is one synchronous call chain on the event loop's thread, from a feed's raw
transaction to the order's bytes on the socket (DESIGN.md): ``on_feed_event`` → detector
→ strategy → risk → journal (``OrderInitialized`` into the intent log: in the OS) →
``venue.place`` (fill, sign, frame, write) → ``OrderSubmitted``. Only timestamps are taken
on the way; the order's SQLite rows, metrics, the dashboard, logs and journal checkpoints
come after the write. Between whales, ``rehearse`` runs the same chain on a shadow whale,
sending and keeping nothing, so its code and data are still in cache when a real one comes.

Everything the venues report comes back through ``_on_venue_event``, is applied to the
order (``Order.apply``, the one transition table) and then journaled. An order that hears
nothing within ``ack_timeout_s`` becomes UNKNOWN and is reconciled by client order id; on
start, every order the journal holds that is not final is reconciled before the strategy
is armed. Nothing is ever blindly resent.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

import msgspec

from whalewire.engine.config import Config
from whalewire.engine.journal import Journal
from whalewire.engine.metrics import STAGES, Metrics
from whalewire.engine.oms import InvalidTransition, Order, OrderStatus
from whalewire.engine.risk import RiskEngine, TradingState
from whalewire.engine.strategy import SHADOW_ID, AlertIgnored, AlertLike, WhaleStrategy
from whalewire.mempool.feeds.events import EventKind, RawTxEvent
from whalewire.mempool.tx import TxParseError
from whalewire.mempool.whales import AlertKind
from whalewire.model import (
    OrderAccepted,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderInitialized,
    OrderRejected,
    OrderStatusUnknown,
    OrderSubmitted,
    SubmitOrder,
)
from whalewire.venues.base import (
    RECONCILED_FILL_PREFIX,
    VenueClient,
    VenueError,
    VenueUnavailable,
)
from whalewire.venues.ids import binance_client_order_id

log = logging.getLogger("whalewire.engine")

SATS_PER_BTC = 100_000_000
#: journal rows between two checkpoints (each row is one 4 KiB WAL page: ~2 MB of WAL)
CHECKPOINT_ROWS = 500
#: pipeline order of the latency stages, for status() and the dashboard
_STAGE_ORDER = {name: i for i, name in enumerate(STAGES)}


class Detector(Protocol):
    """What the engine needs of the whale detector (``whalewire.mempool.whales``)."""

    def feed(
        self,
        raw: bytes,
        *,
        feed: str,
        recv_ns: int,
        recv_wall_ns: int,
        txid: str | None = None,
    ) -> Sequence[AlertLike]: ...


class ShadowAlert(msgspec.Struct, frozen=True):
    """The whale alert rehearsals decide on: a deposit no real transaction has."""

    entity: str
    value: int
    txid: str = "0" * 64
    kind: AlertKind = AlertKind.DEPOSIT
    recv_ns: int = 0


class Engine:
    """One trading engine: its orders, its risk state, its venues."""

    def __init__(
        self,
        config: Config,
        *,
        venues: Mapping[str, VenueClient],
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
        self.metrics = metrics or Metrics()
        self._now = monotonic_ns
        self._wall = wall_ns
        self.ack_timeout_s = ack_timeout_s
        #: final orders kept in memory for the dashboard and late events (the journal has
        #: every order): memory stays flat however long the engine runs
        self.max_final_orders = max_final_orders
        self._finals: deque[str] = deque()
        self._reconciling: dict[str, asyncio.Task[None]] = {}
        #: per venue, a client order id prepared off the hot path, and its sequence number
        self._spare_ids: dict[str, tuple[int, str]] = {}
        #: ids must come from sequence numbers at or after this (past every order's row)
        self._min_id_seq = 0
        self.dead_man_timeout_s = dead_man_timeout_s
        self.started_ns = monotonic_ns()
        self.risk = RiskEngine(config.risk, monotonic_ns=monotonic_ns, wall_ns=wall_ns)
        self.strategy = WhaleStrategy(
            config.strategy, monotonic_ns=monotonic_ns, next_client_order_id=self._next_id
        )
        self.orders: dict[str, Order] = {}
        self.armed = False
        self.feed_counts: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.whales_seen = 0
        self.recent_whales: deque[dict[str, Any]] = deque(maxlen=20)
        self._submitted_ns: dict[str, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        for venue in self.venues.values():
            venue.on_event = self._on_venue_event
        #: how often the decision path is rehearsed on a shadow alert (0: never)
        self.rehearse_interval_s = config.engine.rehearse_interval_ms / 1000
        self.rehearsals = 0
        self._checkpointing = False
        self._warming: asyncio.Task[None] | None = None
        self._spinning: asyncio.Task[None] | None = None
        #: event-loop iterations spun by ``[engine] busy_poll``
        self.spins = 0
        self._shadow_alert = ShadowAlert(
            entity=next(iter(config.strategy.routes), "shadow"),
            value=config.strategy.min_value_sats,
        )

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
        self.orders = self.journal.replay()
        for order in list(self.orders.values()):
            if order.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
                c = order.command
                self.risk.on_fill(c.symbol, c.side, order.filled_qty, order.avg_px)
            if order.is_final:
                self._retire(order)
        report = await self.reconcile_open_orders()
        for venue in self.venues.values():
            refresh = getattr(venue, "refresh_dead_man", None)
            if refresh is not None:
                self._spawn(self._keep_dead_man_armed(venue.name, refresh))
        if self.rehearse_interval_s > 0:
            self.rehearse()  # fails here, at start, rather than silently in the background
            # not among _tasks, which holds work that ends (ack deadlines, reconciliations)
            self._warming = asyncio.get_running_loop().create_task(
                self._keep_warm(self.rehearse_interval_s)
            )
        if self.config.engine.busy_poll:
            self._spinning = asyncio.get_running_loop().create_task(self._spin())
        # everything built so far (address book, watch set, templates, modules) lives as
        # long as the process: out of the collector's sight, a full collection that lands
        # on a whale walks only what was made since, not the whole heap
        gc.freeze()
        self.armed = True
        return report

    def rehearse(self) -> None:
        """Run the decision path once on a shadow alert; send, journal and count nothing.

        Detection where the detector offers ``rehearse()`` (its shadow whale's alert is the
        one decided on), strategy, risk check, the journal row (committed into a scratch
        file) and, where the venue offers ``rehearse(command)``, the order's fill and sign
        into a scratch buffer: the same code and data as a real whale's, so they are still
        in cache when one comes (DESIGN.md: everything on the hot path is a plain call).
        No order, id, cooldown, rate window, exposure or journal row is taken.
        """
        detect = getattr(self.detector, "rehearse", None)  # WhaleDetector.rehearse
        alert = detect() if detect is not None else None
        command = self.strategy.on_alert(alert or self._shadow_alert, shadow=True)
        assert isinstance(command, SubmitOrder) and command.client_order_id == SHADOW_ID
        venue = self.venues.get(command.venue)
        if venue is not None:
            venue.last_price(command.symbol)
        self.risk.check(command, shadow=True)
        now = self._now()
        self.journal.rehearse(
            OrderInitialized(client_order_id=SHADOW_ID, ts_init=now, ts_event=now, command=command)
        )
        rehearse = getattr(venue, "rehearse", None)
        if rehearse is not None:
            rehearse(command)
        self.rehearsals += 1

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

    async def _keep_dead_man_armed(
        self, name: str, refresh: Callable[[int], Awaitable[object]]
    ) -> None:
        # Kraken's cancel_all_orders_after: if this process dies or hangs, the venue cancels
        # every open order within dead_man_timeout_s ("a call every 15 to 30 seconds")
        while True:
            try:
                await refresh(self.dead_man_timeout_s)
                self.metrics.inc("dead_man_refreshed")
            except VenueError as exc:
                self.metrics.inc("dead_man_refresh_failed")
                log.warning("%s: dead man's switch not refreshed: %s", name, exc)
            await asyncio.sleep(self.dead_man_timeout_s / 3)

    async def reconcile_open_orders(self) -> dict[str, int]:
        """Ask the venue about every order that is not final, and apply what it says."""
        outcome: Counter[str] = Counter()
        for order in list(self.orders.values()):
            if order.is_final:
                continue
            outcome["open"] += 1
            await self._reconcile(order)
            outcome[order.status.value] += 1
        return dict(outcome)

    async def close(self) -> None:
        """Stop background work and close venue connections."""
        self.armed = False
        for background in (self._warming, self._spinning):
            if background is not None:
                background.cancel()
        for task in list(self._tasks):
            task.cancel()
        for venue in self.venues.values():
            await venue.close()

    # -- the hot path --------------------------------------------------------------------
    def on_feed_event(self, event: object) -> None:
        """Take one event from the mempool monitor (``RawTxEvent`` and friends)."""
        raw: bytes | None
        txid: str | None = None
        if type(event) is RawTxEvent:
            # nearly every event: its fields read directly, not through getattr's defaults
            raw = event.raw
            feed = event.feed
            recv_ns = event.recv_ns
            recv_wall_ns = event.recv_wall_ns
            # computed from raw by every feed (tx_event), so the detector need not hash again
            txid = event.txid
        else:
            raw = getattr(event, "raw", None)
            feed = getattr(event, "feed", "?")
            recv_ns = recv_wall_ns = 0
            if raw:
                recv_ns = event.recv_ns  # type: ignore[attr-defined]
                recv_wall_ns = event.recv_wall_ns  # type: ignore[attr-defined]
        self.feed_counts[feed] += 1
        if not raw:
            return
        try:
            alerts = self.detector.feed(
                raw, feed=feed, recv_ns=recv_ns, recv_wall_ns=recv_wall_ns, txid=txid
            )
        except TxParseError as exc:
            # a peer sent garbage: count it, keep going (the feed stays up)
            self.metrics.inc("malformed_transactions")
            log.warning("feed %s: malformed transaction: %s", feed, exc)
            return
        if not alerts:
            return
        if type(event) is RawTxEvent:
            mined = event.kind is EventKind.MINED
        else:
            mined = getattr(getattr(event, "kind", None), "name", "") == "MINED"
        for alert in alerts:
            self.on_alert(alert, mined=mined)

    def on_alert(self, alert: AlertLike, *, mined: bool = False) -> None:
        """Decide on one whale alert and, if the strategy acts, send the order."""
        t_alert = self._now()
        if not self.armed:
            return
        decision = self.strategy.on_alert(alert, mined=mined)
        t_decided = self._now()
        if isinstance(decision, AlertIgnored):
            self.ignored[decision.reason.value] += 1
            self._remember_whale(alert, decision.reason.value)
            return
        self.submit(decision)
        m = self.metrics
        m.latency("detect").record(t_alert - alert.recv_ns)
        m.latency("decide").record(t_decided - t_alert)
        sent = self._submitted_ns.get(decision.client_order_id)
        if sent is not None:
            m.latency("trigger_to_send").record(sent - alert.recv_ns)
        self._remember_whale(alert, f"{decision.side.value} {decision.quantity}")

    def submit(self, command: SubmitOrder) -> Order:
        """Risk-check, journal and send one order command; return the order's record."""
        t0 = self._now()
        venue = self.venues.get(command.venue)
        if venue is not None:
            price = venue.last_price(command.symbol)
            if price is not None:
                self.risk.on_trade_price(command.symbol, price)
        denial = self.risk.check(command)
        t_risk = self._now()
        if denial is None and venue is None:
            denial = OrderDenied(
                client_order_id=command.client_order_id,
                ts_init=t_risk,
                ts_event=t_risk,
                reason="NO_VENUE",
                detail=f"no venue named {command.venue!r}",
            )
        if denial is not None:
            self._min_id_seq = self.journal.append(command) + 1
            self.journal.append(denial)
            order = self.orders[command.client_order_id] = Order.denied(command, denial)
            self.metrics.inc("orders_denied")
            self._retire(order)
            log.info(
                "order %s denied: %s %s", command.client_order_id, denial.reason, denial.detail
            )
            return order
        assert venue is not None
        init = OrderInitialized(
            client_order_id=command.client_order_id,
            ts_init=t_risk,
            ts_event=t_risk,
            command=command,
        )
        # the intent is in the OS before a byte goes out; its SQLite row follows the send
        self._min_id_seq = self.journal.intend(init) + 1
        t_journal = self._now()
        try:
            written = venue.place(command)
        except VenueUnavailable as exc:
            order = self.orders[command.client_order_id] = Order(init)
            self._apply(
                OrderDenied(
                    client_order_id=command.client_order_id,
                    ts_init=self._now(),
                    ts_event=self._now(),
                    reason="VENUE_UNAVAILABLE",
                    detail=exc.why,
                )
            )  # final: _apply released its open exposure in risk
            return order
        except Exception as exc:  # a failure mid-write: the venue may have the order
            order = self.orders[command.client_order_id] = Order(init)
            log.exception("order %s: send failed", command.client_order_id)
            self._apply(
                OrderStatusUnknown(
                    client_order_id=command.client_order_id,
                    ts_init=self._now(),
                    ts_event=self._now(),
                    reason=f"send failed: {type(exc).__name__}",
                )
            )
            self._spawn(self._reconcile(order))
            return order
        # after the bytes are out: bookkeeping (the venue's answer comes through the event
        # loop, so the order exists before anything can be reported about it)
        order = self.orders[command.client_order_id] = Order(init)
        self._submitted_ns[command.client_order_id] = written
        self._apply(
            OrderSubmitted(
                client_order_id=command.client_order_id, ts_init=written, ts_event=written
            )
        )
        m = self.metrics
        m.inc("orders_sent")
        m.latency("risk").record(t_risk - t0)
        m.latency("journal").record(t_journal - t_risk)
        m.latency("send").record(written - t_journal)
        self._spawn(self._ack_deadline(order))
        self._prepare_id(command.venue)
        self._maybe_checkpoint()
        return order

    def _maybe_checkpoint(self) -> None:
        # after the send, in a thread: the loop goes on (feeds, acks) while SQLite copies
        # the WAL back and fsyncs; only a journal write waits, if one comes meanwhile
        if self.journal.uncheckpointed < CHECKPOINT_ROWS or self._checkpointing:
            return
        self._checkpointing = True

        async def checkpoint() -> None:
            try:
                await asyncio.to_thread(self.journal.checkpoint)
            finally:
                self._checkpointing = False

        self._spawn(checkpoint())

    # -- what venues report ---------------------------------------------------------------
    def _on_venue_event(self, event: OrderEvent) -> None:
        coid = event.client_order_id
        if isinstance(event, OrderAccepted | OrderRejected | OrderFilled):
            sent = self._submitted_ns.pop(coid, None)
            if sent is not None:
                self.metrics.latency("ack").record(self._now() - sent)
        order = self.orders.get(coid)
        if order is None:
            self.metrics.inc("events_for_unknown_orders")
            log.warning(
                "venue reported %s for an order not in memory: %s", type(event).__name__, coid
            )
            return
        self._apply(event)
        if isinstance(event, OrderStatusUnknown) and order.status is OrderStatus.UNKNOWN:
            # silence, a 5xx or a disconnect: only the venue can say what happened
            self._spawn(self._reconcile(order))
        self._maybe_checkpoint()

    def _apply(self, event: OrderEvent) -> None:
        order = self.orders[event.client_order_id]
        was_final = order.is_final
        try:
            order.apply(event)
        except InvalidTransition as exc:
            self.metrics.inc("events_refused")
            log.warning("%s", exc)
            return
        self.journal.append(event)
        c = order.command
        if isinstance(event, OrderFilled):
            self.risk.on_fill(c.symbol, c.side, event.last_qty, event.last_px)
            self.metrics.inc("fills")
        if order.is_final and not was_final:
            self.risk.on_order_closed(c.symbol, c.side, c.quantity - order.filled_qty)
            self.metrics.inc(f"orders_{order.status.value.lower()}")
            self._retire(order)

    async def _ack_deadline(self, order: Order) -> None:
        await asyncio.sleep(self.ack_timeout_s)
        if order.status is OrderStatus.SUBMITTED:
            self._apply(
                OrderStatusUnknown(
                    client_order_id=order.client_order_id,
                    ts_init=self._now(),
                    ts_event=self._now(),
                    reason=f"no answer within {self.ack_timeout_s:g} s",
                )
            )
            await self._reconcile(order)

    def _retire(self, order: Order) -> None:
        """Remember a final order; forget the oldest beyond ``max_final_orders``."""
        order.events.clear()  # its history is in the journal
        finals = self._finals
        finals.append(order.client_order_id)
        while len(finals) > self.max_final_orders:
            old = self.orders.get(finals.popleft())
            if old is not None and old.is_final:
                del self.orders[old.client_order_id]

    async def _reconcile(self, order: Order, attempts: int = 20) -> None:
        coid = order.client_order_id
        running = self._reconciling.get(coid)
        if running is not None:
            # one conversation about an order at a time: wait for the one under way
            await asyncio.shield(running)
            return
        task = asyncio.get_running_loop().create_task(self._reconcile_once(order, attempts))
        self._reconciling[coid] = task
        task.add_done_callback(lambda _: self._reconciling.pop(coid, None))
        await asyncio.shield(task)

    async def _reconcile_once(self, order: Order, attempts: int) -> None:
        # a venue may only say "does not exist" for sure once the order's validity window
        # has passed (Binance: timestamp + recvWindow + 1 s): keep asking, backing off to 2 s
        venue = self.venues.get(order.command.venue)
        if venue is None:
            return
        delay = 0.2
        for _ in range(attempts):
            try:
                events = await venue.reconcile(order.client_order_id, order.command.symbol)
            except VenueError as exc:
                log.warning("reconcile %s: %s; retrying", order.client_order_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if order.status is OrderStatus.INITIALIZED:
                # crashed between journaling and knowing whether bytes left
                self._apply(
                    OrderStatusUnknown(
                        client_order_id=order.client_order_id,
                        ts_init=self._now(),
                        ts_event=self._now(),
                        reason="restart: send not confirmed",
                    )
                )
            elif order.status is OrderStatus.SUBMITTED:
                self._apply(
                    OrderStatusUnknown(
                        client_order_id=order.client_order_id,
                        ts_init=self._now(),
                        ts_event=self._now(),
                        reason="reconciling",
                    )
                )
            for event in events:
                if isinstance(event, OrderFilled):
                    fill = self._unseen_part(order, event)
                    if fill is not None:
                        self._apply(fill)
                else:
                    self._apply(event)
            self.metrics.inc("reconciled")
            return
        self.metrics.inc("reconcile_failed")

    @staticmethod
    def _unseen_part(order: Order, fill: OrderFilled) -> OrderFilled | None:
        """Return what a fill adds to ``order``, or None when it adds nothing.

        A fill from a query is cumulative (``RECONCILED_FILL_PREFIX``): only the quantity
        beyond what the order has already applied is new, at the price that makes the
        order's average equal the venue's, with the commission not yet counted.
        """
        if fill.trade_id in order.trade_ids:
            return None
        if not fill.trade_id.startswith(RECONCILED_FILL_PREFIX):
            return fill
        new_qty = fill.last_qty - order.filled_qty
        if new_qty <= 0:
            return None
        new_quote = fill.last_px * fill.last_qty - order.avg_px * order.filled_qty
        return msgspec.structs.replace(
            fill,
            last_qty=new_qty,
            last_px=new_quote / new_qty,
            commission=max(Decimal(0), fill.commission - order.commission),
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- operator -------------------------------------------------------------------------
    async def kill(self, source: str) -> Mapping[str, Any]:
        """Halt trading and cancel every open order on every venue; report what was done."""
        self.risk.set_state(TradingState.HALTED, f"kill switch: {source}")
        self.metrics.set("trading_halted", 1)
        canceled: dict[str, Any] = {}
        symbols = {
            r.symbol
            for r in [self.config.strategy.default_route, *self.config.strategy.routes.values()]
        }
        symbols |= {o.command.symbol for o in self.orders.values() if not o.is_final}
        for name, venue in self.venues.items():
            for symbol in sorted(symbols):
                try:
                    canceled[f"{name}:{symbol}"] = await venue.cancel_all(symbol)
                except VenueError as exc:
                    canceled[f"{name}:{symbol}"] = f"failed: {exc}"
        report = {
            "halted": True,
            "source": source,
            "canceled": canceled,
            "open_orders": [o.client_order_id for o in self.orders.values() if not o.is_final],
        }
        log.warning("kill switch (%s): %s", source, report)
        return report

    def _next_id(self, venue: str) -> str:
        # Derived from a journal sequence number no earlier order's row has: unique across
        # restarts, never reused. The engine prepares each venue's next id after a send
        # (``_prepare_id``), so formatting it costs the hot path nothing.
        spare = self._spare_ids.pop(venue, None)
        if spare is not None and spare[0] >= self._min_id_seq:
            return spare[1]
        return self._format_id(venue, self.journal.next_seq)

    def _format_id(self, venue: str, seq: int) -> str:
        client = self.venues.get(venue)
        if client is None:
            return binance_client_order_id(self.namespace, seq)
        return client.client_order_id(self.namespace, seq)

    def _prepare_id(self, venue: str) -> None:
        seq = self.journal.next_seq
        self._spare_ids[venue] = (seq, self._format_id(venue, seq))

    def _remember_whale(self, alert: AlertLike, decision: str) -> None:
        self.whales_seen += 1
        self.recent_whales.append(
            {
                "txid": alert.txid,
                "entity": alert.entity,
                "kind": str(getattr(alert.kind, "value", alert.kind)),
                "value_btc": alert.value / SATS_PER_BTC,
                "decision": decision,
            }
        )

    def status(self) -> Mapping[str, Any]:
        """A JSON-ready snapshot (served at /status and drawn by the dashboard)."""
        counters = self.metrics.counters
        recent = list(self.orders.values())[-10:]
        return {
            "mode": self.config.engine.mode,
            "armed": self.armed,
            "trading_state": self.risk.state.value,
            "state_reason": self.risk.state_reason,
            "uptime_s": (self._now() - self.started_ns) / 1e9,
            "connections": [dict(v.status(), venue=n) for n, v in self.venues.items()],
            "feeds": [{"name": n, "events": c} for n, c in sorted(self.feed_counts.items())],
            "whales": {"seen": self.whales_seen, "recent": list(self.recent_whales)},
            "ignored": dict(self.ignored),
            "orders": {
                "sent": counters.get("orders_sent", 0),
                "filled": counters.get("orders_filled", 0),
                "rejected": counters.get("orders_rejected", 0),
                "denied": counters.get("orders_denied", 0),
                "unknown": sum(1 for o in self.orders.values() if o.status is OrderStatus.UNKNOWN),
                "open": sum(1 for o in self.orders.values() if not o.is_final),
                "recent": [
                    {
                        "client_order_id": o.client_order_id,
                        "side": o.command.side.value,
                        "quantity": str(o.command.quantity),
                        "status": o.status.value,
                        "filled": str(o.filled_qty),
                        "avg_px": f"{o.avg_px:.2f}" if o.filled_qty else "",
                    }
                    for o in recent
                ],
            },
            "positions": {
                sym: {
                    "position": str(b.position),
                    "realized_pnl": f"{b.realized_pnl:.2f}",
                    "unrealized_pnl": f"{b.unrealized_pnl():.2f}",
                    "last_price": str(b.last_price) if b.last_price is not None else "-",
                }
                for sym, b in self.risk.books.items()
            },
            "latency_us": {
                name: {k: (v / 1000 if k != "count" else v) for k, v in lat.summary().items()}
                for name, lat in sorted(
                    self.metrics.latencies.items(), key=lambda item: _STAGE_ORDER.get(item[0], 99)
                )
            },
        }

    def metrics_text(self) -> str:
        """The Prometheus exposition of the engine's metrics."""
        return self.metrics.to_prometheus()

    def position(self, symbol: str) -> Decimal:
        """The current position in ``symbol`` as risk sees it."""
        return self.risk.book(symbol).position


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

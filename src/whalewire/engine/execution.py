"""Execution: the orders of record, and the one owner of what open orders hold.

Every order the engine has sent, or refused, lives here. Everything a venue reports comes
in through ``on_venue_event`` (the sink every venue delivers to), is applied to its order
(``Order.apply``, the one transition table) and journaled. Each open order's unfilled rest
is held in ``reserved`` (per symbol and side), moved here and nowhere else, by exactly what
an event changed of the order's ``leaves_qty``: a fill that comes after a cancel, a late
duplicate or a reconciliation's cumulative fill can never release it twice. Risk reads it.
The position moves by what an event added to the order's cumulative executed quantity
(``Order.executed_after``), never by a report's own quantity: a cancel that states what
executed moves it at once, and the trades' own reports, arriving later on another channel,
add nothing; a trade a reconciliation already summed is not counted again. The journal
replays through the same ``Order.apply``, so it always agrees.

An order that hears nothing within ``ack_timeout_s`` becomes UNKNOWN and is reconciled
by client order id; on start, every order the journal holds that is not final is
reconciled before the strategy is armed. Nothing is ever blindly resent. Cancels (one
order, or every order on a symbol) pass risk and are journaled before they are asked of
the venue; the kill switch halts risk and cancels that way.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Iterable, Mapping
from decimal import Decimal
from typing import Any

from whalewire.engine.events import EventLog
from whalewire.engine.journal import Journal
from whalewire.engine.metrics import Metrics
from whalewire.engine.oms import InvalidTransition, Order, OrderStatus
from whalewire.engine.risk import Reserved, RiskEngine, TradingState
from whalewire.model import (
    CancelOrder,
    OrderAccepted,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderInitialized,
    OrderRejected,
    OrderStatusUnknown,
    OrderSubmitted,
    Side,
    SubmitOrder,
)
from whalewire.venues.contract import Venue, VenueError

log = logging.getLogger("whalewire.engine")

#: journal rows between two checkpoints (each row is one 4 KiB WAL page: ~2 MB of WAL)
CHECKPOINT_ROWS = 500


class Execution:
    """The orders of record: applies venue events, reserves, reconciles, cancels."""

    def __init__(
        self,
        *,
        venues: Mapping[str, Venue],
        journal: Journal,
        risk: RiskEngine,
        metrics: Metrics,
        monotonic_ns: Callable[[], int],
        ack_timeout_s: float = 5.0,
        max_final_orders: int = 256,
        events: EventLog | None = None,
    ) -> None:
        self.venues = venues
        #: the live event log (after the send only: ``emit`` is a deque append)
        self.events = events or EventLog()
        #: why each denied or rejected order in memory was refused (its reason code)
        self.reasons: dict[str, str] = {}
        #: venues that build and sign but never send (``mode = "dry-run"``)
        self.dry_run = frozenset(n for n, v in venues.items() if getattr(v, "dry_run", False))
        self.journal = journal
        self.risk = risk
        self.metrics = metrics
        self._now = monotonic_ns
        self.ack_timeout_s = ack_timeout_s
        #: final orders kept in memory for the dashboard and late events (the journal has
        #: every order): memory stays flat however long the engine runs
        self.max_final_orders = max_final_orders
        self.orders: dict[str, Order] = {}
        #: per symbol, what the open orders could still add on each side (risk reads it)
        self.reserved: dict[str, Reserved] = {}
        #: when each order's bytes were written, until its first answer (ack latency)
        self.submitted_ns: dict[str, int] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self._finals: deque[str] = deque()
        self._reconciling: dict[str, asyncio.Task[None]] = {}
        self._checkpointing = False

    # -- orders coming in from the hot path ------------------------------------------------
    def denied(self, command: SubmitOrder, denial: OrderDenied) -> Order:
        """Journal and keep the final record of a command risk (or routing) refused."""
        self.journal.append(command)
        self.journal.append(denial)
        order = self.orders[command.client_order_id] = Order.denied(command, denial)
        self.metrics.inc("orders_denied")
        self._retire(order)
        log.info("order %s denied: %s %s", command.client_order_id, denial.reason, denial.detail)
        self.events.order("denial", command, OrderStatus.DENIED, denial.reason, denial.detail)
        return order

    def sent(self, init: OrderInitialized, written: int) -> Order:
        """Keep an order whose bytes are on the wire; reserve it; start its ack deadline."""
        coid = init.client_order_id
        command = init.command
        if command.venue in self.dry_run:
            # nothing left the process: final at once, never "sent", never reconciled
            order = self._open(init)
            self.metrics.inc("orders_dry_run")
            self.apply(
                OrderDenied(
                    client_order_id=coid,
                    ts_init=written,
                    ts_event=written,
                    reason=DRY_RUN,
                    detail="dry-run: built and signed, never sent",
                )
            )
            return order
        order = self.orders[coid] = Order(init)
        reserved = self.reserved.get(command.symbol)
        if reserved is None:
            reserved = self.reserved[command.symbol] = Reserved()
        if command.side is Side.BUY:
            reserved.buy += command.quantity
        else:
            reserved.sell += command.quantity
        self.submitted_ns[coid] = written
        self.apply(OrderSubmitted(client_order_id=coid, ts_init=written, ts_event=written))
        self.spawn(self._ack_deadline(order))
        self.maybe_checkpoint()
        return order

    def unsent(self, init: OrderInitialized, why: str) -> Order:
        """Keep an order the venue client refused before any byte left (final, DENIED)."""
        order = self._open(init)
        now = self._now()
        self.apply(
            OrderDenied(
                client_order_id=order.client_order_id,
                ts_init=now,
                ts_event=now,
                reason="VENUE_UNAVAILABLE",
                detail=why,
            )
        )
        return order

    def send_failed(self, init: OrderInitialized, exc: BaseException) -> Order:
        """Keep an order whose write failed midway (UNKNOWN: the venue may have it)."""
        order = self._open(init)
        log.error("order %s: send failed", order.client_order_id, exc_info=exc)
        self.apply(self._unknown(order, f"send failed: {type(exc).__name__}"))
        self.spawn(self._reconcile(order))
        return order

    def _open(self, init: OrderInitialized) -> Order:
        order = self.orders[init.client_order_id] = Order(init)
        self._reserve(init.command, init.command.quantity)
        return order

    # -- what venues report ---------------------------------------------------------------
    def on_venue_event(self, event: OrderEvent) -> None:
        """Apply one event a venue reported (the sink every venue delivers to)."""
        coid = event.client_order_id
        if isinstance(event, OrderAccepted | OrderRejected | OrderFilled):
            sent = self.submitted_ns.pop(coid, None)
            if sent is not None:
                self.metrics.latency("ack").record(self._now() - sent)
        order = self.orders.get(coid)
        if order is None:
            self.metrics.inc("events_for_unknown_orders")
            log.warning(
                "venue reported %s for an order not in memory: %s", type(event).__name__, coid
            )
            return
        self.apply(event)
        if isinstance(event, OrderStatusUnknown) and order.status is OrderStatus.UNKNOWN:
            # silence, a 5xx or a disconnect: only the venue can say what happened
            self.spawn(self._reconcile(order))
        self.maybe_checkpoint()

    def apply(self, event: OrderEvent) -> None:
        """Apply ``event`` to its order, journal it, and move what the order holds."""
        order = self.orders[event.client_order_id]
        was_final = order.is_final
        was = order.status
        filled = order.filled_qty
        quote = order.avg_px * filled
        try:
            order.apply(event)
        except InvalidTransition as exc:
            self.metrics.inc("events_refused")
            log.warning("%s", exc)
            return
        self.journal.append(event)
        c = order.command
        self._emit(order, event, was)
        # what the order holds is its unfilled rest while open, nothing once final: what an
        # event adds to an open order's executed quantity moves from held to the position;
        # closing releases the whole rest; a late fill on a closed order held nothing and
        # releases nothing
        added = order.filled_qty - filled
        if order.is_final:
            if not was_final:
                self._reserve(c, filled - c.quantity)
                self.metrics.inc(f"orders_{order.status.value.lower()}")
                self._retire(order)
        elif added:
            self._reserve(c, -added)
        if added:
            px = (order.avg_px * order.filled_qty - quote) / added
            self.risk.on_fill(c.symbol, c.side, added, px)
        if isinstance(event, OrderFilled):
            self.metrics.inc("fills")

    def _emit(self, order: Order, event: OrderEvent, was: OrderStatus) -> None:
        """Log the order's new state (and a fill) to the event log (formatted later)."""
        events, command, status = self.events, order.command, order.status
        if isinstance(event, OrderFilled):
            events.order("fill", command, status, event.last_qty, event.last_px)
        if isinstance(event, OrderDenied):
            events.order("denial", command, status, event.reason, event.detail)
        elif status is not was:
            events.order("order", command, status, order.filled_qty, getattr(event, "reason", ""))

    def _reserve(self, command: SubmitOrder, qty: Decimal) -> None:
        reserved = self.reserved.get(command.symbol)
        if reserved is None:
            reserved = self.reserved[command.symbol] = Reserved()
        if command.side is Side.BUY:
            reserved.buy += qty
        else:
            reserved.sell += qty

    # -- restart ---------------------------------------------------------------------------
    def restore(self) -> list[str]:
        """Rebuild every order, the position and the reservations from the journal.

        Returns the whale transactions the journal's orders react to, oldest first.
        """
        self.orders = self.journal.replay()
        txids = [o.command.txid for o in self.orders.values() if o.command.txid]
        self.reserved.clear()
        for order in list(self.orders.values()):
            c = order.command
            if order.filled_qty:  # a canceled or expired order's fills are held too
                self.risk.on_fill(c.symbol, c.side, order.filled_qty, order.avg_px)
            if order.is_final:
                self._retire(order)
            else:
                self._reserve(c, order.leaves_qty)
        return txids

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

    # -- cancels ---------------------------------------------------------------------------
    async def cancel(self, client_order_id: str) -> bool:
        """Cancel one open order through risk and the journal; return whether it was asked.

        The venue's answer arrives through the sink like any other event.
        """
        order = self.orders.get(client_order_id)
        if order is None or order.is_final:
            return False
        venue = self.venues.get(order.command.venue)
        if venue is None or not self._cancel_passes(order.command):
            return False
        await venue.cancel(client_order_id, order.command.symbol)
        return True

    async def cancel_all(self, venue_name: str, symbol: str) -> int:
        """Cancel every open order on ``symbol`` at one venue through risk and the journal.

        Each open order of ours there gets its ``CancelOrder`` row first; one request then
        sweeps the symbol (orders this engine does not hold in memory included).

        Raises:
            VenueError: the venue did not answer the request.
        """
        venue = self.venues[venue_name]
        for order in list(self.orders.values()):
            c = order.command
            if not order.is_final and c.venue == venue_name and c.symbol == symbol:
                self._cancel_passes(c)
        return await venue.cancel_all(symbol)

    async def kill(self, source: str, symbols: Iterable[str]) -> Mapping[str, Any]:
        """Halt trading and cancel every open order on every venue; report what was done.

        Risk moves to HALTED first (new orders are denied, cancels pass); then, per venue and
        symbol (``symbols`` and every symbol an open order is on), ``cancel_all``.
        """
        self.risk.set_state(TradingState.HALTED, f"kill switch: {source}")
        self.metrics.set("trading_halted", 1)
        self.events.emit("halt", {"source": source})
        canceled: dict[str, Any] = {}
        every = set(symbols) | {o.command.symbol for o in self.orders.values() if not o.is_final}
        for name in self.venues:
            for symbol in sorted(every):
                try:
                    canceled[f"{name}:{symbol}"] = await self.cancel_all(name, symbol)
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

    def _cancel_passes(self, command: SubmitOrder) -> bool:
        now = self._now()
        cancel = CancelOrder(
            client_order_id=command.client_order_id,
            ts_init=now,
            venue=command.venue,
            symbol=command.symbol,
        )
        if self.risk.check_cancel(cancel) is not None:
            return False
        self.journal.append(cancel)
        return True

    # -- deadlines, reconciliation ---------------------------------------------------------
    async def _ack_deadline(self, order: Order) -> None:
        await asyncio.sleep(self.ack_timeout_s)
        if order.status is OrderStatus.SUBMITTED:
            self.apply(self._unknown(order, f"no answer within {self.ack_timeout_s:g} s"))
            await self._reconcile(order)

    def _unknown(self, order: Order, reason: str) -> OrderStatusUnknown:
        now = self._now()
        return OrderStatusUnknown(
            client_order_id=order.client_order_id, ts_init=now, ts_event=now, reason=reason
        )

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
                self.apply(self._unknown(order, "restart: send not confirmed"))
            elif order.status is OrderStatus.SUBMITTED:
                self.apply(self._unknown(order, "reconciling"))
            for event in events:
                # a query's cumulative fill that adds nothing is not news (nor journaled)
                if isinstance(event, OrderFilled) and (
                    order.executed_after(event) == order.filled_qty
                ):
                    continue
                self.apply(event)
            self.metrics.inc("reconciled")
            return
        self.metrics.inc("reconcile_failed")

    # -- housekeeping ----------------------------------------------------------------------
    def _retire(self, order: Order) -> None:
        """Remember a final order; forget the oldest beyond ``max_final_orders``."""
        last = order.events[-1] if order.events else None
        reason = getattr(last, "reason", "") if order.status in _REFUSED else ""
        if reason:
            self.reasons[order.client_order_id] = str(reason)
        order.events.clear()  # its history is in the journal
        finals = self._finals
        finals.append(order.client_order_id)
        while len(finals) > self.max_final_orders:
            old = self.orders.get(finals.popleft())
            if old is not None and old.is_final:
                del self.orders[old.client_order_id]
                self.reasons.pop(old.client_order_id, None)

    def maybe_checkpoint(self) -> None:
        """Checkpoint the journal in a thread once enough rows piled up (never on the send)."""
        # the loop goes on (feeds, acks) while SQLite copies the WAL back and fsyncs; only
        # a journal write waits, if one comes meanwhile
        if self.journal.uncheckpointed < CHECKPOINT_ROWS or self._checkpointing:
            return
        self._checkpointing = True

        async def checkpoint() -> None:
            try:
                await asyncio.to_thread(self.journal.checkpoint)
            finally:
                self._checkpointing = False

        self.spawn(checkpoint())

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` as a task this execution cancels on ``close``."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def close(self) -> None:
        """Cancel every deadline, reconciliation and checkpoint under way."""
        for task in list(self.tasks):
            task.cancel()


_REFUSED = (OrderStatus.DENIED, OrderStatus.REJECTED)

#: the reason code of a dry run's order: built and signed, never sent
DRY_RUN = "DRY_RUN"

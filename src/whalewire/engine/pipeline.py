"""The hot path, one way: feed event → detector → armed order (or strategy → risk) → intent
→ ``venue.place``.

One synchronous call chain on the event loop's thread, from a feed's raw transaction to
the order's bytes on the socket (DESIGN.md): only timestamps are taken on the way. The
intent (``OrderInitialized``) is in the OS before the first byte goes out; the order's
record, its SQLite rows, metrics, logs and journal checkpoints come after the write and
belong to execution (``engine/execution.py``), which the pipeline hands each order to.
A whale fires the reflex's armed order when its pre-computed verdict holds
(``engine/reflex.py``); otherwise strategy and risk decide, the reference path. Marks are
pushed (by market data, or by the reflex at re-arm time), never read per order.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from whalewire.engine.execution import DRY_RUN, Execution
from whalewire.engine.ids import OrderIds
from whalewire.engine.journal import Journal
from whalewire.engine.metrics import Metrics
from whalewire.engine.oms import Order, OrderStatus
from whalewire.engine.reflex import Reflex
from whalewire.engine.risk import RiskEngine
from whalewire.engine.strategy import AlertIgnored, AlertLike, IgnoreReason, WhaleStrategy
from whalewire.mempool.feeds.events import EventKind, RawTxEvent
from whalewire.mempool.tx import TxParseError
from whalewire.model import OrderDenied, OrderEvent, OrderInitialized, SubmitOrder
from whalewire.venues.contract import Venue, VenueUnavailable

log = logging.getLogger("whalewire.engine")

SATS_PER_BTC = 100_000_000


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

    def rehearse(self) -> AlertLike | None:
        """Detect once on a shadow whale (for warm-up); None when there is nothing to detect."""
        ...


class Pipeline:
    """Turns feed events into sent orders, and counts what it saw on the way."""

    def __init__(
        self,
        *,
        detector: Detector,
        strategy: WhaleStrategy,
        risk: RiskEngine,
        journal: Journal,
        venues: Mapping[str, Venue],
        execution: Execution,
        ids: OrderIds,
        metrics: Metrics,
        monotonic_ns: Callable[[], int],
        fast: bool = True,
    ) -> None:
        self.detector = detector
        self.strategy = strategy
        self.risk = risk
        self.journal = journal
        self.venues = venues
        self.execution = execution
        self.ids = ids
        self.metrics = metrics
        self._now = monotonic_ns
        #: False until start-up has reconciled what the journal left open
        self._armed = False
        #: the armed orders; ``fast``: whales fire them (else every whale takes the
        #: reference path, which the reflex is proven equal to)
        self.reflex = Reflex(strategy=strategy, risk=risk, venues=venues)
        self.fast = fast
        self.feed_counts: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.whales_seen = 0
        self.recent_whales: deque[dict[str, Any]] = deque(maxlen=20)

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

    @property
    def armed(self) -> bool:
        """Whether whales are traded (set once start-up has reconciled the journal)."""
        return self._armed

    @armed.setter
    def armed(self, value: bool) -> None:
        self._armed = value
        if value:
            self.reflex.rearm()  # marks pushed and orders armed before the first whale

    def on_venue_event(self, event: OrderEvent) -> None:
        """Hand a venue's event to execution, then re-arm (the sink venues deliver to)."""
        self.execution.on_venue_event(event)
        self.reflex.rearm()

    def on_alert(self, alert: AlertLike, *, mined: bool = False) -> None:
        """Decide on one whale alert and, if the strategy acts, send the order.

        The armed order goes when the reflex says it may (``engine/reflex.py``); otherwise
        the strategy and risk decide here, the reference path.
        """
        t_alert = self._now()
        if not self._armed:
            return
        command = None if mined or not self.fast else self.reflex.fire(alert)
        if command is not None:
            t_decided = self._now()
            order = self._send(command, self.venues[command.venue], t_alert, t_decided)
        else:
            decision = self.strategy.on_alert(alert, mined=mined)
            t_decided = self._now()
            if isinstance(decision, AlertIgnored):
                reason = decision.reason
                self.ignored[reason.value] += 1
                if reason is not IgnoreReason.DUPLICATE:  # decided now, once for all restarts
                    self.journal.decide(decision.txid, reason.value)
                self._remember_whale(alert, reason.value)
                return
            command = decision
            order = self.submit(command)
        m = self.metrics
        m.latency("detect").record(t_alert - alert.recv_ns)
        m.latency("decide").record(t_decided - t_alert)
        sent = self.execution.submitted_ns.get(command.client_order_id)
        if sent is not None:
            m.latency("trigger_to_send").record(sent - alert.recv_ns)
        if order.status is OrderStatus.DENIED:
            code = self.execution.reasons.get(order.client_order_id, "")
            if code == DRY_RUN:
                self._remember_whale(alert, f"dry-run {command.side.value} {command.quantity}")
            else:
                self._remember_whale(alert, f"DENIED {code}")
        else:
            self._remember_whale(alert, f"{command.side.value} {command.quantity}")

    def submit(self, command: SubmitOrder) -> Order:
        """Risk-check, journal and send one order command; return the order's record."""
        t0 = self._now()
        venue = self.venues.get(command.venue)
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
            order = self.execution.denied(command, denial)
            self.ids.taken(self.journal.next_seq - 1)
            self.reflex.rearm()
            return order
        assert venue is not None
        return self._send(command, venue, t0, t_risk)

    def _send(self, command: SubmitOrder, venue: Venue, t0: int, t_risk: int) -> Order:
        """Journal the intent, write the order, then the bookkeeping (both paths end here)."""
        init = OrderInitialized(
            client_order_id=command.client_order_id,
            ts_init=t_risk,
            ts_event=t_risk,
            command=command,
        )
        # the intent is in the OS before a byte goes out; its SQLite row follows the send
        self.ids.taken(self.journal.intend(init))
        t_journal = self._now()
        try:
            written = venue.place(command)
        except VenueUnavailable as exc:
            order = self.execution.unsent(init, exc.why)
            self.reflex.rearm()
            return order
        except Exception as exc:  # a failure mid-write: the venue may have the order
            order = self.execution.send_failed(init, exc)
            self.reflex.rearm()
            return order
        # after the bytes are out: bookkeeping (the venue's answer comes through the event
        # loop, so the order exists before anything can be reported about it)
        order = self.execution.sent(init, written)
        m = self.metrics
        if order.status is not OrderStatus.DENIED:  # DENIED: a dry run's, never sent
            m.inc("orders_sent")
        m.latency("risk").record(t_risk - t0)
        m.latency("journal").record(t_journal - t_risk)
        m.latency("send").record(written - t_journal)
        self.ids.prepare(command.venue)
        self.reflex.rearm()  # its reservation moved: the next whale's order is armed anew
        return order

    def _remember_whale(self, alert: AlertLike, decision: str) -> None:
        """Count the whale, keep it for the status view, and log it (after any send)."""
        self.whales_seen += 1
        whale = {
            "txid": alert.txid,
            "entity": alert.entity,
            "kind": str(getattr(alert.kind, "value", alert.kind)),
            "value_btc": alert.value / SATS_PER_BTC,
            "decision": decision,
        }
        self.recent_whales.append(whale)
        # stamped when its transaction arrived (the protocol does not promise the field)
        self.execution.events.emit("whale", whale, getattr(alert, "recv_wall_ns", 0))

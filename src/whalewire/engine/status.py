"""The status view: a read-only, JSON-ready snapshot for ``/status``, the dashboard and metrics.

It reads the pipeline's counters, execution's orders, risk's books, the venues' own status
and the metrics; it changes none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from whalewire.engine.config import Config
from whalewire.engine.events import EventLog
from whalewire.engine.execution import Execution
from whalewire.engine.metrics import STAGES, Metrics, state_exposition
from whalewire.engine.oms import OrderStatus
from whalewire.engine.pipeline import Pipeline
from whalewire.engine.risk import RiskEngine
from whalewire.venues.contract import Venue

#: pipeline order of the latency stages, for the snapshot and the dashboard
_STAGE_ORDER = {name: i for i, name in enumerate(STAGES)}


class StatusView:
    """Reads one engine's parts for the control plane, the dashboard and the runner."""

    def __init__(
        self,
        *,
        config: Config,
        pipeline: Pipeline,
        execution: Execution,
        risk: RiskEngine,
        venues: Mapping[str, Venue],
        metrics: Metrics,
        monotonic_ns: Callable[[], int],
    ) -> None:
        self.config = config
        self.pipeline = pipeline
        self.execution = execution
        self.risk = risk
        self.venues = venues
        self.metrics = metrics
        self._now = monotonic_ns
        self.started_ns = monotonic_ns()
        #: each live book's top and health (``engine/marketdata.py``; None: no market data)
        self.books: Callable[[], Mapping[str, Any]] | None = None
        #: the live event log (recent events, denials by reason)
        self.events: EventLog = execution.events
        #: per-feed counters of the deduplicating monitor (set by whoever runs the feeds):
        #: ``name``, ``first``, ``duplicates``, ``lost``
        self.feed_stats: Callable[[], list[dict[str, Any]]] | None = None
        #: the control endpoint's URL, once it listens (shown by the dashboards)
        self.control_url = ""

    def status(self) -> Mapping[str, Any]:
        """A JSON-ready snapshot (served at /status and drawn by the dashboard)."""
        pipeline, risk, metrics = self.pipeline, self.risk, self.metrics
        counters = metrics.counters
        orders = self.execution.orders
        recent = list(orders.values())[-10:]
        return {
            "mode": self.config.engine.mode,
            "armed": pipeline.armed,
            "trading_state": risk.state.value,
            "state_reason": risk.state_reason,
            "uptime_s": (self._now() - self.started_ns) / 1e9,
            "control_url": self.control_url,
            "connections": [
                dict(v.status(), venue=n, **_clock_and_limits(v)) for n, v in self.venues.items()
            ],
            "feeds": self._feeds(),
            "whales": {"seen": pipeline.whales_seen, "recent": list(pipeline.recent_whales)},
            "ignored": dict(pipeline.ignored),
            "orders": {
                "sent": counters.get("orders_sent", 0),
                "filled": counters.get("orders_filled", 0),
                "rejected": counters.get("orders_rejected", 0),
                "denied": counters.get("orders_denied", 0),
                "denied_by_reason": dict(self.events.denials),
                "dry_run": counters.get("orders_dry_run", 0),
                "unknown": sum(1 for o in orders.values() if o.status is OrderStatus.UNKNOWN),
                "open": sum(1 for o in orders.values() if not o.is_final),
                "recent": [
                    {
                        "client_order_id": o.client_order_id,
                        "side": o.command.side.value,
                        "quantity": str(o.command.quantity),
                        "status": o.status.value,
                        "filled": str(o.filled_qty),
                        "avg_px": f"{o.avg_px:.2f}" if o.filled_qty else "",
                        "reason": self.execution.reasons.get(o.client_order_id, ""),
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
                for sym, b in risk.books.items()
            },
            "books": dict(self.books()) if self.books is not None else {},
            "events": list(self.events.recent)[-20:],
            "latency_us": {
                name: {k: (v / 1000 if k != "count" else v) for k, v in lat.summary().items()}
                for name, lat in sorted(
                    metrics.latencies.items(), key=lambda item: _STAGE_ORDER.get(item[0], 99)
                )
            },
        }

    def _feeds(self) -> list[dict[str, Any]]:
        """Events per feed, with the monitor's duplicates and gaps (lost) when it runs."""
        stats = {s["name"]: s for s in self.feed_stats()} if self.feed_stats else {}
        names = sorted(set(self.pipeline.feed_counts) | set(stats))
        return [
            {
                "name": n,
                "events": self.pipeline.feed_counts.get(n, 0),
                "duplicates": stats.get(n, {}).get("duplicates", 0),
                "gaps": stats.get(n, {}).get("lost", 0),
            }
            for n in names
        ]

    def metrics_text(self) -> str:
        """The Prometheus exposition: the hot path's counters and latencies, then the state
        read from one snapshot (trading state, venues, feeds, orders, denials, P&L)."""
        return self.metrics.to_prometheus() + state_exposition(self.status(), self.events.counts)


def _clock_and_limits(venue: object) -> dict[str, Any]:
    """A venue's clock offset (ms) and rate-limit headroom (0..1), where its client has them.

    Read off the hot path when a snapshot is taken; a client without a ``clock`` (offset
    tracking) or a ``limiter`` with windows shows neither.
    """
    out: dict[str, Any] = {}
    offset = getattr(getattr(venue, "clock", None), "offset_ns", None)
    if isinstance(offset, int):
        out["clock_offset_ms"] = offset / 1e6
    windows = getattr(getattr(venue, "limiter", None), "windows", None)
    if isinstance(windows, list) and windows:
        free = [max(0.0, 1 - w.count / w.limit) for w in windows if getattr(w, "limit", 0) > 0]
        if free:
            out["rate_limit_headroom"] = min(free)
    return out

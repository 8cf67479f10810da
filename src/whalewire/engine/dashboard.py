"""The live terminal dashboard: renders the engine's ``status()`` snapshot with rich.

It reads the same JSON-shaped snapshot that ``GET /status`` serves, so what the operator
sees on screen and what a script sees over HTTP cannot disagree. Rendering happens on a
timer, off the hot path.

The first two lines (trading state; the control endpoint and the kill switch) are never
dropped. On a terminal of fewer than ``TALL`` lines (80x24 included) the panels lose their
borders, the lists their older rows and the latency table its rarer columns, so nothing
the operator needs scrolls away.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

STATE_STYLE = {"ACTIVE": "bold green", "REDUCING": "bold yellow", "HALTED": "bold red"}

#: terminal height from which the full, bordered layout is drawn
TALL = 40

#: the latency stages shown on a short terminal (the whole path, and its parts that vary)
SHORT_STAGES = ("detect", "trigger_to_send", "send", "ack")


def _table(*columns: str) -> Table:
    table = Table(expand=True, box=None, pad_edge=False)
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right", no_wrap=True)
    return table


def _fmt_us(summary: Mapping[str, Any] | None, key: str) -> str:
    if not summary or not summary.get("count"):
        return "-"
    return f"{summary[key]:.1f}"


def header(status: Mapping[str, Any]) -> Group:
    """The two lines always shown: trading state, and how to stop it."""
    state = str(status.get("trading_state", "?"))
    head = Text.assemble(
        ("whalewire ", "bold"),
        (f"mode={status.get('mode', '?')}  ", "cyan"),
        ("trading ", ""),
        (state, STATE_STYLE.get(state, "bold")),
        (f"  {status.get('state_reason', '')}", "dim"),
        (f"   up {status.get('uptime_s', 0):.0f}s", "dim"),
    )
    url = status.get("control_url") or "?"
    control = Text.assemble(
        ("control ", "dim"), (str(url), "bold"), ("  kill: whalewire kill", "dim")
    )
    head.no_wrap = control.no_wrap = True
    head.overflow = control.overflow = "ellipsis"
    return Group(head, control)


def counts_line(status: Mapping[str, Any]) -> Text:
    """Whales, orders by outcome, denials by reason, ignored alerts: one line."""
    whales = status.get("whales", {})
    orders = status.get("orders", {})
    reasons = orders.get("denied_by_reason", {})
    denied = f"denied {orders.get('denied', 0)}"
    if reasons:
        denied += " (" + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) + ")"
    dry = f" dry-run {orders['dry_run']}" if orders.get("dry_run") else ""
    text = Text(
        f"whales {whales.get('seen', 0)} | orders sent {orders.get('sent', 0)} "
        f"filled {orders.get('filled', 0)} rejected {orders.get('rejected', 0)} {denied} "
        f"unknown {orders.get('unknown', 0)}{dry} | ignored "
        f"{sum(status.get('ignored', {}).values())}"
    )
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def render(status: Mapping[str, Any], *, height: int | None = None) -> Group:
    """Build the dashboard for one ``status()`` snapshot, for a terminal ``height`` lines tall."""
    short = height is not None and height < TALL
    rows = 3 if short else 6

    conns = _table("venue", "state", "RTT p50 µs", "p99 µs", "sent", "acks", "reconn")
    for c in status.get("connections", []):
        rtt = c.get("rtt_us")
        conns.add_row(
            str(c.get("venue")),
            "up" if c.get("connected") else "[red]down[/red]",
            _fmt_us(rtt, "p50"),
            _fmt_us(rtt, "p99"),
            str(c.get("sent", 0)),
            str(c.get("acks", 0)),
            str(c.get("reconnects", 0)),
        )

    feeds = _table("feed", "txs", "dups", "gaps")
    for f in status.get("feeds", []):
        feeds.add_row(
            str(f.get("name")),
            str(f.get("events", 0)),
            str(f.get("duplicates", 0)),
            str(f.get("gaps", 0)),
        )

    whales = status.get("whales", {})
    wt = _table("whale txid", "entity", "kind", "BTC", "decision")
    for w in whales.get("recent", [])[-rows:]:
        wt.add_row(
            str(w["txid"])[: 10 if short else 16] + "…",
            str(w["entity"]),
            str(w["kind"]),
            f"{w['value_btc']:.4f}",
            str(w.get("decision", "")),
        )

    orders = status.get("orders", {})
    ot = _table("order", "side", "qty", "status", "filled", "avg px / reason")
    for o in orders.get("recent", [])[-rows:]:
        ot.add_row(
            str(o["client_order_id"]),
            str(o["side"]),
            str(o["quantity"]),
            str(o["status"]),
            str(o["filled"]),
            str(o.get("reason") or o.get("avg_px", "")),
        )

    pt = _table("symbol", "position", "realized", "unrealized", "last")
    for sym, p in status.get("positions", {}).items():
        pt.add_row(
            sym,
            str(p["position"]),
            str(p["realized_pnl"]),
            str(p["unrealized_pnl"]),
            str(p.get("last_price", "-")),
        )

    bt = _table("book", "bid", "ask", "spread", "synced", "resyncs", "gaps", "lag ms")
    for key, b in status.get("books", {}).items():
        lag = b.get("lag_ms")
        bt.add_row(
            key,
            f"{b['bid']} x {b['bid_qty']}" if b.get("bid") is not None else "-",
            f"{b['ask']} x {b['ask_qty']}" if b.get("ask") is not None else "-",
            f"{b['spread']:.8g}" if b.get("spread") is not None else "-",
            "yes" if b.get("synced") else "NO",
            str(b.get("resyncs", 0)),
            str(b.get("gaps", 0) + b.get("checksum_failures", 0)),
            f"{lag:.1f}" if lag is not None else "-",
        )

    latency = status.get("latency_us", {})
    if short:
        lt = _table("stage", "n", "p50 µs", "p99 µs")
        for name in SHORT_STAGES:
            s = latency.get(name, {})
            lt.add_row(name, str(int(s.get("count", 0))), _fmt_us(s, "p50"), _fmt_us(s, "p99"))
    else:
        lt = _table("stage", "n", "p50 µs", "p99 µs", "p99.9 µs")
        for name, s in latency.items():
            lt.add_row(
                name,
                str(int(s.get("count", 0))),
                _fmt_us(s, "p50"),
                _fmt_us(s, "p99"),
                _fmt_us(s, "p99.9"),
            )

    parts: list[tuple[str, RenderableType]] = [
        ("venues", conns),
        ("feeds", feeds),
        ("whales and decisions", Group(counts_line(status), wt)),
        ("orders and fills", ot),
        ("P&L", pt),
        *([("books", bt)] if status.get("books") and not short else []),
        ("latency", lt),
    ]
    if short:  # no borders: a panel costs two lines
        return Group(header(status), *(body for _, body in parts))
    events = _table("time", "event")
    for e in status.get("events", [])[-rows:]:
        events.add_row(str(e.get("ts", ""))[11:23], str(e.get("line", e.get("event", ""))))
    parts.append(("recent events", events))
    return Group(
        header(status), *(Panel(body, title=title, title_align="left") for title, body in parts)
    )

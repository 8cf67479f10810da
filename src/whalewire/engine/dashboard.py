"""The live terminal dashboard: renders the engine's ``status()`` snapshot with rich.

It reads the same JSON-shaped snapshot that ``GET /status`` serves, so what the operator
sees on screen and what a script sees over HTTP cannot disagree. Rendering happens on a
timer, off the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

STATE_STYLE = {"ACTIVE": "bold green", "REDUCING": "bold yellow", "HALTED": "bold red"}


def _table(*columns: str) -> Table:
    table = Table(expand=True, box=None, pad_edge=False)
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right", no_wrap=True)
    return table


def _fmt_us(summary: Mapping[str, Any] | None, key: str) -> str:
    if not summary or not summary.get("count"):
        return "-"
    return f"{summary[key]:.1f}"


def render(status: Mapping[str, Any]) -> Group:
    """Build the dashboard for one ``status()`` snapshot."""
    state = str(status.get("trading_state", "?"))
    head = Text.assemble(
        ("whalewire ", "bold"),
        (f"mode={status.get('mode', '?')}  ", "cyan"),
        ("trading ", ""),
        (state, STATE_STYLE.get(state, "bold")),
        (f"  {status.get('state_reason', '')}", "dim"),
        (f"   up {status.get('uptime_s', 0):.0f}s", "dim"),
    )

    conns = _table("connection", "state", "RTT p50 µs", "RTT p99 µs", "sent", "acks")
    for c in status.get("connections", []):
        rtt = c.get("rtt_us")
        conns.add_row(
            str(c.get("venue")),
            "up" if c.get("connected") else "[red]down[/red]",
            _fmt_us(rtt, "p50"),
            _fmt_us(rtt, "p99"),
            str(c.get("sent", 0)),
            str(c.get("acks", 0)),
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
    for w in whales.get("recent", [])[-6:]:
        wt.add_row(
            str(w["txid"])[:16] + "…",
            str(w["entity"]),
            str(w["kind"]),
            f"{w['value_btc']:.4f}",
            str(w.get("decision", "")),
        )

    orders = status.get("orders", {})
    ot = _table("order", "side", "qty", "status", "filled", "avg px")
    for o in orders.get("recent", [])[-6:]:
        ot.add_row(
            str(o["client_order_id"]),
            str(o["side"]),
            str(o["quantity"]),
            str(o["status"]),
            str(o["filled"]),
            str(o.get("avg_px", "")),
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

    lt = _table("stage", "n", "p50 µs", "p99 µs", "p99.9 µs")
    for name, s in status.get("latency_us", {}).items():
        lt.add_row(
            name,
            str(int(s.get("count", 0))),
            _fmt_us(s, "p50"),
            _fmt_us(s, "p99"),
            _fmt_us(s, "p99.9"),
        )

    counts = Text(
        f"whales seen {whales.get('seen', 0)}   orders {orders.get('sent', 0)} sent, "
        f"{orders.get('filled', 0)} filled, {orders.get('rejected', 0)} rejected, "
        f"{orders.get('denied', 0)} denied, {orders.get('unknown', 0)} unknown   "
        f"ignored alerts {sum(status.get('ignored', {}).values())}"
    )
    return Group(
        head,
        Panel(conns, title="venues", title_align="left"),
        Panel(feeds, title="feeds", title_align="left"),
        Panel(Group(counts, wt), title="whales and decisions", title_align="left"),
        Panel(ot, title="orders and fills", title_align="left"),
        Panel(pt, title="P&L", title_align="left"),
        *([Panel(bt, title="books", title_align="left")] if status.get("books") else []),
        Panel(lt, title="latency", title_align="left"),
    )

"""The run report: a terminal table and a self-contained HTML page with histograms.

The page opens with the run's summary (mode, duration, whales, decisions, orders, fills,
denials, P&L, halts), then the latency table and one histogram per stage. The histograms
are inline SVG with labelled axes (latency in µs on a log scale; samples per bucket) and
each bar's count written on it, so the report is one file with no script, no network
fetch and no plotting dependency (a plotting library would add tens of MB to the install
for a few bar charts); it opens anywhere, offline. A percentile from fewer than
``FEW_SAMPLES`` samples is marked: p99 of 3 samples is just the largest of them.
"""

from __future__ import annotations

import html
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.table import Table

from whalewire.engine.metrics import STAGES, Latency, Metrics

#: below this many samples a tail percentile (p99, p99.9) is marked as unreliable
FEW_SAMPLES = 100


def _us(ns: float) -> str:
    return f"{ns / 1000:.1f}"


def latency_table(metrics: Metrics) -> Table:
    """Return the per-stage latency table (µs) for the terminal."""
    table = Table(title="latency by stage (µs)", title_justify="left")
    for col in ("stage", "what", "count", "p50", "p99", "p99.9", "max"):
        table.add_column(col, justify="left" if col in ("stage", "what") else "right")
    for name, lat in _ordered(metrics):
        s = lat.summary()
        if not s["count"]:
            table.add_row(name, lat.description, "0", "-", "-", "-", "-")
            continue
        table.add_row(
            name,
            lat.description,
            str(int(s["count"])),
            _us(s["p50"]),
            _us(s["p99"]),
            _us(s["p99.9"]),
            _us(s["max"]),
        )
    return table


def _ordered(metrics: Metrics) -> list[tuple[str, Latency]]:
    known = [(n, metrics.latencies[n]) for n in STAGES if n in metrics.latencies]
    rest = sorted((n, lat) for n, lat in metrics.latencies.items() if n not in STAGES)
    return known + rest


def _svg_histogram(lat: Latency, width: int = 600, height: int = 190) -> str:
    """Bars of samples per bucket, with both axes labelled and each bar's count on it."""
    buckets = lat.buckets(32)
    if not buckets:
        return "<p>no samples</p>"
    peak = max(c for _, c in buckets) or 1
    left, bottom, top = 46, 36, 14  # room for the y axis label, the x axis labels, counts
    plot_w, plot_h = width - left, height - bottom - top
    bar_w = plot_w / len(buckets)
    parts = [
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" stroke="#333"/>',
        f'<text x="{left - 4}" y="{top + 8}" font-size="10" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>',
        f'<text x="12" y="{top + plot_h / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + plot_h / 2})">samples</text>',
    ]
    for i, (upper, count) in enumerate(buckets):
        h = plot_h * count / peak
        x = left + i * bar_w
        y = top + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
            f'fill="#3b7dd8"><title>≤ {_us(upper)} µs: {count}</title></rect>'
        )
        if count:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 2:.1f}" font-size="9" '
                f'text-anchor="middle">{count}</text>'
            )
    first, last = buckets[0][0], buckets[-1][0]
    base = top + plot_h + 13
    parts += [
        f'<text x="{left}" y="{base}" font-size="10">{_us(first)}</text>',
        f'<text x="{width}" y="{base}" font-size="10" text-anchor="end">{_us(last)}</text>',
        f'<text x="{left + plot_w / 2}" y="{height - 4}" font-size="11" '
        'text-anchor="middle">latency, µs (log scale; bar: samples up to its bound)</text>',
    ]
    return (
        f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-label="{html.escape(lat.name)} latency histogram">'
        + "".join(parts)
        + "</svg>"
    )


def _percentile_cells(s: Mapping[str, float]) -> list[str]:
    few = s["count"] < FEW_SAMPLES
    cells = [_us(s["p50"])]
    for key in ("p99", "p99.9"):
        cells.append(_us(s[key]) + (" *" if few else ""))
    cells.append(_us(s["max"]))
    return cells


#: the summary's rows: (key of the summary mapping, label)
SUMMARY_ROWS = (
    ("mode", "mode"),
    ("duration", "duration"),
    ("whales", "whales seen"),
    ("decisions", "decisions (orders tried + alerts ignored)"),
    ("orders", "orders sent"),
    ("fills", "fills"),
    ("denials", "denials"),
    ("pnl", "P&L (realized / unrealized)"),
    ("halts", "halts"),
)


def summary_html(summary: Mapping[str, Any]) -> str:
    """The run summary as an HTML table (rows the mapping does not have are left out)."""
    rows = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(str(summary[key]))}</td></tr>"
        for key, label in SUMMARY_ROWS
        if key in summary
    )
    return f'<h2>run summary</h2><table class="summary">{rows}</table>'


def write_html(
    metrics: Metrics,
    path: str | Path,
    *,
    title: str = "whalewire run report",
    summary: Mapping[str, Any] | None = None,
    note: str = "",
) -> Path:
    """Write the HTML report to ``path`` and return it."""
    rows = []
    sections = []
    few = False
    for name, lat in _ordered(metrics):
        s = lat.summary()
        cells = [name, lat.description, str(int(s["count"]))]
        if s["count"]:
            cells += _percentile_cells(s)
            few = few or s["count"] < FEW_SAMPLES
        else:
            cells += ["-"] * 4
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        sections.append(
            f"<h3>{html.escape(name)}</h3><p>{html.escape(lat.description)} "
            f"({int(s['count'])} samples)</p>" + _svg_histogram(lat)
        )
    machine = f"{platform.node()} · {platform.machine()} · Python {platform.python_version()}"
    caveat = (
        f"<p>* fewer than {FEW_SAMPLES} samples: p99 and p99.9 are the largest few samples, "
        "not a tail estimate.</p>"
        if few
        else ""
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 10px;text-align:right}}
td:nth-child(-n+2),th:nth-child(-n+2){{text-align:left}}table{{border-collapse:collapse}}
tr:nth-child(even){{background:#f2f2f2}}table.summary th{{text-align:left}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(machine)} · {time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}</p>
{summary_html(summary) if summary else ""}
{f"<p>{html.escape(note)}</p>" if note else ""}
<h2>latency by stage</h2>
<table><tr><th>stage</th><th>what</th><th>count</th><th>p50 µs</th><th>p99 µs</th>
<th>p99.9 µs</th><th>max µs</th></tr>
{"".join(rows)}
</table>
{caveat}
{"".join(sections)}
</body></html>
"""
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


def run_summary(status: Mapping[str, Any], halts: int) -> dict[str, Any]:
    """The report's summary from an engine's final ``status()`` snapshot."""
    orders = status.get("orders", {})
    whales = status.get("whales", {})
    reasons = orders.get("denied_by_reason", {})
    denials = str(orders.get("denied", 0)) + (
        " (" + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) + ")" if reasons else ""
    )
    pnl = "; ".join(
        f"{sym} {p['realized_pnl']} / {p['unrealized_pnl']}"
        for sym, p in status.get("positions", {}).items()
    )
    return {
        "mode": status.get("mode", "?"),
        "duration": f"{status.get('uptime_s', 0):.1f} s",
        "whales": whales.get("seen", 0),
        "decisions": whales.get("seen", 0),
        "orders": orders.get("sent", 0),
        "fills": orders.get("filled", 0),
        "denials": denials,
        "pnl": pnl or "-",
        "halts": halts,
    }

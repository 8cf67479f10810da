"""The latency report: a terminal table and a self-contained HTML page with histograms.

The HTML draws its histograms as inline SVG, so the report is one file with no script,
no network fetch and no plotting dependency; it opens anywhere, offline.
"""

from __future__ import annotations

import html
import platform
import time
from pathlib import Path

from rich.table import Table

from whalewire.engine.metrics import STAGES, Latency, Metrics


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


def _svg_histogram(lat: Latency, width: int = 560, height: int = 140) -> str:
    buckets = lat.buckets(32)
    if not buckets:
        return "<p>no samples</p>"
    peak = max(c for _, c in buckets) or 1
    bar_w = width / len(buckets)
    bars = []
    for i, (upper, count) in enumerate(buckets):
        h = (height - 20) * count / peak
        x = i * bar_w
        bars.append(
            f'<rect x="{x:.1f}" y="{height - 20 - h:.1f}" width="{bar_w - 1:.1f}" '
            f'height="{h:.1f}" fill="#3b7dd8"><title>≤ {_us(upper)} µs: {count}</title></rect>'
        )
    first, last = buckets[0][0], buckets[-1][0]
    axis = (
        f'<text x="0" y="{height - 4}" font-size="11">{_us(first)} µs</text>'
        f'<text x="{width}" y="{height - 4}" font-size="11" text-anchor="end">'
        f"{_us(last)} µs (log scale)</text>"
    )
    return (
        f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(bars)
        + axis
        + "</svg>"
    )


def write_html(metrics: Metrics, path: str | Path, *, title: str = "whalewire latency") -> Path:
    """Write the HTML report to ``path`` and return it."""
    rows = []
    sections = []
    for name, lat in _ordered(metrics):
        s = lat.summary()
        cells = [name, lat.description, str(int(s["count"]))]
        if s["count"]:
            cells += [_us(s[k]) for k in ("p50", "p99", "p99.9", "max")]
        else:
            cells += ["-"] * 4
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        sections.append(
            f"<h2>{html.escape(name)}</h2><p>{html.escape(lat.description)}</p>"
            + _svg_histogram(lat)
        )
    machine = f"{platform.node()} · {platform.machine()} · Python {platform.python_version()}"
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 10px;text-align:right}}
td:nth-child(-n+2),th:nth-child(-n+2){{text-align:left}}table{{border-collapse:collapse}}
tr:nth-child(even){{background:#f2f2f2}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(machine)} · {time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}</p>
<table><tr><th>stage</th><th>what</th><th>count</th><th>p50 µs</th><th>p99 µs</th>
<th>p99.9 µs</th><th>max µs</th></tr>
{"".join(rows)}
</table>
{"".join(sections)}
</body></html>
"""
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out

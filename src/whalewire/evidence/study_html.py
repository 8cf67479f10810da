"""The event study as one HTML page: plots in inline SVG, tables, no script, no network.

For each way of grouping whales (by entity, by size bucket) one chart: the mean move of
the mid in basis points at each horizon, one line per group, its 95 % interval as a bar,
zero marked, so a trader sees at a glance which groups move the price, which way and
when. Tables give the same figures, the traded volume and every whale. Like the run
report (``engine/report.py``) it needs no plotting library and opens anywhere, offline.
"""

from __future__ import annotations

import html
from pathlib import Path

from whalewire.evidence.study import HORIZON_NAMES, GroupResult, Interval, Study

#: line colours of the groups, in order (colour-blind safe: Okabe-Ito)
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")

_W, _H = 640, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 150, 20, 40


def _horizon(h: float) -> str:
    return HORIZON_NAMES.get(h, f"+{h:g} s")


def _fmt(iv: Interval | None, unit: str = "") -> str:
    if iv is None:
        return "-"
    if iv.low is None or iv.high is None:
        return f"{iv.mean:.2f}{unit} (n={iv.n})"
    text = f"{iv.mean:.2f}{unit} [{iv.low:.2f}, {iv.high:.2f}] n={iv.n}"
    return f"<b>{text}</b>" if iv.excludes_zero else text


def chart(title: str, horizons: tuple[float, ...], groups: list[GroupResult]) -> str:
    """Return an SVG of each group's mean move per horizon with its interval."""
    values = [
        v
        for g in groups
        for iv in g.moves
        if iv is not None
        for v in (iv.mean, iv.low, iv.high)
        if v is not None
    ]
    lo, hi = min([0.0, *values]), max([0.0, *values])
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    plot_w = _W - _LEFT - _RIGHT
    plot_h = _H - _TOP - _BOTTOM

    def x(i: int) -> float:
        return _LEFT + (plot_w * (i + 0.5) / len(horizons))

    def y(v: float) -> float:
        return _TOP + plot_h * (hi - v) / (hi - lo)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#ccc"/>',
        f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
        'stroke="#888" stroke-dasharray="4 3"/>',
        f'<text x="12" y="{_TOP + plot_h / 2:.0f}" font-size="11" '
        f'transform="rotate(-90 12 {_TOP + plot_h / 2:.0f})" text-anchor="middle">'
        "mid move (bps)</text>",
    ]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        out.append(
            f'<text x="{_LEFT - 6}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">'
            f"{v:.1f}</text>"
        )
    for i, h in enumerate(horizons):
        out.append(
            f'<text x="{x(i):.1f}" y="{_H - _BOTTOM + 16}" font-size="11" '
            f'text-anchor="middle">{html.escape(_horizon(h))}</text>'
        )
    for n, g in enumerate(groups):
        colour = COLOURS[n % len(COLOURS)]
        shift = (n - (len(groups) - 1) / 2) * 4  # groups side by side, not on top
        points = []
        for i, iv in enumerate(g.moves):
            if iv is None:
                continue
            cx = x(i) + shift
            points.append(f"{cx:.1f},{y(iv.mean):.1f}")
            if iv.low is not None and iv.high is not None:
                out.append(
                    f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(iv.low):.1f}" '
                    f'y2="{y(iv.high):.1f}" stroke="{colour}" stroke-width="2" opacity="0.6"/>'
                )
            out.append(
                f'<circle cx="{cx:.1f}" cy="{y(iv.mean):.1f}" r="3" fill="{colour}">'
                f"<title>{html.escape(g.name)} {html.escape(_horizon(horizons[i]))}: "
                f"{iv.mean:.2f} bps, n={iv.n}</title></circle>"
            )
        if len(points) > 1:
            out.append(
                f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
                'stroke-width="1.5"/>'
            )
        ly = _TOP + 14 + n * 16
        out.append(
            f'<rect x="{_W - _RIGHT + 12}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{_W - _RIGHT + 26}" y="{ly}" font-size="11">'
            f"{html.escape(g.name)} ({g.whales})</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _table(study: Study, groups: list[GroupResult], volumes: bool) -> str:
    head = "".join(f"<th>{html.escape(_horizon(h))}</th>" for h in study.horizons_s)
    rows = []
    for g in groups:
        cells = "".join(
            f"<td>{_fmt(iv, '' if volumes else ' bps')}</td>"
            for iv in (g.volumes if volumes else g.moves)
        )
        rows.append(f"<tr><td>{html.escape(g.name)}</td><td>{g.whales}</td>{cells}</tr>")
    return f"<table><tr><th>group</th><th>whales</th>{head}</tr>{''.join(rows)}</table>"


def _whales(study: Study, limit: int = 500) -> str:
    head = "".join(f"<th>{html.escape(_horizon(h))}</th>" for h in study.horizons_s)
    rows = []
    for o in study.outcomes[:limit]:
        moves = "".join("<td>-</td>" if m is None else f"<td>{m:.2f}</td>" for m in o.moves_bps)
        rows.append(
            f"<tr><td><code>{html.escape(o.txid[:16])}</code></td><td>{html.escape(o.entity)}"
            f"</td><td>{html.escape(o.kind)}</td><td>{o.value_btc:.4f}</td><td>{o.mid0:.2f}</td>"
            f"{moves}</tr>"
        )
    more = (
        f"<p>{len(study.outcomes) - limit} more not shown.</p>"
        if len(study.outcomes) > limit
        else ""
    )
    return (
        "<table><tr><th>txid</th><th>entity</th><th>kind</th><th>BTC</th><th>mid</th>"
        f"{head}</tr>{''.join(rows)}</table>{more}"
    )


def render(study: Study, *, source: str = "") -> str:
    """Return the study's page."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>whalewire event study</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:72em}"
        "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
        "td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}</style></head><body>",
        "<h1>Event study: what followed each whale</h1>",
        f"<p>Recording <code>{html.escape(source)}</code>; mid of "
        f"<b>{html.escape(study.venue)} {html.escape(study.symbol)}</b>; "
        f"{len(study.outcomes)} whales ({study.unpriced} before the first price, left out).</p>",
        "<p>Move: the mid at the horizon against the mid when the whale was first seen, in "
        "basis points. Interval: 95 % Student-t, mean ± t·s/√n; <b>bold</b> when it "
        "excludes zero. A horizon past the end of the recording is left out, not guessed.</p>",
    ]
    dimensions = (
        ("all", "All whales"),
        ("entity", "By entity"),
        ("size", "By size"),
        ("kind", "By kind"),
    )
    for dimension, title in dimensions:
        groups = [g for g in study.groups if g.dimension == dimension]
        if not groups:
            continue
        parts.append(f"<h2>{title}</h2>")
        parts.append(chart(title, study.horizons_s, groups))
        parts.append(_table(study, groups, volumes=False))
        parts.append(
            f"<h3>{title}: volume traded after the whale ({html.escape(study.symbol)})</h3>"
        )
        parts.append(_table(study, groups, volumes=True))
    parts.append("<h2>Every whale (moves in bps)</h2>")
    parts.append(_whales(study))
    parts.append("</body></html>")
    return "\n".join(parts)


def write(study: Study, path: Path, *, source: str = "") -> Path:
    """Write the study's page to ``path``; return it."""
    path.write_text(render(study, source=source), encoding="utf-8")
    return path

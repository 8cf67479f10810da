"""``whalewire report JOURNAL``: the HTML report of a past run, from its journal alone.

The journal holds every order's messages, so the summary (duration, orders, fills,
denials, P&L by average cost, halts) and one latency, bytes out -> the venue's first
answer (both stamps the engine's own), come from it; the in-process stages (detect,
decide, risk, send) are not journaled: ``whalewire run --report`` writes those.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from whalewire.engine.history import History, read
from whalewire.engine.metrics import Metrics
from whalewire.engine.report import write_html


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``report``'s options."""
    parser.add_argument("journal", type=Path, help="the engine's journal file")
    parser.add_argument(
        "--out", type=Path, default=None, help="HTML file to write (default: JOURNAL.html)"
    )


def summary(history: History) -> dict[str, object]:
    """The run summary of a journal."""
    opens = [when for when, action, _ in history.notes if action == "open"]
    times = [t for t in (*(o.time for o in history.orders), *(f.time for f in history.fills)) if t]
    span = [*opens, *times]
    duration = f"{(max(span) - min(span)).total_seconds():.1f} s (first start to last order)"
    statuses = [o.status for o in history.orders]
    reasons: dict[str, int] = {}
    for o in history.orders:
        if o.status == "DENIED":
            reasons[o.reason] = reasons.get(o.reason, 0) + 1
    denied = sum(reasons.values())
    return {
        "mode": "from the journal (paper, dry-run or live: see the run's configuration)",
        "duration": duration if span else "-",
        "decisions": f"{len(history.orders)} orders tried (ignored alerts are not journaled)",
        "orders": sum(1 for s in statuses if s not in ("DENIED", "INITIALIZED")),
        "fills": len(history.fills),
        "denials": f"{denied}"
        + (
            " (" + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) + ")" if denied else ""
        ),
        "pnl": "; ".join(
            f"{s} {p.realized:.2f} / {p.unrealized:.2f} (position {p.position.normalize():f})"
            for s, p in history.pnl.items()
        )
        or "-",
        "halts": sum(1 for _, action, _ in history.notes if action == "halt"),
    }


def run(args: argparse.Namespace) -> int:
    """Write the report; print where."""
    history = read(args.journal)
    metrics = Metrics()
    ack = metrics.latency("ack")
    for ns in history.acks:
        ack.record(ns)
    out = args.out or args.journal.with_name(args.journal.name + ".html")
    path = write_html(
        metrics,
        out,
        title=f"whalewire report: {args.journal.name}",
        summary=summary(history),
        note="Latency from the journal: bytes out -> the venue's first answer. The other "
        "stages are measured in the process: whalewire run --report FILE.",
    )
    print(f"report written to {path}")
    return 0

"""``whalewire study --recording DIR``: the event study of a recording, as a table and a page.

For every whale of the recording: the mid's move at +1 s, +10 s, +1 min, +5 min and +1 h
and the volume traded, by entity and by size bucket with 95 % t-intervals
(``evidence/study.py``); the terminal gets the table, ``--html`` the page with plots.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from whalewire.commands.errors import fail
from whalewire.evidence import study_html
from whalewire.evidence.recording import RecordingError, load
from whalewire.evidence.study import HORIZON_NAMES, run_study


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``study``'s options."""
    parser.add_argument("--recording", required=True, type=Path, help="the recording's folder")
    parser.add_argument("--venue", default=None, help="venue of the priced instrument")
    parser.add_argument("--symbol", default=None, help="symbol of the priced instrument")
    parser.add_argument(
        "--html", type=Path, default=Path("whalewire-study.html"), help="where to write the page"
    )


def run(args: argparse.Namespace) -> int:
    """Study the recording; print the table and write the page."""
    try:
        tables = load(args.recording)
        study = run_study(tables, venue=args.venue, symbol=args.symbol)
    except (RecordingError, ValueError) as exc:
        return fail(str(exc))
    console = Console()
    table = Table(
        title=f"mid move (bps) after each whale, {study.venue} {study.symbol}; "
        "95 % t-interval, * excludes zero",
        title_justify="left",
    )
    table.add_column("group")
    table.add_column("whales", justify="right")
    for h in study.horizons_s:
        table.add_column(HORIZON_NAMES.get(h, f"+{h:g} s"), justify="right")
    for g in study.groups:
        cells = []
        for iv in g.moves:
            if iv is None:
                cells.append("-")
            elif iv.low is None or iv.high is None:
                cells.append(f"{iv.mean:.2f}")
            else:
                star = "*" if iv.excludes_zero else ""
                cells.append(f"{iv.mean:.2f}{star} [{iv.low:.1f}, {iv.high:.1f}]")
        table.add_row(f"{g.dimension}: {g.name}", str(g.whales), *cells)
    console.print(table)
    path = study_html.write(study, args.html, source=str(args.recording))
    console.print(f"event study written to {path}", markup=False)
    return 0

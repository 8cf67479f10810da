"""``whalewire backtest --recording DIR --config FILE``: the engine replayed on a recording.

One backtest prints every order's fill, slippage and P&L and the totals
(``evidence/backtest.py``); with a ``[sweep]`` table in the configuration (or ``--sweep``)
every setting of its grid runs in ``--workers`` processes behind a progress bar, and the
settings are printed ranked by P&L (``evidence/sweep.py``). docs/how-to/evidence.md has a
worked example.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from whalewire.commands.errors import fail
from whalewire.engine.config import ConfigError
from whalewire.evidence.backtest import (
    BacktestConfig,
    BacktestResult,
    parse_backtest_config,
    run_backtest,
)
from whalewire.evidence.recording import RecordingError, load
from whalewire.evidence.sweep import grid, run_sweep


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``backtest``'s options."""
    parser.add_argument("--recording", required=True, type=Path, help="the recording's folder")
    parser.add_argument(
        "--config",
        required=True,
        type=Path,
        help="TOML: the engine's [strategy]/[risk]/... plus [backtest] and [sweep]",
    )
    parser.add_argument(
        "--sweep", action="store_true", help="run the [sweep] grid (also when it has one point)"
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes for the sweep"
    )
    parser.add_argument("--top", type=int, default=10, help="settings shown, best first")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _summary(r: BacktestResult) -> dict[str, object]:
    return {
        "settings": r.settings,
        "source": r.source,
        "instrument": f"{r.venue} {r.symbol}",
        "events": r.events,
        "whales": r.whales,
        "orders": len(r.orders),
        "filled": len(r.filled_orders),
        "ignored": r.ignored,
        "denied": r.denied,
        "mean_slippage_bps": r.mean_slippage_bps,
        "fees": r.fees,
        "pnl_hold": r.pnl_hold,
        "pnl_end": r.pnl_end,
    }


def run(args: argparse.Namespace) -> int:
    """Backtest (or sweep) and print the results."""
    console = Console()
    try:
        config = parse_backtest_config(args.config.read_text(), source=str(args.config))
        tables = load(args.recording)
    except (ConfigError, RecordingError, OSError) as exc:
        return fail(str(exc))
    settings = grid(config)
    try:
        if args.sweep or len(settings) > 1:
            results = _sweep(args, config, console, len(settings))
        else:
            results = [asyncio.run(run_backtest(tables, config))]
            _orders(console, results[0])
    except ValueError as exc:
        return fail(str(exc))
    _ranking(console, results[: args.top])
    if args.json is not None:
        args.json.write_text(json.dumps([_summary(r) for r in results], indent=1, default=str))
        console.print(f"results written to {args.json}", markup=False)
    return 0


def _sweep(
    args: argparse.Namespace, config: BacktestConfig, console: Console, total: int
) -> list[BacktestResult]:
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"sweep on {args.workers} processes", total=total)
        return run_sweep(
            args.recording,
            config,
            workers=args.workers,
            on_done=lambda done, _: progress.update(task, completed=done),
        )


def _orders(console: Console, r: BacktestResult) -> None:
    table = Table(
        title=f"orders ({r.source} of {r.venue} {r.symbol}; {r.whales} whales)",
        title_justify="left",
    )
    start = r.orders[0].decided_ns if r.orders else 0
    for col in ("t+ s", "latency ms", "side", "qty", "filled", "price", "mid", "slip bps"):
        table.add_column(col, justify="right")
    table.add_column("fee", justify="right")
    table.add_column("P&L hold", justify="right")
    table.add_column("P&L end", justify="right")
    for o in r.orders:
        table.add_row(
            f"{(o.decided_ns - start) / 1e9:.3f}",
            f"{(o.arrived_ns - o.decided_ns) / 1e6:.2f}",
            o.side,
            str(o.quantity),
            f"{o.filled:g}",
            _f(o.price),
            _f(o.mid_decided),
            _f(o.slippage_bps),
            _f(o.fee_quote, 4),
            _f(o.pnl_hold, 4),
            _f(o.pnl_end, 4),
        )
    console.print(table)
    if r.ignored or r.denied:
        console.print(f"ignored {r.ignored}; denied {r.denied}", markup=False)


def _ranking(console: Console, results: list[BacktestResult]) -> None:
    table = Table(title="settings, best P&L (at the hold horizon) first", title_justify="left")
    columns = ("#", "threshold BTC", "size", "side", "cooldown s", "whales", "orders", "filled")
    for col in (*columns, "slip bps", "fees", "P&L hold", "P&L end"):
        table.add_column(col, justify="right")
    for i, r in enumerate(results, 1):
        s = r.settings
        threshold = s.get("min_value_sats")
        table.add_row(
            str(i),
            "-" if threshold is None else f"{threshold / 1e8:g}",
            str(s.get("fixed_qty", "-")),
            str(s.get("side", "-")),
            str(s.get("cooldown_s", "-")),
            str(r.whales),
            str(len(r.orders)),
            str(len(r.filled_orders)),
            _f(r.mean_slippage_bps),
            _f(r.fees, 4),
            _f(r.pnl_hold, 4),
            _f(r.pnl_end, 4),
        )
    console.print(table)

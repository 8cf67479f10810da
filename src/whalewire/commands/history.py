"""``whalewire history JOURNAL``: a past run's orders, fills and P&L, filtered, exported.

Reads the journal read-only (``engine.history``). ``--since``/``--until`` take an ISO
date or date-time (UTC unless it says otherwise); ``--symbol`` and ``--status`` may be
given several times. ``--format table`` is for reading, ``csv`` and ``json`` for other
programs (one document: ``orders``, ``fills``, ``pnl``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from whalewire.commands.errors import UserError
from whalewire.engine.history import FillRow, History, OrderRow, read


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``history``'s options."""
    parser.add_argument("journal", type=Path, help="the engine's journal file")
    parser.add_argument("--since", type=moment, help="from this UTC date/time (ISO 8601)")
    parser.add_argument("--until", type=moment, help="up to this UTC date/time (ISO 8601)")
    parser.add_argument("--symbol", action="append", help="only this symbol (repeatable)")
    parser.add_argument(
        "--status", action="append", help="only orders in this status, e.g. FILLED (repeatable)"
    )
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")


def moment(text: str) -> datetime:
    """Parse an ISO date or date-time; naive means UTC."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date or date-time (e.g. 2026-12-07 or 2026-12-07T20:15)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def select(history: History, args: argparse.Namespace) -> History:
    """Keep the orders and fills the filters admit; recompute nothing else."""
    symbols = set(args.symbol or [])
    statuses = {s.upper() for s in args.status or []}

    def in_time(when: datetime | None) -> bool:
        if when is None:
            return args.since is None and args.until is None
        return (args.since is None or when >= args.since) and (
            args.until is None or when <= args.until
        )

    orders = [
        o
        for o in history.orders
        if in_time(o.time)
        and (not symbols or o.symbol in symbols)
        and (not statuses or o.status in statuses)
    ]
    kept = {o.client_order_id for o in orders}
    fills = [f for f in history.fills if f.client_order_id in kept]
    pnl = {s: p for s, p in history.pnl.items() if not symbols or s in symbols}
    return History(orders=orders, fills=fills, pnl=pnl, notes=history.notes)


def run(args: argparse.Namespace) -> int:
    """Print the selected history in the chosen format."""
    if args.since and args.until and args.since > args.until:
        raise UserError("--since is after --until: nothing can be in between")
    history = select(read(args.journal), args)
    if args.format == "json":
        json.dump(as_json(history), sys.stdout, indent=2)
        print()
    elif args.format == "csv":
        write_csv(history)
    else:
        print_tables(history, Console())
    return 0


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if value is None:
        return ""
    return str(value)


def as_json(history: History) -> dict[str, Any]:
    """The history as one JSON document (decimals as strings: exact)."""
    return {
        "orders": [{k: _cell(v) for k, v in dataclasses.asdict(o).items()} for o in history.orders],
        "fills": [{k: _cell(v) for k, v in dataclasses.asdict(f).items()} for f in history.fills],
        "pnl": {
            s: {
                "position": str(p.position),
                "avg_price": str(p.avg_price),
                "realized": str(p.realized),
                "unrealized": str(p.unrealized),
                "fills": p.fills,
            }
            for s, p in history.pnl.items()
        },
    }


def write_csv(history: History) -> None:
    """Orders as CSV rows (``record=order``), then fills (``record=fill``), one header each."""
    out = csv.writer(sys.stdout)
    for kind, rows, cls in (("order", history.orders, OrderRow), ("fill", history.fills, FillRow)):
        names = [f.name for f in dataclasses.fields(cls)]
        out.writerow(["record", *names])
        for row in rows:
            out.writerow([kind, *(_cell(getattr(row, n)) for n in names)])


def _titled(title: str) -> Table:
    return Table(title=title, title_justify="left", box=None, pad_edge=False)


def _short(when: datetime | None) -> str:
    return when.strftime("%m-%d %H:%M:%S") if when else "?"


def _num(value: Decimal) -> str:
    """A decimal without trailing zeros, never in exponent form."""
    return f"{value.normalize():f}" if value else "0"


def print_tables(history: History, console: Console) -> None:
    """Orders, fills and P&L as three tables."""
    orders = _titled(f"orders ({len(history.orders)})")
    for col in ("UTC", "order", "symbol", "side", "qty", "status", "filled", "avg px"):
        orders.add_column(col, no_wrap=True)
    orders.add_column("reason")
    for o in history.orders:
        orders.add_row(
            _short(o.time),
            o.client_order_id,
            o.symbol,
            o.side,
            _num(o.quantity),
            o.status,
            _num(o.filled),
            f"{o.avg_px:.2f}" if o.filled else "",
            o.reason,
        )
    fills = _titled(f"fills ({len(history.fills)})")
    for col in ("UTC", "order", "symbol", "side", "qty", "price", "fee"):
        fills.add_column(col, no_wrap=True)
    for f in history.fills:
        fee = f"{_num(f.commission)} {f.commission_asset}".strip() if f.commission else ""
        fills.add_row(
            _short(f.time), f.client_order_id, f.symbol, f.side, _num(f.qty), _num(f.price), fee
        )
    pnl = _titled("P&L (average cost; unrealized at the last fill)")
    for col in ("symbol", "position", "avg price", "realized", "unrealized", "fills"):
        pnl.add_column(col, no_wrap=True)
    for s, p in history.pnl.items():
        pnl.add_row(
            s,
            _num(p.position),
            f"{p.avg_price:.2f}",
            f"{p.realized:.2f}",
            f"{p.unrealized:.2f}",
            str(p.fills),
        )
    console.print(orders, markup=False)
    console.print(fills, markup=False)
    console.print(pnl, markup=False)
    if not history.orders:
        console.print("no orders match", markup=False)

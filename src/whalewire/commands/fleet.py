"""``whalewire fleet status|kill|resume|control|demo``: the operator's handles on the fleet.

``status`` listens to every role's heartbeat for a moment and lists sensors and executors
with their health; ``kill`` and ``resume`` set the kill switch's desired state in NATS's
KV bucket and broadcast it (every executor gets it both ways); ``control`` runs the control
heartbeat executors halt without; ``demo`` runs a whole fleet on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from whalewire.engine.logs import configure_logging
from whalewire.fleet.control import ControlPlane, FleetView
from whalewire.fleet.link import Link
from whalewire.fleet.roles import stop_on_signals
from whalewire.fleet.wire import Action


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the fleet's subcommands."""
    sub = parser.add_subparsers(dest="fleet_command", required=True, metavar="SUBCOMMAND")
    for name, help_text in (
        ("status", "list every sensor and executor with its health"),
        ("kill", "halt every executor and cancel its open orders"),
        ("resume", "let every executor trade again"),
        ("control", "publish the control heartbeat (executors halt without it)"),
    ):
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.add_argument(
            "--nats", action="append", default=None, help="NATS URL (repeatable; default local)"
        )
        sp.add_argument("--prefix", default="ww", help="the fleet's subject prefix")
        sp.add_argument("--wait", type=float, default=2.5, help="seconds to listen for roles")
        sp.add_argument("--json", action="store_true", help="print JSON")
        if name == "status":
            sp.add_argument("--watch", action="store_true", help="a live table until Ctrl-C")
        if name == "control":
            sp.add_argument("--interval", type=float, default=1.0, help="seconds between beats")
            sp.add_argument("--name", default="control", help="this control plane's name")
        if name in ("kill", "resume", "control"):
            sp.add_argument("--replicas", type=int, default=1, help="bucket replicas if created")
    demo = sub.add_parser("demo", help="a whole fleet on this machine, with a report")
    demo.add_argument("--seconds", type=float, default=60.0, help="how long the fleet runs")


def run(args: argparse.Namespace) -> int:
    """Run the chosen subcommand."""
    if args.fleet_command == "demo":
        from whalewire.fleet.demo import render, run_demo  # noqa: PLC0415 - demo only

        console = Console()
        log_file = Path("whalewire-fleet-demo.log")
        configure_logging(fmt="text", path=log_file)
        console.print(f"whalewire fleet demo: one machine, every role over NATS (log: {log_file})")
        report = asyncio.run(run_demo(args.seconds, say=console.print))
        for line in render(report):
            console.print(line, highlight=False)
        return 0
    servers = args.nats or ["nats://127.0.0.1:4222"]
    if args.fleet_command == "status":
        return asyncio.run(_status(servers, args))
    if args.fleet_command == "control":
        return asyncio.run(_control(servers, args))
    return asyncio.run(_command(servers, args, Action(args.fleet_command)))


async def _listen(servers: list[str], args: argparse.Namespace) -> tuple[Link, FleetView]:
    link = Link(servers, "fleet-cli")
    await asyncio.wait_for(link.connect(), 10)
    view = FleetView(link, args.prefix)
    await view.start()
    return link, view


async def _status(servers: list[str], args: argparse.Namespace) -> int:
    link, view = await _listen(servers, args)
    try:
        if args.watch:  # the fleet's dashboard: every role's heartbeat, redrawn each second
            stop = asyncio.Event()
            remove = stop_on_signals(stop)
            with Live(_table(view.snapshot()), refresh_per_second=2) as live:
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
                    live.update(_table(view.snapshot()))
            remove()
            return 0
        await asyncio.sleep(args.wait)
        rows = view.snapshot()
    finally:
        await link.close()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        Console().print(_table(rows))
    return 0 if rows else 1


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="whalewire fleet")
    for column in ("role", "name", "health", "heard", "what it says"):
        table.add_column(column)
    for row in rows:
        stats = row["stats"]
        if row["role"] == "executor":
            says = (
                f"{stats.get('halted') or 'trading'}; orders {stats.get('orders_sent', 0)}; "
                f"alerts {stats.get('alerts', 0)} (dup {stats.get('duplicates', 0)}); "
                f"journal {stats.get('journal_seq')} streamed {stats.get('streamed_seq')}"
            )
        else:
            says = (
                f"tx {stats.get('transactions', 0)}; alerts {stats.get('alerts', 0)}; "
                f"published {stats.get('published', 0)}"
            )
        table.add_row(row["role"], row["name"], row["health"], f"{row['age_s']:.1f} s ago", says)
    return table


async def _command(servers: list[str], args: argparse.Namespace, action: Action) -> int:
    control = ControlPlane(servers, prefix=args.prefix, replicas=args.replicas)
    await asyncio.wait_for(control.connect(), 10)
    view = FleetView(control.link, args.prefix)
    await view.start()
    try:
        command = await control.command(action)
        await asyncio.sleep(args.wait)
        rows = [r for r in view.snapshot() if r["role"] == "executor"]
    finally:
        await control.close()
    want_halted = action is Action.KILL
    reached = [r for r in rows if bool(r["stats"].get("halted")) == want_halted]
    result = {
        "command": action.value,
        "source": command.source,
        "executors": {r["name"]: r["stats"].get("halted") or "trading" for r in rows},
        "reached": len(reached),
    }
    print(json.dumps(result, indent=2))
    return 0 if len(reached) == len(rows) else 1


async def _control(servers: list[str], args: argparse.Namespace) -> int:
    control = ControlPlane(
        servers, name=args.name, prefix=args.prefix, interval_s=args.interval,
        replicas=args.replicas,
    )  # fmt: skip
    await control.connect()
    stop = asyncio.Event()
    remove = stop_on_signals(stop)
    try:
        await control.beat(stop)
    finally:
        remove()
        await control.close()
    return 0

"""``whalewire fleet status|kill|resume|control|demo``: the operator's handles on the fleet.

``status``, ``kill`` and ``resume`` are the same code as ``whalewire status|kill|resume``
pointed at a fleet (``--nats URL`` or a ``--config`` with a ``[fleet]`` table): this module
adds their fleet arguments (``add_fleet_arguments``) and runs them (``run_fleet``) over
``whalewire.fleet.operator``. ``status`` lists every sensor and executor from its
heartbeats (``--watch``: live); ``kill`` and ``resume`` set the kill switch's desired state
in NATS's KV bucket, broadcast it, and wait for every executor's acknowledgement (exit 0
only when every executor heard acknowledged and reached the state); ``resume`` asks for a
typed confirmation unless ``--yes``. ``control`` runs the control heartbeat executors halt
without, and with ``--web`` / ``--dashboard`` the operator's fleet dashboards; ``demo``
runs a whole fleet on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.live import Live

from whalewire.commands.control import confirm_resume
from whalewire.commands.errors import UserError
from whalewire.engine.logs import configure_logging
from whalewire.fleet.control import ControlPlane
from whalewire.fleet.operator import FleetTarget, Operator, fleet_target
from whalewire.fleet.roles import stop_on_signals
from whalewire.fleet.view import render
from whalewire.fleet.web import FleetDashboard
from whalewire.fleet.wire import Action

#: how long status/kill/resume try to reach the fleet's NATS before saying so
CONNECT_TIMEOUT_S = 10.0


def add_fleet_arguments(
    parser: argparse.ArgumentParser, command: str, *, standalone: bool = True
) -> None:
    """Add the fleet's arguments of ``status``/``kill``/``resume`` to ``parser``.

    ``standalone``: the ``whalewire fleet`` subcommand (adds ``--json`` and ``--yes``,
    which the top-level commands already have).
    """
    parser.add_argument(
        "--nats", action="append", default=None,
        help="the fleet's NATS URL (repeatable): act on every executor and sensor",
    )  # fmt: skip
    parser.add_argument("--prefix", default=None, help="the fleet's subject prefix (ww)")
    parser.add_argument(
        "--wait", type=float, default=2.5, help="seconds to listen for the fleet's roles"
    )
    if standalone:
        parser.add_argument("--json", action="store_true", help="print JSON")
    if command == "status":
        parser.add_argument("--watch", action="store_true", help="a live view until Ctrl-C")
        return
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for acknowledgements"
    )
    parser.add_argument("--replicas", type=int, default=1, help="bucket replicas if created")
    if standalone and command == "resume":
        parser.add_argument("--yes", action="store_true", help="skip the typed confirmation")


def chosen_fleet(args: argparse.Namespace) -> FleetTarget | None:
    """The fleet the arguments name (``--nats``, or ``--config`` with ``[fleet]``), or None.

    Raises:
        UserError: both one engine (``--url``) and a fleet (``--nats``) are named.
    """
    if getattr(args, "url", None):
        if args.nats:
            raise UserError("give --url (one engine) or --nats (the fleet), not both")
        return None
    return fleet_target(args.nats, getattr(args, "config", None), args.prefix)


def fleet_or_engine(
    command: str,
    configure_engine: Callable[[argparse.ArgumentParser], None],
    run_engine: Callable[[argparse.Namespace], int],
) -> tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]:
    """Make ``whalewire <command>``'s ``configure`` and ``run``: one engine's, or the fleet's.

    The arguments are one engine's (``configure_engine``) plus the fleet's; ``run`` acts on
    the fleet the arguments name (``chosen_fleet``), else it is ``run_engine`` unchanged.
    """

    def configure(parser: argparse.ArgumentParser) -> None:
        configure_engine(parser)
        add_fleet_arguments(parser, command, standalone=False)

    def run(args: argparse.Namespace) -> int:
        target = chosen_fleet(args)
        if target is not None:
            return run_fleet(command, target, args)
        if getattr(args, "watch", False):
            raise UserError(
                "--watch is the fleet's live view: give --nats URL (or a --config with "
                "[fleet]); one engine draws its own in the terminal `whalewire run` started in"
            )
        return run_engine(args)

    return configure, run


def run_fleet(command: str, target: FleetTarget, args: argparse.Namespace) -> int:
    """Run ``status``, ``kill`` or ``resume`` on the fleet at ``target``.

    Raises:
        SystemExit: no NATS server answers (saying where it looked and what to check).
    """
    try:
        if command == "status":
            return asyncio.run(_status(target, args))
        return asyncio.run(_command(target, args, Action(command)))
    except TimeoutError:
        raise SystemExit(
            f"whalewire: no NATS server answers at {', '.join(target.servers)} (within "
            f"{CONNECT_TIMEOUT_S:.0f} s). Is the fleet's NATS up and reachable from here? "
            "Check --nats, or [fleet] nats in the configuration."
        ) from None


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the fleet's subcommands."""
    sub = parser.add_subparsers(dest="fleet_command", required=True, metavar="SUBCOMMAND")
    for name, help_text in (
        ("status", "list every sensor and executor with its health"),
        ("kill", "halt every executor and cancel its open orders; wait for their answers"),
        ("resume", "let every executor trade again (typed confirmation or --yes)"),
    ):
        add_fleet_arguments(sub.add_parser(name, help=help_text, description=help_text), name)
    help_text = "publish the control heartbeat (executors halt without it)"
    sp = sub.add_parser("control", help=help_text, description=help_text)
    sp.add_argument("--nats", action="append", default=None, help="NATS URL (repeatable)")
    sp.add_argument("--prefix", default="ww", help="the fleet's subject prefix")
    sp.add_argument("--interval", type=float, default=1.0, help="seconds between beats")
    sp.add_argument("--name", default="control", help="this control plane's name")
    sp.add_argument("--replicas", type=int, default=1, help="bucket replicas if created")
    sp.add_argument(
        "--web", metavar="HOST:PORT", help="serve the fleet's web dashboard here (loopback)"
    )
    sp.add_argument("--dashboard", action="store_true", help="draw the fleet view live here")
    demo = sub.add_parser("demo", help="a whole fleet on this machine, with a report")
    demo.add_argument("--seconds", type=float, default=60.0, help="how long the fleet runs")


def run(args: argparse.Namespace) -> int:
    """Run the chosen subcommand."""
    if args.fleet_command == "demo":
        from whalewire.fleet.demo import render as render_demo  # noqa: PLC0415 - demo only
        from whalewire.fleet.demo import run_demo  # noqa: PLC0415

        console = Console()
        log_file = Path("whalewire-fleet-demo.log")
        configure_logging(fmt="text", path=log_file)
        console.print(f"whalewire fleet demo: one machine, every role over NATS (log: {log_file})")
        report = asyncio.run(run_demo(args.seconds, say=console.print))
        for line in render_demo(report):
            console.print(line, highlight=False)
        return 0
    if args.fleet_command == "control":
        return asyncio.run(_control(args.nats or ["nats://127.0.0.1:4222"], args))
    target = fleet_target(args.nats, None, args.prefix) or FleetTarget(["nats://127.0.0.1:4222"])
    return run_fleet(args.fleet_command, target, args)


async def _status(target: FleetTarget, args: argparse.Namespace) -> int:
    operator = Operator(target, name="status")
    await operator.connect(timeout=CONNECT_TIMEOUT_S)
    try:
        if args.watch:  # the fleet's terminal dashboard, redrawn each second
            stop = asyncio.Event()
            remove = stop_on_signals(stop)
            with Live(render(await operator.survey()), refresh_per_second=2) as live:
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
                    live.update(render(await operator.survey()))
            remove()
            return 0
        await asyncio.sleep(args.wait)
        survey = await operator.survey()
    finally:
        await operator.close()
    if args.json:
        print(json.dumps(survey, indent=2, default=str))
    else:
        Console().print(render(survey))
    return 0 if survey["members"] else 1


async def _command(target: FleetTarget, args: argparse.Namespace, action: Action) -> int:
    operator = Operator(target, name="cli", replicas=args.replicas)
    await operator.connect(create=True, timeout=CONNECT_TIMEOUT_S)
    try:
        if action is Action.RESUME and not args.yes:
            await asyncio.sleep(args.wait)  # who is there, and halted why: shown before asking
            survey = await operator.survey()
            halted = "; ".join(f"{n}: {why}" for n, why in sorted(survey["halted"].items()))
            confirm_resume(f"{survey['executors']} executors, halted: {halted or 'none'}")
        report = await operator.command(action, wait_s=args.wait, timeout_s=args.timeout)
    finally:
        await operator.close()
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


async def _control(servers: list[str], args: argparse.Namespace) -> int:
    control = ControlPlane(
        servers, name=args.name, prefix=args.prefix, interval_s=args.interval,
        replicas=args.replicas,
    )  # fmt: skip
    await control.connect()
    stop = asyncio.Event()
    remove = stop_on_signals(stop)
    operator: Operator | None = None
    board: FleetDashboard | None = None
    try:
        if args.web or args.dashboard:  # the control plane as the operator's console
            operator = Operator(FleetTarget(servers, args.prefix), name=f"{args.name}-view")
            await operator.connect()
        if args.web and operator is not None:
            host, _, port = args.web.rpartition(":")
            board = FleetDashboard(
                operator,
                host=host.strip("[]") or "127.0.0.1",
                port=int(port),
                token=os.environ.get("WHALEWIRE_CONTROL_TOKEN") or None,  # else a new one
            )
            await board.start()
            print(f"fleet dashboard: {board.url}", flush=True)
        beating = asyncio.create_task(control.beat(stop))
        if args.dashboard and operator is not None:
            with Live(render(await operator.survey()), refresh_per_second=2) as live:
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
                    live.update(render(await operator.survey()))
        await beating
    finally:
        remove()
        if board is not None:
            await board.stop()
        if operator is not None:
            await operator.close()
        await control.close()
    return 0

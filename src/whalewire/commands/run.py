"""``whalewire run --config FILE``: the engine, as configured.

Paper and dry-run modes start at once. Live mode is refused unless the configuration says
``mode = "live"`` *and* the command line says ``--live`` *and* the operator types the
confirmation (or passes ``--confirm-live`` from a script that has already asked).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from whalewire.commands.embedded import build
from whalewire.commands.errors import USER_ERRORS, fail
from whalewire.commands.record import add_record_option, start_recording
from whalewire.engine.config import Config, ConfigError, load_config
from whalewire.engine.logs import configure_logging
from whalewire.engine.runner import Running
from whalewire.engine.runner import run as run_engine
from whalewire.net.client import install_uvloop
from whalewire.ws.exceptions import InvalidHandshake, InvalidStatus

CONFIRMATION = "trade real money"

#: what a start can fail on that the operator must change: a port in use, a CPU, a secret
#: file, an endpoint
STARTUP_ERRORS: tuple[type[Exception], ...] = (*USER_ERRORS, OSError, ValueError)

#: what to do about a configuration error, after its list of mistakes
CONFIG_HELP = (
    "fix the file (`whalewire config check FILE` checks it without starting anything); "
    "docs/reference/configuration.md lists every table and field"
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``run``'s options."""
    parser.add_argument("--config", required=True, type=Path, help="TOML configuration file")
    parser.add_argument("--live", action="store_true", help="allow mode = live (real orders)")
    parser.add_argument(
        "--confirm-live",
        action="store_true",
        help=f"skip the typed confirmation ({CONFIRMATION!r}) for live mode",
    )
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    add_output_options(parser, DEFAULT_LOG)
    parser.add_argument("--report", type=Path, default=None, help="write an HTML latency report")
    add_record_option(parser)


#: where ``run`` logs while the dashboard has the terminal
DEFAULT_LOG = Path("whalewire.log")


def add_output_options(parser: argparse.ArgumentParser, default_log: Path) -> None:
    """Add ``--no-dashboard``, ``--log-file`` and ``--log-format`` (``run`` and ``demo``)."""
    parser.add_argument("--no-dashboard", action="store_true", help="plain output (for logs)")
    parser.add_argument(
        "--log-file",
        type=Path,
        default=None,
        help=f"structured log file (default: {default_log} with the dashboard, else stderr)",
    )
    parser.add_argument("--log-format", choices=("json", "text"), default="json")


async def run_as_asked(
    running: Running, args: argparse.Namespace, console: Console
) -> dict[str, Any]:
    """Run the engine as ``--seconds``, ``--no-dashboard`` and ``--report`` ask (``run``
    and ``demo``); return its final status."""
    return await run_engine(
        running,
        seconds=args.seconds,
        # a pipe or a service's journal gets the event lines, not redrawn frames
        dashboard=not args.no_dashboard and sys.stdout.isatty(),
        console=console,
        report_html=args.report,
    )


def log_path(args: argparse.Namespace, default_log: Path) -> Path | None:
    """Return the log file: ``--log-file``, else ``default_log`` under the dashboard, else
    None (stderr)."""
    log_file: Path | None = args.log_file
    return log_file or (None if args.no_dashboard else default_log)


def check_live(config: Config, args: argparse.Namespace, console: Console) -> str | None:
    """Return why a live run must not start, or None when it may."""
    if config.engine.mode != "live":
        if args.live:
            return f"--live given but the configuration's mode is {config.engine.mode!r}"
        return None
    if not args.live:
        return 'the configuration says mode = "live": add --live to trade real money'
    if args.confirm_live:
        return None
    venues = ", ".join(f"{n} ({v.endpoint})" for n, v in config.venues.items())
    console.print(f"[bold red]LIVE TRADING[/bold red] on {venues}.")
    console.print(f"Type {CONFIRMATION!r} to continue: ", end="")
    answer = sys.stdin.readline().strip() if sys.stdin and sys.stdin.isatty() else ""
    if answer != CONFIRMATION:
        return "live trading not confirmed"
    return None


def run(args: argparse.Namespace) -> int:
    """Load, check and run the configuration; return the exit status."""
    console = Console()
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return fail(f"configuration error: {exc}\n{CONFIG_HELP}")
    refusal = check_live(config, args, console)
    if refusal is not None:
        return fail(f"refused: {refusal}")
    install_uvloop()
    log_file = log_path(args, DEFAULT_LOG)
    try:
        configure_logging(fmt=args.log_format, path=log_file)
    except OSError as exc:
        return fail(f"cannot write the log file {log_file}: {exc.strerror}; choose --log-file")
    try:
        return asyncio.run(_run(config, args, console))
    except InvalidStatus as exc:
        return fail(
            f"cannot start: a venue's endpoint answered HTTP {exc.status} {exc.reason} to the "
            "WebSocket upgrade: check the URL (and its path) in the [venues] tables"
        )
    except InvalidHandshake as exc:
        return fail(f"cannot start: a venue's WebSocket handshake failed ({exc}): check [venues]")
    except STARTUP_ERRORS as exc:
        # what the operator must change: a port in use, a CPU, a secret file, an endpoint
        return fail(f"cannot start: {exc}")


async def _run(config: Config, args: argparse.Namespace, console: Console) -> int:
    running = await build(config)
    stop_recording = await start_recording(running, args, console)
    try:
        if running.reconciled:
            console.print(f"reconciled open orders from the journal: {running.reconciled}")
        control = running.control
        if control.kill_file is not None and control.kill_file.exists():
            console.print(
                f"the kill file {control.kill_file} exists: the engine starts HALTED. Remove "
                "it, then `whalewire resume`, to trade.",
                markup=False,
                soft_wrap=True,
            )
        console.print(f"mode {config.engine.mode}; control endpoint {control.url}", markup=False)
        console.print(
            f"control token {control.token} (kill/resume need it; also in {control.token_file})",
            markup=False,
        )
        await run_as_asked(running, args, console)
    finally:
        await stop_recording()
        await running.close()
    return 0

"""``whalewire executor --config FILE``: an engine beside its venues, trading on NATS alerts.

The file is a ``whalewire run`` configuration (venues, strategy, risk, journal; its feeds
are not used: alerts come from the fleet's sensors) plus a ``[fleet]`` table. Paper and
dry-run start at once; live mode asks for ``--live`` and a confirmation like ``run``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from whalewire.commands.run import check_live
from whalewire.engine.config import Config
from whalewire.fleet.roles import executor_role, run_from_file


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the executor's options."""
    parser.add_argument("--config", required=True, type=Path, help="TOML with a [fleet] table")
    parser.add_argument("--live", action="store_true", help="allow mode = live (real orders)")
    parser.add_argument("--confirm-live", action="store_true", help="skip the typed confirmation")
    parser.add_argument("--log-file", type=Path, default=None, help="log file (default stderr)")
    parser.add_argument("--log-format", choices=("json", "text"), default="text")


def run(args: argparse.Namespace) -> int:
    """Run the executor until SIGINT/SIGTERM."""
    console = Console(stderr=True)

    def refuse(config: Config) -> str | None:
        return check_live(config, args, console)

    return run_from_file(
        args.config,
        executor_role,
        console,
        log_format=args.log_format,
        log_file=args.log_file,
        refuse=refuse,
    )

"""``whalewire sensor --config FILE``: feeds and whale detection, alerts published over NATS.

The file is a ``whalewire run`` configuration (its ``[[feeds]]``, ``[address_book]`` and
``[strategy]`` thresholds are used) plus a ``[fleet]`` table: docs/how-to/fleet.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from whalewire.fleet.roles import run_from_file, sensor_role


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the sensor's options."""
    parser.add_argument("--config", required=True, type=Path, help="TOML with a [fleet] table")
    parser.add_argument("--log-file", type=Path, default=None, help="log file (default stderr)")
    parser.add_argument("--log-format", choices=("json", "text"), default="text")


def run(args: argparse.Namespace) -> int:
    """Run the sensor until SIGINT/SIGTERM."""
    return run_from_file(
        args.config,
        sensor_role,
        Console(stderr=True),
        log_format=args.log_format,
        log_file=args.log_file,
    )

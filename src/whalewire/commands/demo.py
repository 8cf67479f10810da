"""``whalewire demo``: the whole pipeline on embedded defaults (placeholder until the engine)."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options."""
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to run")


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    print("whalewire demo: the pipeline is not wired yet")
    return 0

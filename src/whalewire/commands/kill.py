"""``whalewire kill``: the CLI kill switch, for one engine or every executor of a fleet.

A fleet is named by ``--nats URL`` or a ``--config`` with a ``[fleet]`` table. Without one
it talks to one engine's control endpoint (``commands.control``); with one it is
``whalewire fleet kill`` (``commands.fleet``): one implementation each.
"""

from __future__ import annotations

import argparse

from whalewire.commands.control import configure_kill, run_kill
from whalewire.commands.fleet import add_fleet_arguments, chosen_fleet, run_fleet


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of one engine's ``kill``, and the fleet's."""
    configure_kill(parser)
    add_fleet_arguments(parser, "kill", standalone=False)


def run(args: argparse.Namespace) -> int:
    """Run on the fleet the arguments name, else on one engine as before."""
    target = chosen_fleet(args)
    return run_kill(args) if target is None else run_fleet("kill", target, args)

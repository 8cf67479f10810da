"""``whalewire status``: one engine's state, or every executor's and sensor's in a fleet.

A fleet is named by ``--nats URL`` or a ``--config`` with a ``[fleet]`` table. Without one
it talks to one engine's control endpoint (``commands.control``); with one it is
``whalewire fleet status`` (``commands.fleet``): one implementation each.
"""

from __future__ import annotations

import argparse

from whalewire.commands.control import configure_status, run_status
from whalewire.commands.errors import UserError
from whalewire.commands.fleet import add_fleet_arguments, chosen_fleet, run_fleet


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of one engine's ``status``, and the fleet's."""
    configure_status(parser)
    add_fleet_arguments(parser, "status", standalone=False)


def run(args: argparse.Namespace) -> int:
    """Run on the fleet the arguments name, else on one engine as before."""
    target = chosen_fleet(args)
    if target is None and args.watch:
        raise UserError(
            "--watch is the fleet's live view: give --nats URL (or a --config with [fleet]); "
            "one engine draws its own in the terminal `whalewire run` started in"
        )
    return run_status(args) if target is None else run_fleet("status", target, args)

"""``whalewire kill``: the CLI kill switch, for one engine or every executor of a fleet.

A fleet is named by ``--nats URL`` or a ``--config`` with a ``[fleet]`` table. Without one
it talks to one engine's control endpoint (``commands.control``); with one it is
``whalewire fleet kill`` (``commands.fleet``): one implementation each.
"""

from whalewire.commands.control import configure_kill, run_kill
from whalewire.commands.fleet import fleet_or_engine

configure, run = fleet_or_engine("kill", configure_kill, run_kill)

__all__ = ["configure", "run"]

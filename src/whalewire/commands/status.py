"""``whalewire status``: one engine's state, or every executor's and sensor's in a fleet.

A fleet is named by ``--nats URL`` or a ``--config`` with a ``[fleet]`` table. Without one
it talks to one engine's control endpoint (``commands.control``); with one it is
``whalewire fleet status`` (``commands.fleet``): one implementation each.
"""

from whalewire.commands.control import configure_status, run_status
from whalewire.commands.fleet import fleet_or_engine

configure, run = fleet_or_engine("status", configure_status, run_status)

__all__ = ["configure", "run"]

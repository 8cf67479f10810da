"""``whalewire resume``: HALTED back to ACTIVE, confirmed: one engine, or a whole fleet.

A fleet is named by ``--nats URL`` or a ``--config`` with a ``[fleet]`` table. Without one
it talks to one engine's control endpoint (``commands.control``); with one it is
``whalewire fleet resume`` (``commands.fleet``): one implementation each.
"""

from whalewire.commands.control import configure_resume, run_resume
from whalewire.commands.fleet import fleet_or_engine

configure, run = fleet_or_engine("resume", configure_resume, run_resume)

__all__ = ["configure", "run"]

"""``whalewire status``: show a running engine's state (see ``commands.control``)."""

from whalewire.commands.control import configure_status as configure
from whalewire.commands.control import run_status as run

__all__ = ["configure", "run"]

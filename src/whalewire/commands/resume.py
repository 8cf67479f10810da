"""``whalewire resume``: HALTED back to ACTIVE, confirmed (see ``commands.control``)."""

from whalewire.commands.control import configure_resume as configure
from whalewire.commands.control import run_resume as run

__all__ = ["configure", "run"]

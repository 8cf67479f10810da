"""``whalewire kill``: the CLI kill switch (see ``commands.control``)."""

from whalewire.commands.control import configure_kill as configure
from whalewire.commands.control import run_kill as run

__all__ = ["configure", "run"]

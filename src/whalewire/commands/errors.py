"""How a command tells the operator that their input cannot be used: one plain message, exit 2.

Bad input (a configuration, a command line, a secret file, a journal another engine holds,
an endpoint that does not answer as configured) is the operator's to fix, so it never
reaches them as a traceback: ``cli.main`` turns the exceptions listed in ``USER_ERRORS``
into ``whalewire: error: <what>`` on stderr and exit status 2. The text is printed as is:
never through rich, whose markup would eat ``[venues.kraken]`` out of the message.
"""

from __future__ import annotations

import sys

from whalewire.engine.config import ConfigError
from whalewire.engine.journal import JournalError
from whalewire.venues.base import VenueError
from whalewire.venues.credentials import CredentialsError

#: exit status of a command refused for its input (argparse's, for usage errors)
EXIT_USAGE = 2


class UserError(Exception):
    """The operator's input cannot be used; the message says what and what to do."""


#: exceptions whose message is for the operator (each names the file, field or endpoint)
USER_ERRORS: tuple[type[Exception], ...] = (
    UserError,
    ConfigError,
    CredentialsError,
    JournalError,
    VenueError,
)


def fail(message: str) -> int:
    """Print ``message`` plainly on stderr and return the usage exit status."""
    print(f"whalewire: error: {message}", file=sys.stderr, flush=True)
    return EXIT_USAGE

"""What every emulated venue's network front end shares: wall-clock time skewed by a fault
plan, and the open WebSocket connections (closed all at once, or sent a raw frame).

``binance/server.py``, ``kraken/server.py`` and ``coinbase/server.py`` subclass
:class:`Front`; the venue's exchange reads :meth:`Front.venue_time` as its clock. Knows no
venue and makes no protocol decision.
"""

from __future__ import annotations

import asyncio
import time
from typing import Generic, TypeVar

from whalewire.emulator.matching import Clock
from whalewire.net import WebSocket

S = TypeVar("S")


def wall_clock() -> int:
    """Return the time in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


class Front(Generic[S]):
    """A venue's listeners' shared state: its clock and skew, its connections by session."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        #: added to the clock (a fault plan's ``clock_skew_ms``)
        self._skew_ms = 0
        self._sockets: dict[S, WebSocket] = {}

    def venue_time(self) -> int:
        """Return the venue's time in ms: the clock plus the fault plan's skew."""
        return self._clock() + self._skew_ms

    def inject(self, text: str) -> int:
        """Send ``text`` unchecked to every open connection, as a broken venue would
        (clients' robustness tests); return how many connections got it."""
        open_ = [ws for ws in list(self._sockets.values()) if not ws.closed]
        for ws in open_:
            ws.send(text)
        return len(open_)

    async def _close_all(self, code: int = 1001) -> None:
        """Close every connection with ``code`` (1001 going away), in parallel."""
        sockets = list(self._sockets.values())
        await asyncio.gather(*(ws.close(code) for ws in sockets), return_exceptions=True)

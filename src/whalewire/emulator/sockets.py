"""What every emulated venue does to all its open WebSocket connections at once.

Closing them all (a venue going away, a test cutting the line) and sending them a frame as
it is (a broken venue: clients' robustness tests). Knows no venue and no session type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from whalewire.net._protocol import WebSocket


async def close_all(sockets: Iterable[WebSocket], code: int = 1001) -> None:
    """Close every connection in ``sockets`` with ``code`` (1001 going away), in parallel."""
    await asyncio.gather(*(ws.close(code) for ws in list(sockets)), return_exceptions=True)


def inject(sockets: Iterable[WebSocket], text: str) -> int:
    """Send ``text`` unchecked to every open connection in ``sockets``; return how many."""
    open_ = [ws for ws in list(sockets) if not ws.closed]
    for ws in open_:
        ws.send(text)
    return len(open_)

"""What every emulated venue's network front end shares: wall-clock time skewed by a fault
plan, the open WebSocket connections (closed all at once, or sent a raw frame), and the
REST listener of the venues that have one (:class:`RestListener`).

``binance/server.py``, ``kraken/server.py`` and ``coinbase/server.py`` subclass
:class:`Front`; the venue's exchange reads :meth:`Front.venue_time` as its clock. Knows no
venue and makes no protocol decision.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from aiohttp import web

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


class RestListener:
    """aiohttp's low-level HTTP/1.1 server on one port (Coinbase's and Kraken's REST APIs):
    keep-alive connections, counted as they are accepted."""

    def __init__(
        self,
        handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
        keepalive_timeout: float = 75.0,
    ) -> None:
        self._handler = handler
        self._keepalive_timeout = keepalive_timeout
        self._web: web.Server | None = None  # made in start(): it needs the running loop
        self._server: asyncio.Server | None = None
        #: connections accepted so far (tests prove a client reuses one)
        self.connections = 0

    async def start(self, host: str, port: int, ssl: ssl_module.SSLContext | None = None) -> None:
        """Listen on ``host``:``port`` (0: a free port), with TLS when given ``ssl``."""

        self._web = web_server = web.Server(
            self._handler, keepalive_timeout=self._keepalive_timeout
        )

        def factory() -> asyncio.BaseProtocol:
            self.connections += 1
            return web_server()

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(factory, host, port, ssl=ssl)

    async def close(self) -> None:
        """Stop listening and close every connection (in-flight requests get a second)."""
        if self._server is not None:
            self._server.close()
        if self._web is not None:
            await self._web.shutdown(1.0)
        if self._server is not None:
            await self._server.wait_closed()

    @property
    def port(self) -> int:
        """Return the port listened on."""
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

"""A supervisor that keeps one WebSocket connected: reconnect, re-authenticate, roll over.

``Supervisor(open_ws, on_connected=...)`` opens a connection with ``open_ws()`` (any
coroutine returning an open ``WebSocket``, e.g. a ``functools.partial`` of
``net.client.connect``), runs ``on_connected(ws)`` (log in, resubscribe) before the
connection counts as current, and when it drops, waits the next ``net.backoff`` delay and
starts again; the delays restart from the first after a connection that stayed up.
``rollover()`` is the planned switch for venues that cut connections every 24 hours or
announce a shutdown: the new connection is opened and set up first, then becomes current,
then the old one is closed with 1000, so there is always one ready to send on. What a
reconnect means for orders in flight (UNKNOWN, reconciliation) is the caller's business:
this module knows nothing of venues or orders.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator

from whalewire.net._protocol import WebSocket
from whalewire.net.backoff import backoff

__all__ = ["Supervisor"]

log = logging.getLogger("whalewire.net")

OpenWS = Callable[[], Awaitable[WebSocket]]
Hook = Callable[[WebSocket], Awaitable[None]]


class Supervisor:
    """Keep one connection up (``run()``), with hooks and a planned ``rollover()``."""

    def __init__(
        self,
        open_ws: OpenWS,
        *,
        on_connected: Hook | None = None,
        on_disconnected: Callable[[WebSocket], None] | None = None,
        delays: Callable[[], Iterator[float]] = backoff,
        stable_after: float = 30.0,
    ) -> None:
        """Prepare; nothing connects before ``run()``.

        Args:
            open_ws: open and return a new connection (raise to have it retried).
            on_connected: set a new connection up (authenticate, resubscribe); if it
                raises, that connection is closed with 1011 and the attempt retried.
            on_disconnected: told synchronously when the current connection has closed.
            delays: a fresh iterator of waits between failed attempts (``net.backoff``).
            stable_after: seconds up after which the next failure waits the first delay.
        """
        self._open = open_ws
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._delays = delays
        self._stable_after = stable_after
        self._current: WebSocket | None = None
        self._changed = asyncio.Event()
        self._stopping = False
        #: connections made current so far (reconnects and rollovers)
        self.generation = 0
        #: attempts that failed (open or setup)
        self.failures = 0

    @property
    def ws(self) -> WebSocket | None:
        """The current connection, if one is up."""
        ws = self._current
        return ws if ws is not None and not ws.closed else None

    async def wait_connected(self) -> WebSocket:
        """Wait until a connection is current and return it."""
        while self.ws is None:
            self._changed.clear()
            await self._changed.wait()
        assert self._current is not None
        return self._current

    async def _connect_once(self) -> WebSocket:
        ws = await self._open()
        if self._on_connected is not None:
            try:
                await self._on_connected(ws)
            except BaseException:
                await ws.close(1011)
                raise
        return ws

    def _make_current(self, ws: WebSocket) -> None:
        self._current = ws
        self.generation += 1
        self._changed.set()

    async def run(self) -> None:
        """Connect and stay connected until ``close()`` (or cancellation)."""
        loop = asyncio.get_running_loop()
        delays = self._delays()
        while not self._stopping:
            try:
                ws = await self._connect_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                delay = next(delays)
                log.warning("connect failed (%s); retrying in %.3f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            self._make_current(ws)
            up_since = loop.time()
            # Wait on whichever connection is current: a rollover swaps it under us.
            while not self._stopping:
                current = self._current
                assert current is not None
                await current.wait_closed()
                if current is self._current:
                    break
            if self._on_disconnected is not None and self._current is not None:
                self._on_disconnected(self._current)
            if loop.time() - up_since >= self._stable_after:
                delays = self._delays()
            if not self._stopping:
                await asyncio.sleep(next(delays))

    async def rollover(self) -> WebSocket:
        """Open and set up a new connection, make it current, then close the old one.

        Raises:
            whatever ``open_ws``/``on_connected`` raise: the old connection stays current.
        """
        new = await self._connect_once()
        old = self._current
        self._make_current(new)
        if old is not None and not old.closed:
            await old.close()
        return new

    async def close(self) -> None:
        """Stop reconnecting and close the current connection with 1000."""
        self._stopping = True
        if self._current is not None and not self._current.closed:
            await self._current.close()

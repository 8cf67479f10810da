"""A supervisor that keeps one WebSocket connected: reconnect, re-authenticate, roll over.

``Supervisor(open_ws, on_connected=...)`` opens a connection with ``open_ws()`` (any
coroutine returning an open ``WebSocket``, e.g. a ``functools.partial`` of
``net.client.connect``), runs ``on_connected(ws)`` (log in, resubscribe) before the
connection counts as current, and when it drops, waits the next ``net.backoff`` delay and
starts again; the delays restart from the first after a connection that stayed up.
``on_disconnected(ws)`` hears of every connection it opened once that one has closed, before
anything else happens, so a caller can settle what was in flight on it.
``run()`` retries every failure, the first connection's too; ``start()`` is for a client
whose start must fail loudly: the first connection's errors propagate, and only later ones
are retried, in the background, until ``close()``.
``rollover()`` is the planned switch for venues that cut connections every 24 hours or
announce a shutdown: the new connection is opened and set up first, then becomes current,
then the old one is closed with 1000, so there is always one ready to send on. What a
reconnect means for orders in flight (UNKNOWN, reconciliation) is the caller's business:
this module knows nothing of venues or orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

from whalewire.net._protocol import WebSocket
from whalewire.net.backoff import backoff
from whalewire.ws.exceptions import WebSocketError

__all__ = ["ClosedDuringSetup", "Hook", "OpenWS", "Supervisor"]

log = logging.getLogger("whalewire.net")

OpenWS = Callable[[], Awaitable[WebSocket]]
Hook = Callable[[WebSocket], Awaitable[None]]


class ClosedDuringSetup(ConnectionError):
    """The connection closed while ``on_connected`` set it up, though the hook returned."""


class Supervisor:
    """Keep one connection up (``run()``, ``start()``), with hooks and a planned ``rollover()``."""

    def __init__(
        self,
        open_ws: OpenWS,
        *,
        on_connected: Hook | None = None,
        on_disconnected: Callable[[WebSocket], None] | None = None,
        delays: Callable[[], Iterator[float]] = backoff,
        stable_after: float = 30.0,
        retry_on: tuple[type[Exception], ...] = (Exception,),
        name: str = "connection",
    ) -> None:
        """Prepare; nothing connects before ``run()`` or ``start()``.

        Args:
            open_ws: open and return a new connection (raise to have it retried).
            on_connected: set a new connection up (authenticate, resubscribe); if it
                raises, that connection is closed with 1011 and the attempt retried.
            on_disconnected: told synchronously, once per connection ``open_ws`` returned,
                when it has closed (during its setup, while current, or replaced by a
                rollover), before the supervisor reacts to the loss.
            delays: a fresh iterator of waits between failed attempts (``net.backoff``).
            stable_after: seconds up after which the next failure waits the first delay
                (0: after every connection that became current).
            retry_on: the failures of an attempt that are retried; anything else ends the
                supervision (``run()`` raises it; after ``start()`` it is logged and kept
                in ``error``).
            name: what log lines call this connection (e.g. the venue's name).
        """
        self._open = open_ws
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._delays = delays
        self._stable_after = stable_after
        self._retry_on = retry_on
        self.name = name
        self._current: WebSocket | None = None
        self._changed = asyncio.Event()
        #: set when the current connection is lost (cleared when another becomes current)
        self._lost = asyncio.Event()
        #: connections opened whose close has not been reported to on_disconnected yet
        self._unreported: list[WebSocket] = []
        self._watchers: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: connections made current so far (reconnects and rollovers)
        self.generation = 0
        #: attempts that failed (open or setup)
        self.failures = 0
        #: what ended the background supervision ``start()`` began, if anything did
        self.error: Exception | None = None

    @property
    def ws(self) -> WebSocket | None:
        """The current connection, if one is up."""
        ws = self._current
        return ws if ws is not None and not ws.closed else None

    @property
    def running(self) -> bool:
        """Whether the background supervision ``start()`` began is still going."""
        return self._task is not None and not self._task.done()

    async def wait_connected(self) -> WebSocket:
        """Wait until a connection is current and return it."""
        while self.ws is None:
            self._changed.clear()
            await self._changed.wait()
        assert self._current is not None
        return self._current

    async def _connect_once(self) -> WebSocket:
        ws = await self._open()
        self._unreported.append(ws)
        watcher = asyncio.get_running_loop().create_task(self._watch(ws))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        if self._on_connected is not None:
            try:
                await self._on_connected(ws)
            except BaseException:
                with contextlib.suppress(WebSocketError):
                    await ws.close(1011)
                raise
        if ws.closed:  # its loss may already be reported: it must not become current
            raise ClosedDuringSetup(f"{self.name}: closed during setup")
        return ws

    async def _watch(self, ws: WebSocket) -> None:
        await ws.wait_closed()
        self._report(ws)

    def _report(self, ws: WebSocket) -> None:
        # once per connection, whichever of its watcher and close() comes first
        if ws not in self._unreported:
            return
        self._unreported.remove(ws)
        if ws is self._current:
            self._current = None
            self._lost.set()
        if self._on_disconnected is not None:
            self._on_disconnected(ws)

    def _make_current(self, ws: WebSocket) -> None:
        self._current = ws
        self.generation += 1
        self._lost.clear()
        self._changed.set()
        if self.generation > 1:
            log.info("%s: connected again (%d)", self.name, self.generation - 1)

    async def run(self) -> None:
        """Connect and stay connected until ``close()`` (or cancellation).

        Raises:
            the first failure of an attempt that is not one of ``retry_on``.
        """
        await self._supervise(connected=False)

    async def start(self) -> WebSocket:
        """Connect once, then keep connected in the background until ``close()``.

        Raises:
            whatever ``open_ws``/``on_connected`` raise for this first connection: nothing
            is retried and nothing runs in the background then.
        """
        self._stopping = False
        self.error = None
        ws = await self._connect_once()
        self._make_current(ws)
        self._task = asyncio.get_running_loop().create_task(self._keep())
        return ws

    async def _keep(self) -> None:
        try:
            await self._supervise(connected=True)
        except Exception as exc:
            self.error = exc
            log.error("%s: stopped reconnecting: %r", self.name, exc)

    async def _supervise(self, *, connected: bool) -> None:
        loop = asyncio.get_running_loop()
        delays = self._delays()
        while not self._stopping:
            if not connected:
                try:
                    ws = await self._connect_once()
                except self._retry_on as exc:
                    self.failures += 1
                    delay = next(delays)
                    log.warning(
                        "%s: connect failed (%s); retrying in %.3f s", self.name, exc, delay
                    )
                    await asyncio.sleep(delay)
                    continue
                self._make_current(ws)
            connected = False
            up_since = loop.time()
            # set only by the current connection's loss: a rollover swaps it under us
            await self._lost.wait()
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
            with contextlib.suppress(WebSocketError):
                await old.close()
        return new

    async def close(self) -> None:
        """Stop reconnecting and close the current connection with 1000.

        When this returns, the background supervision ``start()`` began has ended (an
        attempt it cut short is closed with 1011) and ``on_disconnected`` has heard of
        every connection closed so far.
        """
        self._stopping = True
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait([task])  # its exception, if any, is already in ``error``
        current = self._current
        if current is not None and not current.closed:
            with contextlib.suppress(WebSocketError):
                await current.close()
        for ws in list(self._unreported):
            if ws.closed:
                self._report(ws)

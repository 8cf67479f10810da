"""The emulator on the network: the Binance handler served at ``/ws-api/v3`` by our server.

Wires ``whalewire.net.server.serve`` to :class:`~whalewire.emulator.binance.BinanceSession`:
one session per connection, each text frame handled in order, events caused by other
connections flushed as they happen, and a :class:`~whalewire.emulator.faults.FaultPlan`
applied around the handler (delay, drop, 5xx, disconnect, ...). Pings every 20 s as
Binance does ("The WebSocket server will send a ping frame every 20 seconds").
Makes no venue decisions: all protocol answers come from the sans-IO handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

from whalewire.emulator.binance import BinanceConfig, BinanceExchange, BinanceSession
from whalewire.emulator.faults import FaultInjector, FaultKind, FaultPlan
from whalewire.emulator.matching import Clock
from whalewire.net._protocol import WebSocket
from whalewire.net.server import Server, serve
from whalewire.ws.handshake import Request

#: the WebSocket API path (``web-socket-api.md``: ``wss://ws-api.binance.com:443/ws-api/v3``)
PATH = "/ws-api/v3"
PING_INTERVAL_S = 20.0


def wall_clock() -> int:
    """Return the time in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


class BinanceEmulator:
    """A running emulated Binance: the exchange state plus its WebSocket front end."""

    def __init__(
        self,
        config: BinanceConfig | None = None,
        *,
        faults: FaultPlan | None = None,
        clock: Clock = wall_clock,
        ping_interval: float = PING_INTERVAL_S,
    ) -> None:
        self._clock = clock
        self._skew_ms = 0
        self.exchange = BinanceExchange(self._venue_time, config)
        self.exchange.on_push = self._flush
        self.ping_interval = ping_interval
        self._sockets: dict[BinanceSession, WebSocket] = {}
        self._connections = 0
        self._server: Server | None = None
        self.faults: FaultPlan | None = None
        #: bumped by set_faults so every connection re-derives its injector
        self._fault_epoch = 0
        self.set_faults(faults)

    def _venue_time(self) -> int:
        return self._clock() + self._skew_ms

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Apply ``plan`` from the next request on, on every connection (None: no faults).

        Each connection draws from its own seed derived from the plan's seed and the
        connection's number, so a test run replays identically.
        """
        self.faults = plan
        self._skew_ms = plan.clock_skew_ms if plan is not None else 0
        self._fault_epoch += 1

    async def announce_shutdown(self) -> None:
        """Send every connection the venue's shutdown notice, then close them all."""
        notice = self.exchange.render_fault(FaultKind.SHUTDOWN, "")
        for ws in list(self._sockets.values()):
            with contextlib.suppress(Exception):  # already closing
                ws.send(notice)
        await self.disconnect_all()

    async def disconnect_all(self, code: int = 1001) -> None:
        """Close every connection now (1001 going away), orders in flight or not."""
        await asyncio.gather(
            *(ws.close(code) for ws in list(self._sockets.values())), return_exceptions=True
        )

    @property
    def port(self) -> int:
        """Return the port the server listens on."""
        assert self._server is not None, "start() first"
        return self._server.port

    @property
    def url(self) -> str:
        """Return the endpoint URL clients connect to."""
        return f"ws://127.0.0.1:{self.port}{PATH}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Server:
        """Listen on ``host``:``port`` (0 picks a free port) and return the server."""
        self._server = await serve(
            self._handle, host, port, process_request=_only_api_path, deflate=False
        )
        return self._server

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _flush(self, session: BinanceSession) -> None:
        ws = self._sockets.get(session)
        if ws is None or ws.closed:
            return
        for text in session.data_to_send():
            with contextlib.suppress(Exception):  # closing: the events die with it
                ws.send(text)

    async def _handle(self, ws: WebSocket) -> None:
        query = parse_qs(urlsplit(ws.path).query)
        return_limits = query.get("returnRateLimits", ["true"])[0].lower() != "false"
        peer = ws.remote_address
        ip = str(peer[0]) if isinstance(peer, Sequence) and peer else "127.0.0.1"
        session = self.exchange.connect(ip, return_rate_limits=return_limits)
        self._sockets[session] = ws
        number = self._connections
        self._connections += 1
        injector: FaultInjector | None = None
        epoch = -1
        pinger = asyncio.get_running_loop().create_task(self._ping(ws))
        try:
            async for message in ws:
                if not isinstance(message, str):
                    continue  # requests are JSON in text frames ("Request format")
                if epoch != self._fault_epoch:
                    epoch, injector = self._fault_epoch, self._injector(number)
                if injector is None:
                    texts, delay_ms = session.handle(message), 0.0
                    close = session.close_requested
                else:
                    outcome = injector.apply(message, session.handle, self.exchange.render_fault)
                    texts, delay_ms, close = outcome.texts, outcome.delay_ms, outcome.close
                if delay_ms:
                    await asyncio.sleep(delay_ms / 1000)
                for text in texts:
                    ws.send(text)
                await ws.drain()
                if close or session.close_requested:
                    break
        finally:
            pinger.cancel()
            self._sockets.pop(session, None)
            self.exchange.disconnect(session)

    def _injector(self, number: int) -> FaultInjector | None:
        plan = self.faults
        if plan is None:
            return None
        return FaultInjector(replace(plan, seed=plan.seed * 1_000_003 + number))

    async def _ping(self, ws: WebSocket) -> None:
        while not ws.closed:
            await asyncio.sleep(self.ping_interval)
            with contextlib.suppress(Exception):
                ws.ping(b"")


def _only_api_path(request: Request) -> tuple[int, Sequence[tuple[str, str]], bytes] | None:
    if urlsplit(request.target).path.rstrip("/") == PATH:
        return None
    return 404, [("Content-Type", "text/plain")], b"not found: the API is at /ws-api/v3\n"

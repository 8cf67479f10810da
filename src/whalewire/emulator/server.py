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
from whalewire.emulator.faults import FaultInjector, FaultPlan, skewed_clock
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
        self.faults = faults
        venue_clock = skewed_clock(clock, faults.clock_skew_ms) if faults else clock
        self.exchange = BinanceExchange(venue_clock, config)
        self.exchange.on_push = self._flush
        self.ping_interval = ping_interval
        self._sockets: dict[BinanceSession, WebSocket] = {}
        self._connections = 0
        self._server: Server | None = None

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
        injector = None
        if self.faults is not None:
            # each connection draws its own faults, reproducibly, from the plan's seed
            plan = replace(self.faults, seed=self.faults.seed * 1_000_003 + self._connections)
            injector = FaultInjector(plan)
        self._connections += 1
        pinger = asyncio.get_running_loop().create_task(self._ping(ws))
        try:
            async for message in ws:
                if not isinstance(message, str):
                    continue  # requests are JSON in text frames ("Request format")
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

    async def _ping(self, ws: WebSocket) -> None:
        while not ws.closed:
            await asyncio.sleep(self.ping_interval)
            with contextlib.suppress(Exception):
                ws.ping(b"")


def _only_api_path(request: Request) -> tuple[int, Sequence[tuple[str, str]], bytes] | None:
    if urlsplit(request.target).path.rstrip("/") == PATH:
        return None
    return 404, [("Content-Type", "text/plain")], b"not found: the API is at /ws-api/v3\n"

"""The Kraken emulator on the network: REST over aiohttp, WebSocket v2 over our server.

Two listeners, as Kraken has two hosts (``api.kraken.com`` for REST, ``ws-auth.kraken.com``
for ``/v2``): an aiohttp low-level server answering the private REST calls
(``GetWebSocketsToken``, ``OpenOrders``, ``ClosedOrders``) and ``whalewire.net.server.serve``
for the WebSocket API. Per connection: requests handled in order, messages caused by
other connections or by the dead man's switch flushed as they happen, a ``heartbeat``
about once a second when nothing else was sent (Spot WebSocket v2 "Heartbeat"), and a
:class:`~whalewire.emulator.faults.FaultPlan` applied around the handler. The dead man's
switch is one loop timer re-armed after every request. Makes no venue decisions: every
answer comes from the sans-IO :mod:`whalewire.emulator.kraken.exchange`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from aiohttp import web

from whalewire.emulator.book import keep_walking
from whalewire.emulator.faults import FaultInjector, FaultKind, FaultPlan
from whalewire.emulator.front import Front, RestListener, wall_clock
from whalewire.emulator.kraken.exchange import (
    KrakenConfig,
    KrakenCredentials,
    KrakenExchange,
    KrakenSession,
)
from whalewire.emulator.kraken.render import status_message
from whalewire.emulator.matching import Clock
from whalewire.net import WebSocket
from whalewire.net.server import Server, serve
from whalewire.ws.handshake import Request

#: the private v2 endpoint's path (``wss://ws-auth.kraken.com/v2``)
PATH = "/v2"
HEARTBEAT_INTERVAL_S = 1.0
_HEARTBEAT = '{"channel":"heartbeat"}'


class KrakenEmulator(Front[KrakenSession]):
    """A running emulated Kraken: the exchange state, its REST and WebSocket listeners."""

    def __init__(
        self,
        config: KrakenConfig | None = None,
        *,
        faults: FaultPlan | None = None,
        clock: Clock = wall_clock,
        heartbeat_interval: float = HEARTBEAT_INTERVAL_S,
    ) -> None:
        super().__init__(clock)
        self.exchange = KrakenExchange(self.venue_time, config)
        self.exchange.on_push = self._flush
        self.heartbeat_interval = heartbeat_interval
        self._last_sent: dict[KrakenSession, float] = {}
        self._host = "127.0.0.1"
        self._ws_server: Server | None = None
        self._rest = RestListener(self._handle_rest)
        self._dead_man: asyncio.TimerHandle | None = None
        self._walker: asyncio.Task[None] | None = None
        self._connections = 0
        #: pongs received (we send no pings: each is a client's unsolicited heartbeat)
        self.unsolicited_pongs = 0
        self.faults: FaultPlan | None = None
        self._fault_epoch = 0
        self.set_faults(faults)

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Apply ``plan`` to WebSocket requests from the next one on (None: no faults)."""
        self.faults = plan
        self._skew_ms = plan.clock_skew_ms if plan is not None else 0
        self._fault_epoch += 1

    def open_default_account(self, account_id: str = "default") -> KrakenCredentials:
        """Open a funded account (BTC 10, ETH 100, USD 1,000,000); return its REST key."""
        return self.exchange.open_default_account(account_id)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, rest_port: int = 0) -> Server:
        """Listen for WebSocket v2 on ``host``:``port`` and REST on ``rest_port`` (0: free)."""
        loop = asyncio.get_running_loop()
        self._host = host
        await self._rest.start(host, rest_port)
        self._ws_server = await serve(
            self._handle, host, port, process_request=_only_v2_path, deflate=False
        )
        if self.exchange.walk is not None:
            interval = self.exchange.config.walk_interval_s
            self._walker = loop.create_task(keep_walking(self.exchange.step_market, interval))
        return self._ws_server

    async def close(self) -> None:
        """Stop both listeners, the dead man's timer, the price walk and every connection."""
        if self._walker is not None:
            self._walker.cancel()
        if self._dead_man is not None:
            self._dead_man.cancel()
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
        await self._rest.close()

    @property
    def port(self) -> int:
        """Return the WebSocket port."""
        assert self._ws_server is not None, "start() first"
        return self._ws_server.port

    @property
    def rest_port(self) -> int:
        """Return the REST port."""
        return self._rest.port

    @property
    def url(self) -> str:
        """Return the WebSocket v2 URL (Kraken's is ``wss://ws-auth.kraken.com/v2``)."""
        return f"ws://{self._host}:{self.port}{PATH}"

    @property
    def rest_url(self) -> str:
        """Return the REST base URL (Kraken's is ``https://api.kraken.com``)."""
        return f"http://{self._host}:{self.rest_port}"

    async def disconnect_all(self, code: int = 1001) -> None:
        """Close every WebSocket connection now (1001), orders in flight or not."""
        await self._close_all(code)

    # ------------------------------------------------------------------ REST

    async def _handle_rest(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        answer = self.exchange.rest(request.method, request.raw_path, headers, body)
        self._arm_dead_man()
        return web.Response(status=answer.status, body=answer.body, content_type="application/json")

    # ------------------------------------------------------------------ WebSocket

    def _send(self, session: KrakenSession, ws: WebSocket, text: str) -> None:
        ws.send(text)
        self._last_sent[session] = asyncio.get_running_loop().time()

    def _flush(self, session: KrakenSession) -> None:
        ws = self._sockets.get(session)
        texts = session.data_to_send()
        if ws is None or ws.closed:
            return
        for text in texts:
            with contextlib.suppress(Exception):  # closing: the messages die with it
                self._send(session, ws, text)

    def _arm_dead_man(self) -> None:
        if self._dead_man is not None:
            self._dead_man.cancel()
            self._dead_man = None
        trigger = self.exchange.next_dead_man()
        if trigger is None:
            return
        delay = max(0.0, (trigger - self.venue_time()) / 1000)
        self._dead_man = asyncio.get_running_loop().call_later(delay, self._fire_dead_man)

    def _fire_dead_man(self) -> None:
        self._dead_man = None
        self.exchange.fire_dead_man(self.venue_time())
        self._arm_dead_man()

    async def _handle(self, ws: WebSocket) -> None:
        session = self.exchange.connect()
        self._sockets[session] = ws
        number = self._connections
        self._connections += 1
        injector: FaultInjector | None = None
        epoch = -1
        # Kraken greets every v2 connection with a status update ("Status")
        self._send(session, ws, status_message(number))
        ws.on_pong = self._count_pong
        beat = asyncio.get_running_loop().create_task(self._heartbeat(session, ws))
        try:
            async for message in ws:
                if not isinstance(message, str):
                    continue
                if epoch != self._fault_epoch:
                    epoch, injector = self._fault_epoch, self._injector(number)
                if injector is None:
                    texts, delay_ms, close = session.handle(message), 0.0, False
                else:
                    outcome = injector.apply(message, session.handle, self.exchange.render_fault)
                    texts, delay_ms, close = outcome.texts, outcome.delay_ms, outcome.close
                self._arm_dead_man()
                if delay_ms:
                    await asyncio.sleep(delay_ms / 1000)
                for text in texts:
                    self._send(session, ws, text)
                await ws.drain()
                if close:
                    break
        finally:
            beat.cancel()
            self._sockets.pop(session, None)
            self._last_sent.pop(session, None)
            self.exchange.disconnect(session)

    def _count_pong(self, payload: bytes, rtt: float | None) -> None:
        # RFC 6455 §5.5.3: taken, never answered
        self.unsolicited_pongs += 1

    def _injector(self, number: int) -> FaultInjector | None:
        plan = self.faults
        if plan is None:
            return None
        return FaultInjector(replace(plan, seed=plan.seed * 1_000_003 + number))

    async def _heartbeat(self, session: KrakenSession, ws: WebSocket) -> None:
        loop = asyncio.get_running_loop()
        interval = self.heartbeat_interval
        while not ws.closed:
            await asyncio.sleep(interval)
            idle = loop.time() - self._last_sent.get(session, 0.0)
            if session.heartbeats and idle >= interval * 0.9:
                with contextlib.suppress(Exception):
                    self._send(session, ws, _HEARTBEAT)

    async def announce_shutdown(self) -> None:
        """Send every connection the ``status`` maintenance update, then close them all."""
        notice = self.exchange.render_fault(FaultKind.SHUTDOWN, "")
        for session, ws in list(self._sockets.items()):
            with contextlib.suppress(Exception):
                self._send(session, ws, notice)
        await self.disconnect_all()


def _only_v2_path(request: Request) -> tuple[int, Sequence[tuple[str, str]], bytes] | None:
    # "/v2" as Kraken serves it; any prefix ("/kraken/v2") as a shared deployment mounts it
    if urlsplit(request.target).path.rstrip("/").endswith(PATH):
        return None
    return 404, [("Content-Type", "text/plain")], b"not found: the API is at /v2\n"

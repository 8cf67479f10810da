"""The emulator on the network: the Binance handler served at ``/ws-api/v3`` by our server.

Wires ``whalewire.net.server.serve`` to ``exchange.BinanceSession``: one session per
connection, each text frame handled in order, events caused by other
connections flushed as they happen, and a :class:`~whalewire.emulator.faults.FaultPlan`
applied around the handler (delay, drop, 5xx, disconnect, ...). Pings every 20 s and drops
a connection that leaves a ping unanswered for a minute, as Binance does ("The websocket
server will send a ping frame every 20 seconds. If the websocket server does not receive a
pong frame back from the connection within a minute the connection will be disconnected.
[...] Unsolicited pong frames are allowed, but will not prevent disconnection.").
Makes no venue decisions: all protocol answers come from the sans-IO handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import replace
from ssl import SSLContext
from urllib.parse import parse_qs, urlsplit

from whalewire.emulator import decoding
from whalewire.emulator.binance.exchange import BinanceConfig, BinanceExchange, BinanceSession
from whalewire.emulator.book import keep_walking
from whalewire.emulator.faults import FaultInjector, FaultKind, FaultPlan
from whalewire.emulator.front import Front, wall_clock
from whalewire.emulator.matching import Clock
from whalewire.emulator.stamps import ReadStamps
from whalewire.net import WebSocket
from whalewire.net.server import Server, serve
from whalewire.ws.exceptions import CloseCode
from whalewire.ws.handshake import Request

#: the WebSocket API path (``web-socket-api.md``: ``wss://ws-api.binance.com:443/ws-api/v3``)
PATH = "/ws-api/v3"
PING_INTERVAL_S = 20.0
PONG_TIMEOUT_S = 60.0
_MAX_UNANSWERED = 64
#: a timer this short fires only after the loop has polled its sockets once more
_ONE_POLL_S = 0.001
#: the close sent to a connection that stopped answering pings (Binance does not say which)
PONG_TIMEOUT_CLOSE = (CloseCode.POLICY_VIOLATION, "pong timeout")
#: the public REST endpoints a market-data client fetches before its streams (rest-api.md:
#: "Order book" GET /api/v3/depth, "Exchange information", "Test connectivity", "Check
#: server time"): the same answers as the WebSocket API methods of the same name
REST_METHODS = {
    "/api/v3/depth": "depth",
    "/api/v3/exchangeInfo": "exchangeInfo",
    "/api/v3/ping": "ping",
    "/api/v3/time": "time",
}
#: an HTTP answer instead of an upgrade: status, header fields, body
HttpAnswer = tuple[int, Sequence[tuple[str, str]], bytes]
#: REST parameters that carry a JSON array in the query string (``symbols=["A","B"]``)
_ARRAY_PARAMS = frozenset({"symbols", "permissions"})
_JSON = ("Content-Type", "application/json;charset=UTF-8")


class BinanceEmulator(Front[BinanceSession]):
    """A running emulated Binance: the exchange state plus its WebSocket front end."""

    def __init__(
        self,
        config: BinanceConfig | None = None,
        *,
        faults: FaultPlan | None = None,
        clock: Clock = wall_clock,
        ping_interval: float = PING_INTERVAL_S,
        pong_timeout: float | None = PONG_TIMEOUT_S,
        read_stamps: ReadStamps | None = None,
    ) -> None:
        super().__init__(clock)
        #: stamps each order message as it is read (benchmarks; None: off)
        self.read_stamps = read_stamps
        self.exchange = BinanceExchange(self.venue_time, config)
        self.exchange.on_push = self._flush
        self.ping_interval = ping_interval
        #: seconds a connection may go without answering a ping (None: never dropped)
        self.pong_timeout = pong_timeout
        #: pings sent and connections dropped for not answering them, so far
        self.pings_sent = 0
        self.pong_timeouts = 0
        #: pongs that answered none of our pings (a client's heartbeat), so far: taken and
        #: counted, never mistaken for an answer
        self.unsolicited_pongs = 0
        self._connections = 0
        self._server: Server | None = None
        self._tls = False
        self._walker: asyncio.Task[None] | None = None
        self.faults: FaultPlan | None = None
        #: bumped by set_faults so every connection re-derives its injector
        self._fault_epoch = 0
        self.set_faults(faults)

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Apply ``plan`` from the next request on, on every connection (None: no faults).

        Each connection draws from its own seed derived from the plan's seed and the
        connection's number, so a test run replays identically.
        """
        self.faults = plan
        self._skew_ms = plan.clock_skew_ms if plan is not None else 0
        self._fault_epoch += 1

    def _process_request(
        self, request: Request
    ) -> tuple[int, Sequence[tuple[str, str]], bytes] | None:
        """Upgrade at ``/ws-api/v3``; answer the public REST market-data GETs; 404 otherwise."""
        split = urlsplit(request.target)
        path = split.path.rstrip("/")
        if path == PATH:
            return None
        method = REST_METHODS.get(path)
        if method is None or request.method != "GET":
            return _not_found()
        return self.rest(method, split.query)

    def rest(self, method: str, query: str) -> HttpAnswer:
        """Answer one public REST GET as Binance does: the result with 200, else the HTTP
        status and ``{"code", "msg"}`` of the WebSocket API's answer to the same method.

        The request runs through a session of its own (not counted as a connection) so the
        parameters meet the same checks, limits and weights as over the WebSocket API.
        """
        params: dict[str, object] = {}
        for name, values in parse_qs(query, keep_blank_values=True).items():
            value: object = values[-1]
            if name in _ARRAY_PARAMS:
                # not JSON: left as text, which the method's own check refuses
                with contextlib.suppress(ValueError):
                    value = decoding.loads(values[-1])
            params[name] = value
        session = BinanceSession(
            self.exchange, "127.0.0.1", self.venue_time(), return_rate_limits=False
        )
        request = json.dumps({"id": "rest", "method": method, "params": params})
        answer = json.loads(session.handle(request)[0])
        if "result" in answer:
            return 200, [_JSON], json.dumps(answer["result"]).encode()
        return int(answer.get("status", 400)), [_JSON], json.dumps(answer["error"]).encode()

    async def announce_shutdown(self) -> None:
        """Send every connection the venue's shutdown notice, then close them all."""
        notice = self.exchange.render_fault(FaultKind.SHUTDOWN, "")
        for ws in list(self._sockets.values()):
            with contextlib.suppress(Exception):  # already closing
                ws.send(notice)
        await self.disconnect_all()

    async def disconnect_all(self, code: int = 1001) -> None:
        """Close every connection now (1001 going away), orders in flight or not."""
        await self._close_all(code)

    @property
    def port(self) -> int:
        """Return the port the server listens on."""
        assert self._server is not None, "start() first"
        return self._server.port

    @property
    def url(self) -> str:
        """Return the endpoint URL clients connect to."""
        scheme = "wss" if self._tls else "ws"
        return f"{scheme}://127.0.0.1:{self.port}{PATH}"

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, ssl: SSLContext | None = None
    ) -> Server:
        """Listen on ``host``:``port`` (0 picks a free port; TLS with ``ssl``); return it."""
        self._server = await serve(
            self._handle, host, port, process_request=self._process_request, deflate=False, ssl=ssl
        )
        self._tls = ssl is not None
        if self.exchange.walk is not None:
            interval = self.exchange.config.walk_interval_s
            self._walker = asyncio.get_running_loop().create_task(
                keep_walking(self.exchange.step_market, interval)
            )
        return self._server

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._walker is not None:
            self._walker.cancel()
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
        if self.read_stamps is not None:
            self.read_stamps.attach(ws)
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
                slow = self.faults.consume_delay_ms if self.faults is not None else 0.0
                if slow:
                    await asyncio.sleep(slow / 1000)
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
        loop = asyncio.get_running_loop()
        # a pong counts only when it echoes one of our pings' payloads ("you must send a
        # pong with a copy of ping's payload"), and it answers the earlier pings too
        # (RFC 6455 §5.5.3); the clock runs from the oldest ping still unanswered
        sent: dict[bytes, tuple[int, float]] = {}

        def on_pong(payload: bytes, rtt: float | None) -> None:
            entry = sent.get(payload)
            if entry is None:
                self.unsolicited_pongs += 1
                return  # unsolicited: "will not prevent disconnection"
            for key in [k for k, (n, _) in sent.items() if n <= entry[0]]:
                del sent[key]

        ws.on_pong = on_pong
        pings = itertools.count(1)
        next_ping = loop.time() + self.ping_interval
        polled = False
        while not ws.closed:
            now = loop.time()
            deadline = None
            if self.pong_timeout is not None and sent:
                deadline = next(iter(sent.values()))[1] + self.pong_timeout
            if deadline is not None and now >= deadline:
                if not polled:
                    # after a busy stretch, pongs may still sit unread in the socket (uvloop
                    # runs overdue timers before polling): give the loop one poll first
                    polled = True
                    await asyncio.sleep(_ONE_POLL_S)
                    continue
                self.pong_timeouts += 1
                await ws.close(*PONG_TIMEOUT_CLOSE)
                return
            polled = False
            if now >= next_ping:
                number = next(pings)
                payload = str(number).encode()
                sent[payload] = (number, now)
                if self.pong_timeout is None and len(sent) > _MAX_UNANSWERED:
                    del sent[next(iter(sent))]  # never dropped, never answering: stay bounded
                with contextlib.suppress(Exception):  # closing: the handler ends
                    ws.ping(payload)
                    self.pings_sent += 1
                next_ping = now + self.ping_interval
                continue
            wake = next_ping if deadline is None else min(next_ping, deadline)
            await asyncio.sleep(max(0.0, wake - loop.time()))


def _not_found() -> HttpAnswer:
    return 404, [("Content-Type", "text/plain")], b"not found: the API is at /ws-api/v3\n"

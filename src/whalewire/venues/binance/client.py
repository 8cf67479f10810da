"""Binance Spot WebSocket API client: one warm, authenticated connection that places orders.

``start`` does everything that must not happen on the hot path: connect, sample the
venue's clock (``time``), read ``exchangeInfo`` (rate limits, lot and tick sizes), log the
session on with Ed25519 (``session.logon``) or prepare per-request HMAC signing, subscribe
to the user data stream for execution reports, and read the book for a reference price.

``place`` is the hot path: rate-limit check, then the order call
(``BinanceOrderTemplate.send``: fill, sign, frame, mask and ``write(2)`` or ``SSL_write`` in
one C call) to the connection's ``send_target()``; when it has none (something queued,
io_uring, asyncio's ``ssl``), one template fill and ``send_prebuilt`` instead. The request
id is the client order id, so the response correlates without a lookup table of its own.
``rehearse`` runs the same fill, sign and frame into scratch between orders and writes an
unsolicited empty Pong through the same path (``base.WarmPong``), so the code, the kernel's
send path and the venue's receive path are warm when an order comes.
What the venue says afterwards becomes ``whalewire.model`` events through ``on_event``:
the ``order.place`` response (ACK: accepted or rejected, or UNKNOWN per ``outcome.py``)
and ``executionReport``s (fills, cancels, expiries). A dropped connection turns every
order still waiting for its response into ``OrderStatusUnknown``; only ``reconcile``
(``order.status`` by client order id) resolves it. Nothing here resends an order.

Knows nothing of whales, strategy or the journal.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from whalewire.model import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderNotFound,
    OrderRejected,
    OrderType,
    SubmitOrder,
)
from whalewire.net import WebSocket
from whalewire.net.client import connect
from whalewire.net.uring import use_send_backend
from whalewire.venues.base import (
    DEFAULT_PONG_INTERVAL_MS,
    Grid,
    MalformedMessages,
    RequestTable,
    TlsSettings,
    VenueError,
    VenueUnavailable,
    WarmPong,
    ack_event,
    closed_event,
    connection_slot,
    discard_event,
    order_shape,
    order_text,
    reconciled_events,
    report_disconnected,
    rtt_summary,
    venue_supervisor,
)
from whalewire.venues.binance import decode
from whalewire.venues.clock import ClockNotSynced, ClockSync
from whalewire.venues.contract import Capabilities, VenueDefaults
from whalewire.venues.credentials import Credentials, Secret
from whalewire.venues.decoding import VenueDecodeError
from whalewire.venues.ids import binance_client_order_id
from whalewire.venues.outcome import (
    BINANCE_TIMESTAMP_REJECTED,
    Finding,
    PendingRequests,
    Rejected,
    binance_outcome,
    binance_reconcile,
)
from whalewire.venues.ratelimit import (
    BINANCE_CONNECTIONS,
    INTERVAL_MS,
    ConnectionLimiter,
    RateLimiter,
)
from whalewire.venues.signing import binance_logon_params, binance_signed_params
from whalewire.venues.templates import BinanceOrderTemplate, FrameFn, SendFn
from whalewire.ws.exceptions import ConnectionClosed, WebSocketError

log = logging.getLogger("whalewire.venues.binance")

#: Binance's "Unknown order sent." (``errors.md``): cancelAll with nothing open
_UNKNOWN_ORDER_SENT = -2011
#: order shapes (with their quantity and price) kept ready at most: strategies repeat theirs
_READY_MAX = 4096


class BinanceClient(VenueDefaults):
    """A ``venues.contract.Venue`` for the Binance Spot WebSocket API (``/ws-api/v3``)."""

    capabilities = Capabilities(rehearsal=True, templates=True, price_refresh=True)

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        name: str = "binance",
        recv_window_ms: int = 1000,
        cid_width: int,
        dry_run: bool = False,
        request_timeout_s: float = 5.0,
        clock_samples: int = 5,
        monotonic_ns: Callable[[], int] = time.perf_counter_ns,
        tls: TlsSettings | None = None,
        connection_limiter: ConnectionLimiter | None = None,
        send_backend: str = "socket",
        pong_interval_ms: float = DEFAULT_PONG_INTERVAL_MS,
    ) -> None:
        self.name = name
        #: the send backend asked for (``net.uring.SEND_BACKENDS``) and the one in effect
        #: on the current connection ("socket" after a fallback: TLS, io_uring refused)
        self.send_backend = send_backend
        self.send_backend_in_use = "socket"
        #: connection attempts per IP (``ratelimit.BINANCE_CONNECTIONS``); share one
        #: limiter between clients of this venue on one host
        self.connection_limiter = connection_limiter or ConnectionLimiter(*BINANCE_CONNECTIONS)
        self.tls = tls or TlsSettings()
        self.url = url
        self.on_event: Callable[[OrderEvent], None] = discard_event
        self.dry_run = dry_run
        self.recv_window_ms = recv_window_ms
        self.cid_width = cid_width
        self.request_timeout_s = request_timeout_s
        self.clock_samples = clock_samples
        self._now = monotonic_ns
        self._api_key = credentials.api_key
        self._secret: Secret | None = credentials.api_secret
        self._ed25519: Ed25519PrivateKey | None = None
        if credentials.private_key_pem is not None:
            key = load_pem_private_key(credentials.private_key_pem.reveal().encode(), None)
            if not isinstance(key, Ed25519PrivateKey):
                raise VenueError(f"{name}: session logon needs an Ed25519 key")
            self._ed25519 = key
        if self._secret is None and self._ed25519 is None:
            raise VenueError(f"{name}: credentials need an HMAC secret or an Ed25519 key")
        self.clock = ClockSync(
            monotonic_ns, recv_window_ms=recv_window_ms, min_samples=min(3, clock_samples)
        )
        self.limiter = RateLimiter([])
        self.rules: dict[str, Grid] = {}
        self.logged_on = False
        self._ws: WebSocket | None = None
        self._templates: dict[tuple[object, ...], BinanceOrderTemplate] = {}
        #: per order shape, quantity and price: the template's framer and order call and the
        #: quantity and price as text on the symbol's grids, so ``place`` does one lookup
        self._ready: dict[tuple[object, ...], tuple[FrameFn, SendFn, bytes, bytes]] = {}
        #: the id the rehearsal fills in (any id of the right width: its frame is dropped)
        self._rehearsal_cid = b"r" * cid_width
        #: unsolicited pongs the rehearsal writes (``[venues.NAME] pong_interval_ms``)
        self.warm_pong = WarmPong(pong_interval_ms, monotonic_ns)
        self.rehearsals = 0
        #: order.place requests awaiting their response (id = client order id); the
        #: engine's ack deadline, not this table, decides when silence means UNKNOWN
        self._pending = PendingRequests(timeout_ns=365 * 86_400 * 10**9)
        #: the timestamp each order was signed with: reconciliation needs it (-2013 is
        #: final only once that timestamp's recvWindow has closed)
        self._signed_ms: dict[str, int] = {}
        self._started_ms = 0
        self._requests: RequestTable[str, decode.Message] = RequestTable(name)
        self._ids = itertools.count(1)
        self._last_price: dict[str, Decimal] = {}
        self.sent = 0
        self.acks = 0
        #: frames that did not decode (``base.MalformedMessages``)
        self.malformed = MalformedMessages(name, monotonic_ns)
        self.ready = False
        #: keeps the connection up (``base.venue_supervisor``); each new one is warmed up
        #: again before ``place`` accepts orders
        self.supervisor = venue_supervisor(
            name,
            self._open,
            on_connected=self._connect_and_warm,
            on_disconnected=self._disconnected,
            retry_on=(OSError, TimeoutError, WebSocketError, VenueError),
        )

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Connect and warm up: clock, exchangeInfo, authentication, user data, prices.

        After ``start`` the client keeps itself connected (``self.supervisor``): an
        unexpected close turns the orders in flight UNKNOWN (``on_event``) and reconnects
        with backoff, warming up again before ``place`` accepts orders. Only ``close``
        stops it.

        Raises:
            whatever the first connection or its warm-up raise: nothing is retried then.
        """
        await self.supervisor.start()

    async def _open(self) -> WebSocket:
        self.ready = False
        self.logged_on = False
        await connection_slot(self.connection_limiter, self.name)
        return await connect(
            self.url, deflate=False, on_message=self._on_message, **self.tls.for_url(self.url)
        )

    async def _connect_and_warm(self, ws: WebSocket) -> None:
        self._ws = ws
        if self.send_backend != "socket":
            self.send_backend_in_use = use_send_backend(ws, self.send_backend)
            if self.send_backend_in_use != self.send_backend:
                log.warning(
                    "%s: send backend %s unavailable here, orders use the socket path",
                    self.name,
                    self.send_backend,
                )
        await self._warm_up()
        self.ready = True

    async def _warm_up(self) -> None:
        for _ in range(self.clock_samples):
            send = self._now()
            server_ms = decode.server_time(await self.request("time", {}))
            self.clock.add_sample(send, self._now(), server_ms)
        self._started_ms = self.clock.timestamp_ms()
        info = decode.exchange_info(await self.request("exchangeInfo", {}))
        try:
            self.limiter = RateLimiter(info.rateLimits)
        except ValueError as exc:  # the limiter checks each row's fields
            where = "$.result.rateLimits"
            raise VenueDecodeError(decode.VENUE, "exchangeInfo", where, str(exc)) from None
        for window in self.limiter.windows:
            if window.limit_type == "CONNECTIONS":
                self.connection_limiter.tighten(
                    window.limit, INTERVAL_MS[window.interval] * window.interval_num
                )
        for sym in info.symbols:
            step, tick = sym.grid()
            self.rules[sym.symbol] = Grid(step_size=step, tick_size=tick)
        self._ready.clear()  # the grids may have changed: format quantities afresh
        if self._ed25519 is not None:
            params = binance_logon_params(
                self._api_key.reveal(),
                self._ed25519,
                self.clock.timestamp_ms(),
                self.recv_window_ms,
            )
            await self.request("session.logon", params)
            self.logged_on = True
            await self.request("userDataStream.subscribe", {})
        else:
            await self.request("userDataStream.subscribe.signature", self._auth({}))
        for symbol in self.rules:
            await self.refresh_price(symbol)

    async def close(self) -> None:
        """Close the connection for good (pending orders become UNKNOWN)."""
        self.ready = False
        await self.supervisor.close()

    @property
    def reconnects(self) -> int:
        """Connections made after the first (``status()['reconnects']``)."""
        return max(0, self.supervisor.generation - 1)

    def _disconnected(self, ws: WebSocket) -> None:
        # the Supervisor's on_disconnected: once per connection, including one that
        # closed during its warm-up (whose requests are failed here, not timed out)
        if ws is not self._ws:
            return
        self._ws = None
        self.ready = False
        self.logged_on = False
        self._requests.fail_all(VenueError(f"{self.name}: connection closed"))
        report_disconnected(self._pending, self._now, self.on_event)

    def client_order_id(self, namespace: str, seq: int) -> str:
        """Return Binance's fixed-width id for ``seq`` (``ids.binance_client_order_id``)."""
        return binance_client_order_id(namespace, seq)

    # -- the hot path ------------------------------------------------------------------
    def place(self, command: SubmitOrder) -> int:
        """Fill, sign, frame and write ``command``; return ``perf_counter_ns`` after the write.

        Raises:
            VenueUnavailable: nothing was sent (not connected, clock not synced, rate limit,
                unknown symbol).
        """
        ws = self._ws
        if ws is None or not self.ready:
            raise VenueUnavailable(self.name, "not connected" if ws is None else "warming up")
        fill, send, qty, price = self._prepared(command)  # unknown symbol: before any charge
        try:
            ts = self.clock.timestamp_ms()  # the clock's own monotonic_ns: one call fewer
        except ClockNotSynced as exc:
            raise VenueUnavailable(self.name, f"clock {exc.state.value}") from None
        limiter = self.limiter
        verdict = limiter.order_allowed(ts)  # counted after the write (order_sent)
        if not verdict.allowed:
            raise VenueUnavailable(self.name, f"rate limit: {verdict.reason}")
        cid = command.client_order_id.encode()
        if self.dry_run:
            fill(ts, cid, qty, price)
            written = self._now()
            limiter.order_sent(ts)
            return written
        try:
            target = ws.send_target()
            if target is None:  # something queued, io_uring, asyncio's ssl: the transport's turn
                ws.send_prebuilt(fill(ts, cid, qty, price))
            else:
                try:
                    # the order call: fill, sign, frame, mask and write(2) / SSL_write in C
                    rest: bytes | bytearray | None = send(target, ts, cid, qty, price)
                except OSError:
                    # nothing written (the socket failed): as send_prebuilt, the transport
                    # takes the frame and meets and reports the failure
                    rest = fill(ts, cid, qty, price)
                if rest is not None:
                    ws.send_rest(rest)
        except ConnectionClosed:
            raise VenueUnavailable(self.name, "connection closed") from None
        written = self._now()
        limiter.order_sent(ts)
        coid = command.client_order_id
        self._pending.sent(coid, coid, written)
        signed = self._signed_ms
        signed[coid] = ts
        # only needed until the order's validity window has closed; older entries go (an
        # unknown id falls back to _started_ms, earlier still, so the answer is the same)
        horizon = ts - 60_000
        while len(signed) > 100_000 or signed[next(iter(signed))] < horizon:
            del signed[next(iter(signed))]
        self.sent += 1
        return written

    def _prepared(self, command: SubmitOrder) -> tuple[FrameFn, SendFn, bytes, bytes]:
        # keyed by the enum members themselves: their .value goes through enum.__get__
        c = command
        key = (c.symbol, c.side, c.order_type, c.time_in_force, c.quantity, c.price)
        ready = self._ready.get(key)
        if ready is None:
            qty, price = order_text(self.name, self.rules, c)
            template = self._template(c)
            ready = (template.frame, template.send, qty, price)
            if len(self._ready) < _READY_MAX:
                self._ready[key] = ready
        return ready

    def rehearse(self, command: SubmitOrder) -> None:
        """Rehearse ``place(command)`` without placing anything; write a warm-up pong if due.

        The same lookups, rate-limit check, fill, sign, frame and mask as ``place``, into a
        frame that is dropped (the check's verdict too): no rate-limit charge, no pending
        request, no signed timestamp, no id (a placeholder of the right width is filled
        in), ``sent`` unchanged. Then, at most every
        ``pong_interval_ms``, one unsolicited empty Pong through the path ``place`` writes
        with (``WarmPong``). The engine calls this between whales (``Engine.rehearse``).

        Does nothing while disconnected, warming up or with the clock unsynced; writes no
        pong in dry-run.

        Raises:
            VenueUnavailable: the venue does not list ``command.symbol`` (neither could
                ``place`` send it; the engine's first rehearsal at start says so).
        """
        ws = self._ws
        if ws is None or not self.ready or not self.clock.can_send:
            return
        fill, _, qty, price = self._prepared(command)
        ts = self.clock.timestamp_ms()
        # the check place() makes before its write, its verdict dropped (it counts nothing):
        # left cold, it cost 2.9-3.2 us of an order's send stage in bench/e2e_latency, 0.9-1.4
        # rehearsed (docs/benchmarks.md)
        self.limiter.order_allowed(ts)
        fill(ts, self._rehearsal_cid, qty, price)
        self.rehearsals += 1
        if not self.dry_run:  # dry-run sends nothing at all
            self.warm_pong.send(ws)

    def _template(self, command: SubmitOrder) -> BinanceOrderTemplate:
        # keyed by the enum members themselves: their .value goes through enum.__get__
        key = (command.symbol, command.side, command.order_type, command.time_in_force)
        template = self._templates.get(key)
        if template is None:
            tif = command.time_in_force.value if command.time_in_force else ""
            signed = not self.logged_on
            template = self._templates[key] = BinanceOrderTemplate(
                symbol=command.symbol,
                side=command.side.value,
                order_type=command.order_type.value,
                time_in_force=tif or (None if command.order_type is OrderType.MARKET else "GTC"),
                cid_width=self.cid_width,
                recv_window_ms=self.recv_window_ms,
                api_key=self._api_key.reveal() if signed else None,
                secret=self._secret.reveal() if signed and self._secret else None,
            )
        return template

    def prepare(self, symbol: str, side: str, order_type: str = "MARKET") -> None:
        """Build the template for one order shape ahead of time (off the hot path)."""
        self._template(order_shape(self.name, self.cid_width, symbol, side, order_type))

    # -- what the venue says -------------------------------------------------------------
    def _on_message(self, ws: WebSocket, message: str | bytes) -> None:
        # never raises: a frame that does not decode is counted and logged, the order it
        # names goes UNKNOWN, and the connection (with every other order on it) stays up
        try:
            msg = decode.message(message)
        except VenueDecodeError as exc:
            # an envelope that does not decode may still name its request: fail that one
            rid = decode.request_id(message)
            coid = rid if rid is not None and self._pending.discard(rid) is not None else None
            self._requests.fail(rid, exc)
            self.malformed.report(exc, message, self.on_event, coid)
            return
        try:
            self._dispatch(msg)
        except VenueDecodeError as exc:
            rid = None if msg.id is None else str(msg.id)
            self._requests.fail(rid, exc)
            coid = rid if rid is not None and rid in self._signed_ms else None
            if coid is None and msg.event:
                coid = decode.order_of(msg.event)
            self.malformed.report(exc, message, self.on_event, coid)

    def _dispatch(self, msg: decode.Message) -> None:
        limits = msg.rateLimits
        status = msg.status
        if limits is not None or status in (418, 429):
            data = msg.error.data if msg.error is not None else None
            retry = data.retryAfter if data is not None else None
            now_ms = self.clock.timestamp_ms() if self.clock.can_send else int(time.time() * 1000)
            try:
                self.limiter.on_response(status or 200, now_ms, limits, retry)
            except ValueError as exc:  # the limiter checks each row's fields
                raise VenueDecodeError(decode.VENUE, "message", "$.rateLimits", str(exc)) from None
        if msg.id is not None:
            rid = str(msg.id)
            answered = self._pending.answered(rid, self._now())
            if answered is not None:
                self._order_response(rid, msg)
                return
            self._requests.answer(rid, msg)
            return
        if msg.event:
            report = decode.execution_report(msg.event)
            if report is not None:
                self._execution_report(report)

    def _order_response(self, coid: str, msg: decode.Message) -> None:
        now = self._now()
        status = msg.status
        ack = decode.order_ack(msg)
        result = None if ack.orderId is None else {"orderId": ack.orderId}
        outcome = binance_outcome(status, msg.error_fields(), result)
        self.acks += 1
        if isinstance(outcome, Rejected) and outcome.code == BINANCE_TIMESTAMP_REJECTED:
            # pause timestamps and resample; the order itself is not retried
            self.clock.on_timestamp_rejected()
            asyncio.get_running_loop().create_task(self.resync_clock())
        self.on_event(ack_event(coid, now, outcome, fallback_code=status))

    def _execution_report(self, ev: decode.ExecutionReport) -> None:
        now = self._now()
        x = ev.x
        coid = ev.client_order_id
        # the venue has the order: its order.place answer, if it ever comes, decides nothing
        self._pending.discard(coid)
        ts = (ev.T or ev.E or 0) * 1_000_000
        event: OrderEvent
        if x == "TRADE":
            self._last_price[ev.s] = ev.L
            event = OrderFilled(
                client_order_id=coid,
                ts_init=now,
                ts_event=ts,
                trade_id=str(ev.t),
                last_qty=ev.l,
                last_px=ev.L,
                commission=ev.n or Decimal(0),
                commission_asset=ev.N or "",
                cum_qty=ev.z,
            )
        elif x == "NEW":
            event = OrderAccepted(
                client_order_id=coid, ts_init=now, ts_event=ts, venue_order_id=str(ev.i)
            )
        elif x in ("CANCELED", "EXPIRED", "TRADE_PREVENTION"):
            kind = OrderCanceled if x == "CANCELED" else OrderExpired
            event = closed_event(kind, coid, now, ts, executed=ev.z, avg_px=ev.average_px())
        elif x == "REJECTED":
            event = OrderRejected(
                client_order_id=coid, ts_init=now, ts_event=ts, code=0, message=ev.r
            )
        else:
            return
        self.on_event(event)

    # -- requests off the hot path ---------------------------------------------------------
    async def request(self, method: str, params: Mapping[str, object]) -> Any:
        """Send one request and return its ``result``; raise ``BinanceError`` on an error."""
        msg = await self.call(method, params)
        if msg.status != 200:
            raise _error(method, msg)
        return decode.result(msg)

    async def call(self, method: str, params: Mapping[str, object]) -> decode.Message:
        """Send one request and return the whole response envelope."""
        rid = f"r{next(self._ids)}"
        body = orjson.dumps({"id": rid, "method": method, "params": dict(params)}).decode()
        return await self._requests.send(
            self._ws, rid, body, what=method, timeout_s=self.request_timeout_s
        )

    def _auth(self, params: Mapping[str, object]) -> dict[str, object]:
        """Timestamp a USER_DATA/TRADE request; sign it unless the session is logged on."""
        out = {**params, "timestamp": self.clock.timestamp_ms(), "recvWindow": self.recv_window_ms}
        if self.logged_on:
            return out
        assert self._secret is not None
        return binance_signed_params(out, api_key=self._api_key.reveal(), key=self._secret.reveal())

    async def resync_clock(self) -> None:
        """Take fresh ``time`` samples until the clock may timestamp again."""
        for _ in range(self.clock_samples):
            send = self._now()
            try:
                server_ms = decode.server_time(await self.request("time", {}))
            except VenueError:
                await asyncio.sleep(0.1)
                continue
            self.clock.add_sample(send, self._now(), server_ms)

    async def refresh_price(self, symbol: str) -> Decimal | None:
        """Read the top of the book: the mid price is the risk engine's reference."""
        depth = decode.depth(await self.request("depth", {"symbol": symbol, "limit": 1}))
        bids, asks = depth.bids, depth.asks
        if bids and asks:
            mid = (bids[0][0] + asks[0][0]) / 2
            self._last_price[symbol] = mid
            return mid
        return None

    async def cancel(self, client_order_id: str, symbol: str) -> None:
        """Cancel one order by client order id; report it canceled with what had executed.

        The answer states the order's ``executedQty`` when it was canceled: reported at once,
        so the position counts it even if a trade's report is still on its way (the user
        stream's own ``CANCELED`` report, when it comes, confirms it again).
        """
        msg = await self.call(
            "order.cancel", self._auth({"symbol": symbol, "origClientOrderId": client_order_id})
        )
        if msg.status != 200:
            raise _error("order.cancel", msg)
        result = decode.cancel_result(msg)
        now = self._now()
        avg = decode.average(result.executedQty, result.cummulativeQuoteQty)
        self.on_event(
            closed_event(
                OrderCanceled, client_order_id, now, now, executed=result.executedQty, avg_px=avg
            )
        )

    async def cancel_all(self, symbol: str) -> int:
        """Cancel every open order on ``symbol``; return how many were canceled."""
        try:
            result = await self.request("openOrders.cancelAll", self._auth({"symbol": symbol}))
        except BinanceError as exc:
            if exc.code == _UNKNOWN_ORDER_SENT:
                return 0  # nothing was open
            raise
        return len(result) if isinstance(result, list) else 0

    async def reconcile(self, client_order_id: str, symbol: str) -> list[OrderEvent]:
        """Ask ``order.status`` by client order id; return the events it implies.

        "Order does not exist" (-2013) is final only once the order's signed timestamp plus
        its recvWindow has passed on the venue's clock (``outcome.binance_reconcile``):
        before that it may still be in flight, and ``VenueError`` says "ask again". An order
        of an earlier process was signed before this client started, which bounds it.
        Fills learned this way carry a synthetic trade id per cumulative quantity
        (``recon:<orderId>:<executedQty>``): the state machine's trade-id check keeps a
        later real ``executionReport`` for the same quantity from counting twice only
        when the quantities line up, so reconciliation runs when the stream is silent.
        """
        msg = await self.call(
            "order.status", self._auth({"symbol": symbol, "origClientOrderId": client_order_id})
        )
        now = self._now()
        status = msg.status
        error = msg.error_fields()
        result = decode.result(msg)
        found = binance_reconcile(
            status,
            error,
            result if isinstance(result, dict) else None,
            order_timestamp_ms=self._signed_ms.get(client_order_id, self._started_ms),
            recv_window_ms=self.recv_window_ms,
            server_time_ms=self.clock.timestamp_ms(),
        )
        if found.finding is not Finding.STILL_UNKNOWN:
            # the venue has answered for this order: its order.place answer decides nothing
            self._pending.discard(client_order_id)
        if found.finding is Finding.NOT_FOUND:
            return [OrderNotFound(client_order_id=client_order_id, ts_init=now, ts_event=now)]
        if found.finding is Finding.STILL_UNKNOWN:
            err = error or {}
            raise BinanceError(
                "order.status", status, err.get("code"), str(err.get("msg", "still unknown"))
            )
        r = decode.order_state(msg)
        executed = r.executedQty
        quote = r.cummulativeQuoteQty
        status_ = r.status
        if status_ == "REJECTED":
            return [
                OrderRejected(
                    client_order_id=client_order_id,
                    ts_init=now,
                    ts_event=now,
                    code=0,
                    message="rejected (reconciled)",
                )
            ]
        ending: type[OrderCanceled] | type[OrderExpired] | None = None
        if status_ == "CANCELED":
            ending = OrderCanceled
        elif status_ in ("EXPIRED", "EXPIRED_IN_MATCH"):
            ending = OrderExpired
        return reconciled_events(
            client_order_id,
            now=now,
            venue_order_id=str(r.orderId),
            executed=executed,
            avg_price=quote / executed if executed else Decimal(0),
            ending=ending,
        )

    # -- for the engine and the dashboard ---------------------------------------------------
    def last_price(self, symbol: str) -> Decimal | None:
        """The latest trade or mid price seen for ``symbol``."""
        return self._last_price.get(symbol)

    def status(self) -> Mapping[str, Any]:
        """Connection state, endpoint, send → response RTT percentiles (µs), counts."""
        summary = rtt_summary(self._pending, self.acks)
        return {
            "connected": self.ready and self._ws is not None and not self._ws.closed,
            "reconnects": self.reconnects,
            "endpoint": self.url,
            "authenticated": "session" if self.logged_on else "per-request HMAC",
            "clock": self.clock.state.value,
            "rate_limit": self.limiter.state.value,
            "connects_held_until_ms": self.connection_limiter.held_until_ms,
            "send_backend": self.send_backend_in_use,
            "dry_run": self.dry_run,
            "rtt_us": summary,
            "sent": self.sent,
            "acks": self.acks,
            "rehearsals": self.rehearsals,
            "warm_pongs": self.warm_pong.sent,
            "malformed": self.malformed.count,
        }


class BinanceError(VenueError):
    """A request got an error answer: the venue's status, code and message."""

    def __init__(self, method: str, status: int, code: object, message: str) -> None:
        super().__init__(method, status, code, message)
        self.method = method
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"binance {self.method}: HTTP {self.status} code {self.code}: {self.message}"


def _error(method: str, msg: decode.Message) -> BinanceError:
    """The ``BinanceError`` of an error answer to ``method``."""
    error = msg.error
    return BinanceError(
        method,
        msg.status,
        error.code if error is not None else None,
        error.msg if error is not None else "",
    )

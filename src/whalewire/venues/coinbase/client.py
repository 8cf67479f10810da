"""Coinbase Exchange client: orders over one kept-alive HTTPS connection, fills over the feed.

``start`` does everything that must not happen on the hot path: open ONE TLS connection to
the REST API (certificate verification on) and keep it; sample the venue's clock
(``GET /time``); read the products (``GET /products``: ``base_increment``,
``quote_increment``); subscribe to the ``user`` channel of the WebSocket feed with a signed
``subscribe`` ("Exchange WebSocket Authentication": the fields of a signed
``GET /users/self/verify``); read a reference price (``GET /products/{id}/ticker``).

``place`` is the hot path: fill and sign ``templates.CoinbaseOrderTemplate`` (a complete
HTTP/1.1 ``POST /orders``) and write it to the kept-alive connection in the caller's frame
(``http1.Http1Connection.write``; aiohttp's client cannot write synchronously, see
``http1.py``). Responses come back in request order on that connection, so a FIFO of what
was sent correlates them. The ``POST`` answer is the ack (200: accepted with the venue's
``id``; 4xx: rejected with Coinbase's ``message``; 5xx or silence: UNKNOWN per
``outcome.coinbase_outcome``); the feed's ``received`` / ``match`` / ``done`` messages carry
the rest. A dropped connection turns everything in flight into ``OrderStatusUnknown``;
only ``reconcile`` (``GET /orders/client:<client_oid>``) resolves it. Nothing here resends.

Knows nothing of whales, strategy or the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl as ssl_module
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from whalewire.model import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderNotFound,
    OrderType,
    SubmitOrder,
)
from whalewire.net import WebSocket
from whalewire.net.backoff import backoff
from whalewire.net.client import connect
from whalewire.net.reconnect import Supervisor
from whalewire.venues.base import (
    Grid,
    MalformedMessages,
    VenueError,
    VenueUnavailable,
    ack_event,
    closed_event,
    connection_slot,
    discard_event,
    order_text,
    reconciled_events,
    report_disconnected,
    rtt_summary,
)
from whalewire.venues.clock import ClockSync
from whalewire.venues.coinbase import decode
from whalewire.venues.contract import Capabilities, VenueDefaults
from whalewire.venues.credentials import Credentials
from whalewire.venues.decoding import VenueDecodeError
from whalewire.venues.http1 import Http1Connection, Http1Error, Response, open_connection
from whalewire.venues.ids import uuid_client_order_id
from whalewire.venues.outcome import (
    Confirmed,
    Finding,
    PendingRequests,
    Rejected,
    coinbase_outcome,
    coinbase_reconcile,
)
from whalewire.venues.ratelimit import COINBASE_CONNECTIONS, ConnectionLimiter
from whalewire.venues.signing import coinbase_exchange_headers, coinbase_exchange_signature
from whalewire.venues.templates import CoinbaseOrderTemplate
from whalewire.ws.exceptions import WebSocketError

log = logging.getLogger("whalewire.venues.coinbase")
#: the client_oid a rehearsal fills in (a UUID's shape; its request is dropped)
_REHEARSAL_OID = b"00000000-0000-0000-0000-000000000000"

#: "Exchange REST API Authentication": a request more than 30 s from the venue's time is
#: rejected, so an order signed at t can still be taken until t + 30 s
TIMESTAMP_WINDOW_MS = 30_000
#: after a 429 ("Exchange REST API Rate Limits") send nothing for this long (no Retry-After)
RATE_LIMIT_PAUSE_NS = 1_000_000_000


class CoinbaseError(VenueError):
    """A request got an error answer: the HTTP status and Coinbase's ``message``."""

    def __init__(self, what: str, status: int, message: str) -> None:
        super().__init__(what, status, message)
        self.what = what
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"coinbase {self.what}: HTTP {self.status}: {self.message}"


def _ts_ns(text: object) -> int:
    try:
        return int(datetime.fromisoformat(str(text)).timestamp() * 1e9)
    except ValueError:
        return 0


class CoinbaseClient(VenueDefaults):
    """A ``contract.Venue`` for Coinbase Exchange (REST orders, WebSocket ``user`` channel)."""

    capabilities = Capabilities(rehearsal=True, price_refresh=True)

    def __init__(
        self,
        rest_url: str,
        ws_url: str,
        credentials: Credentials,
        *,
        name: str = "coinbase",
        products: Sequence[str] | None = None,
        ssl_context: ssl_module.SSLContext | None = None,
        dry_run: bool = False,
        request_timeout_s: float = 5.0,
        clock_samples: int = 5,
        keepalive_s: float | None = 15.0,
        monotonic_ns: Callable[[], int] = time.perf_counter_ns,
        connection_limiter: ConnectionLimiter | None = None,
    ) -> None:
        if credentials.api_secret is None or credentials.passphrase is None:
            raise VenueError(f"{name}: credentials need api_secret (base64) and passphrase")
        self.name = name
        #: attempts of both connections (REST and feed) per IP: ``COINBASE_CONNECTIONS``
        self.connection_limiter = connection_limiter or ConnectionLimiter(*COINBASE_CONNECTIONS)
        self.on_event: Callable[[OrderEvent], None] = discard_event
        self.rest_url = rest_url
        self.ws_url = ws_url
        split = urlsplit(rest_url)
        if split.scheme not in ("https", "http") or not split.hostname:
            raise VenueError(f"{name}: REST URL must be https://host[:port][/path]")
        self._host = split.hostname
        self._port = split.port or (443 if split.scheme == "https" else 80)
        self._host_header = split.netloc
        self._base = split.path.rstrip("/")
        if split.scheme == "https" and ssl_context is None:
            ssl_context = ssl_module.create_default_context()  # verification on
        self._ssl = ssl_context if split.scheme == "https" else None
        self.products = list(products) if products is not None else None
        self.dry_run = dry_run
        self.request_timeout_s = request_timeout_s
        self.clock_samples = clock_samples
        self.keepalive_s = keepalive_s
        self._now = monotonic_ns
        self._key = credentials.api_key
        self._secret = credentials.api_secret
        self._passphrase = credentials.passphrase
        self.clock = ClockSync(
            monotonic_ns, recv_window_ms=TIMESTAMP_WINDOW_MS, min_samples=min(3, clock_samples)
        )
        self.rules: dict[str, Grid] = {}
        self._conn: Http1Connection | None = None
        self._ws: WebSocket | None = None
        self._closing = False
        #: what each response on the connection answers, in request order
        self._fifo: deque[str | asyncio.Future[Response]] = deque()
        #: client order ids written and not yet answered (a second send would confuse them)
        self._inflight: set[str] = set()
        self._pending = PendingRequests(timeout_ns=365 * 86_400 * 10**9)
        self._templates: dict[tuple[str, str, str, str], CoinbaseOrderTemplate] = {}
        self._signed_ms: dict[str, int] = {}
        self._started_ms = 0
        #: venue order id -> our client_oid (from the POST answer or ``received``)
        self._coid_of: dict[str, str] = {}
        #: orders that rested (an ``open`` was seen): a later ``done``/canceled is a cancel
        self._rested: set[str] = set()
        #: venue order id -> its size (from ``received``): ``done`` states only the rest
        self._size_of: dict[str, Decimal] = {}
        self._paused_until_ns = 0
        self._subscribed: asyncio.Future[None] | None = None
        self._last_price: dict[str, Decimal] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: REST connections this client opened (one, unless the venue dropped it)
        self.connections_opened = 0
        #: keeps the feed subscribed: after a drop at once, then every 0.05 s doubling
        #: to 2 s, each attempt counted by the connection limiter
        self.feed = Supervisor(
            self._open_feed,
            on_connected=self._subscribe,
            on_disconnected=self._feed_closed,
            delays=lambda: itertools.chain([0.0], backoff(0.05, cap=2.0, jitter=False)),
            stable_after=0.0,
            retry_on=(OSError, TimeoutError, VenueError, WebSocketError),
            name=f"{name} feed",
        )
        #: keep-alive rounds answered (``GET /time`` on the idle connection)
        self.keepalives = 0
        self.sent = 0
        self.rehearsals = 0
        self.acks = 0
        #: answers and feed messages that did not decode (``base.MalformedMessages``)
        self.malformed = MalformedMessages(name, self._now)

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Connect and warm up: REST connection, clock, products, user channel, prices."""
        await self._connect_rest()
        await self.resync_clock()
        if not self.clock.can_send:
            raise VenueError(f"{self.name}: could not synchronise the clock")
        self._started_ms = self.clock.timestamp_ms()
        status, body = await self.call("GET", "/products", signed=False)
        if status != 200:
            raise CoinbaseError("GET /products", status, _message(body))
        for product in decode.products(body):
            if self.products is None or product.id in self.products:
                self.rules[product.id] = Grid(product.base_increment, product.quote_increment)
        if self.products is None:
            self.products = sorted(self.rules)
        await self.feed.start()
        for product_id in self.rules:
            await self.refresh_price(product_id)
        if self.keepalive_s:
            self._spawn(self._keepalive(self.keepalive_s))

    async def _keepalive(self, every_s: float) -> None:
        """Keep the REST connection from idling out; each round is also a clock sample.

        Venues close idle keep-alive connections; one ``GET /time`` per interval keeps the
        TLS session warm (no handshake in front of the next order) and the offset fresh.
        """
        while not self._closing:
            await asyncio.sleep(every_s)
            if self._conn is None or not self.clock.can_send:
                continue
            send = self._now()
            try:
                status, body = await self.call("GET", "/time", signed=False)
                server_ms = decode.server_time_ms(body) if status == 200 else None
            except VenueError:  # a malformed answer too (VenueDecodeError): counted, skipped
                continue
            if server_ms is not None:
                self.clock.add_sample(send, self._now(), server_ms)
                self.keepalives += 1

    async def close(self) -> None:
        """Close both connections (orders in flight become UNKNOWN)."""
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await self.feed.close()
        if self._conn is not None:
            self._conn.close()

    async def _connect_rest(self) -> None:
        await connection_slot(self.connection_limiter, self.name)
        self._conn = await open_connection(
            self._host,
            self._port,
            ssl=self._ssl,
            on_response=self._on_response,
            on_lost=self._on_lost,
        )
        self.connections_opened += 1

    def _on_lost(self, exc: BaseException | None) -> None:
        if self._conn is not None and not self._conn.closed:
            return  # a late notice from a connection already replaced
        self._conn = None
        fifo, self._fifo = self._fifo, deque()
        self._inflight.clear()
        for entry in fifo:
            if isinstance(entry, asyncio.Future) and not entry.done():
                entry.set_exception(VenueError(f"{self.name}: connection lost"))
        report_disconnected(self._pending, self._now, self.on_event)
        if not self._closing:
            self._spawn(self._reconnect())

    async def _reconnect(self) -> None:
        # at once, then 0.05 s doubling to 2 s: the feed's policy (``self.feed``). The REST
        # connection is an ``Http1Connection``, not a WebSocket, so not a Supervisor's
        delays = backoff(0.05, cap=2.0, jitter=False)
        while not self._closing and self._conn is None:
            try:
                await self._connect_rest()
            except (OSError, TimeoutError, ssl_module.SSLError) as exc:
                log.warning("%s: reconnect failed: %s", self.name, exc)
                await asyncio.sleep(next(delays))

    def _spawn(self, coro: Any) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to schedule
            task = asyncio.get_running_loop().create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- the hot path ------------------------------------------------------------------
    def client_order_id(self, namespace: str, seq: int) -> str:
        """Return the ``client_oid`` UUID for ``seq`` (``ids.uuid_client_order_id``)."""
        return uuid_client_order_id(namespace, seq)

    def place(self, command: SubmitOrder) -> int:
        """Fill, sign and write ``command``'s ``POST /orders``; return ``perf_counter_ns``.

        Raises:
            VenueUnavailable: nothing was sent (not connected, clock not synced, rate limit).
        """
        conn = self._conn
        if conn is None:
            raise VenueUnavailable(self.name, "not connected")
        clock = self.clock
        if not clock.can_send:
            raise VenueUnavailable(self.name, f"clock {clock.state.value}")
        now = self._now()
        if now < self._paused_until_ns:
            raise VenueUnavailable(self.name, "rate limit: 429, pausing")
        template, size, price = self._filled(command)
        ts = clock.timestamp_ms(now)
        stamp = b"%d.%03d" % divmod(ts, 1000)
        coid = command.client_order_id
        if coid in self._inflight:
            raise VenueUnavailable(self.name, f"client order id {coid} is already in flight")
        request = template.request(stamp, coid.encode(), size, price)
        if self.dry_run:
            return self._now()
        try:
            conn.write(request)
        except Http1Error:
            raise VenueUnavailable(self.name, "connection closed") from None
        written = self._now()
        self._fifo.append(coid)
        self._inflight.add(coid)
        self._pending.sent(coid, coid, written)
        signed = self._signed_ms
        signed[coid] = ts
        if len(signed) > 100_000:
            del signed[next(iter(signed))]
        self.sent += 1
        return written

    def _filled(self, command: SubmitOrder) -> tuple[CoinbaseOrderTemplate, bytes, bytes]:
        size, price = order_text(self.name, self.rules, command, "product")
        return self._template(command), size, price

    def rehearse(self, command: SubmitOrder) -> None:
        """Rehearse ``place(command)``: the same lookups, fill and signature, into scratch.

        The request is built, timestamped and HMAC-signed exactly as ``place`` does, with a
        placeholder ``client_oid``, and dropped: nothing is written, counted or kept (no
        in-flight id, pending request or signed timestamp). Unlike the WebSocket venues
        there is no warm-up frame to write: the order connection is HTTP/1.1 over TLS, and
        any byte on it is a request the venue answers. Does nothing while disconnected or
        with the clock unsynced.

        Raises:
            VenueUnavailable: the venue does not list ``command.symbol`` (as ``place`` would).
        """
        clock = self.clock
        conn = self._conn
        if conn is None or conn.closed or self._closing or not clock.can_send:
            return
        template, size, price = self._filled(command)
        stamp = b"%d.%03d" % divmod(clock.timestamp_ms(self._now()), 1000)
        template.request(stamp, _REHEARSAL_OID, size, price)
        self.rehearsals += 1

    def _template(self, command: SubmitOrder) -> CoinbaseOrderTemplate:
        tif = command.time_in_force.value if command.time_in_force else ""
        key = (command.symbol, command.side.value, command.order_type.value, tif)
        template = self._templates.get(key)
        if template is None:
            limit = command.order_type is OrderType.LIMIT
            template = self._templates[key] = CoinbaseOrderTemplate(
                host=self._host_header,
                product_id=command.symbol,
                side=command.side.value.lower(),
                order_type=command.order_type.value.lower(),
                api_key=self._key.reveal(),
                secret_b64=self._secret.reveal(),
                passphrase=self._passphrase.reveal(),
                time_in_force=(tif or "GTC") if limit else None,
                path=self._base + "/orders",
            )
        return template

    # -- responses on the REST connection ----------------------------------------------
    def _on_response(self, response: Response) -> None:
        if not self._fifo:
            log.warning("%s: response %d with nothing in flight", self.name, response.status)
            return
        entry = self._fifo.popleft()
        if isinstance(entry, asyncio.Future):
            if not entry.done():
                entry.set_result(response)
        else:
            self._order_response(entry, response)
        if response.closes and self._conn is not None:
            self._conn.close()

    def _order_response(self, coid: str, response: Response) -> None:
        now = self._now()
        self._inflight.discard(coid)
        self._pending.answered(coid, now)
        self.acks += 1
        status = response.status
        try:
            body: dict[str, Any] | None = decode.order_answer(response.body).fields()
        except VenueDecodeError as exc:
            if 200 <= status < 300:  # taken, but under which id? only reconciling can say
                self.malformed.report(exc, response.body, self.on_event, coid)
                return
            self.malformed.report(exc, response.body, self.on_event)
            body = None  # the status alone says rejected (4xx) or unknown (5xx)
        outcome = coinbase_outcome(status, body)
        if isinstance(outcome, Confirmed):
            self._coid_of[outcome.venue_order_id or ""] = coid
        elif isinstance(outcome, Rejected):
            if status == 401 and "timestamp" in outcome.msg:
                # pause timestamps and resample; the order itself is not retried
                self.clock.on_timestamp_rejected()
                self._spawn(self.resync_clock())
            elif status == 429:
                self._paused_until_ns = now + RATE_LIMIT_PAUSE_NS
        # a 4xx's code is its HTTP status (Coinbase's outcome carries it as the code too)
        self.on_event(ack_event(coid, now, outcome, fallback_code=status))

    # -- the feed ------------------------------------------------------------------------
    async def _open_feed(self) -> WebSocket:
        await connection_slot(self.connection_limiter, self.name)
        # a wss:// feed trusts what REST trusts (the same context: a private CA works for both)
        tls: dict[str, Any] = {}
        if self.ws_url.startswith("wss://"):
            tls["ssl"] = self._ssl or ssl_module.create_default_context()
        return await connect(self.ws_url, deflate=False, on_message=self._on_feed, **tls)

    async def _subscribe(self, ws: WebSocket) -> None:
        self._ws = ws
        self._subscribed = asyncio.get_running_loop().create_future()
        stamp = self._stamp()
        message = {
            "type": "subscribe",
            "product_ids": list(self.rules),
            "channels": ["user"],
            # "Exchange WebSocket Authentication": sign as for GET /users/self/verify
            "signature": coinbase_exchange_signature(
                stamp, "GET", "/users/self/verify", "", self._secret.reveal()
            ),
            "key": self._key.reveal(),
            "passphrase": self._passphrase.reveal(),
            "timestamp": stamp,
        }
        ws.send(orjson.dumps(message).decode())
        try:
            await asyncio.wait_for(self._subscribed, self.request_timeout_s)
        except TimeoutError:
            raise VenueError(f"{self.name}: no answer to the user channel subscribe") from None

    def _feed_closed(self, ws: WebSocket) -> None:
        # the feed Supervisor's on_disconnected: it resubscribes next (fills sent while
        # the feed is down are not replayed: the orders they concern are reconciled)
        if ws is not self._ws:
            return
        self._ws = None
        fut = self._subscribed
        if fut is not None and not fut.done():  # closed while subscribing: fail it now
            fut.set_exception(VenueError(f"{self.name}: feed closed while subscribing"))
        if not self._closing:
            log.warning("%s: feed closed; resubscribing", self.name)

    @property
    def feed_reconnects(self) -> int:
        """Times the feed dropped and was resubscribed (``status()['feed_reconnects']``)."""
        return max(0, self.feed.generation - 1)

    def _on_feed(self, ws: WebSocket, message: str | bytes) -> None:
        # never raises: a message that does not decode is counted and logged, the orders it
        # names go UNKNOWN, and the feed stays subscribed
        try:
            msg = decode.feed(message)
        except VenueDecodeError as exc:
            self._malformed_feed(exc, message)
            return
        kind = msg.type
        if kind in ("subscriptions", "error"):
            fut = self._subscribed
            if fut is not None and not fut.done():
                if kind == "subscriptions":
                    fut.set_result(None)
                else:
                    reason = f"{msg.message}: {msg.reason}"
                    fut.set_exception(VenueError(f"{self.name}: subscribe refused: {reason}"))
            elif kind == "error":
                log.warning("%s: feed error %s: %s", self.name, msg.message, msg.reason)
            return
        order_id = msg.order_id or ""
        now = self._now()
        ts = _ts_ns(msg.time)
        if kind == "received":
            coid = msg.client_oid
            if not coid:
                return
            self._coid_of[order_id] = coid
            if msg.size is not None:
                self._size_of[order_id] = msg.size
            self.on_event(
                OrderAccepted(
                    client_order_id=coid, ts_init=now, ts_event=ts, venue_order_id=order_id
                )
            )
        elif kind == "match":
            self._match(msg, now, ts)
        elif kind == "open":
            self._rested.add(order_id)
        elif kind == "done" and msg.reason == "canceled":
            coid = self._coid_of.get(order_id) or msg.client_oid
            if not coid:
                return
            # IOC/FOK/market remainders end "canceled" too; only a rested order was canceled
            closed = OrderCanceled if order_id in self._rested else OrderExpired
            self._rested.discard(order_id)
            # what executed: the size less what ``done`` says was left ("market orders will
            # not have a remaining_size"), at the order's limit price (the engine's default)
            size = self._size_of.pop(order_id, None)
            rest = msg.remaining_size
            executed = None if size is None or rest is None else size - rest
            self.on_event(closed_event(closed, coid, now, ts, executed=executed))
        elif kind == "done":
            self._rested.discard(order_id)
            self._size_of.pop(order_id, None)

    def _malformed_feed(self, exc: VenueDecodeError, message: str | bytes) -> None:
        ref = decode.feed_refs(message)
        coids = {
            self._coid_of.get(oid or "")
            for oid in (ref.order_id, ref.taker_order_id, ref.maker_order_id)
        }
        coids.add(ref.client_oid)
        ours = sorted(c for c in coids if c)
        if not ours:
            self.malformed.report(exc, message, self.on_event)
        for coid in ours:
            self.malformed.report(exc, message, self.on_event, coid)

    def _match(self, msg: decode.FeedMessage, now: int, ts: int) -> None:
        assert msg.price is not None and msg.size is not None  # decode checks
        price, size = msg.price, msg.size
        product = msg.product_id or ""
        self._last_price[product] = price
        roles = (
            (msg.taker_order_id, msg.taker_fee_rate),
            (msg.maker_order_id, msg.maker_fee_rate),
        )
        for order_id, rate in roles:
            coid = self._coid_of.get(order_id or "")
            if coid is None:
                continue
            self.on_event(
                OrderFilled(
                    client_order_id=coid,
                    ts_init=now,
                    ts_event=ts,
                    trade_id=str(msg.trade_id),
                    last_qty=size,
                    last_px=price,
                    commission=size * price * (rate or Decimal(0)),
                    commission_asset=product.rsplit("-", 1)[-1],
                )
            )

    def _stamp(self) -> str:
        seconds, ms = divmod(self.clock.timestamp_ms(), 1000)
        return f"{seconds}.{ms:03d}"

    async def call(
        self, method: str, path: str, body: object = None, *, signed: bool = True
    ) -> tuple[int, Any]:
        """Send one request on the kept-alive connection; return (status, decoded body)."""
        conn = self._conn
        if conn is None:
            raise VenueError(f"{self.name}: not connected")
        target = self._base + path
        text = orjson.dumps(body).decode() if body is not None else ""
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}"]
        lines += ["User-Agent: whalewire", "Accept: application/json"]
        if signed:
            headers = coinbase_exchange_headers(
                self._key.reveal(),
                self._secret.reveal(),
                self._passphrase.reveal(),
                timestamp=self._stamp(),
                method=method,
                request_path=target,
                body=text,
            )
            lines += [f"{k}: {v}" for k, v in headers.items()]
        if text or method in ("POST", "PUT"):
            lines += ["Content-Type: application/json", f"Content-Length: {len(text.encode())}"]
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        try:
            conn.write(("\r\n".join(lines) + "\r\n\r\n" + text).encode())
        except Http1Error:
            raise VenueError(f"{self.name}: connection closed") from None
        self._fifo.append(fut)
        try:
            response = await asyncio.wait_for(fut, self.request_timeout_s)
        except TimeoutError:
            # responses correlate by position: after a lost one nothing on this connection
            # can be trusted; drop it (what is in flight becomes UNKNOWN) and reconnect
            conn.abort(TimeoutError(f"{method} {path}"))
            raise VenueError(f"{self.name}: {method} {path} timed out") from None
        try:
            decoded = orjson.loads(response.body) if response.body else None
        except orjson.JSONDecodeError:
            decoded = response.body.decode("utf-8", "replace")
        return response.status, decoded

    async def resync_clock(self) -> None:
        """Take fresh ``GET /time`` samples until the clock may timestamp again."""
        for _ in range(self.clock_samples):
            send = self._now()
            try:
                status, body = await self.call("GET", "/time", signed=False)
                # "Get server time": epoch is decimal seconds
                server_ms = decode.server_time_ms(body) if status == 200 else None
            except VenueError:
                await asyncio.sleep(0.1)
                continue
            if server_ms is not None:
                self.clock.add_sample(send, self._now(), server_ms)

    async def refresh_price(self, product_id: str) -> Decimal | None:
        """Read the ticker's last trade price (the risk engine's reference)."""
        status, body = await self.call("GET", f"/products/{product_id}/ticker", signed=False)
        price = decode.ticker(body).price if status == 200 else None
        if price:
            self._last_price[product_id] = price
            return price
        return None

    async def cancel(self, client_order_id: str, symbol: str) -> None:
        """Cancel one order by ``client_oid`` (the ``done`` arrives on the feed)."""
        path = f"/orders/client:{quote(client_order_id)}?product_id={quote(symbol)}"
        status, body = await self.call("DELETE", path)
        if status != 200:
            raise CoinbaseError(f"DELETE {path}", status, _message(body))

    async def cancel_all(self, symbol: str) -> int:
        """Cancel every open order on ``symbol`` (``DELETE /orders``); return how many."""
        path = f"/orders?product_id={quote(symbol)}"
        status, body = await self.call("DELETE", path)
        if status != 200:
            raise CoinbaseError(f"DELETE {path}", status, _message(body))
        return len(body) if isinstance(body, list) else 0

    async def reconcile(self, client_order_id: str, symbol: str) -> list[OrderEvent]:
        """Ask ``GET /orders/client:<client_oid>``; return the events it implies.

        404 is final only once the order's signed timestamp plus the 30 s window has passed
        on the venue's clock: before that the ``POST`` may still be in flight and be taken,
        and ``CoinbaseError`` says "ask again". Coinbase also answers 404 for an order
        canceled without any fill ("Get single order"): it no longer exists and never
        filled, which is what NOT_FOUND promises. Fills learned here carry a synthetic
        trade id per cumulative size (``recon:<id>:<filled_size>``).
        """
        path = f"/orders/client:{quote(client_order_id)}"
        status, body = await self.call("GET", path)
        now = self._now()
        coid = client_order_id
        found = coinbase_reconcile(status, body if isinstance(body, dict) else None)
        if found.finding is Finding.NOT_FOUND:
            signed = self._signed_ms.get(coid, self._started_ms)
            if self.clock.timestamp_ms() > signed + TIMESTAMP_WINDOW_MS + 1000:
                return [OrderNotFound(client_order_id=coid, ts_init=now, ts_event=now)]
            raise CoinbaseError(f"GET {path}", status, "not found yet: still inside its window")
        if found.finding is Finding.STILL_UNKNOWN:
            raise CoinbaseError(f"GET {path}", status, _message(body))
        state = decode.order_state(body)
        order_id = state.id
        self._coid_of[order_id] = coid
        filled = state.filled_size
        ending: type[OrderCanceled] | type[OrderExpired] | None = None
        if state.status == "done" and state.done_reason == "canceled":
            rests = state.type == "limit" and state.time_in_force == "GTC"
            ending = OrderCanceled if rests else OrderExpired
        return reconciled_events(
            coid,
            now=now,
            venue_order_id=order_id,
            executed=filled,
            avg_price=state.executed_value / filled if filled else Decimal(0),
            commission=state.fill_fees,
            commission_asset=symbol.rsplit("-", 1)[-1],
            ending=ending,
        )

    # -- for the engine and the dashboard ---------------------------------------------------
    def last_price(self, symbol: str) -> Decimal | None:
        """The latest trade (or ticker) price seen for ``symbol``."""
        return self._last_price.get(symbol)

    def status(self) -> Mapping[str, Any]:
        """Connection state, endpoints, send → ack RTT percentiles (µs), counts."""
        summary = rtt_summary(self._pending, self.acks)
        return {
            "connected": self._conn is not None,
            "feed_connected": self._ws is not None and not self._ws.closed,
            "endpoint": self.rest_url,
            "feed": self.ws_url,
            "tls": self._ssl is not None,
            "connections_opened": self.connections_opened,
            "feed_reconnects": self.feed_reconnects,
            "clock": self.clock.state.value,
            "dry_run": self.dry_run,
            "rtt_us": summary,
            "sent": self.sent,
            "rehearsals": self.rehearsals,
            "acks": self.acks,
            "malformed": self.malformed.count,
        }


def _message(body: object) -> str:
    if isinstance(body, dict):
        return str(body.get("message", ""))
    return str(body)[:200]

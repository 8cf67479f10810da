"""Kraken Spot WebSocket v2 client: one warm, token-authenticated connection that places orders.

``start`` does everything that must not happen on the hot path: fetch a session token
over REST (``POST /0/private/GetWebSocketsToken`` signed with ``API-Key``/``API-Sign``),
connect to ``/v2``, read the ``instrument`` channel (price and quantity increments),
subscribe to ``ticker`` (the reference price) and ``executions`` (acks, fills, cancels).
``place`` is the hot path: one ``KrakenOrderTemplate`` fill + frame + mask and one
``send_prebuilt``; the integer ``req_id`` correlates the ``add_order`` response.
``rehearse`` does the same fill and frame into scratch between orders and writes an
unsolicited empty Pong through the same path (``base.WarmPong``) to keep it warm.
What Kraken says afterwards becomes ``whalewire.model`` events through ``on_event``: the
response (accepted, rejected with Kraken's error string, or UNKNOWN per ``outcome.py``)
and ``executions`` updates (``trade`` fills with fees, ``canceled``, ``expired``).

A dropped connection, or a silence longer than ``heartbeat_timeout_s`` (Kraken sends a
``heartbeat`` about once a second when nothing else is sent), turns every order still
waiting for its response into ``OrderStatusUnknown``; only ``reconcile`` resolves it. The
WebSocket API has no order query, so ``reconcile`` asks REST ``OpenOrders`` and then
``ClosedOrders`` filtered by ``cl_ord_id``. The dead man's switch
(``cancel_all_orders_after``) is the engine's to refresh: ``refresh_dead_man``.
Nothing here resends an order. Knows nothing of whales, strategy or the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiohttp
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
from whalewire.net.client import connect
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
from whalewire.venues.contract import Capabilities, VenueDefaults
from whalewire.venues.credentials import Credentials
from whalewire.venues.decoding import VenueDecodeError
from whalewire.venues.ids import kraken_client_order_id
from whalewire.venues.kraken import decode
from whalewire.venues.outcome import (
    Confirmed,
    Finding,
    PendingRequests,
    kraken_outcome,
    kraken_reconcile,
)
from whalewire.venues.ratelimit import KRAKEN_CONNECTIONS, ConnectionLimiter
from whalewire.venues.signing import kraken_private_request
from whalewire.venues.templates import FrameFn, KrakenOrderTemplate
from whalewire.ws.exceptions import ConnectionClosed, WebSocketError

log = logging.getLogger("whalewire.venues.kraken")

TOKEN_PATH = "/0/private/GetWebSocketsToken"
OPEN_ORDERS_PATH = "/0/private/OpenOrders"
CLOSED_ORDERS_PATH = "/0/private/ClosedOrders"
#: what ``kraken_reconcile`` reads as "the venue says it does not exist"
_UNKNOWN_ORDER = "EOrder:Unknown order"


class KrakenError(VenueError):
    """A request got an error answer: the method and Kraken's error string."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(method, error)
        self.method = method
        self.error = error

    def __str__(self) -> str:
        return f"kraken {self.method}: {self.error}"


class KrakenClient(VenueDefaults):
    """A ``venues.contract.Venue`` for Kraken Spot WebSocket v2 (``wss://ws-auth.kraken.com/v2``)."""

    capabilities = Capabilities(dead_mans_switch=True, rehearsal=True, templates=True)

    def __init__(
        self,
        url: str,
        rest_url: str,
        credentials: Credentials,
        *,
        symbols: tuple[str, ...] = ("BTC/USD",),
        name: str = "kraken",
        cid_width: int = 36,
        dry_run: bool = False,
        request_timeout_s: float = 5.0,
        heartbeat_timeout_s: float = 10.0,
        not_found_after_s: float = 10.0,
        monotonic_ns: Callable[[], int] = time.perf_counter_ns,
        tls: TlsSettings | None = None,
        connection_limiter: ConnectionLimiter | None = None,
        pong_interval_ms: float = DEFAULT_PONG_INTERVAL_MS,
    ) -> None:
        if credentials.api_secret is None:
            raise VenueError(f"{name}: credentials need the base64 API secret")
        self.name = name
        #: WebSocket connection attempts per IP: ``ratelimit.KRAKEN_CONNECTIONS``
        self.connection_limiter = connection_limiter or ConnectionLimiter(*KRAKEN_CONNECTIONS)
        self.tls = tls or TlsSettings()
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        self.symbols = symbols
        self.on_event: Callable[[OrderEvent], None] = discard_event
        self.dry_run = dry_run
        self.cid_width = cid_width
        self.request_timeout_s = request_timeout_s
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.not_found_after_s = not_found_after_s
        self._now = monotonic_ns
        self._api_key = credentials.api_key
        self._secret = credentials.api_secret
        self._token = ""
        self._nonce = 0
        self._http: aiohttp.ClientSession | None = None
        self._ws: WebSocket | None = None
        self._watchdog: asyncio.Task[None] | None = None
        #: connected, subscribed and the snapshots in: ``place`` accepts orders
        self.ready = False
        #: keeps the connection up (``base.venue_supervisor``); each new one gets a fresh
        #: token and subscriptions
        self.supervisor = venue_supervisor(
            name,
            self._open,
            on_connected=self._subscribe,
            on_disconnected=self._disconnected,
            retry_on=(OSError, TimeoutError, aiohttp.ClientError, WebSocketError, VenueError),
        )
        self.rules: dict[str, Grid] = {}
        self._templates: dict[tuple[str, str, str, str], KrakenOrderTemplate] = {}
        #: add_order requests awaiting their response (req_id -> cl_ord_id); the engine's
        #: ack deadline, not this table, decides when silence means UNKNOWN
        self._pending = PendingRequests(timeout_ns=365 * 86_400 * 10**9)
        #: monotonic send time per cl_ord_id: "absent" is final only after a while
        self._sent_ns: dict[str, int] = {}
        self._requests: RequestTable[int, decode.Message] = RequestTable(name)
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._req_ids = itertools.count(1)
        self._last_price: dict[str, Decimal] = {}
        self._order_cl: dict[str, str] = {}
        self.last_message_ns = 0
        self.heartbeats = 0
        self.dead_man_trigger: str | None = None
        self.sent = 0
        self.acks = 0
        #: frames that did not decode (``base.MalformedMessages``)
        self.malformed = MalformedMessages(name, monotonic_ns)
        #: the cl_ord_id the rehearsal fills in (its frame is dropped)
        self._rehearsal_cid = b"0" * cid_width
        #: unsolicited pongs the rehearsal writes (``[venues.NAME] pong_interval_ms``)
        self.warm_pong = WarmPong(pong_interval_ms, monotonic_ns)
        self.rehearsals = 0

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Get a token, connect, read instruments and prices, subscribe to executions.

        On failure everything opened so far is closed again before the error propagates.
        """
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise

    async def _start(self) -> None:
        self._http = aiohttp.ClientSession()
        await self.supervisor.start()

    async def _open(self) -> WebSocket:
        # a fresh token per connection: Kraken's is good for 15 minutes until a connection
        # subscribes with it, so an old one may be dead ("Spot WebSocket" authentication)
        self.ready = False
        token = decode.token(await self.private_rest(TOKEN_PATH, {}))
        if token != self._token:
            self._token = token
            self._templates.clear()  # they carry the token
        loop = asyncio.get_running_loop()
        for channel in ("instrument", "ticker", "executions"):
            self._waiters[channel] = loop.create_future()
        await connection_slot(self.connection_limiter, self.name)
        return await connect(
            self.url, deflate=False, on_message=self._on_message, **self.tls.for_url(self.url)
        )

    async def _subscribe(self, ws: WebSocket) -> None:
        self._ws = ws
        self.last_message_ns = self._now()
        self._watchdog = asyncio.get_running_loop().create_task(self._watch_heartbeat(ws))
        # "Spot WebSocket v2" > "Instrument", "Ticker", "Executions": subscribe requests
        await self.request("subscribe", {"channel": "instrument"})
        await self.request("subscribe", {"channel": "ticker", "symbol": list(self.symbols)})
        await self.request(
            "subscribe",
            {"channel": "executions", "token": self._token, "snap_orders": True},
        )
        async with asyncio.timeout(self.request_timeout_s):
            await asyncio.gather(*self._waiters.values())
        for symbol in self.symbols:
            if symbol not in self.rules:
                raise VenueError(f"{self.name}: {symbol} is not listed by the instrument channel")
        self.ready = True

    @property
    def reconnects(self) -> int:
        """Connections made after the first (``status()['reconnects']``)."""
        return max(0, self.supervisor.generation - 1)

    async def close(self) -> None:
        """Close the connection (pending orders become UNKNOWN) and the REST session."""
        self.ready = False
        if self._watchdog is not None:
            self._watchdog.cancel()
        await self.supervisor.close()
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _disconnected(self, ws: WebSocket) -> None:
        # the Supervisor's on_disconnected: once per connection, including one that
        # closed while subscribing (whose requests are failed here, not timed out)
        if ws is not self._ws:
            return
        self._ws = None
        self.ready = False
        self._requests.fail_all(VenueError(f"{self.name}: connection closed"))
        report_disconnected(self._pending, self._now, self.on_event)

    async def _watch_heartbeat(self, ws: WebSocket) -> None:
        # "Heartbeat messages are sent approximately once every second in the absence of
        # any other channel updates": a longer silence means the connection is dead
        limit = int(self.heartbeat_timeout_s * 1e9)
        while not ws.closed:
            await asyncio.sleep(self.heartbeat_timeout_s / 4)
            if self._now() - self.last_message_ns > limit:
                log.warning(
                    "%s: no message for %.1f s, closing", self.name, self.heartbeat_timeout_s
                )
                with contextlib.suppress(WebSocketError):
                    await ws.close(1001, "heartbeat timeout")
                return

    def client_order_id(self, namespace: str, seq: int) -> str:
        """Return the ``cl_ord_id`` (a long UUID) for ``seq`` (``ids.kraken_client_order_id``)."""
        return kraken_client_order_id(namespace, seq)

    # -- the hot path ------------------------------------------------------------------
    def place(self, command: SubmitOrder) -> int:
        """Fill, frame and write ``command``; return ``perf_counter_ns`` after the write.

        Raises:
            VenueUnavailable: nothing was sent (not connected, unknown pair).
        """
        ws = self._ws
        if ws is None or not self.ready:
            raise VenueUnavailable(self.name, "not connected" if ws is None else "warming up")
        fill, qty, price = self._filled(command)
        req_id = next(self._req_ids)
        coid = command.client_order_id
        frame = fill(req_id, coid.encode(), qty, price)
        if self.dry_run:
            return self._now()
        try:
            ws.send_prebuilt(frame)
        except ConnectionClosed:
            raise VenueUnavailable(self.name, "connection closed") from None
        written = self._now()
        self._pending.sent(str(req_id), coid, written)
        sent = self._sent_ns
        sent[coid] = written
        if len(sent) > 100_000:
            del sent[next(iter(sent))]
        self.sent += 1
        return written

    def _filled(self, command: SubmitOrder) -> tuple[FrameFn, bytes, bytes]:
        qty, price = order_text(self.name, self.rules, command)
        return self._template(command).frame, qty, price

    def rehearse(self, command: SubmitOrder) -> None:
        """Rehearse ``place(command)`` without placing anything; write a warm-up pong if due.

        The same lookups, fill, frame and mask as ``place``, into a frame that is dropped:
        no ``req_id`` taken, no pending request, no id (a placeholder ``cl_ord_id``),
        ``sent`` unchanged. Then, at most every ``pong_interval_ms``, one unsolicited empty
        Pong (RFC 6455 §5.5.3) through the path ``place`` writes with (``WarmPong``).
        Does nothing while disconnected or warming up; writes no pong in dry-run.

        Raises:
            VenueUnavailable: Kraken does not list ``command.symbol`` (as ``place`` would).
        """
        ws = self._ws
        if ws is None or not self.ready:
            return
        fill, qty, price = self._filled(command)
        fill(0, self._rehearsal_cid, qty, price)
        self.rehearsals += 1
        if not self.dry_run:  # dry-run sends nothing at all
            self.warm_pong.send(ws)

    def _template(self, command: SubmitOrder) -> KrakenOrderTemplate:
        tif = command.time_in_force.value.lower() if command.time_in_force else ""
        key = (command.symbol, command.side.value, command.order_type.value, tif)
        template = self._templates.get(key)
        if template is None:
            is_limit = command.order_type is OrderType.LIMIT
            template = self._templates[key] = KrakenOrderTemplate(
                symbol=command.symbol,
                side=command.side.value.lower(),
                order_type=command.order_type.value.lower(),
                token=self._token,
                time_in_force=(tif or "gtc") if is_limit else None,
                cid_width=self.cid_width,
            )
        return template

    def prepare(self, symbol: str, side: str, order_type: str = "MARKET") -> None:
        """Build the template for one order shape ahead of time (off the hot path)."""
        self._template(order_shape(self.name, self.cid_width, symbol, side, order_type))

    # -- what the venue says -------------------------------------------------------------
    def _on_message(self, ws: WebSocket, message: str | bytes) -> None:
        # never raises: a frame that does not decode is counted and logged, the orders it
        # names go UNKNOWN, and the connection (with every other order on it) stays up
        self.last_message_ns = self._now()
        try:
            msg = decode.message(message)
        except VenueDecodeError as exc:
            self._malformed(exc, message, decode.request_id(message), [])
            return
        try:
            self._dispatch(msg)
        except VenueDecodeError as exc:
            rows = decode.execution_refs(msg.data) if msg.channel == "executions" else []
            self._malformed(exc, message, msg.req_id, rows)

    def _malformed(
        self,
        exc: VenueDecodeError,
        message: str | bytes,
        req_id: int | None,
        rows: list[decode.ExecutionRef],
    ) -> None:
        coids: list[str | None] = []
        if req_id is not None:
            in_flight = self._pending.discard(str(req_id))
            coids.append(in_flight.client_order_id if in_flight is not None else None)
            self._requests.fail(req_id, exc)
        for row in rows:
            coids.append(row.cl_ord_id or self._order_cl.get(row.order_id or ""))
        ours = [c for c in coids if c]
        if not ours:
            self.malformed.report(exc, message, self.on_event)
        for coid in ours:
            self.malformed.report(exc, message, self.on_event, coid)

    def _dispatch(self, msg: decode.Message) -> None:
        if msg.channel is not None:
            self._channel(msg.channel, msg)
            return
        req_id = msg.req_id
        if req_id is None:
            return
        if msg.method == "add_order":
            answered = self._pending.answered(str(req_id), self._now())
            if answered is not None:
                self._order_response(answered.request.client_order_id, msg)
                return
        self._requests.answer(req_id, msg)

    def _order_response(self, coid: str, msg: decode.Message) -> None:
        now = self._now()
        try:
            order_id = decode.add_order_result(msg.result).order_id
        except VenueDecodeError as exc:
            self.malformed.report(exc, str(msg.result), self.on_event, coid)
            return
        outcome = kraken_outcome(
            msg.success, msg.error, None if order_id is None else {"order_id": order_id}
        )
        self.acks += 1
        if isinstance(outcome, Confirmed):
            self._order_cl[outcome.venue_order_id or ""] = coid
        # Kraken's errors are strings ("EOrder:Insufficient funds"): no numeric code, and an
        # unknown's code is its detail again
        self.on_event(ack_event(coid, now, outcome, fallback_code=0, code_in_reason=False))

    def _channel(self, channel: str, msg: decode.Message) -> None:
        if channel == "heartbeat":
            self.heartbeats += 1
        elif channel == "executions":
            rows = decode.executions(msg.data) if msg.data else []
            if msg.type == "update":
                for row in rows:
                    self._execution(row)
            self._ready("executions")
        elif channel == "ticker":
            for ticker in decode.tickers(msg.data) if msg.data else []:
                self._ticker(ticker)
            self._ready("ticker")
        elif channel == "instrument" and msg.data:
            for pair in decode.instrument(msg.data).pairs:
                self.rules[pair.symbol] = Grid(pair.qty_increment, pair.price_increment)
            self._ready("instrument")

    def _ready(self, channel: str) -> None:
        waiter = self._waiters.get(channel)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _ticker(self, row: decode.Ticker) -> None:
        if row.bid and row.ask:
            self._last_price[row.symbol] = (row.bid + row.ask) / 2
        elif row.last:
            self._last_price[row.symbol] = row.last

    def _execution(self, row: decode.Execution) -> None:
        # "Spot WebSocket v2" > "Executions": exec_type says what happened
        now = self._now()
        order_id = row.order_id
        coid = row.cl_ord_id or self._order_cl.get(order_id)
        if coid is None:
            return  # an order placed elsewhere without a client id: not ours to track
        ts = _rfc3339_ns(row.timestamp) or now
        kind = row.exec_type
        event: OrderEvent
        if kind == "trade":
            assert row.last_price is not None and row.last_qty is not None  # decode checks
            price = row.last_price
            if row.symbol:
                self._last_price[row.symbol] = price
            fees = row.fees
            event = OrderFilled(
                client_order_id=coid,
                ts_init=now,
                ts_event=ts,
                trade_id=str(row.exec_id or row.trade_id),
                last_qty=row.last_qty,
                last_px=price,
                commission=sum((f.qty for f in fees), Decimal(0)),
                commission_asset=fees[0].asset if fees else "",
                cum_qty=row.cum_qty,
            )
        elif kind == "new":
            self._order_cl[order_id] = coid
            event = OrderAccepted(
                client_order_id=coid, ts_init=now, ts_event=ts, venue_order_id=order_id
            )
        elif kind in {"canceled", "expired"}:
            closed = OrderCanceled if kind == "canceled" else OrderExpired
            event = closed_event(
                closed, coid, now, ts, executed=row.cum_qty, avg_px=row.average_px()
            )
        else:
            return  # pending_new, filled, status, amended: no new fact for the order book
        self.on_event(event)

    # -- requests off the hot path ---------------------------------------------------------
    async def request(self, method: str, params: Mapping[str, object]) -> Any:
        """Send one request and return its ``result``; raise ``KrakenError`` on an error."""
        msg = await self.call(method, params)
        if not msg.success or msg.error:
            raise KrakenError(method, msg.error or "unspecified error")
        return msg.result

    async def call(self, method: str, params: Mapping[str, object]) -> decode.Message:
        """Send ``{"method", "params", "req_id"}`` and return the whole response."""
        req_id = next(self._req_ids)
        body: dict[str, object] = {"method": method, "req_id": req_id}
        if params:
            body["params"] = dict(params)
        return await self._requests.send(
            self._ws,
            req_id,
            orjson.dumps(body).decode(),
            what=method,
            timeout_s=self.request_timeout_s,
        )

    async def ping(self) -> int:
        """Send the application-level ``ping``; return the round trip in ns."""
        sent = self._now()
        await self.call("ping", {})
        return self._now() - sent

    async def private_rest(self, path: str, params: Mapping[str, object]) -> Any:
        """POST a signed private REST call; return ``result`` or raise ``KrakenError``.

        The nonce is the time in ms, pushed past the last one used: Kraken refuses a nonce
        that does not increase per key ("EAPI:Invalid nonce").
        """
        if self._http is None:
            raise VenueError(f"{self.name}: not started")
        self._nonce = max(time.time_ns() // 1_000_000, self._nonce + 1)
        body, headers = kraken_private_request(
            path,
            params,
            nonce=str(self._nonce),
            api_key=self._api_key.reveal(),
            secret_b64=self._secret.reveal(),
        )
        timeout = aiohttp.ClientTimeout(total=self.request_timeout_s)
        try:
            async with self._http.post(
                self.rest_url + path, data=body.encode(), headers=headers, timeout=timeout
            ) as response:
                raw = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise VenueError(f"{self.name}: {path}: {type(exc).__name__}") from None
        answer = decode.rest_answer(raw, path)
        if answer.error:
            raise KrakenError(path, ", ".join(answer.error))
        return answer.result

    async def refresh_dead_man(self, timeout_s: int) -> str:
        """Arm or push back ``cancel_all_orders_after`` (0 disarms); return ``triggerTime``.

        Kraken recommends "a call every 15 to 30 seconds, providing a timeout of 60
        seconds" (Spot WebSocket v2 "cancel_all_orders_after").
        """
        result = await self.request(
            "cancel_all_orders_after", {"timeout": int(timeout_s), "token": self._token}
        )
        self.dead_man_trigger = decode.dead_man(result).triggerTime
        return self.dead_man_trigger

    async def cancel(self, client_order_id: str, symbol: str) -> None:
        """Cancel one order by ``cl_ord_id`` (the event arrives on ``executions``)."""
        await self.request("cancel_order", {"cl_ord_id": [client_order_id], "token": self._token})

    async def cancel_all(self, symbol: str) -> int:
        """Cancel every open order (Kraken's ``cancel_all`` spans all pairs); return the count."""
        result = await self.request("cancel_all", {"token": self._token})
        return decode.cancel_all(result).count

    async def reconcile(self, client_order_id: str, symbol: str) -> list[OrderEvent]:
        """Find the order by ``cl_ord_id`` in REST ``OpenOrders``, then ``ClosedOrders``.

        Absent from both is final only once ``not_found_after_s`` has passed since our
        send (an order of an earlier process counts as old): before that it may still be
        in flight, and ``KrakenError`` says "ask again". Fills learned this way carry a
        synthetic trade id per cumulative quantity (``recon:<order_id>:<vol_exec>``).
        """
        now = self._now()
        txid: str | None = None
        order: decode.OrderInfo | None = None
        for path, key in ((OPEN_ORDERS_PATH, "open"), (CLOSED_ORDERS_PATH, "closed")):
            listed = decode.orders(
                await self.private_rest(path, {"cl_ord_id": client_order_id}), path
            )
            found = listed.open if key == "open" else listed.closed
            if found:
                txid, order = next(iter(found.items()))
                break
        coid = client_order_id
        if order is None:
            sent = self._sent_ns.get(coid)
            if sent is not None and now - sent < self.not_found_after_s * 1e9:
                raise KrakenError("reconcile", f"{coid} not listed yet; still unknown")
            answer = kraken_reconcile(_UNKNOWN_ORDER, None)
        else:
            answer = kraken_reconcile(None, {"status": order.status, "order_id": txid})
        if answer.finding is Finding.NOT_FOUND:
            return [OrderNotFound(client_order_id=coid, ts_init=now, ts_event=now)]
        assert order is not None and txid is not None
        executed = order.vol_exec
        ending: type[OrderCanceled] | type[OrderExpired] | None = None
        if answer.venue_status == "canceled":
            ending = OrderCanceled
        elif answer.venue_status == "expired":
            ending = OrderExpired
        return reconciled_events(
            coid,
            now=now,
            venue_order_id=txid,
            executed=executed,
            avg_price=order.price,
            commission=order.fee,
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
            "connects_held_until_ms": self.connection_limiter.held_until_ms,
            "endpoint": self.url,
            "authenticated": "token" if self._token else "no",
            "dry_run": self.dry_run,
            "rtt_us": summary,
            "sent": self.sent,
            "acks": self.acks,
            "rehearsals": self.rehearsals,
            "warm_pongs": self.warm_pong.sent,
            "heartbeats": self.heartbeats,
            "silent_s": (self._now() - self.last_message_ns) / 1e9,
            "dead_man_trigger": self.dead_man_trigger,
            "malformed": self.malformed.count,
        }


def _rfc3339_ns(value: object) -> int | None:
    """Parse Kraken's ``2022-12-25T09:30:59.123456Z`` into ns since the epoch."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000

"""Binance Spot WebSocket API (``/ws-api/v3``) as a sans-IO request handler.

``BinanceSession.handle(text)`` takes one request frame's JSON text and returns the
response text followed by any User Data Stream events for that connection; events for
other connections wait in their outboxes and ``BinanceExchange.on_push`` tells the
transport to flush them. The clock is injected. Follows Binance ``web-socket-api.md``
(request/response envelope, request security, timing security, rate limits, session
authentication, each method's parameters and response) and ``errors.md`` for every code.
Knows nothing of sockets or asyncio; faults are applied by the transport (``faults.py``).
"""

from __future__ import annotations

import base64
import collections
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from whalewire.emulator import decoding, numbers
from whalewire.emulator.accounts import (
    ApiKey,
    Credentials,
    KeyType,
    Registry,
    credential_matches,
    open_default_account,
)
from whalewire.emulator.binance import rules
from whalewire.emulator.binance.render import execution_report, list_status, order_list
from whalewire.emulator.binance.rules import ApiError, fmt
from whalewire.emulator.faults import FaultKind
from whalewire.emulator.limits import BanPolicy, BanState, Interval, RateLimit, Usage, WindowCounter
from whalewire.emulator.matching import (
    Clock,
    CommandRejected,
    Event,
    Fees,
    OrderTraded,
    SymbolSpec,
)
from whalewire.emulator.skeleton import Exchange
from whalewire.venues.signing import binance_hmac_signature, binance_ws_payload

#: ``web-socket-api.md``: "If recvWindow is not sent, it defaults to 5000 milliseconds",
#: "Maximum recvWindow is 60000 milliseconds"
DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
#: "timestamp < (serverTime + 1000)" ("Timing security")
MAX_AHEAD_MS = 1000

#: a method's handler: session, request ``params``, server time -> ``result`` (or ApiError)
Handler = Callable[["BinanceSession", dict[str, object], int], object]
#: the methods sessions answer, by name; ``methods.py`` fills it when the package loads
METHODS: dict[str, Handler] = {}

#: request weight per method ("**Weight:**" of each method in ``web-socket-api.md``)
WEIGHTS: dict[str, int] = {
    "ping": 1,
    "time": 1,
    "exchangeInfo": 20,
    "depth": 5,
    "session.logon": 2,
    "session.status": 2,
    "session.logout": 2,
    "session.subscriptions": 2,
    "order.place": 1,
    "order.test": 1,
    "order.status": 4,
    "order.cancel": 1,
    "order.cancelReplace": 1,
    "openOrders.status": 6,
    "openOrders.cancelAll": 1,
    "allOrders": 20,
    "myTrades": 20,
    "account.status": 20,
    "userDataStream.subscribe": 2,
    "userDataStream.subscribe.signature": 2,
    "userDataStream.unsubscribe": 2,
}
#: weights that depend on the request's parameters (e.g. how many symbols it names);
#: ``market.py`` fills it
WEIGHT_RULES: dict[str, Callable[[Mapping[str, object]], int]] = {}
#: openOrders.status without ``symbol`` weighs 80
_OPEN_ORDERS_ALL_WEIGHT = 80
#: myTrades with ``orderId`` weighs 5
_MY_TRADES_ORDER_WEIGHT = 5
#: fills remembered for ``myTrades`` (a long-running emulator stays bounded)
FILLS_KEPT = 100_000
#: "Connecting to WebSocket API costs 2 weight"
CONNECT_WEIGHT = 2

#: the limits ``exchangeInfo`` lists (values as this emulator's brief sets them)
REQUEST_WEIGHT = RateLimit("REQUEST_WEIGHT", Interval.MINUTE, 1, 6000)
ORDERS = (
    RateLimit("ORDERS", Interval.SECOND, 10, 100),
    RateLimit("ORDERS", Interval.DAY, 1, 200_000),
)
CONNECTIONS = RateLimit("CONNECTIONS", Interval.MINUTE, 5, 300)


@dataclass(frozen=True, slots=True)
class OrderList:
    """An order list (``orderList.place.oco``): its ids, owner and orders' engine ids."""

    list_id: int
    client_id: str
    account_id: str
    symbol: str
    order_ids: tuple[int, ...]
    time: int


@dataclass(frozen=True, slots=True)
class BinanceConfig:
    """Limits, fees, symbols and book shape of one emulated Binance."""

    request_weight: RateLimit = REQUEST_WEIGHT
    orders: tuple[RateLimit, ...] = ORDERS
    connections: RateLimit = CONNECTIONS
    ban: BanPolicy = field(default_factory=BanPolicy)
    fees: Fees = field(default_factory=Fees)
    symbols: Mapping[str, tuple[SymbolSpec, Decimal]] = field(
        default_factory=lambda: dict(rules.DEFAULT_SYMBOLS)
    )
    #: levels per side of each synthetic book (0: empty books)
    book_levels: int = 20
    seed: int = 0
    #: sigma of one step of the house's random walk, in basis points (0: a static book)
    walk_bps: float = 0.0
    #: seconds between two steps of the walk
    walk_interval_s: float = 1.0

    @property
    def markets(self) -> Mapping[str, tuple[SymbolSpec, Decimal]]:
        """The symbols with their mid prices (what ``skeleton.Exchange`` builds books from)."""
        return self.symbols


def signature_payload(params: Mapping[str, object]) -> str | None:
    """Build the payload Binance signs, or ``None`` when a value has no agreed spelling.

    The rule (every param but ``signature``, sorted, ``k=v`` joined by ``&``) is
    ``whalewire.venues.signing.binance_ws_payload``, the one our clients sign with.
    """
    try:
        payload = binance_ws_payload(params)
        payload.encode()  # a lone surrogate ("\\ud800" in JSON) has no UTF-8 spelling either
    except (TypeError, UnicodeEncodeError):  # null, arrays, objects: no client signed them
        return None
    return payload


def verify_signature(key: ApiKey, payload: str, signature: str) -> bool:
    """Check ``signature`` over ``payload`` as Binance does for the key's type.

    HMAC-SHA256: hex, compared case-insensitively ("resulting signature value is
    case-insensitive"); Ed25519 and RSA (PKCS#1 v1.5, SHA-256): standard base64
    ("SIGNED request example (RSA)", "(Ed25519)").
    """
    if key.key_type is KeyType.HMAC:
        expected = binance_hmac_signature(payload, key.secret)
        return credential_matches(signature.lower(), expected)
    public_key = key.public_key
    try:
        raw = base64.b64decode(signature, validate=True)
        if isinstance(public_key, RSAPublicKey):
            public_key.verify(raw, payload.encode(), padding.PKCS1v15(), hashes.SHA256())
        else:
            assert public_key is not None
            public_key.verify(raw, payload.encode())
    except (InvalidSignature, ValueError):
        return False
    return True


class BinanceExchange(Exchange["BinanceSession"]):
    """State shared by all connections: accounts, keys, books, limits and sessions."""

    def __init__(
        self, clock: Clock, config: BinanceConfig | None = None, registry: Registry | None = None
    ) -> None:
        self.config = config = config or BinanceConfig()
        super().__init__(clock, registry, config)
        self._weights: dict[str, Usage] = {}
        self._bans: dict[str, BanState] = {}
        self._orders: dict[str, Usage] = {}
        #: order lists (``lists.py``), by ``orderListId``
        self.order_lists: dict[int, OrderList] = {}
        #: the latest fills of every account, oldest first (``myTrades`` reads them)
        self.fills: collections.deque[OrderTraded] = collections.deque(maxlen=FILLS_KEPT)

    def open_default_account(self, account_id: str = "default") -> Credentials:
        """Open a funded account with an HMAC key and an Ed25519 key pair; return them."""
        return open_default_account(self.registry, account_id)

    def connect(self, ip: str = "127.0.0.1", *, return_rate_limits: bool = True) -> BinanceSession:
        """Open a session for a new connection (``returnRateLimits`` from its URL query)."""
        now = self.clock()
        self.weight_usage(ip).add(now, CONNECT_WEIGHT)
        session = BinanceSession(self, ip, now, return_rate_limits=return_rate_limits)
        self.sessions.append(session)
        return session

    def disconnect(self, session: BinanceSession) -> None:
        """Forget a closed connection and its subscriptions."""
        if session in self.sessions:
            self.sessions.remove(session)

    def weight_usage(self, ip: str) -> Usage:
        """Return the REQUEST_WEIGHT counters of ``ip`` (shared by its connections)."""
        usage = self._weights.get(ip)
        if usage is None:
            usage = self._weights[ip] = Usage.of([self.config.request_weight])
        return usage

    def ban_state(self, ip: str) -> BanState:
        """Return the ban record of ``ip``."""
        state = self._bans.get(ip)
        if state is None:
            state = self._bans[ip] = BanState(self.config.ban)
        return state

    def order_usage(self, account_id: str) -> Usage:
        """Return the ORDERS counters of an account (shared by all its keys)."""
        usage = self._orders.get(account_id)
        if usage is None:
            usage = self._orders[account_id] = Usage.of(list(self.config.orders))
        return usage

    def render_fault(self, kind: FaultKind, request_text: str) -> str:
        """Render an injected fault the way Binance words it (a ``faults.Renderer``).

        5xx answers mean "execution status unknown" (``web-socket-api.md``, "Status
        codes"); codes and messages are ``errors.md``'s -1007, -1008 and -1003. The
        shutdown notice uses the WebSocket API event envelope with the ``serverShutdown``
        event name of Binance's streams.
        """
        now = self.clock()
        if kind is FaultKind.SHUTDOWN:
            return _dumps({"event": {"e": "serverShutdown", "E": now}})
        try:
            request = decoding.loads(request_text)
            req_id = request.get("id") if isinstance(request, dict) else None
        except ValueError:
            req_id = None
        lim = self.config.request_weight
        window_end = now - now % lim.interval_ms + lim.interval_ms
        errors = {
            FaultKind.UNKNOWN: ApiError(
                503,
                -1007,
                "Timeout waiting for response from backend server. "
                "Send status unknown; execution status unknown.",
            ),
            FaultKind.SERVER_ERROR: ApiError(
                503,
                -1008,
                "Server is currently overloaded with other requests. "
                "Please try again in a few minutes.",
            ),
            FaultKind.RATE_LIMITED: ApiError(
                429,
                -1003,
                f"Too much request weight used; current limit is {lim.limit} request weight "
                f"per {lim.interval_num} {lim.interval.value}. Please use WebSocket Streams "
                "for live updates to avoid polling the API.",
                {"serverTime": now, "retryAfter": window_end},
            ),
        }
        exc = errors.get(kind)
        if exc is None:  # BANNED (DROP and DISCONNECT send nothing)
            until = now + self.config.ban.first_ms
            exc = ApiError(
                418,
                -1003,
                f"Way too much request weight used; IP banned until {until}. "
                "Please use WebSocket Streams for live updates to avoid bans.",
                {"serverTime": now, "retryAfter": until},
            )
        return _dumps(error_response(req_id, exc))

    def publish(self, events: list[Event], origin: BinanceSession | None = None) -> None:
        """Record fills; push ``executionReport`` and ``outboundAccountPosition`` events."""
        self.tape.observe(events)  # the public streams (streams.py)
        self.fills.extend(e for e in events if isinstance(e, OrderTraded))
        watched = {acct for s in self.sessions for acct in s.subscriptions.values()}
        if not watched:
            return
        now = self.clock()
        touched: dict[str, set[str]] = {}
        woken: list[BinanceSession] = []
        for event in events:
            if isinstance(event, CommandRejected) or event.order.account_id not in watched:
                continue
            view = event.order
            spec = self.engine.specs[view.symbol]
            touched.setdefault(view.account_id, set()).update((spec.base, spec.quote))
            report = execution_report(event, now)
            for session in self.sessions:
                if session.push(view.account_id, report) and session not in woken:
                    woken.append(session)
        for account_id, status in self._list_statuses(events, now):
            for session in self.sessions:
                if session.push(account_id, status) and session not in woken:
                    woken.append(session)
        for account_id, assets in touched.items():
            account = self.registry.accounts[account_id]
            position = {
                "e": "outboundAccountPosition",
                "E": now,
                "u": account.update_time,
                "B": [
                    {"a": a, "f": fmt(account.free(a)), "l": fmt(account.balance(a).locked)}
                    for a in sorted(assets)
                ],
            }
            for session in self.sessions:
                session.push(account_id, position)
        if self.on_push is not None:
            for session in woken:
                if session is not origin:
                    self.on_push(session)

    def _list_statuses(self, events: list[Event], now: int) -> list[tuple[str, dict[str, object]]]:
        """``listStatus`` for each order list whose orders ``events`` touched, with its
        owner; sent after those orders' ``executionReport`` events."""
        out: list[tuple[str, dict[str, object]]] = []
        groups = {e.order.group for e in events if not isinstance(e, CommandRejected)}
        for list_id in sorted(groups - {-1}):
            lst = self.order_lists.get(list_id)
            if lst is None:
                continue
            found = (self.engine.get_order(lst.account_id, lst.symbol, i) for i in lst.order_ids)
            views = [v for v in found if v is not None]
            body = order_list(lst.list_id, lst.client_id, lst.symbol, lst.time, views)
            out.append((lst.account_id, list_status(body, now)))
        return out


def render_counters(counters: list[WindowCounter], now: int) -> list[dict[str, object]]:
    """Return counters as a response's ``rateLimits`` array lists them."""
    return [
        {
            "rateLimitType": c.rate_limit.limit_type,
            "interval": c.rate_limit.interval.value,
            "intervalNum": c.rate_limit.interval_num,
            "limit": c.rate_limit.limit,
            "count": c.current(now),
        }
        for c in counters
    ]


def error_response(req_id: object, exc: ApiError) -> dict[str, object]:
    """Return the failed-response envelope ``{"id", "status", "error": {"code", "msg"}}``."""
    error: dict[str, object] = {"code": exc.code, "msg": exc.msg}
    if exc.data is not None:
        error["data"] = dict(exc.data)
    return {"id": req_id, "status": exc.status, "error": error}


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return numbers.json_default(value)


class BinanceSession:
    """One WebSocket API connection: its authenticated key, subscriptions and outbox."""

    def __init__(
        self, exchange: BinanceExchange, ip: str, connected_since: int, *, return_rate_limits: bool
    ) -> None:
        self.exchange = exchange
        self.ip = ip
        self.connected_since = connected_since
        self.return_rate_limits = return_rate_limits
        self.key: ApiKey | None = None
        self.authorized_since: int | None = None
        #: subscriptionId -> account id
        self.subscriptions: dict[int, str] = {}
        self._next_subscription = 0
        self._outbox: list[str] = []
        #: set when the venue would drop the connection (an IP ban)
        self.close_requested = False
        self._order_usage: Usage | None = None

    # ------------------------------------------------------------------ I/O face

    def handle(self, text: str) -> list[str]:
        """Process one request frame; return the response text, then pending event texts."""
        response = self._respond(text)
        out = [response, *self._outbox]
        self._outbox.clear()
        return out

    def data_to_send(self) -> list[str]:
        """Return and clear event texts queued by other connections' activity."""
        out = list(self._outbox)
        self._outbox.clear()
        return out

    def push(self, account_id: str, event: Mapping[str, object]) -> bool:
        """Queue ``event`` on every subscription of ``account_id``; return whether any matched."""
        matched = False
        for sub_id, account in self.subscriptions.items():
            if account == account_id:
                self._outbox.append(_dumps({"subscriptionId": sub_id, "event": event}))
                matched = True
        return matched

    # ----------------------------------------------------------------- envelope

    def _respond(self, text: str) -> str:
        try:
            request = decoding.loads(text)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            return self._error(None, rules.invalid_json(), None)
        req_id = request.get("id")
        method = request.get("method")
        params = request.get("params", {})
        if not isinstance(params, dict):
            return self._error(req_id, rules.invalid_json(), None)
        if not isinstance(method, str):
            return self._error(req_id, rules.mandatory("method"), None)
        # "Request method names may be prefixed with explicit version: e.g., "v3/order.place""
        method = method.removeprefix("v3/")
        self._order_usage = None
        now = self.exchange.clock()
        try:
            want_limits = rules.get_bool(params, "returnRateLimits")
        except ApiError:
            want_limits = None
        if want_limits is None:
            want_limits = self.return_rate_limits
        try:
            self._charge(method, params, now)
            handler = METHODS.get(method)
            if handler is None:
                raise rules.unsupported_operation()
            result = handler(self, params, now)
        except ApiError as exc:
            # the revocation notice carries "id": null ("Regarding API key revocation")
            answer_id = None if isinstance(exc, rules.SessionRevoked) else req_id
            return self._error(answer_id, exc, now if want_limits else None)
        response: dict[str, object] = {"id": req_id, "status": 200, "result": result}
        if want_limits:
            response["rateLimits"] = self._rate_limits(now)
        return _dumps(response)

    def _error(self, req_id: object, exc: ApiError, limits_at: int | None) -> str:
        response = error_response(req_id, exc)
        if limits_at is not None:
            response["rateLimits"] = self._rate_limits(limits_at)
        return _dumps(response)

    def _rate_limits(self, now: int) -> list[dict[str, object]]:
        counters: list[WindowCounter] = []
        if self._order_usage is not None:
            counters.extend(self._order_usage.counters)
        counters.extend(self.exchange.weight_usage(self.ip).counters)
        return render_counters(counters, now)

    # ------------------------------------------------------------------- limits

    def _charge(self, method: str, params: Mapping[str, object], now: int) -> None:
        ban = self.exchange.ban_state(self.ip)
        if ban.is_banned(now):
            raise self._banned(ban, now)
        weight = WEIGHTS.get(method, 1)
        rule = WEIGHT_RULES.get(method)
        if rule is not None:
            weight = rule(params)
        if method == "openOrders.status" and params.get("symbol") is None:
            weight = _OPEN_ORDERS_ALL_WEIGHT
        elif method == "myTrades" and params.get("orderId") is not None:
            weight = _MY_TRADES_ORDER_WEIGHT
        usage = self.exchange.weight_usage(self.ip)
        over = usage.first_exceeded(now, weight)
        usage.add(now, weight)
        if over is None:
            return
        if ban.record_rejection(now, over.window_start):
            raise self._banned(ban, now)
        lim = over.rate_limit
        raise ApiError(
            429,
            -1003,
            f"Too much request weight used; current limit is {lim.limit} request weight per "
            f"{lim.interval_num} {lim.interval.value}. Please use WebSocket Streams for live "
            "updates to avoid polling the API.",
            {"serverTime": now, "retryAfter": over.window_end(now)},
        )

    def _banned(self, ban: BanState, now: int) -> ApiError:
        # "Repeatedly violating rate limits ... will result in an automated IP ban and you
        # will be disconnected"
        self.close_requested = True
        return ApiError(
            418,
            -1003,
            f"Way too much request weight used; IP banned until {ban.banned_until}. "
            "Please use WebSocket Streams for live updates to avoid bans.",
            {"serverTime": now, "retryAfter": ban.banned_until},
        )

    def charge_order(self, account_id: str, now: int) -> Usage:
        """Check the account's ORDERS limits for one more order; return its counters."""
        usage = self.exchange.order_usage(account_id)
        self._order_usage = usage
        over = usage.first_exceeded(now, 1)
        if over is None:
            return usage
        ban = self.exchange.ban_state(self.ip)
        if ban.record_rejection(now, over.window_start):
            raise self._banned(ban, now)
        lim = over.rate_limit
        raise ApiError(
            429,
            -1015,
            f"Too many new orders; current limit is {lim.limit} orders per "
            f"{lim.interval_num} {lim.interval.value}.",
            {"serverTime": now, "retryAfter": over.window_end(now)},
        )

    # ------------------------------------------------------------------ security

    def authorize(self, params: Mapping[str, object], now: int, *, signed: bool = True) -> ApiKey:
        """Return the key a SIGNED (or USER_STREAM) request acts for, or raise its error.

        An explicit ``apiKey`` (with ``signature`` when signed) authorizes the request
        ad hoc; otherwise the session's logged-on key does ("Authorize ad hoc requests").
        SIGNED requests always need ``timestamp`` ("Session Authentication").
        """
        api_key = rules.get_str(params, "apiKey")
        if api_key is None and self.key is not None:
            key = self.key
            if signed:
                self._check_timing(params, now)
            # "after the next request the session will be revoked" when the key goes away
            if self.exchange.registry.lookup(key.api_key) is None:
                self.key = self.authorized_since = None
                raise rules.session_revoked()
            return key
        if api_key is None:
            raise rules.mandatory("apiKey")
        found = self.exchange.registry.lookup(api_key)
        if found is None:
            raise rules.rejected_api_key()
        if signed:
            signature = rules.get_str(params, "signature", required=True)
            assert signature is not None
            self._check_timing(params, now)
            payload = signature_payload(params)
            if payload is None or not verify_signature(found, payload, signature):
                raise rules.invalid_signature()
        return found

    @staticmethod
    def _check_timing(params: Mapping[str, object], now: int) -> None:
        timestamp = rules.get_int(params, "timestamp", required=True)
        assert timestamp is not None
        if timestamp >= 10**15:  # microseconds are accepted too ("General API Information")
            timestamp //= 1000
        window = params.get("recvWindow")
        recv_window = Decimal(DEFAULT_RECV_WINDOW)
        if window is not None:
            # NaN, "sNaN", "²", 1e300000: refused before any comparison or conversion
            parsed = numbers.decimal_of(window)
            if parsed is None:
                raise rules.mandatory("recvWindow")
            recv_window = parsed
            if recv_window > MAX_RECV_WINDOW:
                raise rules.too_large("recvWindow", str(MAX_RECV_WINDOW))
        # "if (timestamp < (serverTime + 1000) && (serverTime - timestamp) <= recvWindow)"
        if timestamp >= now + MAX_AHEAD_MS:
            raise rules.timestamp_ahead()
        if now - timestamp > recv_window:
            raise rules.timestamp_outside_window()

    def session_status(self, now: int) -> dict[str, object]:
        """Return the ``session.status`` result for this connection."""
        return {
            "apiKey": self.key.api_key if self.key is not None else None,
            "authorizedSince": self.authorized_since,
            "connectedSince": self.connected_since,
            "returnRateLimits": self.return_rate_limits,
            "serverTime": now,
            "userDataStream": bool(self.subscriptions),
        }

    def subscribe(self, account_id: str) -> int:
        """Start a User Data Stream subscription for ``account_id``; return its id."""
        for sub_id, account in self.subscriptions.items():
            if account == account_id:
                return sub_id
        sub_id = self._next_subscription
        self._next_subscription += 1
        self.subscriptions[sub_id] = account_id
        return sub_id

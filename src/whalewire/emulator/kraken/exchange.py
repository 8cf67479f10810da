"""Kraken Spot WebSocket v2 (and the REST calls around it) as a sans-IO handler.

``KrakenExchange`` holds what all connections share: accounts and API keys, session tokens,
the matching engine, nonces and the dead man's switch timers. ``KrakenExchange.rest(...)``
answers the private REST calls a WebSocket client needs (``GetWebSocketsToken``,
``OpenOrders``, ``ClosedOrders``), verifying ``API-Key``/``API-Sign`` and the nonce.
``KrakenSession.handle(text)`` takes one WebSocket v2 request and returns the response text
followed by the channel messages it caused for that connection (``executions``,
``ticker``); messages for other connections wait in their outboxes and ``on_push`` tells
the transport to flush them. The clock is injected; timers fire through
``KrakenExchange.fire_dead_man(now)``, which the transport calls at
``next_dead_man()``.

Message shapes follow Kraken's "Spot WebSocket v2" reference pages (docs.kraken.com,
``api/docs/websocket-v2/<page>``); the bodies are rendered by ``render.py``. Where
the documentation is silent the choice is listed in ``docs/emulator.md`` ("Kraken").
Knows nothing of sockets or asyncio; faults are applied by the transport.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from urllib.parse import parse_qsl

from whalewire.emulator import decoding, numbers
from whalewire.emulator.accounts import USD_BALANCES, Registry
from whalewire.emulator.faults import FaultKind
from whalewire.emulator.kraken.errors import (
    DUPLICATE_CL_ORD_ID,
    INSUFFICIENT_FUNDS,
    INVALID_ARGUMENTS,
    INVALID_KEY,
    INVALID_NONCE,
    INVALID_SESSION,
    INVALID_SIGNATURE,
    NO_POSITION,
    ORDER_MINIMUM,
    POST_ONLY_REJECTED,
    UNKNOWN_METHOD,
    UNKNOWN_ORDER,
    UNKNOWN_PAIR,
    KrakenError,
)
from whalewire.emulator.kraken.orders import (
    CONDITIONAL,
    check_deadline,
    decimal_param,
    trail_distance,
    trigger_price,
    valid_cl_ord_id,
)
from whalewire.emulator.kraken.render import (
    B32,
    dumps,
    execution_rows,
    failure,
    instrument_pairs,
    ledger_rows,
    order_info,
    rfc3339,
    snapshot_row,
    status_message,
    ticker_row,
)
from whalewire.emulator.kraken.streams import ChannelError, KrakenPublicFeed
from whalewire.emulator.matching import (
    CancelOrder,
    Clock,
    CommandRejected,
    Event,
    Fees,
    OrderTraded,
    OrderType,
    OrderView,
    PlaceOrder,
    RejectReason,
    Side,
    SymbolSpec,
    TimeInForce,
)
from whalewire.emulator.skeleton import Exchange, market

#: "The token should be used within 15 minutes of creation" (REST GetWebSocketsToken);
#: the documented response carries ``"expires": 900``
TOKEN_TTL_S = 900
#: the REST paths this emulator answers ("Spot REST API": ``/0/private/<Method>``)
TOKEN_PATH = "/0/private/GetWebSocketsToken"
OPEN_ORDERS_PATH = "/0/private/OpenOrders"
CLOSED_ORDERS_PATH = "/0/private/ClosedOrders"


def _spec(symbol: str, tick: str, step: str, min_qty: str) -> SymbolSpec:
    base, quote = symbol.split("/")
    return market(
        symbol, base, quote, tick=tick, step=step, min_qty=min_qty, min_notional="0",
        max_price=10_000_000, max_qty=100_000, max_notional=100_000_000,
    )  # fmt: skip


#: Kraken v2 symbols ("BTC/USD": v2 uses BTC, not XBT) with mid prices for their books;
#: price/qty increments and minimums as the ``instrument`` channel lists them for spot
DEFAULT_SYMBOLS: dict[str, tuple[SymbolSpec, Decimal]] = {
    "BTC/USD": (_spec("BTC/USD", "0.1", "0.00000001", "0.0001"), Decimal(60_000)),
    "ETH/USD": (_spec("ETH/USD", "0.01", "0.00000001", "0.002"), Decimal(3_000)),
    "ETH/BTC": (_spec("ETH/BTC", "0.00001", "0.00000001", "0.002"), Decimal("0.05")),
}


@dataclass(frozen=True, slots=True)
class KrakenConfig:
    """Fees, symbols and book shape of one emulated Kraken."""

    #: Kraken's entry tier: 0.25 % maker, 0.40 % taker (kraken.com/features/fee-schedule),
    #: charged in the quote currency (``oflags`` "fciq", as orders and executions show)
    fees: Fees = field(
        default_factory=lambda: Fees(Decimal("0.0025"), Decimal("0.004"), in_quote=True)
    )
    symbols: Mapping[str, tuple[SymbolSpec, Decimal]] = field(
        default_factory=lambda: dict(DEFAULT_SYMBOLS)
    )
    book_levels: int = 20
    seed: int = 0
    #: sigma of one step of the house's random walk, in basis points (0: a static book)
    walk_bps: float = 0.0
    #: seconds between two steps of the walk
    walk_interval_s: float = 1.0
    token_ttl_s: int = TOKEN_TTL_S

    @property
    def markets(self) -> Mapping[str, tuple[SymbolSpec, Decimal]]:
        """The symbols with their mid prices (what ``skeleton.Exchange`` builds books from)."""
        return self.symbols


@dataclass(frozen=True, slots=True)
class KrakenCredentials:
    """An account's REST key: ``api_key`` and the base64 ``secret`` that signs API-Sign."""

    account_id: str
    api_key: str
    secret: str


@dataclass(slots=True)
class _Token:
    account_id: str
    issued_ms: int
    #: "it does not expire once a successful Websockets connection and private
    #: subscription has been made" (REST GetWebSocketsToken)
    used: bool = False


@dataclass(frozen=True, slots=True)
class RestAnswer:
    """An HTTP answer: status and JSON body."""

    status: int
    body: bytes


#: more private REST calls by path (``rest.py`` fills it): (exchange, account, params) -> result
REST_HANDLERS: dict[str, Callable[[KrakenExchange, str, Mapping[str, str]], object]] = {}


def verify_api_sign(uri_path: str, body: str, secret_b64: str, api_sign: str) -> bool:
    """Check ``API-Sign`` (Kraken "Spot REST Authentication", written apart from the signer).

    base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + postdata))), the
    nonce being the ``nonce`` field of the form-encoded body.
    """
    nonce = dict(parse_qsl(body, keep_blank_values=True)).get("nonce", "")
    try:
        key = base64.b64decode(secret_b64, validate=True)
        given = base64.b64decode(api_sign, validate=True)
    except ValueError:
        return False
    inner = hashlib.sha256(nonce.encode() + body.encode()).digest()
    expected = hmac.new(key, uri_path.encode() + inner, hashlib.sha512).digest()
    return hmac.compare_digest(expected, given)


class KrakenExchange(Exchange["KrakenSession"]):
    """State shared by every connection: accounts, keys, tokens, books, dead man's switches."""

    def __init__(
        self, clock: Clock, config: KrakenConfig | None = None, registry: Registry | None = None
    ) -> None:
        self.config = config = config or KrakenConfig()
        super().__init__(clock, registry, config)
        self._tokens: dict[str, _Token] = {}
        #: the public ``book`` and ``trade`` channels (streams.py)
        self.public = KrakenPublicFeed(self)
        self._nonces: dict[str, int] = {}
        #: account -> venue time (ms) when the dead man's switch cancels everything
        self.dead_man: dict[str, int] = {}
        #: engine order id <-> Kraken order id ("OQCLML-BW3P3-BUCMWZ")
        self._kraken_ids: dict[int, str] = {}
        self._engine_ids: dict[str, int] = {}
        #: cl_ord_id given by the client, per engine order id (absent: none was given)
        self.cl_ord_ids: dict[int, str] = {}
        self.userrefs: dict[int, int] = {}
        #: every order placed through add_order: engine id -> (account, symbol)
        self._placed: dict[int, tuple[str, str]] = {}
        #: (account, cl_ord_id) -> engine ids that carried it, oldest first
        self._by_cl: dict[tuple[str, str], list[int]] = {}
        # seeds the order and trade ids: the same seed gives the same ids
        self.id_salt = b"%d" % self.config.seed
        #: amendments made so far (numbers each ``amend_id``)
        self.amends = 0

    # ------------------------------------------------------------------ accounts

    def open_default_account(self, account_id: str = "default") -> KrakenCredentials:
        """Open an account holding BTC 10, ETH 100, USD 1,000,000 with a fresh REST key."""
        self.registry.open_account(account_id, dict(USD_BALANCES))
        return self.add_key(account_id)

    def add_key(self, account_id: str, api_key: str = "", secret: str = "") -> KrakenCredentials:
        """Register a REST key (generated: 56-character key, 64-byte base64 secret)."""
        api_key = api_key or base64.b64encode(secrets.token_bytes(42)).decode()
        secret = secret or base64.b64encode(secrets.token_bytes(64)).decode()
        self.registry.add_hmac_key(account_id, api_key, secret)
        return KrakenCredentials(account_id, api_key, secret)

    def register_token(self, token: str, account_id: str) -> None:
        """Accept ``token`` for ``account_id`` (tests replay the documentation's tokens)."""
        self._tokens[token] = _Token(account_id, self.clock())

    def order_id(self, engine_id: int) -> str:
        """Return the Kraken-style order id of an engine order (stable, seeded)."""
        known = self._kraken_ids.get(engine_id)
        if known is not None:
            return known
        digest = hashlib.sha256(self.id_salt + b"o%d" % engine_id).digest()
        chars = "".join(B32[b % 32] for b in digest[:15])
        kid = f"O{chars[:5]}-{chars[5:10]}-{chars[10:15]}X"
        self._kraken_ids[engine_id] = kid
        self._engine_ids[kid] = engine_id
        return kid

    def placed(self, engine_id: int, account_id: str, symbol: str, cl_ord_id: str | None) -> None:
        """Index an order taken by ``add_order`` (by account, and by its ``cl_ord_id``)."""
        self._placed[engine_id] = (account_id, symbol)
        if cl_ord_id is not None:
            self.cl_ord_ids[engine_id] = cl_ord_id
            self._by_cl.setdefault((account_id, cl_ord_id), []).append(engine_id)

    def view(self, account_id: str, engine_id: int | None) -> OrderView | None:
        """Return an order of ``account_id`` placed through ``add_order``, or None."""
        where = self._placed.get(engine_id) if engine_id is not None else None
        if engine_id is None or where is None or where[0] != account_id:
            return None
        return self.engine.get_order(account_id, where[1], order_id=engine_id)

    def open_by_cl_ord_id(self, account_id: str, cl_ord_id: str) -> OrderView | None:
        """Return the account's open order carrying ``cl_ord_id``, or None."""
        for engine_id in reversed(self._by_cl.get((account_id, cl_ord_id), ())):
            view = self.view(account_id, engine_id)
            if view is not None and view.is_open:
                return view
        return None

    def engine_id(self, order_id: str) -> int | None:
        """Return the engine id of a Kraken order id, or None."""
        return self._engine_ids.get(order_id)

    # ------------------------------------------------------------------ REST

    def rest(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> RestAnswer:
        """Answer one REST request (``headers`` keys lower case); errors use 200 + ``error``.

        Kraken answers API errors with HTTP 200 and ``{"error": ["EAPI:..."]}`` ("Spot REST
        API" > "Responses"); an unknown path is 404 with ``EGeneral:Unknown method``.
        """
        # a prefix before /0/ (e.g. "/kraken") is the deployment's, not the signed path
        at = path.find("/0/")
        uri_path = path[at:].split("?", 1)[0] if at >= 0 else path
        handlers = {
            TOKEN_PATH: self._rest_token,
            OPEN_ORDERS_PATH: self._rest_open_orders,
            CLOSED_ORDERS_PATH: self._rest_closed_orders,
        }
        handler = handlers.get(uri_path)
        extra = REST_HANDLERS.get(uri_path)
        if handler is None and extra is not None:
            handler = partial(extra, self)
        if handler is None or method != "POST":
            return RestAnswer(404, dumps({"error": [UNKNOWN_METHOD]}).encode())
        text = body.decode("utf-8", "replace")
        try:
            account_id = self._authenticate(uri_path, headers, text)
            result = handler(account_id, dict(parse_qsl(text, keep_blank_values=True)))
        except KrakenError as exc:
            return RestAnswer(200, dumps({"error": [exc.error]}).encode())
        return RestAnswer(200, dumps({"error": [], "result": result}).encode())

    def _authenticate(self, uri_path: str, headers: Mapping[str, str], body: str) -> str:
        key = self.registry.lookup(headers.get("api-key", ""))
        if key is None:
            raise KrakenError(INVALID_KEY)
        if not verify_api_sign(uri_path, body, key.secret, headers.get("api-sign", "")):
            raise KrakenError(INVALID_SIGNATURE)
        # "the nonce must be an always increasing, unsigned 64-bit integer" per API key;
        # "1²" or 5,000 digits are refused before any conversion
        nonce = numbers.parse_int(dict(parse_qsl(body)).get("nonce", ""))
        if nonce is None or not 0 <= nonce < 2**64:
            raise KrakenError(INVALID_NONCE)
        if nonce <= self._nonces.get(key.api_key, 0):
            raise KrakenError(INVALID_NONCE)
        self._nonces[key.api_key] = nonce
        return key.account_id

    def _rest_token(self, account_id: str, params: Mapping[str, str]) -> object:
        # documented response: {"error": [], "result": {"token": "...", "expires": 900}}
        token = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        self._tokens[token] = _Token(account_id, self.clock())
        return {"token": token, "expires": self.config.token_ttl_s}

    def _rest_open_orders(self, account_id: str, params: Mapping[str, str]) -> object:
        orders = self._orders_of(account_id, params.get("cl_ord_id"), open_=True)
        return {"open": {self.order_id(v.order_id): order_info(self, v) for v in orders}}

    def _rest_closed_orders(self, account_id: str, params: Mapping[str, str]) -> object:
        orders = self._orders_of(account_id, params.get("cl_ord_id"), open_=False)
        closed = {self.order_id(v.order_id): order_info(self, v) for v in orders}
        return {"closed": closed, "count": len(closed)}

    def placed_orders(self, account_id: str) -> list[OrderView]:
        """Return every order the account placed (open and closed), oldest first."""
        views = [self.view(account_id, engine_id) for engine_id in self._placed]
        return [v for v in views if v is not None]

    def _orders_of(self, account_id: str, cl_ord_id: str | None, *, open_: bool) -> list[OrderView]:
        ids = self._placed if cl_ord_id is None else self._by_cl.get((account_id, cl_ord_id), [])
        views = [self.view(account_id, engine_id) for engine_id in ids]
        return [v for v in views if v is not None and v.is_open == open_]

    def place_order(
        self,
        account_id: str,
        symbol: object,
        params: Mapping[str, object],
        origin: KrakenSession | None,
    ) -> dict[str, object]:
        """Validate and place one order (``add_order``, ``batch_add``, REST ``AddOrder``);
        return the ``add_order`` result (``order_id``, ``cl_ord_id``, ``order_userref``).

        Parameters are v2 ``add_order``'s: ``order_type``, ``side``, ``order_qty``,
        ``limit_price``, ``time_in_force``, ``cl_ord_id``, ``order_userref``, ``post_only``,
        ``validate``. Raises ``KrakenError`` with Kraken's error string.
        """
        if not isinstance(symbol, str) or symbol not in self.engine.specs:
            raise KrakenError(UNKNOWN_PAIR)
        spec = self.engine.specs[symbol]
        side = {"buy": Side.BUY, "sell": Side.SELL}.get(str(params.get("side")))
        label = str(params.get("order_type"))
        otype = {"market": OrderType.MARKET, "limit": OrderType.LIMIT}.get(label)
        conditional = CONDITIONAL.get(label)
        if conditional is not None:
            otype = conditional[0]
        # trailing-stop: "A market order is triggered when the market reverts a specified
        # distance from the peak price"
        trailing = label == "trailing-stop"
        if trailing:
            otype = OrderType.MARKET
        if side is None:
            raise KrakenError(INVALID_ARGUMENTS + ":side")
        if otype is None:
            raise KrakenError(INVALID_ARGUMENTS + ":order_type")
        stop_price = trigger_price(params) if conditional is not None else None
        trail = trail_distance(params, spec.tick_size) if trailing else None
        qty = decimal_param(params.get("order_qty"), "order_qty")
        if qty <= 0 or qty % spec.step_size:
            raise KrakenError(INVALID_ARGUMENTS + ":order_qty")
        if qty < spec.min_qty:
            raise KrakenError(ORDER_MINIMUM)
        price: Decimal | None = None
        if otype is OrderType.LIMIT:
            price = decimal_param(params.get("limit_price"), "limit_price")
            if price <= 0 or price % spec.tick_size:
                raise KrakenError(INVALID_ARGUMENTS + ":limit_price")
        elif "limit_price" in params:
            raise KrakenError(INVALID_ARGUMENTS + ":limit_price")
        tif_text = str(params.get("time_in_force", "gtc")).lower()
        tif = {"gtc": TimeInForce.GTC, "ioc": TimeInForce.IOC, "fok": TimeInForce.FOK}.get(tif_text)
        if tif is None:
            raise KrakenError(INVALID_ARGUMENTS + ":time_in_force")
        if otype is OrderType.MARKET:
            tif = TimeInForce.IOC  # a market order's unfilled rest never rests on the book
        cl_ord_id = params.get("cl_ord_id")
        if cl_ord_id is not None and (
            not isinstance(cl_ord_id, str) or not valid_cl_ord_id(cl_ord_id)
        ):
            raise KrakenError(INVALID_ARGUMENTS + ":cl_ord_id")
        userref = params.get("order_userref", 0)
        if not isinstance(userref, int) or isinstance(userref, bool):
            raise KrakenError(INVALID_ARGUMENTS + ":order_userref")
        post_only = params.get("post_only", False) is True
        if post_only and otype is not OrderType.LIMIT:
            raise KrakenError(INVALID_ARGUMENTS + ":post_only")
        if "deadline" in params:
            check_deadline(params["deadline"], self.clock())
        reduce_only = params.get("reduce_only", False)
        if not isinstance(reduce_only, bool):
            raise KrakenError(INVALID_ARGUMENTS + ":reduce_only")
        if reduce_only:
            # "reduce_only: Reduces an existing margin position": spot has none to reduce
            raise KrakenError(NO_POSITION)
        if params.get("validate") is True:
            # "validate: true ... no order_id is returned" (add_order): nothing is placed
            return {}
        if cl_ord_id is not None and self.open_by_cl_ord_id(account_id, cl_ord_id) is not None:
            raise KrakenError(DUPLICATE_CL_ORD_ID)
        engine_id = self.engine.next_order_id
        events = self.engine.place(
            PlaceOrder(
                account_id,
                symbol,
                side,
                otype,
                quantity=qty,
                price=price,
                time_in_force=tif,
                client_order_id=cl_ord_id or "",
                post_only=post_only,
                stop_price=stop_price,
                trigger_above=conditional[1][side] if conditional is not None else False,
                label=label if conditional is not None or trailing else "",
                trail=trail[0] if trail is not None else None,
                trail_relative=trail is not None and trail[1],
            )
        )
        first = events[0]
        if isinstance(first, CommandRejected):
            if first.reason is RejectReason.INSUFFICIENT_BALANCE:
                raise KrakenError(INSUFFICIENT_FUNDS)
            if first.reason is RejectReason.WOULD_TAKE:
                # "post_only: ... the order will be rejected if it would take liquidity"
                raise KrakenError(POST_ONLY_REJECTED)
            raise KrakenError(DUPLICATE_CL_ORD_ID)
        self.placed(engine_id, account_id, symbol, cl_ord_id)
        if userref:
            self.userrefs[engine_id] = userref
        result: dict[str, object] = {"order_id": self.order_id(engine_id)}
        if cl_ord_id is not None:
            result["cl_ord_id"] = cl_ord_id
        if userref:
            result["order_userref"] = userref
        self.publish(events, origin)
        return result

    # ------------------------------------------------------------------ sessions

    def connect(self) -> KrakenSession:
        """Open a session for a new WebSocket connection."""
        session = KrakenSession(self)
        self.sessions.append(session)
        return session

    def disconnect(self, session: KrakenSession) -> None:
        """Forget a closed connection (its account's dead man's switch keeps running)."""
        if session in self.sessions:
            self.sessions.remove(session)

    def account_of(self, token: object) -> str:
        """Return the account a session token belongs to, or raise ``ESession:Invalid session``."""
        entry = self._tokens.get(token) if isinstance(token, str) else None
        if entry is None:
            raise KrakenError(INVALID_SESSION)
        if not entry.used and self.clock() - entry.issued_ms > self.config.token_ttl_s * 1000:
            raise KrakenError(INVALID_SESSION)
        entry.used = True
        return entry.account_id

    # ------------------------------------------------------------------ dead man

    def arm_dead_man(self, account_id: str, timeout_s: int, now: int) -> int | None:
        """Set (or with 0 disable) an account's countdown; return the trigger time (ms)."""
        if timeout_s == 0:
            self.dead_man.pop(account_id, None)
            return None
        trigger = now + timeout_s * 1000
        self.dead_man[account_id] = trigger
        return trigger

    def next_dead_man(self) -> int | None:
        """Return the earliest armed trigger time (venue ms), or None."""
        return min(self.dead_man.values(), default=None)

    def fire_dead_man(self, now: int) -> int:
        """Cancel every order of each account whose countdown ran out; return how many.

        "If the timer expires, all orders in the account are cancelled and the feature is
        disabled until the next cancel_all_orders_after request" (``cancel_after``).
        """
        canceled = 0
        for account_id, trigger in list(self.dead_man.items()):
            if trigger > now:
                continue
            del self.dead_man[account_id]
            events = self.cancel_all(account_id)
            canceled += len(events)
            self.publish(events, None, reason="Cancel all orders after")
        return canceled

    # ------------------------------------------------------------------ orders

    def cancel_all(self, account_id: str) -> list[Event]:
        """Cancel every open order of an account on every symbol, keeping their cl_ord_ids."""
        events: list[Event] = []
        for view in self.engine.open_orders(account_id):
            events.extend(self.cancel_one(account_id, view))
        return events

    def cancel_one(self, account_id: str, view: OrderView) -> list[Event]:
        """Cancel one open order; Kraken keeps its client id (the engine's default renames)."""
        return self.engine.cancel(
            CancelOrder(
                account_id,
                view.symbol,
                order_id=view.order_id,
                new_client_order_id=view.client_order_id,
            )
        )

    def publish(
        self, events: list[Event], origin: KrakenSession | None, *, reason: str = "User requested"
    ) -> None:
        """Queue ``executions`` updates (and ``ticker`` after trades) for subscribers."""
        self.tape.observe(events)  # the public streams (streams.py)
        woken: list[KrakenSession] = []
        traded: set[str] = set()
        for event in events:
            if isinstance(event, CommandRejected):
                continue
            if isinstance(event, OrderTraded):
                traded.add(event.order.symbol)
            rows = execution_rows(self, event, reason)
            for session in self.sessions:
                if session.executions_of == event.order.account_id:
                    # one row per message: clients (ccxt) read the first row's exec_type
                    # to tell a trade message from an order message
                    for row in rows:
                        session.queue_executions([row])
                    if session not in woken:
                        woken.append(session)
            if isinstance(event, OrderTraded):
                for session in self.sessions:
                    if session.balances_of == event.order.account_id:
                        session.queue_balances(ledger_rows(self, event, session.balances_seen))
                        if session not in woken:
                            woken.append(session)
        for symbol in sorted(traded):
            row = ticker_row(self, symbol)
            for session in self.sessions:
                if symbol in session.tickers:
                    session.queue(dumps({"channel": "ticker", "type": "update", "data": [row]}))
                    if session not in woken:
                        woken.append(session)
        if self.on_push is not None:
            for session in woken:
                if session is not origin:
                    self.on_push(session)

    def render_fault(self, kind: FaultKind, request_text: str) -> str:
        """Render an injected fault as Kraken words it (a ``faults.Renderer``).

        UNKNOWN and SERVER_ERROR answer ``EService:Unavailable``/``EService:Busy`` (outcome
        unknown for the client), a storm ``EOrder:Rate limit exceeded``, a ban
        ``EGeneral:Temporary lockout``; SHUTDOWN is the ``status`` channel's maintenance
        update (Spot WebSocket v2 "Status").
        """
        now = self.clock()
        if kind is FaultKind.SHUTDOWN:
            return status_message(0, "maintenance")
        try:
            request = decoding.loads(request_text)
        except ValueError:
            request = {}
        if not isinstance(request, dict):
            request = {}
        error = {
            FaultKind.UNKNOWN: "EService:Unavailable",
            FaultKind.SERVER_ERROR: "EService:Busy",
            FaultKind.RATE_LIMITED: "EOrder:Rate limit exceeded",
        }.get(kind, "EGeneral:Temporary lockout")
        return dumps(failure(request.get("method"), request.get("req_id"), error, now, now))


class KrakenSession:
    """One WebSocket v2 connection: its subscriptions, executions sequence and outbox."""

    def __init__(self, exchange: KrakenExchange) -> None:
        self.exchange = exchange
        #: the account whose executions this connection streams (None: not subscribed)
        self.executions_of: str | None = None
        #: the account whose ``balances`` this connection streams, and the balance per
        #: asset as last reported (each update's ``balance`` follows from it)
        self.balances_of: str | None = None
        self.balances_seen: dict[str, Decimal] = {}
        self.tickers: set[str] = set()
        #: heartbeats start with the first subscription to any channel ("Heartbeat")
        self.heartbeats = False
        self._sequence = 0
        self._outbox: list[str] = []

    def handle(self, text: str) -> list[str]:
        """Process one request frame; return the response text, then queued channel messages."""
        response = self._respond(text)
        out = [response, *self._outbox] if response else list(self._outbox)
        self._outbox.clear()
        return out

    def data_to_send(self) -> list[str]:
        """Return and clear messages queued by other connections' activity or timers."""
        out = list(self._outbox)
        self._outbox.clear()
        return out

    def queue(self, text: str) -> None:
        """Queue a channel message for this connection."""
        self._outbox.append(text)

    def queue_executions(self, rows: list[dict[str, object]], kind: str = "update") -> None:
        """Queue one ``executions`` message with the next ``sequence`` number."""
        self._sequence += 1
        self.queue(
            dumps({"channel": "executions", "type": kind, "data": rows, "sequence": self._sequence})
        )

    # ---------------------------------------------------------------- requests

    def _respond(self, text: str) -> str:
        now = self.exchange.clock()
        try:
            request = decoding.loads(text)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            return dumps(failure(None, None, INVALID_ARGUMENTS + ":invalid JSON", now, now))
        method = request.get("method")
        req_id = request.get("req_id")
        params = request.get("params", {})
        if not isinstance(params, dict):
            return dumps(failure(method, req_id, INVALID_ARGUMENTS + ":params", now, now))
        handler = METHODS.get(method) if isinstance(method, str) else None
        if handler is None:
            return dumps(failure(method, req_id, UNKNOWN_METHOD, now, now))
        try:
            answers = handler(self, params, now)
        except KrakenError as exc:
            return dumps(failure(method, req_id, exc.error, now, self.exchange.clock()))
        out_time = rfc3339(self.exchange.clock())
        texts = []
        for result in answers:
            body: dict[str, object] = {"method": "pong" if method == "ping" else method}
            if req_id is not None:
                body["req_id"] = req_id
            if method != "ping":
                body["result"] = result
                body["success"] = True
            body["time_in"] = rfc3339(now)
            body["time_out"] = out_time
            texts.append(dumps(body))
        # cancel_order with several ids: "a stream of individual order responses"
        first, *rest = texts
        self._outbox[:0] = rest
        return first

    def ping(self, params: Mapping[str, object], now: int) -> list[dict[str, object]]:
        """``ping`` -> ``pong`` with ``req_id``, ``time_in``, ``time_out`` ("Ping")."""
        return [{}]

    def subscribe(self, params: Mapping[str, object], now: int) -> list[dict[str, object]]:
        """``subscribe``: ``executions``, ``balances`` (token), ``ticker``, ``book``, ``trade``,
        ``instrument``."""
        channel = params.get("channel")
        ex = self.exchange
        if channel == "executions":
            account_id = ex.account_of(params.get("token"))
            self.executions_of = account_id
            self.heartbeats = True
            snap_orders = params.get("snap_orders", True) is not False
            rows: list[dict[str, object]] = []
            if snap_orders:
                for view in ex.engine.open_orders(account_id):
                    rows.append(snapshot_row(ex, view))
            self.queue_executions(rows, "snapshot")
            return [{"channel": "executions", "snapshot": snap_orders, "maxratecount": 180}]
        if channel == "ticker":
            symbols = params.get("symbol")
            if not isinstance(symbols, list) or not symbols:
                raise KrakenError(INVALID_ARGUMENTS + ":symbol")
            results: list[dict[str, object]] = []
            for symbol in symbols:
                if symbol not in ex.engine.specs:
                    raise KrakenError("Currency pair not supported " + str(symbol))
            for symbol in symbols:
                self.tickers.add(symbol)
                results.append({"channel": "ticker", "snapshot": True, "symbol": symbol})
                self.queue(
                    dumps(
                        {"channel": "ticker", "type": "snapshot", "data": [ticker_row(ex, symbol)]}
                    )
                )
            self.heartbeats = True
            return results
        if channel == "balances":
            return [self._subscribe_balances(params)]
        if channel in ("book", "trade"):
            try:
                return ex.public.subscribe(self, params, now)
            except ChannelError as exc:
                raise KrakenError(exc.error) from None
        if channel == "instrument":
            self.heartbeats = True
            data = {"assets": [], "pairs": instrument_pairs(ex)}
            self.queue(dumps({"channel": "instrument", "type": "snapshot", "data": data}))
            return [{"channel": "instrument", "snapshot": True}]
        raise KrakenError(INVALID_ARGUMENTS + ":channel")

    def _subscribe_balances(self, params: Mapping[str, object]) -> dict[str, object]:
        """``balances`` (Spot WebSocket v2 "Balances"): a snapshot of every asset's balance
        in the spot wallet, then one update per ledger entry a trade writes."""
        account_id = self.exchange.account_of(params.get("token"))
        self.balances_of = account_id
        self.heartbeats = True
        account = self.exchange.registry.accounts[account_id]
        rows: list[dict[str, object]] = []
        for asset, bal in sorted(account.balances.items()):
            total = bal.free + bal.locked
            self.balances_seen[asset] = total
            rows.append(
                {
                    "asset": asset,
                    "asset_class": "currency",
                    "balance": total,
                    "wallets": [{"type": "spot", "id": "main", "balance": total}],
                }
            )
        snapshot = params.get("snapshot", True) is not False
        if snapshot:
            self.queue_balances(rows, "snapshot")
        return {"channel": "balances", "snapshot": snapshot}

    def queue_balances(self, rows: list[dict[str, object]], kind: str = "update") -> None:
        """Queue one ``balances`` message with the next ``sequence`` number."""
        self._sequence += 1
        self.queue(
            dumps({"channel": "balances", "type": kind, "data": rows, "sequence": self._sequence})
        )

    def unsubscribe(self, params: Mapping[str, object], now: int) -> list[dict[str, object]]:
        """``unsubscribe`` from the public ``book`` / ``trade`` channels (streams.py)."""
        try:
            return self.exchange.public.unsubscribe(self, params, now)
        except ChannelError as exc:
            raise KrakenError(exc.error) from None

    def add_order(self, params: Mapping[str, object], now: int) -> list[dict[str, object]]:
        """``add_order``: market/limit, gtc/ioc/fok, ``cl_ord_id``, ``order_userref``."""
        ex = self.exchange
        account_id = ex.account_of(params.get("token"))
        symbol = params.get("symbol")
        return [ex.place_order(account_id, symbol, params, self)]

    def cancel_order(self, params: Mapping[str, object], now: int) -> list[dict[str, object]]:
        """``cancel_order`` by a list of ``order_id`` or of ``cl_ord_id`` (not both)."""
        ex = self.exchange
        account_id = ex.account_of(params.get("token"))
        by_id, by_cl = params.get("order_id"), params.get("cl_ord_id")
        if (by_id is None) == (by_cl is None):
            raise KrakenError(INVALID_ARGUMENTS + ":order_id or cl_ord_id")
        wanted = by_id if by_id is not None else by_cl
        if not isinstance(wanted, list) or not wanted:
            raise KrakenError(INVALID_ARGUMENTS)
        targets: list[OrderView] = []
        for ident in wanted:
            if not isinstance(ident, str):
                raise KrakenError(INVALID_ARGUMENTS)
            view = (
                ex.view(account_id, ex.engine_id(ident))
                if by_id is not None
                else ex.open_by_cl_ord_id(account_id, ident)
            )
            if view is None or not view.is_open:
                raise KrakenError(UNKNOWN_ORDER)
            targets.append(view)
        results: list[dict[str, object]] = []
        events: list[Event] = []
        for view in targets:
            events.extend(ex.cancel_one(account_id, view))
            row: dict[str, object] = {"order_id": ex.order_id(view.order_id)}
            cl = ex.cl_ord_ids.get(view.order_id)
            if cl is not None:
                row["cl_ord_id"] = cl
            results.append(row)
        ex.publish(events, self)
        return results

    def cancel_all(self, params: Mapping[str, object], now: int) -> list[dict[str, object]]:
        """``cancel_all``: every open order of the account; ``result.count`` ("Cancel All")."""
        ex = self.exchange
        account_id = ex.account_of(params.get("token"))
        events = ex.cancel_all(account_id)
        ex.publish(events, self)
        return [{"count": len(events)}]

    def cancel_all_orders_after(
        self, params: Mapping[str, object], now: int
    ) -> list[dict[str, object]]:
        """Arm (or with 0 disarm) the dead man's switch; ``currentTime``/``triggerTime``."""
        ex = self.exchange
        account_id = ex.account_of(params.get("token"))
        timeout = params.get("timeout")
        if not isinstance(timeout, int) or isinstance(timeout, bool) or not 0 <= timeout <= 86400:
            raise KrakenError(INVALID_ARGUMENTS + ":timeout")
        trigger = ex.arm_dead_man(account_id, timeout, now)
        # REST CancelAllOrdersAfter answers triggerTime "0" when the timer is disabled
        return [
            {
                "currentTime": rfc3339(now),
                "triggerTime": "0" if trigger is None else rfc3339(trigger),
            }
        ]


_Handler = Callable[[KrakenSession, Mapping[str, object], int], Sequence[object]]

#: the v2 methods sessions answer, by name (``trading.py`` adds the batch and amend ones)
METHODS: dict[str, _Handler] = {
    "ping": KrakenSession.ping,
    "subscribe": KrakenSession.subscribe,
    "unsubscribe": KrakenSession.unsubscribe,
    "add_order": KrakenSession.add_order,
    "cancel_order": KrakenSession.cancel_order,
    "cancel_all": KrakenSession.cancel_all,
    "cancel_all_orders_after": KrakenSession.cancel_all_orders_after,
}

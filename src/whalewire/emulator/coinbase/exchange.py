"""Coinbase Exchange as a sans-IO handler: REST requests in, responses and feed messages out.

``CoinbaseExchange.handle(method, target, headers, body)`` answers one REST request
(``RestResponse``); feed connections are ``feed.CoinbaseFeedSession``s.
Order events become ``received`` / ``open`` / ``match`` / ``done`` feed messages, queued in
each subscribed session's outbox; ``on_push`` tells the transport to flush them. The clock
is injected (milliseconds). Follows Coinbase Exchange's documentation (docs.cdp.coinbase.com,
"Exchange REST API": Authentication, Rate Limits, Orders, Fills, Accounts, Products, Time;
"Exchange WebSocket Feed": Authentication, Channels); where it is silent, the choices are
listed in ``docs/emulator.md`` ("Coinbase Exchange"). Matching is ``matching.py``'s.
Knows nothing of sockets, TLS or asyncio.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from whalewire.emulator import decoding, numbers
from whalewire.emulator.accounts import USD_BALANCES, Registry, credential_matches
from whalewire.emulator.coinbase.feed import CoinbaseFeedSession
from whalewire.emulator.coinbase.render import (
    FeedRenderer,
    OrderRecord,
    fmt,
    iso_time,
    order_body,
    profile_id,
)
from whalewire.emulator.coinbase.streams import CoinbasePublicFeed
from whalewire.emulator.matching import (
    CancelOrder,
    Clock,
    CommandRejected,
    Event,
    Fees,
    OrderType,
    OrderView,
    PlaceOrder,
    RejectReason,
    Side,
    SymbolSpec,
    TimeInForce,
)
from whalewire.emulator.skeleton import Exchange, market
from whalewire.venues.signing import coinbase_exchange_signature

#: "Exchange REST API Authentication": "The CB-ACCESS-TIMESTAMP header MUST be number of
#: seconds since Unix Epoch" and "Your timestamp must be within 30 seconds of the API
#: service time or your request will be considered expired and rejected."
TIMESTAMP_WINDOW_MS = 30_000


def _spec(product: str, tick: str, step: str, min_funds: str) -> SymbolSpec:
    base, quote = product.split("-")
    return market(
        product, base, quote, tick=tick, step=step, min_qty=step, min_notional=min_funds,
        max_price=10_000_000, max_qty=10_000, max_notional=100_000_000,
    )  # fmt: skip


#: products with their ``quote_increment``, ``base_increment`` and ``min_market_funds``
#: ("Get all known trading pairs"), and mid prices for the synthetic books
DEFAULT_PRODUCTS: dict[str, tuple[SymbolSpec, Decimal]] = {
    "BTC-USD": (_spec("BTC-USD", "0.01", "0.00000001", "1"), Decimal(60_000)),
    "ETH-USD": (_spec("ETH-USD", "0.01", "0.00000001", "1"), Decimal(3_000)),
}


@dataclass(frozen=True, slots=True)
class RateBucket:
    """A token bucket: ``rate`` requests per second, bursts up to ``burst``."""

    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class CoinbaseConfig:
    """Products, fees, limits and book shape of one emulated Coinbase Exchange.

    The rate limits are the documented defaults ("Exchange REST API Rate Limits": public
    endpoints 10 requests per second per IP, bursts of 15; private endpoints 15 per second
    per profile, bursts of 30); benchmarks raise them.
    """

    products: Mapping[str, tuple[SymbolSpec, Decimal]] = field(
        default_factory=lambda: dict(DEFAULT_PRODUCTS)
    )
    #: maker 0.40 %, taker 0.60 %: the lowest tier of Coinbase Exchange's fee schedule,
    #: charged in the quote currency on both sides (a buy pays size x price + fee)
    fees: Fees = field(
        default_factory=lambda: Fees(Decimal("0.004"), Decimal("0.006"), in_quote=True)
    )
    public_rate: RateBucket = RateBucket(10, 15)
    private_rate: RateBucket = RateBucket(15, 30)
    book_levels: int = 20
    seed: int = 0
    #: served under this path (e.g. ``/coinbase``); signatures cover the path as sent
    path_prefix: str = ""
    #: Coinbase's house book stands still (no walk)
    walk_bps: float = 0.0

    @property
    def markets(self) -> Mapping[str, tuple[SymbolSpec, Decimal]]:
        """The products with their mid prices (what ``skeleton.Exchange`` builds books from)."""
        return self.products


@dataclass(frozen=True, slots=True)
class RestResponse:
    """One HTTP answer: status and JSON body (already serialised)."""

    status: int
    body: bytes

    def json(self) -> Any:
        """Decode the body."""
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class CoinbaseCredentials:
    """What Coinbase shows once when a key is created: key, base64 secret, passphrase."""

    account_id: str
    api_key: str
    secret: str
    passphrase: str


def error(status: int, message: str) -> RestResponse:
    """Return Coinbase's error shape: ``{"message": "..."}`` ("Exchange REST API Requests",
    "Errors": "Unless otherwise stated, errors to bad requests will respond with HTTP 4xx or
    status codes. The body will also contain a message parameter indicating the cause")."""
    return RestResponse(status, json.dumps({"message": message}).encode())


def ok(body: object) -> RestResponse:
    """Return a 200 with ``body`` as JSON."""
    return RestResponse(200, json.dumps(body, separators=(",", ":")).encode())


class _Bucket:
    __slots__ = ("_spec", "_stamp", "_tokens")

    def __init__(self, spec: RateBucket, now: int) -> None:
        self._spec = spec
        self._tokens = float(spec.burst)
        self._stamp = now

    def take(self, now: int) -> bool:
        spec = self._spec
        self._tokens = min(spec.burst, self._tokens + (now - self._stamp) * spec.rate / 1000)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class CoinbaseExchange(Exchange[CoinbaseFeedSession]):
    """Accounts, keys, books, orders and feed sessions of one emulated Coinbase Exchange."""

    def __init__(
        self, clock: Clock, config: CoinbaseConfig | None = None, registry: Registry | None = None
    ) -> None:
        self.config = config = config or CoinbaseConfig()
        super().__init__(clock, registry, config)
        self._rng = random.Random(f"coinbase:{self.config.seed}")
        self.orders: dict[str, OrderRecord] = {}
        self._by_engine_id: dict[int, OrderRecord] = {}
        self._by_client_oid: dict[tuple[str, str], OrderRecord] = {}
        self._passphrases: dict[str, str] = {}
        self._buckets: dict[str, _Bucket] = {}
        self.render = FeedRenderer(self.config.fees, self.registry)
        #: the public channels level2, level2_batch and ticker (streams.py)
        self.public = CoinbasePublicFeed(self)
        self._record_events(self.book_events)  # the house's orders, as the feed would tell

    # ------------------------------------------------------------------ accounts

    def open_default_account(self, account_id: str = "default") -> CoinbaseCredentials:
        """Open a funded account with one API key; return key, base64 secret, passphrase."""
        self.registry.open_account(account_id, dict(USD_BALANCES))
        return self.add_key(account_id)

    def add_key(
        self, account_id: str, api_key: str = "", secret: str = "", passphrase: str = ""
    ) -> CoinbaseCredentials:
        """Register a key for ``account_id``; generate what is not given.

        Keys are 32 hex characters and secrets 64 random bytes in base64, as Coinbase
        Exchange issues them; the passphrase is the user's choice (here 16 random letters).
        """
        api_key = api_key or secrets.token_hex(16)
        secret = secret or base64.b64encode(secrets.token_bytes(64)).decode()
        alphabet = string.ascii_lowercase + string.digits
        passphrase = passphrase or "".join(secrets.choice(alphabet) for _ in range(16))
        self.registry.add_hmac_key(account_id, api_key, secret)
        self._passphrases[api_key] = passphrase
        return CoinbaseCredentials(account_id, api_key, secret, passphrase)

    # ------------------------------------------------------------------ REST

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, ip: str = ""
    ) -> RestResponse:
        """Answer one REST request; ``target`` is the raw path with its query string."""
        now = self.clock()
        split = urlsplit(target)
        path = split.path
        prefix = self.config.path_prefix.rstrip("/")
        if prefix:
            if not path.startswith(prefix + "/"):
                return error(404, "NotFound")
            path = path[len(prefix) :]
        parts = [unquote(p) for p in path.strip("/").split("/")]
        multi = parse_qs(split.query)
        query = {k: v[-1] for k, v in multi.items()}
        method = method.upper()
        public = parts[0] in ("time", "products", "currencies")
        bucket_key = f"ip:{ip}" if public else f"key:{_header(headers, 'cb-access-key')}"
        bucket = self._buckets.get(bucket_key)
        if bucket is None:
            spec = self.config.public_rate if public else self.config.private_rate
            bucket = self._buckets[bucket_key] = _Bucket(spec, now)
        if not bucket.take(now):
            # "Exchange REST API Rate Limits": "When a rate limit is exceeded, a status of
            # 429 Too Many Requests will be returned."
            return error(429, "Rate limit exceeded")
        if public:
            return self._public(method, parts, query, now)
        auth = self.authenticate(method, target, headers, body.decode("utf-8", "replace"), now)
        if isinstance(auth, RestResponse):
            return auth
        if parts == ["orders"] and method == "GET":
            return self._list_orders(auth, query, multi.get("status", []))
        return self._private(auth, method, parts, query, body, now)

    def authenticate(
        self, method: str, request_path: str, headers: Mapping[str, str], body: str, now: int
    ) -> str | RestResponse:
        """Check the four ``CB-ACCESS-*`` headers; return the account id or the 4xx answer.

        "Exchange REST API Authentication", "Signing a message": CB-ACCESS-SIGN is
        base64(HMAC-SHA256(base64decode(secret), timestamp + method + requestPath + body)).
        Order of checks (the docs give none): key, timestamp, passphrase, signature.
        """
        key = self.registry.lookup(_header(headers, "cb-access-key"))
        if key is None:
            return error(401, "Invalid API Key")
        stamp = _header(headers, "cb-access-timestamp")
        # decimal seconds; "1e999999" or 5,000 digits are refused before any arithmetic
        seconds = numbers.parse_decimal(stamp)
        if seconds is None:
            return error(400, "invalid timestamp")
        ts_ms = seconds * 1000
        if abs(now - ts_ms) > TIMESTAMP_WINDOW_MS:
            return error(401, "request timestamp expired")
        given = _header(headers, "cb-access-passphrase")
        if not credential_matches(given, self._passphrases.get(key.api_key, "")):
            return error(401, "Invalid Passphrase")
        expected = coinbase_exchange_signature(stamp, method, request_path, body, key.secret)
        if not credential_matches(_header(headers, "cb-access-sign"), expected):
            return error(401, "invalid signature")
        return key.account_id

    def _public(
        self, method: str, parts: list[str], query: Mapping[str, str], now: int
    ) -> RestResponse:
        if method != "GET":
            return error(404, "NotFound")
        if parts == ["time"]:
            # "Get server time": {"iso": "2015-01-07T23:47:25.201Z", "epoch": 1420674445.201}
            return ok({"iso": iso_time(now, millis=True), "epoch": now / 1000})
        if parts == ["products"]:
            return ok([self._product(p) for p in self.config.products])
        if parts[0] == "currencies" and len(parts) <= 2:
            return self._currencies(parts[1:])
        if len(parts) >= 2 and parts[1] in self.config.products:
            product = parts[1]
            if len(parts) == 2:
                return ok(self._product(product))
            if parts[2:] == ["ticker"]:
                return ok(self._ticker(product, now))
            if parts[2:] == ["book"]:
                return ok(self._book(product, query))
        return error(404, "NotFound")

    def _product(self, product: str) -> dict[str, Any]:
        spec, _ = self.config.products[product]
        # "Get single product" response fields
        return {
            "id": product,
            "base_currency": spec.base,
            "quote_currency": spec.quote,
            "quote_increment": fmt(spec.tick_size),
            "base_increment": fmt(spec.step_size),
            "display_name": f"{spec.base}/{spec.quote}",
            "min_market_funds": fmt(spec.min_notional),
            "margin_enabled": False,
            "post_only": False,
            "limit_only": False,
            "cancel_only": False,
            "status": "online",
            "status_message": "",
            "trading_disabled": False,
            "fx_stablecoin": False,
            "max_slippage_percentage": "0.03000000",
            "auction_mode": False,
            "high_bid_limit_percentage": "",
        }

    def _ticker(self, product: str, now: int) -> dict[str, Any]:
        bids, asks = self.engine.depth(product)
        last = self.render.last_trade.get(product)
        price = last[1] if last else self.engine.reference_price(product)
        # "Get product ticker": ask, bid, volume, trade_id, price, size, time
        return {
            "ask": fmt(asks[0][0]) if asks else "",
            "bid": fmt(bids[0][0]) if bids else "",
            "volume": fmt(self.render.volume.get(product, Decimal(0))),
            "trade_id": last[0] if last else 0,
            "price": fmt(price),
            "size": fmt(last[2]) if last else "0",
            "time": iso_time(now),
        }

    def _book(self, product: str, query: Mapping[str, str]) -> dict[str, Any]:
        bids, asks = self.engine.depth(product)
        depth = 1 if query.get("level", "1") == "1" else 50
        # "Get product book", level 1/2: [price, size, num-orders]
        return {
            "bids": [[fmt(p), fmt(q), 1] for p, q in bids[:depth]],
            "asks": [[fmt(p), fmt(q), 1] for p, q in asks[:depth]],
            "sequence": self.render.sequence.get(product, 0),
            "auction_mode": False,
            "auction": None,
            "time": iso_time(self.clock()),
        }

    def _private(  # noqa: PLR0917 - the parts of one request, as handle split them
        self,
        account: str,
        method: str,
        parts: list[str],
        query: Mapping[str, str],
        body: bytes,
        now: int,
    ) -> RestResponse:
        head = parts[0]
        if head == "orders":
            if method == "POST" and len(parts) == 1:
                return self.place(account, body, now)
            if method == "DELETE" and len(parts) == 1:
                return self.cancel_all(account, query.get("product_id"))
            if len(parts) == 2:
                record = self._lookup(account, parts[1])
                if method == "GET":
                    if record is None or record.purged:
                        return error(404, "NotFound")
                    return ok(order_body(record, self.engine))
                if method == "DELETE":
                    return self.cancel(account, record, parts[1], query.get("product_id"))
        if head == "fills" and method == "GET" and len(parts) == 1:
            return self._fills(account, query)
        if head == "accounts" and method == "GET" and len(parts) == 1:
            return ok(self._accounts(account))
        return error(404, "NotFound")

    def _list_orders(
        self, account: str, query: Mapping[str, str], statuses: list[str]
    ) -> RestResponse:
        """``GET /orders`` ("Get all orders"): newest first, filtered by ``status``.

        ``status`` is repeatable (``?status=open&status=done``); without it the venue lists
        ``open``, ``pending`` and ``active`` orders; ``all`` lists every status. Here an
        order is ``open`` while it rests and ``done`` after; nothing is ever ``pending``
        (matching is immediate) or ``active`` (an untriggered stop, see ``docs/emulator.md``).
        Orders canceled without a fill are purged, as "Get single order" 404s them.
        """
        wanted = set(statuses or ("open", "pending", "active"))
        unknown = wanted - {"open", "pending", "active", "done", "all", "received", "rejected"}
        if unknown:
            return error(400, f"Invalid status {sorted(unknown)[0]}")
        limit_text = query.get("limit", "100")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
            return error(400, "limit must be between 1 and 1000")
        product = query.get("product_id")
        out: list[dict[str, Any]] = []
        for record in reversed(self.orders.values()):
            if record.account_id != account or record.purged:
                continue
            if product and record.product_id != product:
                continue
            view = record.view(self.engine)
            # an untriggered stop is "active" ("Get all orders", status)
            status = "active" if view.parked else "open" if view.is_open else "done"
            if "all" in wanted or status in wanted:
                out.append(order_body(record, self.engine))
            if len(out) == int(limit_text):
                break
        return ok(out)

    def _currencies(self, ref: list[str]) -> RestResponse:
        """``GET /currencies`` and ``/currencies/{currency_id}`` ("Get all known currencies",
        "Get a currency"): public, no authentication, as at the venue."""
        assets: dict[str, Decimal] = {}
        for spec, _ in self.config.products.values():
            assets.setdefault(spec.base, spec.step_size)
            assets.setdefault(spec.quote, spec.tick_size)
        if ref:
            if ref[0] not in assets:
                return error(404, "NotFound")
            return ok(_currency(ref[0], assets[ref[0]]))
        return ok([_currency(name, step) for name, step in sorted(assets.items())])

    def _lookup(self, account: str, ref: str) -> OrderRecord | None:
        if ref.startswith("client:"):
            return self._by_client_oid.get((account, ref[len("client:") :]))
        record = self.orders.get(ref)
        return record if record is not None and record.account_id == account else None

    # ------------------------------------------------------------------ orders

    def place(self, account: str, body: bytes, now: int) -> RestResponse:
        """``POST /orders`` ("Create a new order"): validate, match, answer ``pending``."""
        try:
            req = decoding.loads(body)
        except ValueError:
            return error(400, "Invalid JSON body")
        if not isinstance(req, dict):
            return error(400, "Invalid JSON body")
        try:
            parsed = self._parse_order(account, req)
        except _BadNumber as exc:
            return error(400, f"{exc.name} is invalid")
        if isinstance(parsed, RestResponse):
            return parsed
        command, client_oid, funds = parsed
        events = self.engine.place(command)
        first = events[0]
        if isinstance(first, CommandRejected):
            if first.reason is RejectReason.INSUFFICIENT_BALANCE:
                return error(400, "Insufficient funds")
            if first.reason is RejectReason.WOULD_TAKE:
                return ok(self._post_only_rejected(command, client_oid, now))
            return error(400, "duplicate client_oid")  # pragma: no cover - checked above
        record = OrderRecord(
            order_id=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            engine_id=first.order.order_id,
            account_id=account,
            product_id=command.symbol,
            client_oid=client_oid,
            funds=funds,
            created_ms=now,
            post_only=command.post_only,
        )
        self._add(record)
        self._record_events(events)
        return ok(order_body(record, self.engine, pending=True))

    def _parse_order(
        self, account: str, req: Mapping[str, Any]
    ) -> tuple[PlaceOrder, str, Decimal | None] | RestResponse:
        product = str(req.get("product_id"))
        if product not in self.config.products:
            return error(400, "product_id is not a valid product")
        spec, _ = self.config.products[product]
        side = req.get("side")
        if side not in ("buy", "sell"):
            return error(400, "side must be buy or sell")
        kind = req.get("type", "limit")  # "Create a new order": type defaults to limit
        if kind not in ("limit", "market"):
            return error(400, "type must be limit or market")
        client_oid = req.get("client_oid", "")
        if client_oid:
            try:
                uuid.UUID(str(client_oid))
            except ValueError:
                return error(400, "client_oid must be a UUID")
            if (account, client_oid) in self._by_client_oid:
                return error(400, "duplicate client_oid")
        post_only = req.get("post_only", False)
        if not isinstance(post_only, bool):
            return error(400, "post_only must be a boolean")
        stop = req.get("stop")
        stop_price = _decimal(req, "stop_price")
        # "stop: Either loss or entry, requires stop_price to be defined"
        if stop is not None and stop not in ("loss", "entry"):
            return error(400, "stop must be loss or entry")
        if (stop is None) != (stop_price is None):
            return error(400, "stop and stop_price must be given together")
        if stop_price is not None and (stop_price <= 0 or stop_price % spec.tick_size):
            return error(400, f"stop_price is too accurate. Smallest unit is {fmt(spec.tick_size)}")
        if stop is not None and post_only:
            return error(400, "post_only is invalid for stop orders")
        size = _decimal(req, "size")
        funds = _decimal(req, "funds")
        if size is not None:
            if size <= 0 or size % spec.step_size:
                return error(400, f"size is too accurate. Smallest unit is {fmt(spec.step_size)}")
            if size < spec.min_qty:
                return error(400, f"size is too small. Minimum size is {fmt(spec.min_qty)}")
            if size > spec.max_qty:
                return error(400, f"size is too large. Maximum size is {fmt(spec.max_qty)}")
        cmd_side = Side.BUY if side == "buy" else Side.SELL
        if kind == "market":
            if (size is None) == (funds is None):
                return error(400, "market orders must specify exactly one of size or funds")
            if funds is not None and (funds <= 0 or funds % spec.tick_size):
                return error(400, f"funds is too accurate. Smallest unit is {fmt(spec.tick_size)}")
            if post_only:
                return error(400, "post_only is invalid for market orders")
            spend = None
            if funds is not None:
                # "Create a new order", funds: the fee comes out of the funds, so the
                # order buys for funds / (1 + taker fee) (the documented example answers
                # specified_funds 10 with funds 9.97506234 at 0.25 %)
                spend = _net_funds(funds, self.config.fees.taker)
            cmd = PlaceOrder(
                account, product, cmd_side, OrderType.MARKET, size, spend, None, None, client_oid,
                stop_price=stop_price, trigger_above=stop == "entry", label=stop or "",
            )  # fmt: skip
            return cmd, client_oid, funds
        price = _decimal(req, "price")
        if price is None or size is None:
            return error(400, "limit orders require price and size")
        if price <= 0 or price % spec.tick_size:
            return error(400, f"price is too accurate. Smallest unit is {fmt(spec.tick_size)}")
        tif = req.get("time_in_force", "GTC")
        if tif not in ("GTC", "IOC", "FOK"):
            return error(400, "time_in_force must be GTC, IOC or FOK (GTT is not emulated)")
        if post_only and tif != "GTC":
            # "Create a new order", post_only: "Invalid when time_in_force is IOC or FOK"
            return error(400, "post_only is invalid with time_in_force IOC or FOK")
        cmd = PlaceOrder(
            account,
            product,
            cmd_side,
            OrderType.LIMIT,
            size,
            None,
            price,
            TimeInForce(tif),
            client_oid,
            post_only,
            # "loss: Triggers when the last trade price changes to a value at or below the
            # stop_price. entry: ... at or above the stop_price."
            stop_price=stop_price,
            trigger_above=stop == "entry",
            label=stop or "",
        )
        return cmd, client_oid, None

    def _post_only_rejected(self, cmd: PlaceOrder, client_oid: str, now: int) -> dict[str, Any]:
        """The answer to a post-only order that would take: rejected, nothing executed.

        "Create a new order", post_only: "If any part of the order results in taking
        liquidity, the order will be rejected and no part of it will execute." The order
        is answered with ``status: rejected`` and ``reject_reason: post only`` and is not
        kept (a later "Get single order" answers 404); the feed says nothing.
        """
        assert cmd.price is not None and cmd.quantity is not None
        body: dict[str, Any] = {
            "id": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            "price": fmt(cmd.price, 8),
            "size": fmt(cmd.quantity, 8),
            "product_id": cmd.symbol,
            "profile_id": profile_id(cmd.account_id),
            "side": cmd.side.value.lower(),
            "type": "limit",
            "time_in_force": "GTC",
            "post_only": True,
            "created_at": iso_time(now),
            "fill_fees": fmt(Decimal(0), 16),
            "filled_size": fmt(Decimal(0), 8),
            "executed_value": fmt(Decimal(0), 16),
            "status": "rejected",
            "settled": True,
            "reject_reason": "post only",
        }
        if client_oid:
            body["client_oid"] = client_oid
        return body

    def cancel(
        self, account: str, record: OrderRecord | None, ref: str, product: str | None
    ) -> RestResponse:
        """``DELETE /orders/{id}`` or ``/orders/client:{client_oid}`` ("Cancel an order").

        Answers the id as the request named it: the order id, or the ``client_oid``.
        """
        if record is None or record.purged or (product and product != record.product_id):
            return error(404, "NotFound")
        events = self.engine.cancel(
            CancelOrder(account, record.product_id, order_id=record.engine_id)
        )
        if isinstance(events[0], CommandRejected):
            return error(400, "Order already done")
        self._record_events(events)
        return ok(ref[len("client:") :] if ref.startswith("client:") else record.order_id)

    def cancel_all(self, account: str, product: str | None) -> RestResponse:
        """``DELETE /orders`` ("Cancel all orders"): a list of the canceled order ids."""
        canceled: list[str] = []
        for name in self.config.products:
            if product and product != name:
                continue
            events = self.engine.cancel_all(account, name)
            for event in events:
                if not isinstance(event, CommandRejected):
                    canceled.append(self._by_engine_id[event.order.order_id].order_id)
            self._record_events(events)
        return ok(canceled)

    def _add(self, record: OrderRecord) -> None:
        self.orders[record.order_id] = record
        self._by_engine_id[record.engine_id] = record
        if record.client_oid:
            self._by_client_oid[(record.account_id, record.client_oid)] = record

    def _record_of(self, view: OrderView) -> OrderRecord:
        record = self._by_engine_id.get(view.order_id)
        if record is None:  # an order not placed through REST: the house's seeded book
            record = OrderRecord(
                order_id=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                engine_id=view.order_id,
                account_id=view.account_id,
                product_id=view.symbol,
                client_oid="",
                funds=None,
                created_ms=view.time,
            )
            self._add(record)
        return record

    def _view_of(self, record: OrderRecord) -> OrderView:
        return record.view(self.engine)

    def publish(self, events: list[Event], origin: CoinbaseFeedSession | None) -> None:
        """Tell the feed sessions that see them about ``events`` (the feed has no origin)."""
        self._record_events(events)

    def _record_events(self, events: list[Event]) -> None:
        """Render events to feed messages and queue them for the sessions that see them."""
        messages = self.render.messages(events, self._record_of, self._view_of)
        for owners, product, message in messages:
            for session in self.sessions:
                if session.wants(owners, product, message["type"]):
                    session.outbox.append(session.shape(message, owners))
            self.public.after(message)  # a match makes a ticker
        self.tape.observe(events)  # level2 (streams.py)
        for event in events:
            if not isinstance(event, CommandRejected):
                self._record_of(event.order).note(event)
        for session in self.sessions:
            if session.outbox and self.on_push is not None:
                self.on_push(session)

    # ------------------------------------------------------------------ reads

    def _fills(self, account: str, query: Mapping[str, str]) -> RestResponse:
        order_ref, product = query.get("order_id"), query.get("product_id")
        if not order_ref and not product:
            return error(400, "order_id or product_id is required")
        out: list[dict[str, Any]] = []
        for record in reversed(self.orders.values()):
            if record.account_id != account:
                continue
            if order_ref and record.order_id != order_ref:
                continue
            if product and record.product_id != product:
                continue
            out.extend(self.render.fills(record, self.engine))
        return ok(out)

    def _accounts(self, account_id: str) -> list[dict[str, Any]]:
        account = self.registry.accounts[account_id]
        # "Get all accounts for a profile": id, currency, balance, hold, available, ...
        return [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{account_id}/{asset}")),
                "currency": asset,
                "balance": fmt(bal.free + bal.locked, 16),
                "hold": fmt(bal.locked, 16),
                "available": fmt(bal.free, 16),
                "profile_id": profile_id(account_id),
                "trading_enabled": True,
            }
            for asset, bal in sorted(account.balances.items())
        ]

    # ------------------------------------------------------------------ feed

    def connect(self) -> CoinbaseFeedSession:
        """Open a feed session for a new WebSocket connection."""
        session = CoinbaseFeedSession(self)
        self.sessions.append(session)
        return session

    def disconnect(self, session: CoinbaseFeedSession) -> None:
        """Forget a closed feed connection."""
        if session in self.sessions:
            self.sessions.remove(session)


def _net_funds(funds: Decimal, taker: Decimal) -> Decimal:
    """What a market buy for ``funds`` may spend before its fee, down to 1e-8."""
    return (funds / (1 + taker)).quantize(Decimal("1E-8"), rounding=ROUND_DOWN)


#: display names and networks of the currencies the default products trade
_CURRENCY_NAMES = {"BTC": "Bitcoin", "ETH": "Ether", "USD": "United States Dollar"}


def _currency(name: str, precision: Decimal) -> dict[str, Any]:
    """One currency as "Get a currency" shows it (id, name, min_size, status, message,
    max_precision, convertible_to, details, default_network, supported_networks)."""
    fiat = name == "USD"
    details: dict[str, Any] = {
        "type": "fiat" if fiat else "crypto",
        "symbol": "$" if fiat else "",
        "network_confirmations": 0 if fiat else 2,
        "sort_order": 0,
        "crypto_address_link": "",
        "crypto_transaction_link": "",
        "push_payment_methods": [] if fiat else ["crypto"],
        "group_types": ["fiat", name.lower()] if fiat else [name.lower(), "crypto"],
        "display_name": "",
        "processing_time_seconds": 0,
        "min_withdrawal_amount": 0,
        "max_withdrawal_amount": 0,
    }
    network = (
        []
        if fiat
        else [
            {
                "id": name.lower(),
                "name": _CURRENCY_NAMES.get(name, name),
                "status": "online",
                "contract_address": "",
                "crypto_address_link": "",
                "crypto_transaction_link": "",
                "min_withdrawal_amount": 0,
                "max_withdrawal_amount": 0,
                "network_confirmations": 2,
                "processing_time_seconds": 0,
            }
        ]
    )
    return {
        "id": name,
        "name": _CURRENCY_NAMES.get(name, name),
        "min_size": fmt(precision),
        "status": "online",
        "message": "",
        "max_precision": fmt(precision),
        "convertible_to": [],
        "details": details,
        "default_network": "" if fiat else name.lower(),
        "supported_networks": network,
        "display_name": name,
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    return headers.get(name, "")


class _BadNumber(Exception):
    """A number field that is no bounded plain decimal (``numbers``): answered 400."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _decimal(req: Mapping[str, Any], name: str) -> Decimal | None:
    value = req.get(name)
    if value is None:
        return None
    out = numbers.decimal_of(value)
    if out is None:
        raise _BadNumber(name)
    return out

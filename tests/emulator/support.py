"""Shared helpers for the emulator tests: a settable clock, the doc's key, signing, calls.

The HMAC key and secret are the example pair of Binance ``web-socket-api.md`` ("SIGNED
request example (HMAC)"); every signed request example in that document verifies with it.
Signing here is written independently of the emulator's verifier.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from whalewire.emulator.accounts import Registry
from whalewire.emulator.binance.exchange import BinanceConfig, BinanceExchange, BinanceSession
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.binance.streams import BinanceStreams
from whalewire.emulator.coinbase.exchange import CoinbaseConfig, CoinbaseExchange, RestResponse
from whalewire.emulator.kraken.exchange import KrakenConfig, KrakenExchange, KrakenSession
from whalewire.emulator.matching import (
    Fees,
    MatchingEngine,
    OrderType,
    PlaceOrder,
    Side,
    SymbolSpec,
    TimeInForce,
)
from whalewire.emulator.skeleton import Exchange
from whalewire.venues.books import Book, BookSide

D = Decimal
#: seconds a test waits for one WebSocket frame, and for the emulator process
WS_TIMEOUT = 10.0
PROCESS_TIMEOUT = 20.0

# web-socket-api.md, "SIGNED request example (HMAC)"
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


class Clock:
    """A venue clock in ms that a test sets by hand (the one fake clock of these tests)."""

    def __init__(self, now: int = 1_700_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def make(now: int = 1_660_801_715_431, config: BinanceConfig | None = None):
    clock = Clock(now)
    exchange = BinanceExchange(clock, config)
    exchange.registry.open_account("doc", {"BTC": Decimal(10), "USDT": Decimal(1_000_000)})
    exchange.registry.add_hmac_key("doc", DOC_API_KEY, DOC_SECRET)
    return clock, exchange, exchange.connect()


def call(session: BinanceSession, request: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    response, *events = session.handle(json.dumps(request))
    return json.loads(response), [json.loads(e) for e in events]


def hmac_sign(params: dict[str, Any], secret: str = DOC_SECRET) -> dict[str, Any]:
    # written independently of the emulator: sorted k=v joined by &, HMAC-SHA256 hex
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    sig = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return {**params, "signature": sig}


def ed25519_sign(params: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return {**params, "signature": base64.b64encode(key.sign(payload.encode())).decode()}


def doc_order(ts: int, **extra: Any) -> dict[str, Any]:
    params = {"symbol": "BTCUSDT", "apiKey": DOC_API_KEY, "timestamp": ts, **extra}
    return {"id": f"req-{ts}", "method": "order.place", "params": hmac_sign(params)}


def resting_buy(ts: int, client_id: str) -> dict[str, Any]:
    return doc_order(
        ts,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        price="20000.00",
        quantity="0.01000",
        newClientOrderId=client_id,
    )


# ----------------------------------------------- Binance market data (two accounts trading)

BINANCE_T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z


def binance_market() -> tuple[Clock, BinanceExchange, BinanceSession]:
    clock = Clock(BINANCE_T0)
    exchange = BinanceExchange(clock, BinanceConfig(book_levels=0))
    exchange.registry.open_account("doc", {"BTC": D(10), "USDT": D(1_000_000)})
    exchange.registry.add_hmac_key("doc", DOC_API_KEY, DOC_SECRET)
    exchange.registry.open_account("maker", {"BTC": D(10), "USDT": D(1_000_000)})
    return clock, exchange, exchange.connect()


def binance_trade(exchange: BinanceExchange, side: Side, qty: str, *prices: str) -> None:
    """Rest one maker order per price, then take them all with one ``side`` taker."""
    maker_side = Side.SELL if side is Side.BUY else Side.BUY
    for price in prices:
        exchange.publish(
            exchange.engine.place(
                PlaceOrder(
                    "maker",
                    "BTCUSDT",
                    maker_side,
                    OrderType.LIMIT,
                    D(qty),
                    None,
                    D(price),
                    TimeInForce.GTC,
                )
            )
        )
    total = D(qty) * len(prices)
    exchange.publish(
        exchange.engine.place(PlaceOrder("doc", "BTCUSDT", side, OrderType.MARKET, total))
    )


# --- the matching engine alone

SPEC = SymbolSpec(
    symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    tick_size=D("0.01"),
    min_price=D("0.01"),
    max_price=D("1000000"),
    step_size=D("0.00001"),
    min_qty=D("0.00001"),
    max_qty=D("9000"),
    min_notional=D("5"),
    max_notional=D("9000000"),
)


def make_engine(fees: Fees | None = None) -> MatchingEngine:
    registry = Registry()
    for name in ("alice", "bob", "carol", "taker"):
        registry.open_account(name, {"BTC": D(10), "USDT": D(100_000)})
    return MatchingEngine([SPEC], registry, Clock(), fees or Fees(D(0), D(0)))


def limit(account: str, side: Side, qty: str, price: str, *, tif=TimeInForce.GTC, cid: str = ""):
    return PlaceOrder(
        account,
        "BTCUSDT",
        side,
        OrderType.LIMIT,
        D(qty),
        price=D(price),
        time_in_force=tif,
        client_order_id=cid,
    )


# --- over loopback


async def request(ws: Any, req_id: str, method: str, params: dict[str, Any] | None = None):
    """Send one request; return its response and the events that arrived before it."""
    body: dict[str, Any] = {"id": req_id, "method": method}
    if params is not None:
        body["params"] = params
    await ws.send(json.dumps(body))
    events = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), WS_TIMEOUT))
        if frame.get("id") == req_id:
            return frame, events
        events.append(frame)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


async def read_banner(stdout: asyncio.StreamReader) -> dict[str, str]:
    fields: dict[str, str] = {}
    section = ""
    while "hmac_secret" not in fields or "endpoint" not in fields:
        line = (await asyncio.wait_for(stdout.readline(), PROCESS_TIMEOUT)).decode()
        assert line, "emulator exited before printing its banner"
        if line.startswith("HMAC"):
            section = "hmac"
        parts = line.split()
        if parts[:1] == ["endpoint"]:
            fields["endpoint"] = parts[1]
        elif parts[:1] == ["apiKey"] and section == "hmac":
            fields["hmac_key"] = parts[1]
        elif parts[:1] == ["secretKey"]:
            fields["hmac_secret"] = parts[1]
    return fields


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def ask(ws: Any, text: str) -> dict[str, Any]:
    """Send one frame and read the one answer (any venue: a request, then its reply)."""
    await ws.send(text)
    answer: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WS_TIMEOUT))
    return answer


def coinbase_headers(creds: Any, stamp: str, method: str, path: str, body: str) -> dict[str, str]:
    message = (stamp + method + path + body).encode()
    sign = hmac.new(base64.b64decode(creds.secret), message, hashlib.sha256).digest()
    return {
        "CB-ACCESS-KEY": creds.api_key,
        "CB-ACCESS-SIGN": base64.b64encode(sign).decode(),
        "CB-ACCESS-TIMESTAMP": stamp,
        "CB-ACCESS-PASSPHRASE": creds.passphrase,
        "Content-Type": "application/json",
    }


# ------------------------------------------------------------------ Coinbase (handler and fuzz)

CB_NOW_MS = 1_700_000_000_000
CB_SECRET = base64.b64encode(bytes(range(64))).decode()
CB_KEY = "0123456789abcdef0123456789abcdef"
CB_PASSPHRASE = "correct horse"


def coinbase_sign(
    timestamp: str, method: str, path: str, body: str, secret: str = CB_SECRET
) -> str:
    # independent of the emulator: the rule as "Signing a message" states it
    message = (timestamp + method + path + body).encode()
    return base64.b64encode(
        hmac.new(base64.b64decode(secret), message, hashlib.sha256).digest()
    ).decode()


def coinbase_make(config: CoinbaseConfig | None = None) -> tuple[Clock, CoinbaseExchange]:
    clock = Clock(CB_NOW_MS)
    exchange = CoinbaseExchange(clock, config)
    exchange.registry.open_account("me", {"BTC": Decimal(10), "USD": Decimal(1_000_000)})
    exchange.add_key("me", CB_KEY, CB_SECRET, CB_PASSPHRASE)
    return clock, exchange


def coinbase_request(
    exchange: CoinbaseExchange,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    ts_ms: int | None = None,
    passphrase: str = CB_PASSPHRASE,
    key: str = CB_KEY,
    secret: str = CB_SECRET,
) -> RestResponse:
    text = json.dumps(body) if body is not None else ""
    ts = "%.3f" % ((exchange.clock() if ts_ms is None else ts_ms) / 1000)
    headers = {
        "cb-access-key": key,
        "cb-access-sign": coinbase_sign(ts, method, path, text, secret),
        "cb-access-timestamp": ts,
        "cb-access-passphrase": passphrase,
    }
    return exchange.handle(method, path, headers, text.encode())


def coinbase_oid() -> str:
    return str(uuid.uuid4())


# ------------------------------------------------------------------ Kraken (handler and fuzz)

# Kraken "Spot REST Authentication": the documented secret (the nonce,
# body and API-Sign are below)
KRAKEN_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)
KRAKEN_KEY = "doc-api-key"
# Spot WebSocket v2 "cancel_all_orders_after": the token of the documented request
KRAKEN_TOKEN = "zwpdzWUe18Bn6h4TAMorh26+QbcMeST2B5tamfe+pgQ"
# Spot WebSocket v2 "add_order" and "executions": the token of those documented requests
KRAKEN_TOKEN_2 = "G38a1tGFzqGiUCmnegBcm8d4nfP3tytiNQz6tkCBYXY"
KRAKEN_NOW = 1_695_306_907_197  # 2023-09-21T14:35:07.197Z


def kraken_make(
    config: KrakenConfig | None = None,
) -> tuple[Clock, KrakenExchange, KrakenSession]:
    clock = Clock(KRAKEN_NOW)
    exchange = KrakenExchange(clock, config)
    exchange.registry.open_account(
        "doc", {"BTC": Decimal(10), "ETH": Decimal(100), "USD": Decimal(1_000_000)}
    )
    exchange.add_key("doc", KRAKEN_KEY, KRAKEN_SECRET)
    exchange.register_token(KRAKEN_TOKEN, "doc")
    exchange.register_token(KRAKEN_TOKEN_2, "doc")
    return clock, exchange, exchange.connect()


def kraken_rest_call(
    exchange: KrakenExchange,
    path: str,
    body: str,
    *,
    key: str = KRAKEN_KEY,
    secret: str = KRAKEN_SECRET,
) -> tuple[int, dict[str, Any]]:
    nonce = dict(p.split("=", 1) for p in body.split("&"))["nonce"]
    inner = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(base64.b64decode(secret), path.encode() + inner, hashlib.sha512)
    headers = {"api-key": key, "api-sign": base64.b64encode(mac.digest()).decode()}
    answer = exchange.rest("POST", path, headers, body.encode())
    return answer.status, json.loads(answer.body)


def kraken_order(token: str = KRAKEN_TOKEN, req_id: int = 1, **params: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"order_type": "market", "side": "buy", "order_qty": 0.5}
    return {
        "method": "add_order",
        "params": {**base, "symbol": "BTC/USD", "token": token, **params},
        "req_id": req_id,
    }


# Kraken "Spot REST Authentication": the documented nonce, body and API-Sign (its secret
# is KRAKEN_SECRET above)
KRAKEN_DOC_NONCE = "1616492376594"
KRAKEN_DOC_BODY = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
KRAKEN_DOC_SIGN = (
    "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
)


def kraken_call(
    session: KrakenSession, request: dict[str, Any]
) -> tuple[dict[str, Any], list[Any]]:
    response, *rest = session.handle(json.dumps(request))
    return json.loads(response), [json.loads(t) for t in rest]


def kraken_execution_rows(messages: list[Any]) -> list[dict[str, Any]]:
    return [r for m in messages if m.get("channel") == "executions" for r in m["data"]]


def kraken_subscribe_executions(session: KrakenSession) -> list[Any]:
    _, snapshot = kraken_call(
        session,
        {"method": "subscribe", "params": {"channel": "executions", "token": KRAKEN_TOKEN}},
    )
    return snapshot


# --- the stream tests: random orders, and a client book equal to the exchange's

STREAM_TRADER = "trader"


def fund(exchange: Exchange[object], base: str, quote: str) -> None:
    """Open the random trader's account, rich in both assets."""
    exchange.registry.open_account(
        STREAM_TRADER, {base: Decimal(1_000_000), quote: Decimal(10) ** 12}
    )


def random_orders(exchange: Exchange[object], symbol: str, n: int, seed: int) -> None:
    """Place ``n`` random orders on ``symbol`` (limits inside and across the spread, some
    markets) and publish each one's events, as the venue's order handlers do."""
    rng = random.Random(seed)
    spec = exchange.engine.specs[symbol]
    for _ in range(n):
        mid = exchange.engine.reference_price(symbol)
        ticks = rng.randint(-300, 300)
        price = (mid + ticks * spec.tick_size * 10).quantize(spec.tick_size)
        qty = (Decimal(rng.randint(1, 300)) * spec.step_size * 100).quantize(spec.step_size)
        side = rng.choice([Side.BUY, Side.SELL])
        market = rng.random() < 0.1
        cmd = PlaceOrder(
            STREAM_TRADER,
            symbol,
            side,
            OrderType.MARKET if market else OrderType.LIMIT,
            quantity=qty,
            price=None if market else price,
            time_in_force=None if market else TimeInForce.GTC,
        )
        exchange.publish(exchange.engine.place(cmd), None)


def engine_levels(
    exchange: Exchange[object], symbol: str, depth: int = 0
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Return the engine's book as float levels, best first (``depth`` 0: all)."""
    bids, asks = exchange.engine.depth(symbol)
    if depth:
        bids, asks = bids[:depth], asks[:depth]
    return [(float(p), float(q)) for p, q in bids], [(float(p), float(q)) for p, q in asks]


async def until_equal(book: Book, exchange: Exchange[object], symbol: str, depth: int = 0) -> None:
    """Wait (up to 10 s) until ``book`` holds exactly the engine's levels."""
    expected = None
    for _ in range(1000):
        expected = engine_levels(exchange, symbol, depth)
        got = (book.levels(BookSide.BID), book.levels(BookSide.ASK))
        if book.health().synced and got == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(
        f"book never matched: {got[0][:3]}.. vs {expected[0][:3] if expected else None}.."
    )


@contextlib.asynccontextmanager
async def binance_with_streams() -> AsyncIterator[tuple[BinanceEmulator, BinanceStreams]]:
    """A started emulated Binance (no pings) with its JSON stream host, BTC and USDT funded."""
    emulator = BinanceEmulator(ping_interval=3600)
    await emulator.start()
    streams = BinanceStreams(emulator.exchange)
    await streams.start()
    fund(emulator.exchange, "BTC", "USDT")  # type: ignore[arg-type]
    try:
        yield emulator, streams
    finally:
        await streams.close()
        await emulator.close()

"""ccxt's Binance (``ccxt.pro.binance``) as a real client of the emulated WebSocket API.

ccxt's ``*_ws`` order methods speak Binance's WebSocket API (``web-socket-api.md``):
``order.place``, ``order.status``, ``order.cancel``, ``order.cancelReplace``,
``openOrders.status``, ``openOrders.cancelAll``, ``allOrders``, ``myTrades``,
``account.status``, and ``userDataStream.subscribe.signature`` for ``watch_orders``,
``watch_my_trades`` and ``watch_balance``; every request is signed ad hoc with the HMAC key
(``apiKey`` + ``timestamp`` + hex ``signature``) or the Ed25519 key. ccxt is unmodified:
only its ``ws-api`` URL points at ``ws://127.0.0.1:P/ws-api/v3``. The emulator serves no
REST, so the markets are ccxt's own parse of the emulator's ``exchangeInfo`` (fetched over
the WebSocket API), and ccxt's clock stays its own (no ``adjustForTimeDifference``, which
would call REST ``/api/v3/time``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import websockets

from whalewire.emulator.accounts import Credentials
from whalewire.emulator.binance.exchange import BinanceConfig
from whalewire.emulator.binance.server import BinanceEmulator

ccxtpro = pytest.importorskip("ccxt.pro")
ccxt_errors = pytest.importorskip("ccxt.base.errors")

TIMEOUT = 10.0
SYMBOL = "BTC/USDT"


async def exchange_info(url: str) -> dict[str, Any]:
    # web-socket-api.md, "Exchange information": the symbols ccxt's parse_market reads
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"id": "info", "method": "exchangeInfo", "params": {}}))
        response = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert response["status"] == 200
    result: dict[str, Any] = response["result"]
    return result


def ccxt_client(url: str, info: dict[str, Any], api_key: str, secret: str) -> Any:
    """Build ccxt's Binance pointed at the emulator, with markets parsed from ``info``."""
    ex = ccxtpro.binance({"apiKey": api_key, "secret": secret, "enableRateLimit": False})
    ex.urls["api"]["ws"]["ws-api"]["spot"] = url
    # fetch_markets sets these from REST (sapi margin pairs) before parse_market reads them
    ex.options["crossMarginPairsData"] = []
    ex.options["isolatedMarginPairsData"] = []
    ex.set_markets([ex.parse_market(symbol) for symbol in info["symbols"]])
    return ex


class Venue:
    def __init__(self, emulator: BinanceEmulator, creds: Credentials, info: dict[str, Any]):
        self.emulator = emulator
        self.creds = creds
        self.info = info

    def client(self, secret: str | None = None) -> Any:
        return ccxt_client(
            self.emulator.url,
            self.info,
            self.creds.hmac_api_key,
            secret if secret is not None else self.creds.hmac_secret,
        )

    def open_orders(self) -> list[int]:
        engine = self.emulator.exchange.engine
        return [v.order_id for v in engine.open_orders("default", "BTCUSDT")]

    def free(self, asset: str) -> Decimal:
        return self.emulator.exchange.registry.accounts["default"].free(asset)


@pytest.fixture
async def venue() -> AsyncIterator[Venue]:
    emulator = BinanceEmulator(BinanceConfig(book_levels=5), ping_interval=3600)
    creds = emulator.exchange.open_default_account()
    await emulator.start()
    try:
        yield Venue(emulator, creds, await exchange_info(emulator.url))
    finally:
        await emulator.close()


async def test_ccxt_places_queries_and_cancels_a_resting_limit_order(venue: Venue) -> None:
    ex = venue.client()
    try:
        async with asyncio.timeout(TIMEOUT):
            placed = await ex.create_order_ws(
                SYMBOL, "limit", "buy", 0.01, 50000, {"clientOrderId": "ccxt-rest-1"}
            )
            assert placed["status"] == "open"
            assert placed["clientOrderId"] == "ccxt-rest-1"
            assert venue.open_orders() == [int(placed["id"])]
            # a BUY locks price x quantity of quote
            assert venue.free("USDT") == Decimal(1_000_000) - Decimal(500)

            fetched = await ex.fetch_order_ws(placed["id"], SYMBOL)
            assert (fetched["id"], fetched["status"], fetched["price"]) == (
                placed["id"],
                "open",
                50000.0,
            )
            by_client_id = await ex.fetch_order_ws(None, SYMBOL, {"clientOrderId": "ccxt-rest-1"})
            assert by_client_id["id"] == placed["id"]
            assert [o["id"] for o in await ex.fetch_open_orders_ws(SYMBOL)] == [placed["id"]]

            canceled = await ex.cancel_order_ws(placed["id"], SYMBOL)
            assert (canceled["id"], canceled["status"]) == (placed["id"], "canceled")
            assert venue.open_orders() == []
            assert venue.free("USDT") == Decimal(1_000_000)
            assert (await ex.fetch_order_ws(placed["id"], SYMBOL))["status"] == "canceled"
    finally:
        await ex.close()


async def test_ccxt_edits_an_order_by_cancel_replace(venue: Venue) -> None:
    # spot edit_order_ws sends order.cancelReplace (STOP_ON_FAILURE by default)
    ex = venue.client()
    try:
        async with asyncio.timeout(TIMEOUT):
            placed = await ex.create_order_ws(SYMBOL, "limit", "buy", 0.01, 50000)
            edited = await ex.edit_order_ws(placed["id"], SYMBOL, "limit", "buy", 0.02, 49000)
            assert edited["id"] != placed["id"]
            assert (edited["status"], edited["price"], edited["amount"]) == ("open", 49000.0, 0.02)
            assert venue.open_orders() == [int(edited["id"])]
            assert (await ex.fetch_order_ws(placed["id"], SYMBOL))["status"] == "canceled"
            assert venue.free("USDT") == Decimal(1_000_000) - Decimal(980)
    finally:
        await ex.close()


async def test_ccxt_market_buy_fills_and_pays_the_taker_fee_in_base(venue: Venue) -> None:
    ex = venue.client()
    try:
        async with asyncio.timeout(TIMEOUT):
            order = await ex.create_order_ws(SYMBOL, "market", "buy", 0.01)
            assert (order["status"], order["filled"], order["remaining"]) == ("closed", 0.01, 0.0)
            # the seeded book's best ask is above the 60000 mid; 0.1 % taker fee in BTC
            assert order["average"] > 60000
            assert order["fee"] == {"currency": "BTC", "cost": 0.00001}
            assert venue.free("BTC") == Decimal("10.00999")

            (trade,) = await ex.fetch_my_trades_ws(SYMBOL)
            assert (trade["order"], trade["side"], trade["takerOrMaker"]) == (
                order["id"],
                "buy",
                "taker",
            )
            assert (trade["amount"], trade["fee"]) == (0.01, {"currency": "BTC", "cost": 0.00001})

            balance = await ex.fetch_balance_ws()
            # ccxt reads spot balances from account.status' "balances" list
            free = {b["asset"]: b["free"] for b in balance["info"]["balances"]}
            assert free["BTC"] == "10.00999000"
    finally:
        await ex.close()


async def test_ccxt_cancels_all_orders_and_lists_the_order_history(venue: Venue) -> None:
    ex = venue.client()
    try:
        async with asyncio.timeout(TIMEOUT):
            first = await ex.create_order_ws(SYMBOL, "limit", "buy", 0.01, 50000)
            second = await ex.create_order_ws(SYMBOL, "limit", "sell", 0.01, 70000)
            filled = await ex.create_order_ws(SYMBOL, "market", "sell", 0.01)
            assert len(venue.open_orders()) == 2

            canceled = await ex.cancel_all_orders_ws(SYMBOL)
            assert sorted(o["id"] for o in canceled) == sorted([first["id"], second["id"]])
            assert {o["status"] for o in canceled} == {"canceled"}
            assert venue.open_orders() == []

            # allOrders: open or not, oldest first
            history = await ex.fetch_orders_ws(SYMBOL)
            assert [(o["id"], o["status"]) for o in history] == [
                (first["id"], "canceled"),
                (second["id"], "canceled"),
                (filled["id"], "closed"),
            ]
            closed = await ex.fetch_closed_orders_ws(SYMBOL)
            assert [o["id"] for o in closed] == [filled["id"]]
    finally:
        await ex.close()


async def test_ccxt_watch_orders_receives_execution_reports(venue: Venue) -> None:
    # ccxt subscribes with userDataStream.subscribe.signature on the ws-api connection
    ex = venue.client()
    try:
        async with asyncio.timeout(TIMEOUT):
            watcher = asyncio.ensure_future(ex.watch_orders(SYMBOL))
            while not any(s.subscriptions for s in venue.emulator.exchange.sessions):
                await asyncio.sleep(0.01)
            placed = await ex.create_order_ws(SYMBOL, "market", "buy", 0.01)
            updates = await watcher
            assert updates and updates[-1]["id"] == placed["id"]
            assert updates[-1]["symbol"] == SYMBOL
            assert updates[-1]["status"] in ("open", "closed")
    finally:
        await ex.close()


async def test_ccxt_watch_my_trades_and_watch_balance_follow_a_fill(venue: Venue) -> None:
    ex = venue.client()
    try:
        async with asyncio.timeout(TIMEOUT):
            trades = asyncio.ensure_future(ex.watch_my_trades(SYMBOL))
            balance = asyncio.ensure_future(ex.watch_balance())
            while not any(s.subscriptions for s in venue.emulator.exchange.sessions):
                await asyncio.sleep(0.01)
            placed = await ex.create_order_ws(SYMBOL, "market", "buy", 0.01)
            (trade, *_) = await trades
            assert (trade["order"], trade["side"], trade["amount"]) == (placed["id"], "buy", 0.01)
            # outboundAccountPosition after the fill: +0.01 BTC less the 0.1 % fee
            assert (await balance)["BTC"]["free"] == 10.00999
    finally:
        await ex.close()


async def test_ccxt_signs_with_the_ed25519_key(venue: Venue) -> None:
    # ccxt signs ad hoc with Ed25519 when the secret is a PKCS#8 PEM (its sign_params)
    ex = ccxt_client(
        venue.emulator.url,
        venue.info,
        venue.creds.ed25519_api_key,
        venue.creds.ed25519_private_key_pem,
    )
    try:
        async with asyncio.timeout(TIMEOUT):
            placed = await ex.create_order_ws(SYMBOL, "limit", "buy", 0.01, 50000)
            assert venue.open_orders() == [int(placed["id"])]
            canceled = await ex.cancel_order_ws(placed["id"], SYMBOL)
            assert canceled["status"] == "canceled"
    finally:
        await ex.close()


async def test_ccxt_sees_the_venue_errors_as_its_own_exceptions(venue: Venue) -> None:
    ex = venue.client()
    wrong = venue.client(secret="0" * 64)
    try:
        async with asyncio.timeout(TIMEOUT):
            # -2010 "Account has insufficient balance for requested action."
            with pytest.raises(ccxt_errors.InsufficientFunds):
                await ex.create_order_ws(SYMBOL, "limit", "buy", 100, 50000)
            # -2011 "Unknown order sent."
            with pytest.raises(ccxt_errors.OrderNotFound):
                await ex.cancel_order_ws("999999", SYMBOL)
            # -1022 "Signature for this request is not valid."
            with pytest.raises(ccxt_errors.AuthenticationError):
                await wrong.create_order_ws(SYMBOL, "market", "buy", 0.01)
            assert venue.open_orders() == []
            assert venue.free("BTC") == Decimal(10)
    finally:
        await ex.close()
        await wrong.close()


async def test_ccxt_answers_the_venues_pings_and_keeps_its_connection() -> None:
    # "If the websocket server does not receive a pong frame back from the connection
    # within a minute the connection will be disconnected" (here 0.2 s, pings every 0.02 s)
    emulator = BinanceEmulator(BinanceConfig(book_levels=5), ping_interval=0.02, pong_timeout=0.2)
    creds = emulator.exchange.open_default_account()
    await emulator.start()
    ex = ccxt_client(
        emulator.url, await exchange_info(emulator.url), creds.hmac_api_key, creds.hmac_secret
    )
    try:
        async with asyncio.timeout(TIMEOUT):
            placed = await ex.create_order_ws(SYMBOL, "limit", "buy", 0.01, 50000)
            (session,) = emulator.exchange.sessions
            while emulator.pings_sent < 30:  # three timeouts' worth on ccxt's connection
                await asyncio.sleep(0.01)
            assert (await ex.fetch_order_ws(placed["id"], SYMBOL))["status"] == "open"
        assert emulator.pong_timeouts == 0
        assert emulator.exchange.sessions == [session]  # the same connection throughout
    finally:
        await ex.close()
        await emulator.close()


async def test_ccxt_reads_market_data_over_the_websocket_api(venue: Venue) -> None:
    # fetch_ohlcv_ws (klines) and fetch_trades_ws (trades.historical) parse the emulator's
    # answers (ccxt's fetch_ticker_ws serves swap markets only)
    ex = venue.client()
    try:
        async with asyncio.timeout(TIMEOUT):
            bought = await ex.create_order_ws(SYMBOL, "market", "buy", 0.01)
            (candle,) = await ex.fetch_ohlcv_ws(SYMBOL, "1m")
            assert candle[5] == pytest.approx(0.01)
            assert candle[2] >= bought["average"] >= candle[3]
            trades = await ex.fetch_trades_ws(SYMBOL)
            assert sum(t["amount"] for t in trades) == pytest.approx(0.01)
    finally:
        await ex.close()

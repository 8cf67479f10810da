"""The official Binance SDK (``binance-sdk-spot``) as a real client of the emulator.

A user's client, unmodified, pointed at ``ws://127.0.0.1:P/ws-api/v3``: per-request HMAC
signing, Ed25519 ``session.logon``, place / query / cancel, account status, and the user
data stream (the SDK routes events by ``subscriptionId``, the envelope Binance's current
documentation gives).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from whalewire.emulator.binance.exchange import BinanceConfig
from whalewire.emulator.binance.server import BinanceEmulator

sdk = pytest.importorskip("binance_sdk_spot.spot")
configuration = pytest.importorskip("binance_common.configuration")

TIMEOUT = 10.0


def test_official_sdk_places_queries_and_cancels_with_hmac_and_ed25519():
    async def scenario() -> None:
        emulator = BinanceEmulator(BinanceConfig(book_levels=5), ping_interval=3600)
        creds = emulator.exchange.open_default_account()
        await emulator.start()
        try:
            hmac_cfg = configuration.ConfigurationWebSocketAPI(
                api_key=creds.hmac_api_key, api_secret=creds.hmac_secret, stream_url=emulator.url
            )
            conn = await sdk.Spot(config_ws_api=hmac_cfg).websocket_api.create_connection()
            try:
                placed = (
                    await conn.order_place(
                        symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.001
                    )
                ).data()
                assert placed.status == 200
                assert placed.result.status == "FILLED"
                assert placed.result.fills and placed.result.fills[0].commission_asset == "BTC"
                queried = (
                    await conn.order_status(symbol="BTCUSDT", order_id=placed.result.order_id)
                ).data()
                assert queried.result.status == "FILLED"
                account = (await conn.account_status()).data()
                btc = {b.asset: b.free for b in account.result.balances}["BTC"]
                assert btc == "10.00099900"  # +0.001 less the 0.1 % taker fee in BTC
            finally:
                await conn.close_connection()

            ed_cfg = configuration.ConfigurationWebSocketAPI(
                api_key=creds.ed25519_api_key,
                private_key=creds.ed25519_private_key_pem,
                stream_url=emulator.url,
            )
            conn = await sdk.Spot(config_ws_api=ed_cfg).websocket_api.create_connection()
            try:
                logon = (await conn.session_logon()).data()
                assert logon.result.api_key == creds.ed25519_api_key
                subscribed = await conn.user_data_stream_subscribe()
                events: asyncio.Queue[Any] = asyncio.Queue()
                subscribed.stream.on("message", events.put_nowait)
                resting = (
                    await conn.order_place(
                        symbol="BTCUSDT",
                        side="BUY",
                        type="LIMIT",
                        time_in_force="GTC",
                        price=50000.0,
                        quantity=0.01,
                        new_client_order_id="sdk-1",
                    )
                ).data()
                assert resting.result.status == "NEW"
                canceled = (
                    await conn.order_cancel(symbol="BTCUSDT", orig_client_order_id="sdk-1")
                ).data()
                assert canceled.result.status == "CANCELED"
                seen = [await asyncio.wait_for(events.get(), TIMEOUT) for _ in range(2)]
                # parsed by the SDK's own models: our executionReport matches its schema
                report = seen[0].actual_instance
                assert (report.x, report.X, report.c, report.i) == (
                    "NEW",
                    "NEW",
                    "sdk-1",
                    resting.result.order_id,
                )
            finally:
                await conn.close_connection()
        finally:
            await emulator.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_official_sdk_reads_market_data_commission_and_order_limits():
    """The SDK's market-data and account methods parse the emulator's answers into their
    typed models (``ticker_price``, ``ticker_book``, ``avg_price``, ``klines``,
    ``trades_recent``, ``trades_aggregate``, ``ticker24hr``, ``account_commission``,
    ``account_rate_limits_orders``), and a STOP_LOSS_LIMIT parks as the SDK expects."""

    async def scenario() -> None:
        emulator = BinanceEmulator(BinanceConfig(book_levels=5), ping_interval=3600)
        creds = emulator.exchange.open_default_account()
        await emulator.start()
        try:
            cfg = configuration.ConfigurationWebSocketAPI(
                api_key=creds.hmac_api_key, api_secret=creds.hmac_secret, stream_url=emulator.url
            )
            conn = await sdk.Spot(config_ws_api=cfg).websocket_api.create_connection()
            try:
                placed = await conn.order_place(
                    symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.001
                )
                fill = placed.data().result.fills[0]
                # one symbol: the SDK's oneOf picks the single-object variant
                price = (await conn.ticker_price(symbol="BTCUSDT")).data().actual_instance
                assert price.result.price == fill.price
                book = (await conn.ticker_book(symbol="BTCUSDT")).data().actual_instance
                assert float(book.result.ask_price) > 0
                avg = (await conn.avg_price(symbol="BTCUSDT")).data().result
                assert (avg.mins, avg.price) == (5, fill.price)
                (kline,) = (await conn.klines(symbol="BTCUSDT", interval="1m")).data().result
                assert kline[8] == 1  # one trade in the candle
                (recent,) = (await conn.trades_recent(symbol="BTCUSDT")).data().result
                assert (recent.price, recent.is_buyer_maker) == (fill.price, False)
                (agg,) = (await conn.trades_aggregate(symbol="BTCUSDT")).data().result
                assert agg.p == fill.price
                day = (await conn.ticker24hr(symbol="BTCUSDT")).data().actual_instance
                assert day.result.count == 1
                commission = (await conn.account_commission(symbol="BTCUSDT")).data().result
                assert commission.standard_commission.taker == "0.00100000"
                limits = (await conn.account_rate_limits_orders()).data().result
                assert [x.count for x in limits] == [1, 1]
                stop = await conn.order_place(
                    symbol="BTCUSDT", side="SELL", type="STOP_LOSS_LIMIT", time_in_force="GTC",
                    quantity=0.001, price=40000.0, stop_price=41000.0,
                )  # fmt: skip
                assert stop.data().result.status == "NEW"
            finally:
                await conn.close_connection()
        finally:
            await emulator.close()

    asyncio.run(scenario())

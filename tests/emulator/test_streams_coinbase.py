"""Coinbase Exchange ``level2`` / ``level2_batch`` / ``ticker`` / ``matches`` from the emulator
against our client ("Exchange WebSocket Channels"): the book equals the exchange's through
random orders, a crossing update resyncs, and sequences that do not increase are dropped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from tests.emulator.support import fund, random_orders, until_equal

from whalewire.emulator.coinbase.server import CoinbaseEmulator
from whalewire.net.client import connect
from whalewire.venues.coinbase.market import CoinbaseMarketData, CoinbaseTrade

PRODUCT = "BTC-USD"


@pytest.fixture
async def emulator() -> AsyncIterator[CoinbaseEmulator]:
    emu = CoinbaseEmulator()
    await emu.start()
    fund(emu.exchange, "BTC", "USD")  # type: ignore[arg-type]
    yield emu
    await emu.close()


@pytest.mark.parametrize("batch", [False, True])
async def test_book_equals_the_exchange_after_random_orders(
    emulator: CoinbaseEmulator, batch: bool
) -> None:
    trades: list[CoinbaseTrade] = []
    client = CoinbaseMarketData(emulator.ws_url, [PRODUCT], batch=batch, on_trade=trades.append)
    await client.start()
    try:
        book = client.books[PRODUCT]
        await until_equal(book, emulator.exchange, PRODUCT)  # type: ignore[arg-type]
        random_orders(emulator.exchange, PRODUCT, 200, seed=21)  # type: ignore[arg-type]
        await until_equal(book, emulator.exchange, PRODUCT)  # type: ignore[arg-type]
        for _ in range(300):
            if client.tickers.get(PRODUCT) == book.top():
                break
            await asyncio.sleep(0.01)
        assert client.tickers[PRODUCT] == book.top()
        assert trades and all(t.maker_side in ("buy", "sell") for t in trades)
        assert book.health().gaps == 0 and client.out_of_order == 0
        assert client.malformed == 0 and client.errors == []
    finally:
        await client.close()


async def test_a_crossing_update_is_counted_and_the_book_fetched_again(
    emulator: CoinbaseEmulator,
) -> None:
    client = CoinbaseMarketData(emulator.ws_url, [PRODUCT])
    await client.start()
    try:
        book = client.books[PRODUCT]
        ask = book.top().ask
        assert ask is not None
        crossing = {
            "type": "l2update",
            "product_id": PRODUCT,
            "changes": [["buy", str(ask + 1), "1"]],
        }
        emulator.inject(json.dumps(crossing))
        for _ in range(300):
            if book.health().resyncs:
                break
            await asyncio.sleep(0.01)
        assert book.health().gaps == 1 and book.health().resyncs == 1
        await until_equal(book, emulator.exchange, PRODUCT)  # type: ignore[arg-type]
    finally:
        await client.close()


async def test_a_repeated_sequence_is_dropped_and_counted(emulator: CoinbaseEmulator) -> None:
    trades: list[CoinbaseTrade] = []
    client = CoinbaseMarketData(emulator.ws_url, [PRODUCT], on_trade=trades.append)
    await client.start()
    try:
        match = {
            "type": "match", "product_id": PRODUCT, "sequence": 10**9, "trade_id": 1,
            "price": "1", "size": "1", "side": "buy",
        }  # fmt: skip
        emulator.inject(json.dumps(match))
        emulator.inject(json.dumps(match))
        emulator.inject('{"type":"match","product_id":"BTC-USD","sequence":"x"}')
        for _ in range(300):
            if client.out_of_order and client.malformed:
                break
            await asyncio.sleep(0.01)
        assert len(trades) == 1 and client.out_of_order == 1 and client.malformed == 1
    finally:
        await client.close()


async def test_reconnect_subscribes_again(emulator: CoinbaseEmulator) -> None:
    client = CoinbaseMarketData(emulator.ws_url, [PRODUCT])
    await client.start()
    try:
        await emulator.disconnect_feeds()
        random_orders(emulator.exchange, PRODUCT, 20, seed=22)  # type: ignore[arg-type]
        for _ in range(500):
            if client.supervisor.generation >= 2:
                break
            await asyncio.sleep(0.01)
        await until_equal(client.books[PRODUCT], emulator.exchange, PRODUCT)  # type: ignore[arg-type]
    finally:
        await client.close()


async def test_level2_snapshot_follows_the_subscriptions_answer(emulator: CoinbaseEmulator) -> None:
    ws = await connect(emulator.ws_url, deflate=False)
    try:
        ws.send(json.dumps({"type": "subscribe", "product_ids": [PRODUCT], "channels": ["level2"]}))
        first = json.loads(await ws.recv())
        second = json.loads(await ws.recv())
        assert first["type"] == "subscriptions"
        assert second["type"] == "snapshot" and second["product_id"] == PRODUCT
        bids, asks = emulator.exchange.engine.depth(PRODUCT)
        assert [[float(p), float(q)] for p, q in second["bids"]] == [
            [float(p), float(q)] for p, q in bids
        ]
        assert [[float(p), float(q)] for p, q in second["asks"]] == [
            [float(p), float(q)] for p, q in asks
        ]
    finally:
        await ws.close()

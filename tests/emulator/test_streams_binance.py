"""Binance Spot streams from the emulator (``web-socket-streams.md``) against our client:
"How to manage a local order book correctly" keeps the client's book equal to the
exchange's through random orders, a forced gap and a reconnect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from tests.emulator.support import binance_with_streams, random_orders, until_equal

from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.binance.streams import BinanceStreams
from whalewire.net.client import connect
from whalewire.venues.binance.market import BinanceMarketData, MarketTrade

SYMBOL = "BTCUSDT"


@pytest.fixture
async def venue() -> AsyncIterator[tuple[BinanceEmulator, BinanceStreams]]:
    async with binance_with_streams() as started:
        yield started


async def test_client_book_equals_the_exchange_after_random_orders(
    venue: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    emulator, streams = venue
    trades: list[MarketTrade] = []
    client = BinanceMarketData(
        streams.url,
        emulator.url,
        [SYMBOL],
        kinds=("depth", "trade", "bookTicker"),
        on_trade=trades.append,
    )
    await client.start()
    try:
        book = client.books[SYMBOL]
        await until_equal(book, emulator.exchange, SYMBOL)  # type: ignore[arg-type]
        random_orders(emulator.exchange, SYMBOL, 200, seed=1)  # type: ignore[arg-type]
        await until_equal(book, emulator.exchange, SYMBOL)  # type: ignore[arg-type]
        assert book.health().gaps == 0 and book.health().resyncs == 0
        assert not book.crossed()
        assert trades and all(t.symbol == SYMBOL for t in trades)
        assert client.tickers[SYMBOL] == book.top()
        assert client.malformed == 0
    finally:
        await client.close()


async def test_a_dropped_diff_is_a_gap_and_the_book_resyncs(
    venue: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    emulator, streams = venue
    client = BinanceMarketData(streams.url, emulator.url, [SYMBOL], kinds=("depth@100ms",))
    await client.start()
    try:
        book = client.books[SYMBOL]
        streams.drop_next_diff.add(SYMBOL)
        random_orders(emulator.exchange, SYMBOL, 30, seed=2)  # type: ignore[arg-type]
        await until_equal(book, emulator.exchange, SYMBOL)  # type: ignore[arg-type]
        assert book.health().gaps == 1
        assert book.health().resyncs == 1
    finally:
        await client.close()


async def test_reconnect_reopens_the_streams_and_resyncs(
    venue: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    emulator, streams = venue
    client = BinanceMarketData(
        streams.url, emulator.url, [SYMBOL], kinds=("depth",), combined=False
    )
    await client.start()
    try:
        book = client.books[SYMBOL]
        await until_equal(book, emulator.exchange, SYMBOL)  # type: ignore[arg-type]
        await streams.disconnect_all()
        random_orders(emulator.exchange, SYMBOL, 20, seed=3)  # type: ignore[arg-type]
        for _ in range(500):
            if client.supervisor.generation >= 2:
                break
            await asyncio.sleep(0.01)
        await until_equal(book, emulator.exchange, SYMBOL)  # type: ignore[arg-type]
        assert client.supervisor.generation >= 2
    finally:
        await client.close()


async def test_a_malformed_event_is_counted_not_fatal(
    venue: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    emulator, streams = venue
    client = BinanceMarketData(streams.url, emulator.url, [SYMBOL], kinds=("depth",))
    await client.start()
    try:
        ws = client.supervisor.ws
        assert ws is not None
        client._on_message(ws, '{"stream":"btcusdt@depth","data":{"e":"depthUpdate","U":"x"}}')
        client._on_message(ws, "not json")
        assert client.malformed == 2
        random_orders(emulator.exchange, SYMBOL, 10, seed=4)  # type: ignore[arg-type]
        await until_equal(client.books[SYMBOL], emulator.exchange, SYMBOL)  # type: ignore[arg-type]
    finally:
        await client.close()


async def test_live_subscribe_and_combined_wrapping(
    venue: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    emulator, streams = venue
    ws = await connect(f"{streams.url}/stream?streams=btcusdt@trade", deflate=False)
    try:
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth"], "id": 7}))
        assert json.loads(await ws.recv()) == {"result": None, "id": 7}
        ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}))
        assert json.loads(await ws.recv()) == {
            "result": ["btcusdt@depth", "btcusdt@trade"],
            "id": 8,
        }
        random_orders(emulator.exchange, SYMBOL, 1, seed=5)  # type: ignore[arg-type]
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first["stream"] in ("btcusdt@depth", "btcusdt@trade")
        assert first["data"]["s"] == SYMBOL
    finally:
        await ws.close()


async def test_an_unknown_stream_is_refused_at_the_upgrade(
    venue: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    _, streams = venue
    with pytest.raises(Exception, match="400"):
        await connect(f"{streams.url}/ws/nosuch@trade", deflate=False)


async def test_sbe_streams_keep_the_book_equal_to_the_exchange(
    venue: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    emulator, _ = venue
    key = emulator.exchange.registry.add_hmac_key("trader").api_key
    streams = BinanceStreams(emulator.exchange, sbe=True)
    await streams.start()
    trades: list[MarketTrade] = []
    client = BinanceMarketData(
        streams.url,
        emulator.url,
        [SYMBOL],
        kinds=("depth", "bestBidAsk", "trade"),
        api_key=key,
        on_trade=trades.append,
    )
    await client.start()
    try:
        book = client.books[SYMBOL]
        streams.drop_next_diff.add(SYMBOL)
        random_orders(emulator.exchange, SYMBOL, 100, seed=6)  # type: ignore[arg-type]
        await until_equal(book, emulator.exchange, SYMBOL)  # type: ignore[arg-type]
        assert book.health().gaps == 1 and book.health().resyncs == 1
        assert trades and client.malformed == 0
        for _ in range(300):
            if client.tickers.get(SYMBOL) == book.top():
                break
            await asyncio.sleep(0.01)
        assert client.tickers[SYMBOL] == book.top()
    finally:
        await client.close()
        await streams.close()


async def test_sbe_streams_refuse_an_upgrade_without_a_known_api_key(
    venue: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    emulator, _ = venue
    streams = BinanceStreams(emulator.exchange, sbe=True)
    await streams.start()
    try:
        with pytest.raises(Exception, match="401"):
            await connect(f"{streams.url}/ws/btcusdt@depth", deflate=False)
    finally:
        await streams.close()

"""Kraken Spot WebSocket v2 ``book`` / ``trade`` / ``ticker`` from the emulator against our
client: the checksum ("Book checksum (WebSocket v2)") holds on every message through random
orders, the book stays equal to the exchange's top levels, and a corrupted checksum resyncs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from tests.emulator.support import fund, random_orders, until_equal

from whalewire.emulator.kraken.server import KrakenEmulator
from whalewire.venues.kraken.market import KrakenMarketData, KrakenTrade

SYMBOL = "BTC/USD"


@pytest.fixture
async def emulator() -> AsyncIterator[KrakenEmulator]:
    emu = KrakenEmulator()
    await emu.start()
    fund(emu.exchange, "BTC", "USD")  # type: ignore[arg-type]
    yield emu
    await emu.close()


@pytest.mark.parametrize("depth", [10, 25])
async def test_book_checksums_hold_and_the_book_equals_the_exchange(
    emulator: KrakenEmulator, depth: int
) -> None:
    trades: list[KrakenTrade] = []
    client = KrakenMarketData(emulator.url, [SYMBOL], depth=depth, on_trade=trades.append)
    await client.start()
    try:
        book = client.books[SYMBOL]
        await until_equal(book, emulator.exchange, SYMBOL, depth)  # type: ignore[arg-type]
        random_orders(emulator.exchange, SYMBOL, 200, seed=11)  # type: ignore[arg-type]
        await until_equal(book, emulator.exchange, SYMBOL, depth)  # type: ignore[arg-type]
        assert book.health().checksum_failures == 0
        assert book.health().resyncs == 0
        assert book.health().updates > 50
        assert trades and {t.side for t in trades} <= {"buy", "sell"}
        assert client.tickers[SYMBOL].bid == book.top().bid
        assert client.malformed == 0 and client.errors == []
    finally:
        await client.close()


async def test_a_checksum_mismatch_is_counted_and_the_book_resubscribed(
    emulator: KrakenEmulator,
) -> None:
    client = KrakenMarketData(emulator.url, [SYMBOL], trades=False, tickers=False)
    await client.start()
    try:
        book = client.books[SYMBOL]
        emulator.exchange.public.corrupt_next_checksum.add(SYMBOL)
        random_orders(emulator.exchange, SYMBOL, 40, seed=12)  # type: ignore[arg-type]
        await until_equal(book, emulator.exchange, SYMBOL, 10)  # type: ignore[arg-type]
        for _ in range(300):
            if book.health().resyncs:
                break
            await asyncio.sleep(0.01)
        assert book.health().checksum_failures == 1
        assert book.health().resyncs == 1
        await until_equal(book, emulator.exchange, SYMBOL, 10)  # type: ignore[arg-type]
    finally:
        await client.close()


async def test_reconnect_subscribes_again(emulator: KrakenEmulator) -> None:
    client = KrakenMarketData(emulator.url, [SYMBOL])
    await client.start()
    try:
        await emulator._close_all()
        random_orders(emulator.exchange, SYMBOL, 20, seed=13)  # type: ignore[arg-type]
        for _ in range(500):
            if client.supervisor.generation >= 2 and client.books[SYMBOL].health().synced:
                break
            await asyncio.sleep(0.01)
        await until_equal(client.books[SYMBOL], emulator.exchange, SYMBOL, 10)  # type: ignore[arg-type]
    finally:
        await client.close()


async def test_a_malformed_book_message_is_counted_not_fatal(emulator: KrakenEmulator) -> None:
    client = KrakenMarketData(emulator.url, [SYMBOL])
    await client.start()
    try:
        emulator.inject('{"channel":"book","type":"update","data":[{"symbol":"BTC/USD"}]}')
        for _ in range(300):
            if client.malformed:
                break
            await asyncio.sleep(0.01)
        assert client.malformed == 1
        random_orders(emulator.exchange, SYMBOL, 10, seed=14)  # type: ignore[arg-type]
        await until_equal(client.books[SYMBOL], emulator.exchange, SYMBOL, 10)  # type: ignore[arg-type]
    finally:
        await client.close()

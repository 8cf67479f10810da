"""Interval-paced diff streams (``emulator/market.py`` :func:`merge` / ``DiffBatcher``) and the
venues that use them: Binance "Diff. Depth Stream" ("Update Speed: 1000ms or 100ms",
``web-socket-streams.md``), SBE ``@depth`` ("Update Speed: 50ms"), Coinbase ``level2_batch``
("batches level2 messages every 0.05 seconds").

Each batch carries the interval's first and final update id (contiguous with the previous
batch's), each changed level once at its final quantity, and loses no change: a book built
from a snapshot and the batches alone (a dict here, written independently of the clients)
equals the exchange's after every batch, as do our clients' books."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from tests.emulator.support import (
    STREAM_TRADER,
    binance_with_streams,
    engine_levels,
    fund,
    random_orders,
)

from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.binance.streams import BinanceStreams
from whalewire.emulator.coinbase.server import CoinbaseEmulator
from whalewire.emulator.market import DepthDiff, DiffBatcher, merge
from whalewire.emulator.matching import OrderType, PlaceOrder, Side, TimeInForce
from whalewire.emulator.skeleton import Exchange
from whalewire.net.client import connect
from whalewire.venues.binance import sbe
from whalewire.venues.binance.market import BinanceMarketData
from whalewire.venues.binance.sbe import DepthSnapshot
from whalewire.venues.books import Book, BookSide
from whalewire.venues.coinbase.market import CoinbaseMarketData

D = Decimal
SYMBOL = "BTCUSDT"
PRODUCT = "BTC-USD"


def diff(first: int, last: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> Any:
    return DepthDiff(
        "X", first, last, [(D(p), D(q)) for p, q in bids], [(D(p), D(q)) for p, q in asks], first
    )


def rest(exchange: Exchange[object], symbol: str, side: Side, price: Decimal, qty: str) -> None:
    """Place a resting limit order of the stream trader and publish its events."""
    cmd = PlaceOrder(
        STREAM_TRADER,
        symbol,
        side,
        OrderType.LIMIT,
        quantity=D(qty),
        price=price,
        time_in_force=TimeInForce.GTC,
    )
    exchange.publish(exchange.engine.place(cmd), None)


def far_bid(exchange: Exchange[object], symbol: str) -> Decimal:
    """A bid price far below the book's levels: a new level no one else touches."""
    spec = exchange.engine.specs[symbol]
    mid = exchange.engine.reference_price(symbol)
    return (mid * D("0.5")).quantize(spec.tick_size)


class DictBook:
    """The test's own book: absolute quantities by price, 0 removes (the venues' rule)."""

    def __init__(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        self.bids = {D(p): D(q) for p, q in bids}
        self.asks = {D(p): D(q) for p, q in asks}

    def apply(self, side: dict[Decimal, Decimal], levels: list[list[str]]) -> None:
        for p, q in levels:
            if D(q) == 0:
                side.pop(D(p), None)
            else:
                side[D(p)] = D(q)

    def levels(self) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        bids = sorted(self.bids.items(), reverse=True)
        asks = sorted(self.asks.items())
        return [(float(p), float(q)) for p, q in bids], [(float(p), float(q)) for p, q in asks]


async def burst_then_batch(book: Book, ex: Exchange[object], symbol: str, seed: int) -> float:
    """Place 30 random orders at once, wait for the book's next update and check the burst
    came as exactly one; return the seconds from the burst to it."""
    before = book.health().updates
    sent = time.monotonic()
    random_orders(ex, symbol, 30, seed=seed)
    for _ in range(1500):
        if book.health().updates > before:
            break
        await asyncio.sleep(0.002)
    elapsed = time.monotonic() - sent
    assert book.health().updates == before + 1  # one diff per interval, not one per change
    return elapsed


def book_levels(book: Book) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    return book.levels(BookSide.BID), book.levels(BookSide.ASK)


# --------------------------------------------------------------------------- merge (sans-IO)


def test_merge_spans_the_first_and_final_update_ids() -> None:
    merged = merge([diff(5, 6, [("10", "1")], [("11", "2")]), diff(7, 9, [("9", "3")], [])])
    assert (merged.first_id, merged.last_id) == (5, 9)


def test_merge_sends_a_level_changed_twice_once_with_its_final_quantity() -> None:
    merged = merge([diff(1, 1, [("10", "1")], []), diff(2, 2, [("10", "4")], [])])
    assert merged.bids == [(D(10), D(4))]


def test_merge_keeps_a_level_that_came_and_went_as_zero() -> None:
    merged = merge([diff(1, 1, [], [("12", "1")]), diff(2, 2, [], [("12", "0")])])
    assert merged.asks == [(D(12), D(0))]


def test_merge_keeps_every_level_of_every_diff_sorted() -> None:
    merged = merge([diff(1, 2, [("10", "1"), ("8", "1")], []), diff(3, 3, [("9", "2")], [])])
    assert merged.bids == [(D(8), D(1)), (D(9), D(2)), (D(10), D(1))]


def test_batcher_without_a_running_loop_releases_at_once() -> None:
    released: list[list[DepthDiff]] = []
    batcher = DiffBatcher(100, released.append)
    batcher.add([diff(1, 1, [("10", "1")], [])])
    assert [[d.last_id for d in r] for r in released] == [[1]]


async def test_batcher_releases_one_merge_per_book_when_the_interval_ends() -> None:
    released: list[tuple[float, list[DepthDiff]]] = []
    batcher = DiffBatcher(100, lambda diffs: released.append((time.monotonic(), diffs)))
    start = time.monotonic()
    batcher.add([diff(1, 1, [("10", "1")], [])])
    await asyncio.sleep(0.03)
    batcher.add([diff(2, 3, [("10", "2"), ("9", "1")], [])])
    assert released == []
    for _ in range(100):
        if released:
            break
        await asyncio.sleep(0.01)
    (at, diffs), *more = released
    assert not more and at - start >= 0.099
    assert [(d.first_id, d.last_id, d.bids) for d in diffs] == [
        (1, 3, [(D(9), D(1)), (D(10), D(2))])
    ]


# --------------------------------------------------------------------------- Binance


@pytest.fixture
async def binance() -> AsyncIterator[tuple[BinanceEmulator, BinanceStreams]]:
    async with binance_with_streams() as started:
        yield started


async def binance_snapshot(api_url: str) -> dict[str, Any]:
    """The WebSocket API's ``depth`` ("Order book"), asked by hand."""
    ws = await connect(api_url, deflate=False)
    try:
        params = {"symbol": SYMBOL, "limit": 5000}
        ws.send(json.dumps({"id": "snap", "method": "depth", "params": params}))
        answer: dict[str, Any] = json.loads(await ws.recv())["result"]
        return answer
    finally:
        await ws.close()


async def next_event(ws: Any, timeout: float = 5.0) -> tuple[float, dict[str, Any]]:
    text = await asyncio.wait_for(ws.recv(), timeout)
    return time.monotonic(), json.loads(text)


@pytest.mark.parametrize(("stream", "interval_s"), [("depth@100ms", 0.1), ("depth", 1.0)])
async def test_binance_diffs_come_per_interval_contiguous_and_rebuild_the_book(
    binance: tuple[BinanceEmulator, BinanceStreams], stream: str, interval_s: float
) -> None:
    emulator, _ = binance
    ex: Exchange[object] = emulator.exchange  # type: ignore[assignment]
    ws = await connect(f"{binance[1].url}/ws/btcusdt@{stream}", deflate=False)
    try:
        snapshot = await binance_snapshot(emulator.url)
        book = DictBook(snapshot["bids"], snapshot["asks"])
        last_u = snapshot["lastUpdateId"]
        price = far_bid(ex, SYMBOL)
        for burst in range(3):
            sent = time.monotonic()
            rest(ex, SYMBOL, Side.BUY, price, "0.5")  # the same level twice in one interval
            rest(ex, SYMBOL, Side.BUY, price, "0.25")
            random_orders(ex, SYMBOL, 20, seed=40 + burst)
            at, event = await next_event(ws)
            assert at - sent >= interval_s * 0.9  # held for the interval, not sent per change
            assert event["U"] == last_u + 1  # contiguous with the snapshot / previous batch
            for side in ("b", "a"):
                prices = [p for p, _ in event[side]]
                assert len(prices) == len(set(prices))  # each level once
            assert [D(q) for p, q in event["b"] if D(p) == price] == [D("0.75") * (burst + 1)]
            book.apply(book.bids, event["b"])
            book.apply(book.asks, event["a"])
            assert book.levels() == engine_levels(ex, SYMBOL)  # nothing lost
            last_u = event["u"]
            assert last_u - event["U"] + 1 >= len(event["b"]) + len(event["a"])
    finally:
        await ws.close()


async def test_binance_client_book_equals_the_exchange_after_every_batch(
    binance: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    emulator, streams = binance
    ex: Exchange[object] = emulator.exchange  # type: ignore[assignment]
    client = BinanceMarketData(streams.url, emulator.url, [SYMBOL], kinds=("depth@100ms",))
    await client.start()
    try:
        book = client.books[SYMBOL]
        for burst in range(5):
            assert await burst_then_batch(book, ex, SYMBOL, seed=50 + burst) >= 0.09
            assert book_levels(book) == engine_levels(ex, SYMBOL)
        assert book.health().gaps == 0 and client.malformed == 0
    finally:
        await client.close()


@pytest.mark.parametrize(("kind", "depth"), [("depth", 0)])
async def test_binance_sbe_book_streams_are_paced_at_50ms_and_keep_the_book(
    binance: tuple[BinanceEmulator, BinanceStreams], kind: str, depth: int
) -> None:
    # sbe-market-data-streams.md: "Diff. Depth Streams" <symbol>@depth, "50ms"
    emulator, _ = binance
    ex: Exchange[object] = emulator.exchange  # type: ignore[assignment]
    key = emulator.exchange.registry.add_hmac_key("trader").api_key
    streams = BinanceStreams(emulator.exchange, sbe=True)
    await streams.start()
    client = BinanceMarketData(
        streams.url, emulator.url, [SYMBOL], kinds=(kind, "trade"), api_key=key
    )
    await client.start()
    try:
        book = client.books[SYMBOL]
        for burst in range(3):
            assert await burst_then_batch(book, ex, SYMBOL, seed=60 + burst) >= 0.045
            assert book.health().synced and book.health().gaps == 0
            assert book_levels(book) == engine_levels(ex, SYMBOL, depth)
        assert client.malformed == 0
    finally:
        await client.close()
        await streams.close()


def test_binance_client_refuses_depth20_beside_a_diff_stream() -> None:
    with pytest.raises(ValueError, match="depth20"):
        BinanceMarketData("ws://x", "ws://y", [SYMBOL], kinds=("depth20", "depth"))


# --------------------------------------------------------------------------- Coinbase


@pytest.fixture
async def coinbase() -> AsyncIterator[CoinbaseEmulator]:
    emu = CoinbaseEmulator()
    await emu.start()
    fund(emu.exchange, "BTC", "USD")  # type: ignore[arg-type]
    yield emu
    await emu.close()


async def test_coinbase_level2_batch_sends_one_update_per_50ms_with_final_sizes(
    coinbase: CoinbaseEmulator,
) -> None:
    ex: Exchange[object] = coinbase.exchange  # type: ignore[assignment]
    ws = await connect(coinbase.ws_url, deflate=False)
    try:
        sub = {"type": "subscribe", "product_ids": [PRODUCT], "channels": ["level2_batch"]}
        ws.send(json.dumps(sub))
        book: DictBook | None = None
        while book is None:
            _, message = await next_event(ws)
            if message["type"] == "snapshot":
                book = DictBook(message["bids"], message["asks"])
        price = far_bid(ex, PRODUCT)
        for burst in range(3):
            sent = time.monotonic()
            rest(ex, PRODUCT, Side.BUY, price, "0.5")
            rest(ex, PRODUCT, Side.BUY, price, "0.25")
            random_orders(ex, PRODUCT, 20, seed=70 + burst)
            at, update = await next_event(ws)
            assert update["type"] == "l2update" and at - sent >= 0.045
            changes = [(side, D(p)) for side, p, _ in update["changes"]]
            assert len(changes) == len(set(changes))
            assert [D(q) for s, p, q in update["changes"] if s == "buy" and D(p) == price] == [
                D("0.75") * (burst + 1)
            ]
            book.apply(book.bids, [[p, q] for s, p, q in update["changes"] if s == "buy"])
            book.apply(book.asks, [[p, q] for s, p, q in update["changes"] if s == "sell"])
            assert book.levels() == engine_levels(ex, PRODUCT)
    finally:
        await ws.close()


async def test_coinbase_client_on_level2_batch_equals_the_exchange_after_every_batch(
    coinbase: CoinbaseEmulator,
) -> None:
    ex: Exchange[object] = coinbase.exchange  # type: ignore[assignment]
    client = CoinbaseMarketData(coinbase.ws_url, [PRODUCT], batch=True)
    await client.start()
    try:
        book = client.books[PRODUCT]
        for burst in range(5):
            assert await burst_then_batch(book, ex, PRODUCT, seed=80 + burst) >= 0.045
            assert book_levels(book) == engine_levels(ex, PRODUCT)
    finally:
        await client.close()


async def test_official_sdk_diff_depth_stream_rebuilds_the_book_per_batch(
    binance: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    # binance-sdk-spot's WebSocket Streams client, unmodified: it opens <url>/stream and
    # SUBSCRIBEs ("Live Subscribing/Unsubscribing to streams")
    spot = pytest.importorskip("binance_sdk_spot.spot")
    configuration = pytest.importorskip("binance_common.configuration")
    emulator, streams = binance
    ex: Exchange[object] = emulator.exchange  # type: ignore[assignment]
    config = configuration.ConfigurationWebSocketStreams(stream_url=streams.url)
    conn = await spot.Spot(config_ws_streams=config).websocket_streams.create_connection()
    try:
        events: asyncio.Queue[Any] = asyncio.Queue()
        stream = await conn.diff_book_depth(symbol="btcusdt", update_speed="100ms")
        stream.on("message", events.put_nowait)
        for _ in range(500):  # the SUBSCRIBE has landed before the first change
            if any("btcusdt@depth@100ms" in c.streams for c in streams._connections):
                break
            await asyncio.sleep(0.01)
        snapshot = await binance_snapshot(emulator.url)
        book = DictBook(snapshot["bids"], snapshot["asks"])
        last_u = snapshot["lastUpdateId"]
        for burst in range(3):
            random_orders(ex, SYMBOL, 25, seed=90 + burst)
            event = await asyncio.wait_for(events.get(), 5)
            assert (event.U, event.s) == (last_u + 1, SYMBOL)
            book.apply(book.bids, event.b)
            book.apply(book.asks, event.a)
            assert book.levels() == engine_levels(ex, SYMBOL)
            last_u = event.u
        assert events.empty()
    finally:
        await conn.close_connection()


async def test_ccxt_watch_order_book_on_level2_batch_equals_the_exchange_per_batch(
    coinbase: CoinbaseEmulator,
) -> None:
    # ccxt.pro's coinbaseexchange, unmodified: its documented ``params`` extend the subscribe
    # message, so ``channels`` picks level2_batch (it signs every subscribe: a key is needed)
    ccxtpro = pytest.importorskip("ccxt.pro")
    ex: Exchange[object] = coinbase.exchange  # type: ignore[assignment]
    creds = coinbase.open_default_account("ccxt")
    client = ccxtpro.coinbaseexchange(
        {"apiKey": creds.api_key, "secret": creds.secret, "password": creds.passphrase}
    )
    rest = coinbase.rest_url
    client.urls["api"] = {"public": rest, "private": rest, "ws": coinbase.ws_url}
    try:
        params = {"channels": ["level2_batch"]}
        book = await asyncio.wait_for(client.watch_order_book("BTC/USD", None, params), 10)
        assert (book["bids"][:1], book["asks"][:1]) == tuple(
            [list(lv) for lv in side[:1]] for side in engine_levels(ex, PRODUCT)
        )
        for burst in range(3):
            random_orders(ex, PRODUCT, 25, seed=110 + burst)
            book = await asyncio.wait_for(client.watch_order_book("BTC/USD", None, params), 5)
            bids, asks = engine_levels(ex, PRODUCT)
            assert [tuple(lv) for lv in book["bids"]] == bids
            assert [tuple(lv) for lv in book["asks"]] == asks
    finally:
        await client.close()


async def test_binance_sbe_depth20_comes_every_50ms_changed_or_not_and_keeps_the_book(
    binance: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    # sbe-market-data-streams.md: "Partial Book Depth Streams" <symbol>@depth20, "50ms":
    # a snapshot of the top 20 a side each interval, whether or not the book changed
    emulator, _ = binance
    ex: Exchange[object] = emulator.exchange  # type: ignore[assignment]
    key = emulator.exchange.registry.add_hmac_key("trader").api_key
    streams = BinanceStreams(emulator.exchange, sbe=True)
    await streams.start()
    ws = await connect(
        f"{streams.url}/ws/{SYMBOL.lower()}@depth20",
        deflate=False,
        extra_headers=[("X-MBX-APIKEY", key)],
    )
    try:
        quiet: list[tuple[float, DepthSnapshot]] = []
        while len(quiet) < 6:
            frame = await asyncio.wait_for(ws.recv(), 2)
            assert isinstance(frame, bytes)
            event = sbe.decode(frame)
            assert isinstance(event, DepthSnapshot)
            quiet.append((time.monotonic(), event))
        # nothing traded: the same update id each time, one snapshot per ~50 ms
        assert {e.u for _, e in quiet} == {quiet[0][1].u}
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(quiet)]
        assert 0.03 < sorted(gaps)[len(gaps) // 2] < 0.2  # paced, not per change: median
        random_orders(ex, SYMBOL, 30, seed=61)
        last_id = emulator.exchange.tape.snapshot(SYMBOL)[0]
        while True:
            frame = await asyncio.wait_for(ws.recv(), 2)
            assert isinstance(frame, bytes)
            event = sbe.decode(frame)
            assert isinstance(event, DepthSnapshot)
            if event.u == last_id:
                break
        bids, asks = engine_levels(ex, SYMBOL, 20)
        assert [(p, q) for p, q in event.bids] == bids
        assert [(p, q) for p, q in event.asks] == asks
    finally:
        await ws.close()
        await streams.close()

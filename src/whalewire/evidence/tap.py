"""Wire a recorder to a running engine: its feeds, its whale events and its books.

Every hook records *after* the engine has had the event: a feed's transaction is handed to
the recorder once the monitor's callback (the engine's hot path) has returned, a whale
comes from the event log that is drained after the send, and books are sampled on a timer
of their own. Each hook is one append to the recorder (a deque append for ``Recorder``, an
encode into a buffer for ``writer.ProcessRecorder``); docs/benchmarks.md, "Evidence:
recording off the hot path", measures what recording costs the engine.
Knows the runner's ``Running`` and the recorder; decides nothing for the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from datetime import datetime
from typing import Any, Protocol

from whalewire.engine.runner import Running
from whalewire.mempool.feeds.events import FeedEvent, RawTxEvent
from whalewire.venues.binance.market import MarketTrade
from whalewire.venues.books import Book, BookSide, Top
from whalewire.venues.coinbase.market import CoinbaseTrade
from whalewire.venues.kraken.market import KrakenTrade

__all__ = ["BookSample", "BookSource", "RecordedFeed", "Tap", "attach"]

SATS_PER_BTC = 100_000_000

#: one book at one moment: venue, symbol, bids and asks as (price, qty), best first
BookSample = tuple[str, str, list[tuple[float, float]], list[tuple[float, float]]]
#: returns every book worth recording now (polled by the tap's timer)
BookSource = Callable[[], Iterable[BookSample]]


class Sink(Protocol):
    """The hot-side methods of a recorder (``Recorder``, ``writer.ProcessRecorder``)."""

    def tx(self, event: Any) -> None: ...
    def alert(  # noqa: PLR0917 - a row's columns
        self, ts_ns: int, txid: str, entity: str, kind: str, value_sats: int, decision: str = ""
    ) -> None: ...
    def top(  # noqa: PLR0917 - a row's columns
        self,
        ts_ns: int,
        venue: str,
        symbol: str,
        bid: float | None,
        bid_qty: float,
        ask: float | None,
        ask_qty: float,
    ) -> None: ...
    def levels(
        self,
        ts_ns: int,
        venue: str,
        symbol: str,
        bids: Sequence[tuple[float, float]],
        asks: Sequence[tuple[float, float]],
    ) -> None: ...
    def trade(  # noqa: PLR0917 - a row's columns
        self, ts_ns: int, venue: str, symbol: str, price: float, qty: float, taker: str = ""
    ) -> None: ...


class RecordedFeed:
    """A feed whose transactions are recorded after its consumer has taken each one."""

    def __init__(self, feed: AsyncIterable[FeedEvent], recorder: Sink) -> None:
        self.feed = feed
        self.recorder = recorder
        self.name = getattr(feed, "name", "?")
        run = getattr(feed, "run", None)
        if run is not None:  # a callback feed (ZMQ) keeps its no-hop path
            self.run = self._run

    async def _run(self, deliver: Callable[[FeedEvent], None]) -> None:
        record = self.recorder.tx

        def then_record(event: FeedEvent) -> None:
            deliver(event)
            if type(event) is RawTxEvent:
                record(event)

        run: Callable[[Callable[[FeedEvent], None]], Awaitable[None]] = self.feed.run  # type: ignore[attr-defined]
        await run(then_record)

    async def __aiter__(self) -> AsyncIterator[FeedEvent]:
        record = self.recorder.tx
        async for event in self.feed:
            yield event  # resumed once the consumer's callback has returned
            if type(event) is RawTxEvent:
                record(event)


class Tap:
    """What ``attach`` started: the book sampler, stopped by ``close``."""

    def __init__(self, recorder: Sink, task: asyncio.Task[None] | None) -> None:
        self.recorder = recorder
        self._task = task

    async def close(self) -> None:
        """Stop sampling books (the recorder is the caller's to close)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def live_books(books: Mapping[tuple[str, str], Book], depth: int) -> BookSource:
    """Sample the engine's live books (``Running.market.books``), synced ones only."""

    def sample() -> Iterable[BookSample]:
        for (venue, symbol), book in books.items():
            if book.health().synced:
                bids = book.levels(BookSide.BID, depth)
                asks = book.levels(BookSide.ASK, depth)
                yield venue, symbol, bids, asks

    return sample


async def sample_books(
    recorder: Sink,
    sources: list[BookSource],
    *,
    interval_s: float,
    wall_ns: Callable[[], int] = time.time_ns,
) -> None:
    """Every ``interval_s``, record each book's levels, and its top when it changed."""
    last: dict[tuple[str, str], tuple[Any, ...]] = {}
    while True:
        now = wall_ns()
        for source in sources:
            for venue, symbol, bids, asks in source():
                bid, bid_qty = bids[0] if bids else (None, 0.0)
                ask, ask_qty = asks[0] if asks else (None, 0.0)
                top = (bid, bid_qty, ask, ask_qty)
                if last.get((venue, symbol)) != top:
                    last[(venue, symbol)] = top
                    recorder.top(now, venue, symbol, bid, bid_qty, ask, ask_qty)
                recorder.levels(now, venue, symbol, bids, asks)
        await asyncio.sleep(interval_s)


def _chain_top(recorder: Sink, venue: str, before: Any) -> Callable[[str, Top], None]:
    wall = time.time_ns

    def on_top(symbol: str, top: Top) -> None:
        if before is not None:
            before(symbol, top)
        recorder.top(wall(), venue, symbol, top.bid, top.bid_qty, top.ask, top.ask_qty)

    return on_top


def trade_row(trade: MarketTrade | KrakenTrade | CoinbaseTrade) -> tuple[str, float, float, str]:
    """Return a venue's public trade as (symbol, price, qty, taker side)."""
    if isinstance(trade, MarketTrade):  # Binance says whether the buyer made the market
        return trade.symbol, trade.price, trade.qty, "sell" if trade.buyer_is_maker else "buy"
    if isinstance(trade, KrakenTrade):  # Kraken gives the taker's side
        return trade.symbol, trade.price, trade.qty, trade.side
    # Coinbase's side is the maker's: the taker took the other
    taker = {"buy": "sell", "sell": "buy"}.get(trade.maker_side, "")
    return trade.product_id, trade.price, trade.size, taker


def _chain_trade(recorder: Sink, venue: str, before: Any) -> Callable[[Any], None]:
    wall = time.time_ns

    def on_trade(trade: Any) -> None:
        if before is not None:
            before(trade)
        symbol, price, qty, taker = trade_row(trade)
        recorder.trade(wall(), venue, symbol, price, qty, taker)

    return on_trade


def attach(
    running: Running,
    recorder: Sink,
    *,
    books: Iterable[BookSource] = (),
    levels_interval_s: float = 1.0,
    depth: int = 20,
) -> Tap:
    """Record ``running``'s feeds, whales and market data into ``recorder``.

    Call after ``build`` and before ``run``: the feeds are wrapped before they start.

    Args:
        running: what ``engine.runner.build`` started.
        recorder: a started recorder.
        books: more books to sample (the embedded exchanges' in the demo).
        levels_interval_s: how often every book's levels are sampled.
        depth: levels per side in each sample.
    """
    monitor = running.monitor
    monitor.feeds = [RecordedFeed(f, recorder) for f in monitor.feeds]

    def on_event(event: Mapping[str, Any]) -> None:
        if event.get("event") != "whale":
            return
        ts = event["ts"]
        recorder.alert(
            _iso_ns(ts),
            str(event["txid"]),
            str(event["entity"]),
            str(event["kind"]),
            round(float(event["value_btc"]) * SATS_PER_BTC),
            str(event.get("decision", "")),
        )

    running.engine.events.subscribers.append(on_event)
    for client in running.market.clients:
        venue = client.name.removesuffix("-market")
        c: Any = client
        c.on_top = _chain_top(recorder, venue, getattr(c, "on_top", None))
        c.on_trade = _chain_trade(recorder, venue, getattr(c, "on_trade", None))
    sources = [*books]
    if running.market.books:
        sources.append(live_books(running.market.books, depth))
    task = None
    if sources:
        task = asyncio.get_running_loop().create_task(
            sample_books(recorder, sources, interval_s=levels_interval_s)
        )
    return Tap(recorder, task)


def _iso_ns(ts: str) -> int:
    """Wall-clock ns of the event log's ISO stamp (microseconds: what it keeps)."""
    stamp = datetime.fromisoformat(ts)
    return int(stamp.timestamp()) * 1_000_000_000 + stamp.microsecond * 1_000

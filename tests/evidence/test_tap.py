"""evidence/tap.py: what a running engine hands the recorder, and when.

Real feeds (the replay feed), a real engine built as ``whalewire run`` builds it (embedded
emulator on loopback), real market-data client objects whose callbacks the tap chains.
The rule checked throughout: the engine has each event before the recorder does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from whalewire.commands.embedded import build
from whalewire.engine.config import parse_config
from whalewire.evidence.recorder import Recorder
from whalewire.evidence.recording import load
from whalewire.evidence.tap import RecordedFeed, attach, trade_row
from whalewire.mempool.feeds.events import FeedEvent, RawTxEvent
from whalewire.mempool.feeds.monitor import Monitor
from whalewire.mempool.feeds.replay import DEFAULT_REPLAY, ReplayFeed, load_replay
from whalewire.venues.binance.market import BinanceMarketData, MarketTrade
from whalewire.venues.books import Top
from whalewire.venues.coinbase.market import CoinbaseTrade
from whalewire.venues.kraken.market import KrakenTrade


def _records(n: int = 20) -> list[object]:
    return list(load_replay(Path(str(DEFAULT_REPLAY)))[:n])


class CallbackFeed:
    """A feed that delivers through ``run(callback)``, as the ZMQ feed does."""

    name = "cb"

    def __init__(self, events: list[RawTxEvent]) -> None:
        self.events = events

    async def run(self, deliver: Callable[[FeedEvent], None]) -> None:
        for event in self.events:
            deliver(event)

    def __aiter__(self) -> object:
        raise AssertionError("a callback feed is driven through run")


def _engine_first(recorder: Recorder) -> tuple[list[str], Callable[[FeedEvent], None]]:
    seen: list[str] = []

    def engine(event: FeedEvent) -> None:
        # the recorder has not been handed this event yet
        assert recorder.stats.rows["txs"] + len(recorder._queue) == len(seen)
        seen.append(event.txid)  # type: ignore[union-attr]

    return seen, engine


def test_iterated_feed_reaches_the_engine_before_the_recorder(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)  # not started: rows wait in the queue
    feed = ReplayFeed(_records(), speed=None)  # type: ignore[arg-type]
    seen, engine = _engine_first(recorder)
    asyncio.run(Monitor([RecordedFeed(feed, recorder)]).run(engine))
    recorder.close()
    assert load(tmp_path)["txs"]["txid"].to_pylist() == seen
    assert len(seen) == 20


def test_callback_feed_keeps_its_callback_path_and_engine_goes_first(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    events = [
        RawTxEvent(r.raw, r.txid, "cb", 1, i, 1_000 + i)  # type: ignore[attr-defined,arg-type]
        for i, r in enumerate(_records(5))
    ]
    wrapped = RecordedFeed(CallbackFeed(events), recorder)  # type: ignore[arg-type]
    assert hasattr(wrapped, "run")
    seen, engine = _engine_first(recorder)
    asyncio.run(Monitor([wrapped]).run(engine))
    recorder.close()
    assert load(tmp_path)["txs"]["ts_ns"].to_pylist() == [1_000 + i for i in range(5)]
    assert seen == [e.txid for e in events]


@pytest.mark.parametrize(
    ("trade", "row"),
    [
        # Binance: the buyer made the market, so the taker sold
        (MarketTrade("BTCUSDT", 1, 100.0, 0.5, True, 0, False), ("BTCUSDT", 100.0, 0.5, "sell")),
        (KrakenTrade("BTC/USD", 1, "buy", 100.0, 0.5, ""), ("BTC/USD", 100.0, 0.5, "buy")),
        # Coinbase names the maker's side: the taker took the other
        (CoinbaseTrade("BTC-USD", 1, "buy", 100.0, 0.5, ""), ("BTC-USD", 100.0, 0.5, "sell")),
    ],
)
def test_trade_row_gives_the_takers_side(trade: object, row: tuple[object, ...]) -> None:
    assert trade_row(trade) == row  # type: ignore[arg-type]


CONFIG = """
[engine]
mode = "paper"
journal = "{journal}"
[control]
port = 0
kill_file = ""
[[feeds]]
type = "replay"
speed = 0
"""


def test_attach_chains_market_callbacks_and_records_whales(tmp_path: Path) -> None:
    async def scenario() -> None:
        config = parse_config(CONFIG.format(journal=tmp_path / "j.db"))
        running = await build(config)
        marked: list[tuple[str, Top]] = []
        client = BinanceMarketData(
            "ws://127.0.0.1:9",
            "ws://127.0.0.1:9",
            ["BTCUSDT"],
            on_top=lambda s, t: marked.append((s, t)),
        )
        running.market.clients.append(client)
        recorder = Recorder(tmp_path / "rec")
        recorder.start()
        tap = attach(running, recorder)
        try:
            assert client.on_top is not None and client.on_trade is not None
            client.on_top("BTCUSDT", Top(99.0, 1.0, 101.0, 2.0))
            client.on_trade(MarketTrade("BTCUSDT", 7, 100.0, 0.25, False, 0, False))
            await running.monitor.run(running.engine.on_feed_event)
            running.engine.events.drain()  # what the runner's timer does
        finally:
            await tap.close()
            recorder.close()
            await running.close()
        # the engine's own callback still ran, first
        assert marked == [("BTCUSDT", Top(99.0, 1.0, 101.0, 2.0))]
        tables = load(tmp_path / "rec")
        # the embedded exchanges' own streams are recorded too (their books sit near 60,000)
        tops = [(r["venue"], r["bid"], r["ask"]) for r in tables["tops"].to_pylist()]
        assert [t for t in tops if t[1] < 1000] == [("binance", 99.0, 101.0)]
        trades = [(r["price"], r["taker"]) for r in tables["trades"].to_pylist()]
        assert [t for t in trades if t[0] < 1000] == [(100.0, "buy")]
        alerts = tables["alerts"].to_pylist()
        assert alerts and {a["txid"] for a in alerts} <= set(tables["txs"]["txid"].to_pylist())
        assert running.engine.pipeline.whales_seen == len(alerts)

    asyncio.run(scenario())

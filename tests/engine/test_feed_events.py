"""``Engine.on_feed_event``: what the engine does with each shape of event a feed delivers.

A ``RawTxEvent`` is read field by field (the hot path); any other object is read through
``getattr`` with defaults, so events of other shapes still count and, when they carry raw
bytes, are detected on. A whale reported MINED is old news: detected, never traded. The
detector is the real one over the demo address book, the whales real transactions of the
replayed block; the venue records what it is asked to send, the journal is a SQLite file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from tests.engine.factories import RecordingVenue, make_engine

from whalewire.engine.app import Engine
from whalewire.engine.journal import Journal
from whalewire.mempool.feeds.events import BlockSeen, EventKind, tx_event
from whalewire.mempool.feeds.replay import DEFAULT_REPLAY, load_replay
from whalewire.mempool.tx import parse_tx
from whalewire.mempool.watchlist import AddressBook
from whalewire.mempool.whales import WhaleDetector


@pytest.fixture(scope="module")
def whale() -> bytes:
    # 0.44 BTC to the demo book's OKX (docs/address-book.md), over the 0.25 BTC threshold
    records = load_replay(DEFAULT_REPLAY)
    return next(r.raw for r in records if parse_tx(r.raw).txid.startswith("014cf678"))


@pytest.fixture
async def wired(tmp_path: Path) -> AsyncIterator[tuple[Engine, RecordingVenue]]:
    # in a running loop: a sent order arms its ack deadline as a task
    detector = WhaleDetector(AddressBook.demo(), threshold_sats=25_000_000)
    engine, venue = make_engine(tmp_path, "feed", detector=detector)
    yield engine, venue
    await engine.close()
    engine.journal.close()


async def test_whale_entering_the_mempool_is_traded_and_its_feed_counted(
    wired: tuple[Engine, RecordingVenue], whale: bytes
) -> None:
    engine, venue = wired
    engine.on_feed_event(tx_event(whale, "zmq"))
    assert [c.reason.split()[0] for c in venue.placed] == ["deposit"]
    assert parse_tx(whale).txid in venue.placed[0].reason
    assert engine.pipeline.feed_counts == {"zmq": 1}


async def test_whale_reported_mined_is_ignored_as_old_news(
    wired: tuple[Engine, RecordingVenue], whale: bytes
) -> None:
    engine, venue = wired
    engine.on_feed_event(tx_event(whale, "zmq", EventKind.MINED))
    assert venue.placed == []
    assert engine.pipeline.ignored == {"MINED": 1}


async def test_events_without_bytes_are_counted_and_decide_nothing(
    wired: tuple[Engine, RecordingVenue],
) -> None:
    engine, venue = wired
    engine.on_feed_event(BlockSeen("00" * 32, "p2p", 1, 2))
    engine.on_feed_event(tx_event(b"", "zmq", EventKind.REMOVED, txid="11" * 32))
    assert (venue.placed, engine.pipeline.whales_seen) == ([], 0)
    assert engine.pipeline.feed_counts == {"p2p": 1, "zmq": 1}


@pytest.mark.parametrize(("kind", "traded"), [(None, True), (EventKind.MINED, False)])
async def test_event_of_another_shape_with_bytes_is_detected_on(
    wired: tuple[Engine, RecordingVenue], whale: bytes, kind: object, traded: bool
) -> None:
    engine, venue = wired
    event = SimpleNamespace(raw=whale, feed="custom", kind=kind, recv_ns=5, recv_wall_ns=6)
    engine.on_feed_event(event)
    assert len(venue.placed) == int(traded)
    assert engine.pipeline.whales_seen == 1
    assert engine.pipeline.feed_counts == {"custom": 1}


async def test_whale_announced_again_after_a_restart_is_not_traded_again(
    tmp_path: Path, whale: bytes
) -> None:
    detector = WhaleDetector(AddressBook.demo(), threshold_sats=25_000_000)
    first, venue = make_engine(tmp_path, "restart", detector=detector)
    first.on_feed_event(tx_event(whale, "zmq"))
    assert len(venue.placed) == 1
    await first.close()
    first.journal.close()

    again, venue = make_engine(tmp_path, "restart", detector=detector)
    await again.start()
    try:
        again.on_feed_event(tx_event(whale, "p2p"))  # another feed, after the restart
        assert venue.placed == []
        assert again.pipeline.ignored == {"DUPLICATE": 1}
    finally:
        await again.close()
        again.journal.close()


def test_decisions_without_an_order_are_kept_by_the_journal(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        journal.decide("aa" * 32, "COOLDOWN")
        journal.decide("bb" * 32, "MINED")
        journal.decide("aa" * 32, "WINDOW_FULL")  # decided once: the first stands
    with Journal(tmp_path / "j.db") as journal:
        assert journal.decided() == ["aa" * 32, "bb" * 32]

"""Cross-feed deduplication (``Dedup``) and the fan-in ``Monitor`` over real replay feeds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from whalewire.mempool.feeds.events import BlockSeen, EventKind, FeedEvent, FeedGap, RawTxEvent
from whalewire.mempool.feeds.monitor import Dedup, Monitor
from whalewire.mempool.feeds.replay import DEFAULT_REPLAY, ReplayFeed, load_replay


def ev(txid: str, feed: str = "a", kind: EventKind = EventKind.MEMPOOL) -> RawTxEvent:
    return RawTxEvent(b"", txid, feed, kind, 0, 0)


def test_same_tx_from_two_feeds_passes_once_and_counts_the_late_feed() -> None:
    d = Dedup()
    assert d.admit(ev("t1", "zmq"))
    assert not d.admit(ev("t1", "p2p"))
    assert d.first == {"zmq": 1}
    assert d.duplicates == {"p2p": 1}


def test_mined_after_mempool_passes_once_and_never_re_alerts() -> None:
    d = Dedup()
    assert d.admit(ev("t1", "zmq"))
    assert d.admit(ev("t1", "zmq", EventKind.MINED))
    assert not d.admit(ev("t1", "p2p", EventKind.MINED))
    assert not d.admit(ev("t1", "p2p", EventKind.MEMPOOL))


def test_mempool_after_mined_is_a_late_duplicate() -> None:
    d = Dedup()
    assert d.admit(ev("t1", "zmq", EventKind.MINED))
    assert not d.admit(ev("t1", "space", EventKind.MEMPOOL))
    assert d.admit(ev("t1", "space", EventKind.REMOVED))


def test_memory_is_bounded_and_the_oldest_txid_is_forgotten_first() -> None:
    d = Dedup(capacity=2)
    for t in ("t1", "t2", "t3"):
        assert d.admit(ev(t))
    assert len(d) == 2
    assert not d.admit(ev("t3"))
    assert d.admit(ev("t1"))  # forgotten, so news again


def test_blocks_deduplicate_by_hash_and_direction_and_gaps_are_counted() -> None:
    d = Dedup()
    assert d.admit(BlockSeen("h", "zmq", 0, 0))
    assert not d.admit(BlockSeen("h", "p2p", 0, 0))
    assert d.admit(BlockSeen("h", "zmq", 0, 0, connected=False))
    assert d.admit(FeedGap("zmq", "rawtx", 5, 8, 0))
    assert d.lost == {"zmq": 3}
    assert d.snapshot() == [
        {"name": "p2p", "first": 0, "duplicates": 1, "lost": 0},
        {"name": "zmq", "first": 0, "duplicates": 0, "lost": 3},
    ]


def test_gap_counts_across_the_32_bit_wrap() -> None:
    assert FeedGap("zmq", "rawtx", 0xFFFFFFFF, 1, 0).lost == 2


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Dedup(0)


def test_monitor_over_two_replays_of_one_block_yields_each_tx_once() -> None:
    records = load_replay(DEFAULT_REPLAY)
    feeds = [ReplayFeed(records, speed=None, name=n) for n in ("first", "second")]
    monitor = Monitor(feeds)
    got: list[FeedEvent] = []
    asyncio.run(monitor.run(got.append))
    txids = [e.txid for e in got if isinstance(e, RawTxEvent)]
    assert sorted(txids) == sorted(r.txid for r in records)
    assert monitor.dedup.first.total() == len(records)
    assert monitor.dedup.duplicates.total() == len(records)


def test_monitor_async_iteration_propagates_a_feed_failure() -> None:
    async def broken() -> AsyncIterator[FeedEvent]:
        yield ev("t1", "broken")
        raise ConnectionResetError("peer went away")

    async def run() -> list[FeedEvent]:
        return [e async for e in Monitor([broken()])]

    with pytest.raises(ExceptionGroup) as info:
        asyncio.run(run())
    assert info.group_contains(ConnectionResetError)

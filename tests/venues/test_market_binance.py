"""venues/binance/market.py DepthSync: each rule of "How to manage a local order book
correctly" (web-socket-streams.md) on hand-written diffs and snapshots."""

from __future__ import annotations

from whalewire.venues.binance.market import DepthSync, DepthUpdate, Snapshot
from whalewire.venues.books import Book, BookSide


def diff(first: int, last: int, bids: list[tuple[float, float]] | None = None) -> DepthUpdate:
    return DepthUpdate(E=1, s="BNBBTC", U=first, u=last, b=bids or [], a=[])


def snap(last_update_id: int) -> Snapshot:
    return Snapshot(lastUpdateId=last_update_id, bids=[(1.0, 1.0)], asks=[(9.0, 1.0)])


def synced(lid: int = 100) -> DepthSync:
    sync = DepthSync(Book("BNBBTC"))
    assert sync.on_snapshot(snap(lid))
    return sync


def test_diffs_before_the_snapshot_are_buffered_then_replayed_past_last_update_id() -> None:
    sync = DepthSync(Book("BNBBTC"))
    assert not sync.on_diff(diff(95, 99, [(2.0, 5.0)]))  # u <= lastUpdateId: dropped
    assert not sync.on_diff(diff(100, 103, [(3.0, 1.0)]))  # straddles lastUpdateId + 1
    assert not sync.on_diff(diff(104, 104, [(4.0, 1.0)]))
    assert sync.book.levels(BookSide.BID) == []
    assert sync.on_snapshot(snap(101))
    assert sync.book.levels(BookSide.BID) == [(4.0, 1.0), (3.0, 1.0), (1.0, 1.0)]
    assert sync.last_u == 104


def test_a_snapshot_older_than_the_first_buffered_diff_is_refused() -> None:
    sync = DepthSync(Book("BNBBTC"))
    sync.on_diff(diff(120, 125))
    assert not sync.on_snapshot(snap(100))  # U 120 > lastUpdateId + 1
    assert not sync.book.health().synced
    assert sync.on_snapshot(snap(121))


def test_the_first_live_diff_may_straddle_then_each_must_follow_the_last() -> None:
    sync = synced(100)
    assert not sync.on_diff(diff(99, 102))  # U <= 101 <= u
    assert not sync.on_diff(diff(103, 105))
    assert sync.last_u == 105
    assert not sync.on_diff(diff(101, 104))  # old: ignored
    assert sync.book.health().gaps == 0


def test_a_gap_resets_the_book_and_asks_for_a_snapshot() -> None:
    sync = synced(100)
    sync.on_diff(diff(101, 101))
    assert sync.on_diff(diff(103, 104))  # 102 is missing
    health = sync.book.health()
    assert health.gaps == 1 and not health.synced and sync.last_u is None
    assert sync.on_snapshot(snap(103))  # the buffered 103..104 joins it
    assert sync.last_u == 104 and health.resyncs == 1

"""Clock sync (venues/clock.py): midpoint offset, median, RTT filter, pause on -1021.

Acceptance rule under test: Binance ``web-socket-api.md`` "Timing security":
``timestamp < serverTime + 1000 and serverTime - timestamp <= recvWindow``.
"""

from __future__ import annotations

import pytest
from tests.venues.support import Clock

from whalewire.venues.clock import ClockNotSynced, ClockState, ClockSync

MS = 1_000_000


def _sync(clock: Clock, **kwargs: int) -> ClockSync:
    return ClockSync(clock, **kwargs)


def _feed(sync: ClockSync, send_ms: float, rtt_ms: float, server_ms: int) -> bool:
    send = int(send_ms * MS)
    return sync.add_sample(send, send + int(rtt_ms * MS), server_ms)


def test_offset_is_server_time_minus_midpoint() -> None:
    sync = _sync(Clock(), min_samples=1)
    # sent at 100 ms, back at 110 ms: midpoint 105 ms; server said 5105 ms (+0.5 ms floor)
    assert _feed(sync, 100, 10, 5105)
    assert sync.offset_ns == 5000 * MS + MS // 2
    assert sync.uncertainty_ns == 5 * MS


def test_median_ignores_one_outlier_and_slow_round_trips_are_dropped() -> None:
    sync = _sync(Clock(), min_samples=3, max_rtt_ns=50 * MS)
    assert _feed(sync, 0, 2, 1001)
    assert _feed(sync, 10, 2, 1011)
    assert _feed(sync, 20, 2, 1321)  # an outlier (GC pause on the server?)
    assert not _feed(sync, 30, 80, 1031)  # too slow to be precise
    assert not sync.add_sample(50 * MS, 49 * MS, 1050)  # negative RTT
    assert _feed(sync, 40, 2, 1041)
    assert sync.offset_ns == 1000 * MS + MS // 2


def test_unsynced_until_min_samples_then_timestamps_follow_the_offset() -> None:
    clock = Clock()
    sync = _sync(clock, min_samples=2)
    _feed(sync, 0, 2, 10_001)
    assert sync.state is ClockState.UNSYNCED and not sync.can_send
    with pytest.raises(ClockNotSynced):
        sync.timestamp_ms()
    _feed(sync, 10, 2, 10_011)
    assert sync.state is ClockState.SYNCED
    clock.now = 500 * MS
    assert sync.timestamp_ms() == 10_500


def test_timestamp_rejection_pauses_until_fresh_samples() -> None:
    clock = Clock()
    sync = _sync(clock, min_samples=2)
    _feed(sync, 0, 2, 10_001)
    _feed(sync, 10, 2, 10_011)
    sync.on_timestamp_rejected()
    assert sync.state is ClockState.PAUSED and not sync.can_send
    assert sync.rejections == 1
    with pytest.raises(ClockNotSynced, match="paused"):
        sync.timestamp_ms()
    assert sync.resync_due()
    # the venue's clock jumped by 3 s; one fresh sample is not enough
    _feed(sync, 20, 2, 13_021)
    assert sync.state is ClockState.PAUSED
    _feed(sync, 30, 2, 13_031)
    assert sync.state is ClockState.SYNCED
    clock.now = 100 * MS
    assert sync.timestamp_ms() == 13_100


def test_resync_due_after_interval() -> None:
    clock = Clock()
    sync = _sync(clock, min_samples=1, resync_interval_ns=1000 * MS)
    _feed(sync, 0, 2, 1)
    clock.now = 999 * MS
    assert not sync.resync_due()
    clock.now = 1002 * MS
    assert sync.resync_due()


@pytest.mark.parametrize(
    ("timestamp", "server", "ok"),
    [
        (10_000, 10_000, True),
        (10_000, 10_100, True),  # exactly recvWindow old
        (10_000, 10_101, False),  # one ms too old
        (10_999, 10_000, True),  # ahead by less than 1 s
        (11_000, 10_000, False),  # ahead by 1 s
    ],
)
def test_binance_acceptance_rule(timestamp: int, server: int, ok: bool) -> None:
    assert _sync(Clock(), recv_window_ms=100).within_window(timestamp, server) is ok


@pytest.mark.parametrize("recv_window", [0, 60_001])
def test_recv_window_bounds(recv_window: int) -> None:
    with pytest.raises(ValueError):
        ClockSync(Clock(), recv_window_ms=recv_window)

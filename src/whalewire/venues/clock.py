"""Venue clock synchronisation: the server-time offset, the recvWindow, and the pause rule.

The offset is estimated the hummingbot way: for each ``time`` request, offset = server time
- midpoint(send, receive) on our monotonic clock; the estimate is the median of the last
samples, after dropping samples whose round trip was too slow to be precise. A timestamp
rejection (Binance -1021 INVALID_TIMESTAMP) means the estimate is wrong: sending pauses and
stays paused until enough fresh samples have been taken. A rejected order is never retried
blindly with the same bad clock.

Pure: the clock (``Callable[[], int]`` returning nanoseconds, e.g. ``time.monotonic_ns``)
is injected, and every method also takes explicit times. Knows nothing of sockets.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from statistics import median_low

__all__ = ["ClockNotSynced", "ClockState", "ClockSync", "TimeSample"]

# Binance's documented bounds (web-socket-api.md "Timing security"): recvWindow defaults to
# 5000 ms and may not exceed 60000 ms.
_MAX_RECV_WINDOW_MS = 60_000


class ClockState(StrEnum):
    """Whether signed requests may be timestamped now."""

    UNSYNCED = "unsynced"  #: not enough samples yet
    SYNCED = "synced"  #: the offset is known: send
    PAUSED = "paused"  #: the venue rejected a timestamp: resynchronise before sending


# a module global: looking a member up on the enum class costs ~50 ns per order
_SYNCED = ClockState.SYNCED


class ClockNotSynced(Exception):
    """A timestamp was asked for while the clock is not SYNCED (local misuse)."""

    def __init__(self, state: ClockState) -> None:
        super().__init__(f"venue clock is {state.value}; take time samples before signing")
        self.state = state


@dataclass(frozen=True, slots=True)
class TimeSample:
    """One round trip: our send/receive times (monotonic ns) and the server's time (ns)."""

    send_ns: int
    recv_ns: int
    server_ns: int

    @property
    def rtt_ns(self) -> int:
        """Round-trip time."""
        return self.recv_ns - self.send_ns

    @property
    def offset_ns(self) -> int:
        """Server time minus our clock at the round trip's midpoint."""
        return self.server_ns - (self.send_ns + self.recv_ns) // 2


class ClockSync:
    """Track one venue's clock offset and decide whether timestamps may be issued.

    Args:
        clock: our monotonic clock in ns (injected; ``time.monotonic_ns`` in production).
        recv_window_ms: the ``recvWindow`` to send; small, at most 60000.
        window: how many accepted samples the median covers.
        min_samples: accepted samples needed before (re)entering SYNCED.
        max_rtt_ns: samples with a slower round trip are dropped (their midpoint is vague).
        resync_interval_ns: after this long without a sample, ``resync_due`` turns true.
    """

    def __init__(
        self,
        clock: Callable[[], int],
        *,
        recv_window_ms: int = 500,
        window: int = 9,
        min_samples: int = 3,
        max_rtt_ns: int = 250_000_000,
        resync_interval_ns: int = 60_000_000_000,
    ) -> None:
        if not 0 < recv_window_ms <= _MAX_RECV_WINDOW_MS:
            raise ValueError(f"recv_window_ms must be in 1..{_MAX_RECV_WINDOW_MS}")
        if not 0 < min_samples <= window:
            raise ValueError("need 0 < min_samples <= window")
        self._clock = clock
        self.recv_window_ms = recv_window_ms
        self.min_samples = min_samples
        self.max_rtt_ns = max_rtt_ns
        self.resync_interval_ns = resync_interval_ns
        self._samples: deque[TimeSample] = deque(maxlen=window)
        self._state = ClockState.UNSYNCED
        self._offset_ns: int | None = None
        self._last_sample_ns: int | None = None
        self.rejections = 0

    @property
    def state(self) -> ClockState:
        """The current state."""
        return self._state

    @property
    def can_send(self) -> bool:
        """True when signed requests may be timestamped and sent."""
        return self._state is ClockState.SYNCED

    @property
    def offset_ns(self) -> int | None:
        """The current offset estimate (median of accepted samples), or None."""
        return self._offset_ns

    @property
    def uncertainty_ns(self) -> int | None:
        """Half the best round trip among the samples: the offset's error bound."""
        if not self._samples:
            return None
        return min(s.rtt_ns for s in self._samples) // 2

    def add_sample(self, send_ns: int, recv_ns: int, server_time_ms: int) -> bool:
        """Record one ``time`` round trip; return whether it was accepted.

        ``server_time_ms`` is Binance's ``serverTime``: a millisecond floor, so its midpoint
        (+0.5 ms) is used. Samples with a negative or too slow round trip are dropped.
        """
        rtt = recv_ns - send_ns
        if rtt < 0 or rtt > self.max_rtt_ns:
            return False
        sample = TimeSample(send_ns, recv_ns, server_time_ms * 1_000_000 + 500_000)
        self._samples.append(sample)
        self._last_sample_ns = recv_ns
        self._offset_ns = median_low(s.offset_ns for s in self._samples)
        if self._state is not ClockState.SYNCED and len(self._samples) >= self.min_samples:
            self._state = ClockState.SYNCED
        return True

    def server_time_ns(self, now_ns: int | None = None) -> int:
        """Estimate the venue's current time in ns.

        Raises:
            ClockNotSynced: unless SYNCED.
        """
        if self._state is not ClockState.SYNCED or self._offset_ns is None:
            raise ClockNotSynced(self._state)
        return (self._clock() if now_ns is None else now_ns) + self._offset_ns

    def timestamp_ms(self, now_ns: int | None = None) -> int:
        """Return the ``timestamp`` to sign now, in venue milliseconds.

        Raises:
            ClockNotSynced: unless SYNCED (after a rejection, resynchronise first).
        """
        # server_time_ns, inlined: this runs for every order
        offset = self._offset_ns
        if self._state is not _SYNCED or offset is None:
            raise ClockNotSynced(self._state)
        return ((self._clock() if now_ns is None else now_ns) + offset) // 1_000_000

    def on_timestamp_rejected(self) -> None:
        """Handle a timestamp rejection (Binance -1021): pause and forget the samples.

        The samples produced an offset the venue disagrees with, so none is reused; sending
        resumes after ``min_samples`` new ones. The rejected order was not placed and is
        not retried from here.
        """
        self.rejections += 1
        self._state = ClockState.PAUSED
        self._samples.clear()
        self._offset_ns = None

    def resync_due(self, now_ns: int | None = None) -> bool:
        """True when the offset should be refreshed (paused, unsynced, or samples are old)."""
        if self._state is not ClockState.SYNCED or self._last_sample_ns is None:
            return True
        now = self._clock() if now_ns is None else now_ns
        return now - self._last_sample_ns >= self.resync_interval_ns

    def within_window(self, timestamp_ms: int, server_time_ms: int) -> bool:
        """Apply Binance's acceptance rule to a timestamp (for the emulator and tests).

        ``timestamp < serverTime + 1000 and serverTime - timestamp <= recvWindow``
        (``web-socket-api.md`` "Timing security").
        """
        return (
            timestamp_ms < server_time_ms + 1000
            and server_time_ms - timestamp_ms <= self.recv_window_ms
        )

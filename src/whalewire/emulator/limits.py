"""Fixed-window rate limits and escalating bans, as the emulated venues count them.

Binance counts each limit in intervals aligned to the clock ("a 1 MINUTE interval starts
every minute", ``web-socket-api.md``, "How to interpret rate limits"): a request at
00:01:23.456 counts towards the 00:01:00 minute, and the count resets at 00:02:00.
Repeated violations lead to a ban that "scales in duration for repeat offenders, from 2
minutes to 3 days" ("IP limits"). Pure bookkeeping over an injected time; knows nothing of
requests, sockets or error codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Interval(StrEnum):
    """Interval units as ``exchangeInfo`` names them."""

    SECOND = "SECOND"
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"


_UNIT_MS = {
    Interval.SECOND: 1_000,
    Interval.MINUTE: 60_000,
    Interval.HOUR: 3_600_000,
    Interval.DAY: 86_400_000,
}


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One limit: ``limit`` units of ``limit_type`` per ``interval_num`` ``interval``."""

    limit_type: str
    interval: Interval
    interval_num: int
    limit: int

    @property
    def interval_ms(self) -> int:
        """Return the window length in milliseconds."""
        return _UNIT_MS[self.interval] * self.interval_num


@dataclass(slots=True)
class WindowCounter:
    """Usage of one :class:`RateLimit` in the current clock-aligned window."""

    rate_limit: RateLimit
    window_start: int = -1
    count: int = 0

    def _roll(self, now: int) -> None:
        size = self.rate_limit.interval_ms
        start = now - now % size
        if start != self.window_start:
            self.window_start = start
            self.count = 0

    def current(self, now: int) -> int:
        """Return the count in the window containing ``now``."""
        self._roll(now)
        return self.count

    def add(self, now: int, units: int) -> int:
        """Add ``units`` to the current window and return the new count."""
        self._roll(now)
        self.count += units
        return self.count

    def would_exceed(self, now: int, units: int) -> bool:
        """Return whether adding ``units`` now would go over the limit."""
        return self.current(now) + units > self.rate_limit.limit

    def window_end(self, now: int) -> int:
        """Return when the window containing ``now`` resets (ms epoch)."""
        self._roll(now)
        return self.window_start + self.rate_limit.interval_ms


@dataclass(frozen=True, slots=True)
class BanPolicy:
    """When to ban and for how long: doubling from ``first_ms`` up to ``max_ms``."""

    #: rejected (429) requests tolerated within one window before the ban
    rejections_before_ban: int = 50
    first_ms: int = 120_000
    max_ms: int = 3 * 86_400_000


@dataclass(slots=True)
class BanState:
    """A client's ban record: violations in the current window, offences, ban end."""

    policy: BanPolicy
    banned_until: int = 0
    offences: int = 0
    rejections: int = 0
    rejection_window: int = -1

    def is_banned(self, now: int) -> bool:
        """Return whether a ban is in force at ``now``."""
        return now < self.banned_until

    def record_rejection(self, now: int, window_start: int) -> bool:
        """Count one rejected request; start a ban and return True when it is one too many."""
        if window_start != self.rejection_window:
            self.rejection_window = window_start
            self.rejections = 0
        self.rejections += 1
        if self.rejections <= self.policy.rejections_before_ban:
            return False
        duration = min(self.policy.first_ms << self.offences, self.policy.max_ms)
        self.offences += 1
        self.rejections = 0
        self.banned_until = now + duration
        return True


@dataclass(slots=True)
class Usage:
    """All counters of one client (an IP's weight or an account's orders)."""

    counters: list[WindowCounter] = field(default_factory=list)

    @classmethod
    def of(cls, limits: list[RateLimit]) -> Usage:
        """Return fresh counters for ``limits``."""
        return cls([WindowCounter(lim) for lim in limits])

    def first_exceeded(self, now: int, units: int) -> WindowCounter | None:
        """Return the first counter that ``units`` more would push over its limit."""
        for counter in self.counters:
            if counter.would_exceed(now, units):
                return counter
        return None

    def add(self, now: int, units: int) -> None:
        """Add ``units`` to every counter."""
        for counter in self.counters:
            counter.add(now, units)

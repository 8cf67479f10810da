"""Keepalive for one connection: optional pings with RTT statistics and a liveness deadline.

Pings from the peer are answered by ``ws.protocol`` as they are parsed, inside the read
that carried them (RFC 6455 §5.5.2); nothing here delays that. ``Keepalive`` adds, on a
loop timer:

- **client pings** every ``interval`` seconds, each with a unique 8-byte payload; the matching
  pong gives one round-trip time (``RTTStats``: min/avg/max and percentiles over the last
  ``RTTStats.window`` samples). A pong answers its own ping and every earlier one
  (RFC 6455 §5.5.3 lets a peer answer only the latest).
- **liveness**: the connection is alive when anything arrived since the last check (any
  frame, data or control, counted per read by the protocol), when a pong arrived, or when
  the application called ``mark_alive()`` (e.g. on a venue's own heartbeat message).
- **the timeout rule**: the connection is declared dead when nothing marked it alive for
  ``timeout`` seconds *of time the loop was free to read*. Each check measures how late its
  own timer ran (``late = now - due``); a late timer means the loop was busy and data may sit
  unread in the socket, so the deadline is extended by ``late``, and a check that ran more
  than ``LATE_SLACK`` late never declares death itself: it re-checks after one more loop
  pass, which polls the socket first (asyncio and uvloop both poll before running a
  zero-delay timer scheduled from a timer). A busy loop therefore delays the verdict and
  never causes it.

On death the connection is failed with 1011 ("keepalive timeout", RFC 6455 §7.4.1) and
the socket is aborted at once (waiting for a closing handshake from a dead peer would only
add ``close_timeout``). Nothing here parses frames or knows venues.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Keepalive", "KeepaliveHost", "KeepaliveOptions", "RTTStats"]

#: a check this late (seconds) re-checks after one more loop pass before declaring death
LATE_SLACK = 0.005


@dataclass(frozen=True, slots=True)
class KeepaliveOptions:
    """What keepalive does on a connection (both None: nothing)."""

    #: seconds between our pings; None sends none (the peer's traffic may suffice)
    interval: float | None = None
    #: seconds without any sign of life before the connection is failed; None: never
    timeout: float | None = None

    def __post_init__(self) -> None:
        for name in ("interval", "timeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"keepalive {name} must be positive: {value!r}")


class RTTStats:
    """Round-trip times of answered pings (seconds), over a sliding window of samples."""

    #: how many recent samples the percentiles cover
    window = 1024

    def __init__(self) -> None:
        self.count = 0
        self.min = float("inf")
        self.max = 0.0
        self._total = 0.0
        self._recent: collections.deque[float] = collections.deque(maxlen=self.window)

    def add(self, rtt: float) -> None:
        """Record one round-trip time."""
        self.count += 1
        self._total += rtt
        self.min = min(self.min, rtt)
        self.max = max(self.max, rtt)
        self._recent.append(rtt)

    @property
    def avg(self) -> float:
        """Mean over every sample (0.0 before the first)."""
        return self._total / self.count if self.count else 0.0

    @property
    def last(self) -> float | None:
        """The latest sample, if any."""
        return self._recent[-1] if self._recent else None

    def percentile(self, p: float) -> float:
        """Return the ``p``-th percentile (0-100, nearest rank) of the recent samples.

        Raises:
            ValueError: no sample yet, or ``p`` outside 0-100.
        """
        if not self._recent:
            raise ValueError("no round trip measured yet")
        if not 0 <= p <= 100:
            raise ValueError(f"a percentile is between 0 and 100: {p!r}")
        ordered = sorted(self._recent)
        rank = max(1, -(-len(ordered) * p // 100))  # nearest rank: ceil(p/100 * n)
        return ordered[int(rank) - 1]


PongHook = Callable[[bytes, float | None], None]


class KeepaliveHost(Protocol):
    """What keepalive needs of a connection's transport side (``net._protocol`` provides it).

    Declared here, so that keepalive depends on no transport module and the transport may
    import keepalive (one direction only).
    """

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the connection runs on (timers, ``time()``)."""

    @property
    def reads(self) -> int:
        """Reads completed so far (any arrival is a sign of life)."""

    @property
    def lost(self) -> asyncio.Future[None]:
        """Done when the TCP connection is gone."""

    def send_ping(self, payload: bytes) -> None:
        """Send a ping; raise when the connection is closing."""

    def fail(self, code: int, reason: str) -> None:
        """Send a close frame if still open, then abort the socket."""


class Keepalive:
    """Run pings and the liveness deadline for one open connection (see the module doc)."""

    def __init__(self, proto: KeepaliveHost, options: KeepaliveOptions) -> None:
        self._proto = proto
        self._loop = proto.loop
        self.options = options
        self.rtt = RTTStats()
        #: checks run so far (tests and metrics wait on it)
        self.checks = 0
        #: why the connection was failed, if keepalive failed it
        self.failure: str | None = None
        self._seq = itertools.count(1)
        self._outstanding: dict[bytes, float] = {}
        self._last_alive = self._loop.time()
        self._last_reads = proto.reads
        self._next_ping = self._loop.time() + options.interval if options.interval else None
        self._due = 0.0
        self._timer: asyncio.TimerHandle | None = None
        periods = [v for v in (options.interval, options.timeout and options.timeout / 4) if v]
        self._period = min(periods) if periods else None
        if self._period is not None:
            self._schedule(self._period)
        proto.lost.add_done_callback(lambda _: self.stop())

    @property
    def next_check(self) -> float:
        """The loop time the next check is due."""
        return self._due

    def stop(self) -> None:
        """Stop the timer (the connection closed)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def mark_alive(self) -> None:
        """Count the connection alive now (e.g. the application saw a venue heartbeat)."""
        self._last_alive = self._loop.time()

    def pong(self, payload: bytes) -> float | None:
        """Record a pong: mark alive and return the round-trip time if it answers our ping."""
        now = self._loop.time()
        self._last_alive = now
        sent = self._outstanding.pop(payload, None)
        if sent is None:
            return None
        # Earlier pings are answered by this one too (RFC 6455 §5.5.3).
        for key in [k for k, t in self._outstanding.items() if t <= sent]:
            del self._outstanding[key]
        rtt = now - sent
        self.rtt.add(rtt)
        return rtt

    def _schedule(self, delay: float) -> None:
        self._due = self._loop.time() + delay
        self._timer = self._loop.call_at(self._due, self._check)

    def _check(self, recheck: bool = False) -> None:
        self._timer = None
        if self._proto.lost.done():
            return
        self.checks += 1
        now = self._loop.time()
        late = 0.0 if recheck else max(0.0, now - self._due)
        reads = self._proto.reads
        if reads != self._last_reads:
            # Something arrived since the last check (this read or an earlier one).
            self._last_reads = reads
            self._last_alive = max(self._last_alive, now - late)
        timeout = self.options.timeout
        if timeout is not None and now - self._last_alive > timeout + late:
            if late > LATE_SLACK:
                # Busy loop: let it poll the socket once before any verdict.
                self._due = now
                self._timer = self._loop.call_later(0, self._check, True)
                return
            self._fail(f"keepalive timeout: nothing received for {now - self._last_alive:.3f} s")
            return
        if self._next_ping is not None and now >= self._next_ping:
            self._ping(now)
        assert self._period is not None
        self._schedule(self._period)

    def _ping(self, now: float) -> None:
        assert self.options.interval is not None
        payload = struct.pack("!Q", next(self._seq))
        try:
            self._proto.send_ping(payload)
        except Exception:
            return  # closing already: the close path owns the connection now
        self._outstanding[payload] = now
        if len(self._outstanding) > 64:  # a peer that never answers: keep memory bounded
            oldest = min(self._outstanding, key=self._outstanding.__getitem__)
            del self._outstanding[oldest]
        self._next_ping = now + self.options.interval

    def _fail(self, why: str) -> None:
        self.failure = why
        self._proto.fail(1011, "keepalive timeout")

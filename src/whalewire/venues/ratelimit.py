"""Venue rate limits: windows seeded from ``exchangeInfo``, corrected by every response.

Binance rules (``web-socket-api.md`` "Rate limits"): limits come as ``rateLimits`` entries
(``rateLimitType`` REQUEST_WEIGHT / ORDERS / RAW_REQUESTS / CONNECTIONS, ``interval``
SECOND / MINUTE / HOUR / DAY, ``intervalNum``, ``limit``); windows are aligned to the clock
(a 1 MINUTE window starts every minute, 10 SECOND resets at :00, :10, ...; 1 DAY at 00:00
UTC); every response may carry the current ``count`` per window. A 429 means "stop until
``retryAfter``"; a 418 means the IP is banned until ``retryAfter``; "Repeatedly violating
rate limits and/or failing to back off after receiving 429s will result in an automated IP
ban". Connecting to the WebSocket API costs 2 weight and connection attempts are limited.

Connection attempts have limits of their own, per IP, and a client that reconnects in a
loop hits them first; ``ConnectionLimiter`` counts attempts in a rolling window (stricter
than Binance's aligned windows, as Kraken's limit is rolling). The documented figures:

* Binance WebSocket API: "a limit of 300 connections per attempt every 5 minutes. The
  connection is per IP address" (``web-socket-api`` "Connection limits");
* Kraken WebSocket: "Cloudflare imposes a connection/re-connection rate limit (per IP
  address) of approximately 150 attempts per rolling 10 minutes. If this is exceeded, the
  IP is banned for 10 minutes" (``docs.kraken.com/api/docs/guides/spot-ws-intro``);
* Coinbase Exchange WebSocket: "Requests per second per IP: 8", "in bursts: Up to 20"
  (``docs.cdp.coinbase.com/exchange/websocket-feed/rate-limits``); we hold the REST
  connection's (re)connects to the same figure.

Pure: times (venue milliseconds, e.g. ``ClockSync.server_time_ns() // 10**6``, or wall
milliseconds before a clock exists) are passed in. Knows nothing of sockets or of which
request costs what beyond what callers pass.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "BINANCE_CONNECTIONS",
    "COINBASE_CONNECTIONS",
    "INTERVAL_MS",
    "KRAKEN_CONNECTIONS",
    "WS_CONNECT_WEIGHT",
    "ConnectionLimiter",
    "LimitState",
    "RateLimiter",
    "Verdict",
    "Window",
]

INTERVAL_MS = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}
#: "Connecting to WebSocket API costs 2 weight" (web-socket-api.md "IP limits").
WS_CONNECT_WEIGHT = 2
#: (attempts, rolling window ms) per IP, as documented (module docstring)
BINANCE_CONNECTIONS = (300, 300_000)
KRAKEN_CONNECTIONS = (150, 600_000)
#: 8 per second sustained; a 20-attempt burst is allowed by the 8/s rule only once
COINBASE_CONNECTIONS = (8, 1_000)
# Without a retryAfter, a 429 waits at least this long (and at least to the window's end).
_DEFAULT_BACKOFF_MS = 1_000


class LimitState(StrEnum):
    """Whether the limiter lets anything through."""

    OPEN = "open"  #: counting normally
    BACKING_OFF = "backing_off"  #: a 429 arrived: nothing is sent until ``resume_at_ms``
    BANNED = "banned"  #: a 418 arrived: halted until the ban lifts (``resume_at_ms``)


@dataclass(slots=True)
class Window:
    """One counted window, e.g. ORDERS per 10 SECOND."""

    limit_type: str
    interval: str
    interval_num: int
    limit: int
    count: int = 0
    window_id: int = -1
    #: the window's length, fixed at construction (``roll`` runs on every order)
    length_ms: int = field(init=False)

    def __post_init__(self) -> None:
        self.length_ms = INTERVAL_MS[self.interval] * self.interval_num

    @property
    def key(self) -> tuple[str, str, int]:
        """Identity of the window across updates."""
        return (self.limit_type, self.interval, self.interval_num)

    def roll(self, now_ms: int) -> None:
        """Reset the count when ``now_ms`` is in a later window than the last one seen."""
        window_id = now_ms // self.length_ms
        if window_id != self.window_id:
            self.window_id = window_id
            self.count = 0

    def ends_at_ms(self) -> int:
        """When the current window closes."""
        return (self.window_id + 1) * self.length_ms


@dataclass(frozen=True, slots=True)
class Verdict:
    """May this request go now? If not, ``retry_at_ms`` says when to ask again."""

    allowed: bool
    retry_at_ms: int | None = None
    reason: str = ""


_ALLOW = Verdict(True)
# a module global: looking a member up on the enum class costs ~50 ns per order
_OPEN = LimitState.OPEN
#: the cost of one order (weight 1, one order, no connection): ``order_allowed``/``order_sent``
_ORDER = (1, 1, 0)


class RateLimiter:
    """Count requests, orders and connections against the venue's windows.

    Args:
        rate_limits: ``exchangeInfo.rateLimits`` entries (``limit``; ``count`` optional).
        headroom: fraction of each limit we allow ourselves (below 1.0 leaves room for
            other processes sharing the IP, whose usage only responses reveal).
    """

    def __init__(self, rate_limits: Iterable[Mapping[str, object]], *, headroom: float = 1.0):
        if not 0 < headroom <= 1:
            raise ValueError("headroom must be in (0, 1]")
        #: orders ``order_allowed`` may pass without walking the windows, until the first
        #: of their windows ends: worked out by ``order_sent`` (after the write, off the hot
        #: path); 0 whenever anything else changed a window, a limit, the headroom or state
        self._order_room = 0
        self._order_room_until_ms = 0
        #: ``order_sent``'s windows, costs and caps; None after a window or limit changed
        self._order_plan: tuple[tuple[Window, int, int], ...] | None = None
        self._headroom = headroom
        self._windows: dict[tuple[str, str, int], Window] = {}
        #: per request cost (weight, orders, connections): the windows it counts in, and how
        #: much; ``acquire`` runs on every order, so the ``_cost`` ladder runs once per shape
        self._charges: dict[tuple[int, int, int], tuple[tuple[Window, int], ...]] = {}
        self.state = LimitState.OPEN
        self.resume_at_ms: int | None = None
        for entry in rate_limits:
            self._upsert(entry, None)

    @classmethod
    def from_exchange_info(
        cls, info: Mapping[str, object], *, headroom: float = 1.0
    ) -> RateLimiter:
        """Seed from an ``exchangeInfo`` result (its ``rateLimits`` list)."""
        entries = info.get("rateLimits", [])
        if not isinstance(entries, list):
            raise ValueError("exchangeInfo.rateLimits must be a list")
        return cls(entries, headroom=headroom)

    @property
    def headroom(self) -> float:
        """The fraction of each limit we allow ourselves."""
        return self._headroom

    @headroom.setter
    def headroom(self, value: float) -> None:
        self._headroom = value
        self._order_room = 0
        self._order_plan = None

    @property
    def windows(self) -> list[Window]:
        """The windows being counted."""
        return list(self._windows.values())

    def _upsert(self, entry: Mapping[str, object], now_ms: int | None) -> None:
        limit_type = entry.get("rateLimitType")
        interval = entry.get("interval")
        interval_num = entry.get("intervalNum", 1)
        limit = entry.get("limit")
        if (
            not isinstance(limit_type, str)
            or interval not in INTERVAL_MS
            or not isinstance(interval_num, int)
            or not isinstance(limit, int)
        ):
            raise ValueError(f"malformed rateLimits entry: {dict(entry)!r}")
        assert isinstance(interval, str)
        key = (limit_type, interval, interval_num)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = Window(limit_type, interval, interval_num, limit)
            self._charges.clear()
            self._order_room = 0
            self._order_plan = None
        if window.limit != limit:
            window.limit = limit
            self._order_room = 0
            self._order_plan = None
        count = entry.get("count")
        if now_ms is not None and isinstance(count, int):
            window.roll(now_ms)  # a new window ends the room's validity (its end passed)
            # the venue's count covers every connection from this IP/account: never lower
            # our own count below it, never let it hide requests still in flight
            if count > window.count:
                window.count = count
                self._order_room = 0

    def _cost(self, window: Window, weight: int, orders: int, connections: int) -> int:
        if window.limit_type == "REQUEST_WEIGHT":
            return weight
        if window.limit_type == "ORDERS":
            return orders
        if window.limit_type == "RAW_REQUESTS":
            return 1 if weight or orders else 0
        if window.limit_type == "CONNECTIONS":
            return connections
        return 0

    def check(
        self, now_ms: int, *, weight: int = 1, orders: int = 0, connections: int = 0
    ) -> Verdict:
        """Say whether a request of this cost may be sent at ``now_ms`` (counts nothing)."""
        self._order_room = 0  # it may roll a window
        if self.state is not LimitState.OPEN:
            if self.resume_at_ms is None or now_ms < self.resume_at_ms:
                return Verdict(False, self.resume_at_ms, self.state.value)
            self.state = LimitState.OPEN
            self.resume_at_ms = None
        for window in self._windows.values():
            cost = self._cost(window, weight, orders, connections)
            if not cost:
                continue
            window.roll(now_ms)
            if window.count + cost > window.limit * self._headroom:
                reason = f"{window.limit_type} {window.interval_num} {window.interval}"
                return Verdict(False, window.ends_at_ms(), reason)
        return _ALLOW

    def acquire(
        self, now_ms: int, weight: int = 1, orders: int = 0, connections: int = 0
    ) -> Verdict:
        """Like ``check``, and count the request when it is allowed.

        The costs may be passed by position (``acquire(now, 1, 1)`` for one order).
        """
        self._order_room = 0
        if self.state is not _OPEN:
            verdict = self.check(now_ms, weight=weight, orders=orders, connections=connections)
            if not verdict.allowed:
                return verdict
        shape = weight, orders, connections
        charges = self._charges.get(shape)
        if charges is None:
            charges = self._charges[shape] = tuple(
                (w, c) for w in self._windows.values() if (c := self._cost(w, *shape))
            )
        # ``check`` inlined (the order hot path): roll each window, refuse on the first full
        headroom = self._headroom
        for window, cost in charges:
            window_id = now_ms // window.length_ms
            if window_id != window.window_id:
                window.window_id = window_id
                window.count = 0
            if window.count + cost > window.limit * headroom:
                reason = f"{window.limit_type} {window.interval_num} {window.interval}"
                return Verdict(False, window.ends_at_ms(), reason)
        for window, cost in charges:
            window.count += cost
        return _ALLOW

    def order_allowed(self, now_ms: int) -> Verdict:
        """Say whether one order (weight 1) may be sent at ``now_ms``; count nothing.

        The order hot path: ``order_allowed`` before the write, ``order_sent`` after it,
        together the same as ``acquire(now_ms, 1, 1)`` (nothing runs in between). While
        the room ``order_sent`` worked out lasts, this is two comparisons; else ``check``.
        """
        if self._order_room and now_ms < self._order_room_until_ms:
            return _ALLOW
        return self.check(now_ms, weight=1, orders=1)

    def order_sent(self, now_ms: int) -> None:
        """Count one order (weight 1) sent at ``now_ms``, after ``order_allowed`` allowed it.

        Also works out how many more orders fit in every window they count in before the
        first of those windows ends, for ``order_allowed``'s fast path.
        """
        plan = self._order_plan
        if plan is None:
            # each window an order counts in, its cost, and its limit under the headroom
            # rounded down: count + cost <= limit * headroom holds for integer counts exactly
            # when it holds against that
            plan = self._order_plan = tuple(
                (w, c, int(w.limit * self._headroom))
                for w in self._windows.values()
                if (c := self._cost(w, *_ORDER))
            )
        room = until = 1 << 62
        for window, cost, cap in plan:
            length = window.length_ms
            window_id = now_ms // length  # Window.roll and ends_at_ms, inlined
            count = cost if window_id != window.window_id else window.count + cost
            window.window_id = window_id
            window.count = count
            left = (cap - count) // cost  # whole orders left (no min(): a call per window)
            if left < room:  # noqa: PLR1730
                room = left
            end = (window_id + 1) * length
            if end < until:  # noqa: PLR1730
                until = end
        # outside OPEN, order_allowed must ask check (which also ends a lapsed back-off)
        self._order_room = room if room > 0 and self.state is _OPEN else 0
        self._order_room_until_ms = until

    def connection_attempt(self, now_ms: int) -> Verdict:
        """Count one WebSocket API connection attempt (CONNECTIONS window + 2 weight)."""
        return self.acquire(now_ms, weight=WS_CONNECT_WEIGHT, connections=1)

    def update(self, rate_limits: Iterable[Mapping[str, object]], now_ms: int) -> None:
        """Apply a response's ``rateLimits`` array (current counts, possibly new windows)."""
        for entry in rate_limits:
            self._upsert(entry, now_ms)

    def on_429(self, now_ms: int, retry_after_ms: int | None = None) -> None:
        """Stop sending until ``retry_after_ms`` (absolute venue ms, the ``retryAfter`` field).

        Without one, wait for the end of the fullest window, and at least one second.
        """
        if retry_after_ms is None:
            ends = [w.ends_at_ms() for w in self._windows.values() if w.count >= w.limit]
            retry_after_ms = max([now_ms + _DEFAULT_BACKOFF_MS, *ends])
        self._order_room = 0
        if self.state is not LimitState.BANNED:
            self.state = LimitState.BACKING_OFF
            self.resume_at_ms = max(retry_after_ms, self.resume_at_ms or 0)

    def on_418(self, now_ms: int, retry_after_ms: int | None = None) -> None:
        """Halt: the IP is banned until ``retry_after_ms``; without one, until ``clear_ban``."""
        self._order_room = 0
        self.state = LimitState.BANNED
        self.resume_at_ms = retry_after_ms

    def clear_ban(self) -> None:
        """Lift an open-ended ban by hand (an operator decision)."""
        self.state = LimitState.OPEN
        self.resume_at_ms = None

    def on_response(
        self,
        status: int,
        now_ms: int,
        rate_limits: Iterable[Mapping[str, object]] | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        """Feed one response: its ``rateLimits``, and its status if it is 429 or 418."""
        if rate_limits is not None:
            self.update(rate_limits, now_ms)
        if status == 429:
            self.on_429(now_ms, retry_after_ms)
        elif status == 418:
            self.on_418(now_ms, retry_after_ms)


class ConnectionLimiter:
    """Count connection attempts in a rolling window; refuse those over the limit.

    Every attempt counts, failed or not (the venue counts TCP/TLS handshakes, not
    successes). One limiter per venue and IP: clients of the same venue on one host
    should share it (pass it to each).

    Args:
        limit: attempts allowed in any ``window_ms`` interval.
        window_ms: the rolling window.
    """

    def __init__(self, limit: int, window_ms: int) -> None:
        if limit < 1 or window_ms < 1:
            raise ValueError("limit and window_ms must be positive")
        self.limit = limit
        self.window_ms = window_ms
        self._attempts: deque[int] = deque()
        #: attempts refused so far (a reconnect loop held back)
        self.refused = 0
        #: when the last refused attempt may be retried; None once one is allowed
        self.held_until_ms: int | None = None

    def acquire(self, now_ms: int) -> Verdict:
        """Count one attempt at ``now_ms`` if the window has room; else say when it will."""
        attempts = self._attempts
        horizon = now_ms - self.window_ms
        while attempts and attempts[0] <= horizon:
            attempts.popleft()
        if len(attempts) >= self.limit:
            self.refused += 1
            # the oldest attempts leave the window one by one; the one that frees a slot
            retry = attempts[len(attempts) - self.limit] + self.window_ms
            self.held_until_ms = retry
            return Verdict(False, retry, f"connections {self.limit} per {self.window_ms} ms")
        attempts.append(now_ms)
        self.held_until_ms = None
        return _ALLOW

    def in_window(self, now_ms: int) -> int:
        """Return how many attempts count against the window ending at ``now_ms``."""
        horizon = now_ms - self.window_ms
        return sum(1 for t in self._attempts if t > horizon)

    def tighten(self, limit: int, window_ms: int) -> bool:
        """Adopt a limit the venue states (``exchangeInfo``'s CONNECTIONS) if it is stricter.

        Stricter means a lower average rate; a looser statement never widens a limit the
        operator configured. Return whether it was adopted.
        """
        if limit < 1 or window_ms < 1:
            raise ValueError("limit and window_ms must be positive")
        if limit * self.window_ms >= self.limit * window_ms:
            return False
        self.limit = limit
        self.window_ms = window_ms
        return True

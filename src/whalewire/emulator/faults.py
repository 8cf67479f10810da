"""Faults on demand: a seeded plan of what goes wrong with each request, as plain data.

A :class:`FaultPlan` says how often and when (latency and jitter, dropped responses,
disconnects with the order in flight, 5xx and execution-status-unknown answers, a 429
storm, a ban, a shutdown notice, clock skew). A :class:`FaultInjector` turns it into one
:class:`FaultDecision` per request from a seeded RNG and the request's index only, so the
same seed replays the same faults. The transport applies decisions around the venue
handler (:meth:`FaultInjector.apply`); matching and the venue modules contain no fault
``if``s. Venue wording of the injected answers comes from the venue module (a renderer).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from whalewire.emulator.matching import Clock


class FaultKind(StrEnum):
    """What replaces or follows the venue's own answer."""

    #: the request is processed but its answer is never sent
    DROP = "DROP"
    #: the request is processed, then the connection is cut before the answer
    DISCONNECT = "DISCONNECT"
    #: the request is processed but answered "5xx, execution status unknown"
    UNKNOWN = "UNKNOWN"
    #: the request is not processed and answered with a 5xx error
    SERVER_ERROR = "SERVER_ERROR"
    #: the request is not processed and answered 429 (a storm)
    RATE_LIMITED = "RATE_LIMITED"
    #: the request is not processed and answered 418; the connection is then cut
    BANNED = "BANNED"
    #: the venue announces a shutdown after answering, then cuts the connection
    SHUTDOWN = "SHUTDOWN"


#: kinds whose request never reaches the venue handler
UNPROCESSED = frozenset({FaultKind.SERVER_ERROR, FaultKind.RATE_LIMITED, FaultKind.BANNED})


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Rates (0..1 per request) and windows (request indexes, 0-based, end exclusive)."""

    seed: int = 0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    drop_rate: float = 0.0
    disconnect_rate: float = 0.0
    unknown_rate: float = 0.0
    server_error_rate: float = 0.0
    #: requests [start, end) are answered 429
    storm: tuple[int, int] | None = None
    #: from this request on, every request is answered 418
    ban_from: int | None = None
    #: after answering this request, announce shutdown and disconnect
    shutdown_at: int | None = None
    #: added to the venue clock (ms); negative: the venue runs behind
    clock_skew_ms: int = 0
    #: a slow consumer: after each request the venue waits this long before reading the
    #: next, so requests back up in its queue, then in TCP, then in the client's buffers
    consume_delay_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What happens to one request: an extra delay and at most one fault."""

    index: int
    delay_ms: float
    kind: FaultKind | None

    @property
    def process(self) -> bool:
        """Return whether the venue handler sees the request."""
        return self.kind not in UNPROCESSED


@dataclass(frozen=True, slots=True)
class FaultOutcome:
    """What the transport does after a decision: send ``texts`` after ``delay_ms``, maybe close."""

    texts: list[str]
    delay_ms: float
    close: bool


#: renders an injected answer: (kind, request text) -> frame text
Renderer = Callable[[FaultKind, str], str]


class FaultInjector:
    """Draws one decision per request from ``plan`` (reproducible from its seed)."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._rng = random.Random(plan.seed)
        self._index = 0

    def next_decision(self) -> FaultDecision:
        """Return the decision for the next request."""
        plan, rng = self.plan, self._rng
        index = self._index
        self._index += 1
        # draw every number every time so one rate's setting never shifts another's draws
        jitter = rng.random() * plan.jitter_ms
        draws = [rng.random() for _ in range(4)]
        kind: FaultKind | None = None
        if plan.ban_from is not None and index >= plan.ban_from:
            kind = FaultKind.BANNED
        elif plan.storm is not None and plan.storm[0] <= index < plan.storm[1]:
            kind = FaultKind.RATE_LIMITED
        elif draws[0] < plan.server_error_rate:
            kind = FaultKind.SERVER_ERROR
        elif draws[1] < plan.unknown_rate:
            kind = FaultKind.UNKNOWN
        elif draws[2] < plan.drop_rate:
            kind = FaultKind.DROP
        elif draws[3] < plan.disconnect_rate:
            kind = FaultKind.DISCONNECT
        elif plan.shutdown_at is not None and index == plan.shutdown_at:
            kind = FaultKind.SHUTDOWN
        return FaultDecision(index, plan.latency_ms + jitter, kind)

    def apply(
        self, text: str, handle: Callable[[str], list[str]], render: Renderer
    ) -> FaultOutcome:
        """Run ``handle`` on one request under the next decision; return what to send."""
        decision = self.next_decision()
        kind = decision.kind
        if kind is not None and not decision.process:
            return FaultOutcome([render(kind, text)], decision.delay_ms, kind is FaultKind.BANNED)
        texts = handle(text)
        if kind is None:
            return FaultOutcome(texts, decision.delay_ms, close=False)
        # the first text is the answer; the rest are events the request caused
        if kind is FaultKind.DROP:
            return FaultOutcome(texts[1:], decision.delay_ms, close=False)
        if kind is FaultKind.DISCONNECT:
            return FaultOutcome([], decision.delay_ms, close=True)
        if kind is FaultKind.UNKNOWN:
            return FaultOutcome([render(kind, text), *texts[1:]], decision.delay_ms, close=False)
        return FaultOutcome([*texts, render(kind, text)], decision.delay_ms, close=True)


def skewed_clock(clock: Clock, skew_ms: int) -> Clock:
    """Return a clock that runs ``skew_ms`` ahead of ``clock`` (behind when negative)."""
    return lambda: clock() + skew_ms

"""Reconnection delays: a pure generator, shared by every connection that comes back.

Exponential from ``first`` up to ``cap`` with "full jitter" (each delay drawn uniformly
from ``[0, d]``), so that many clients restarting together do not reconnect in lockstep.
No I/O and no clock: the caller sleeps.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

__all__ = ["backoff"]


def backoff(
    first: float = 0.5,
    factor: float = 2.0,
    cap: float = 30.0,
    *,
    jitter: bool = True,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """Yield delays in seconds: ``first``, ``first * factor``, ... up to ``cap``, jittered."""
    draw = (rng or random).uniform
    delay = first
    while True:
        yield draw(0.0, delay) if jitter else delay
        delay = min(cap, delay * factor)

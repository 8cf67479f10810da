"""Keep a feed alive: rebuild it after it ends or its connection fails, with backoff.

A P2P node restarting or a WebSocket dropping must not end the watch silently. This module
knows feeds only as factories of async iterables (or ``run(callback)`` objects); it knows
nothing of their protocols, of watch lists or of orders.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator

from whalewire.mempool.feeds._callback import iterate
from whalewire.mempool.feeds.events import FeedEvent
from whalewire.net.backoff import backoff

__all__ = ["Reconnecting", "backoff"]  # backoff lives in whalewire.net.backoff


class _CallbackFailed(Exception):
    """Carries an exception raised by the consumer's callback past the retry logic."""


class Reconnecting:
    """Run ``factory()``'s feed; when it ends or fails with a ``retry_on`` error, build another.

    The backoff restarts from its first delay after a connection that delivered events. An
    exception raised by the consumer's callback is never retried: it is raised from
    :meth:`run` at once.

    Args:
        factory: builds a fresh, unconnected feed (``lambda: P2PFeed(host, port, net)``).
        retry_on: the feed exceptions that lead to a new attempt (default: any ``Exception``
            from the feed itself, e.g. ``OSError``, ``P2PError``, ``MempoolSpaceError``).
        delays: a factory of delay iterators (default :func:`backoff`).
        max_attempts: give up after this many consecutive failed attempts (``None``: never)
            and raise the last error.

    Attributes:
        reconnects: how many times a feed was rebuilt.
        last_error: the last connection error, if any.
    """

    def __init__(
        self,
        factory: Callable[[], AsyncIterable[FeedEvent]],
        *,
        retry_on: tuple[type[BaseException], ...] = (Exception,),
        delays: Callable[[], Iterator[float]] = backoff,
        max_attempts: int | None = None,
    ) -> None:
        self.factory = factory
        self.retry_on = retry_on
        self.delays = delays
        self.max_attempts = max_attempts
        self.reconnects = 0
        self.last_error: BaseException | None = None

    async def run(self, on_event: Callable[[FeedEvent], object]) -> None:
        """Deliver every event of every successive feed to ``on_event`` until cancelled."""
        delays = self.delays()
        failures = 0
        while True:
            delivered = False

            def deliver(event: FeedEvent) -> None:
                nonlocal delivered
                delivered = True
                try:
                    on_event(event)
                except Exception as exc:
                    raise _CallbackFailed() from exc

            feed = self.factory()
            try:
                run = getattr(feed, "run", None)
                if run is not None:
                    await run(deliver)
                else:
                    async for event in feed:
                        deliver(event)
                error: BaseException | None = None  # the peer closed: reconnect
            except _CallbackFailed as wrapped:
                assert wrapped.__cause__ is not None
                raise wrapped.__cause__ from None
            except self.retry_on as exc:
                error = exc
                self.last_error = exc
            if delivered:
                delays, failures = self.delays(), 0
            else:
                failures += 1
                if self.max_attempts is not None and failures >= self.max_attempts:
                    if error is not None:
                        raise error
                    return
            self.reconnects += 1
            await asyncio.sleep(next(delays))

    def __aiter__(self) -> AsyncIterator[FeedEvent]:
        return iterate(self.run)

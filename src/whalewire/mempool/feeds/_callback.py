"""Private: turn a callback-driven feed (``await run(callback)``) into an async iterator.

Feeds whose hot path is a read callback (ZMQ, P2P) implement ``run``; ``async for`` over them
goes through :func:`iterate`, which adds one hop. Knows nothing of any protocol.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from whalewire.mempool.feeds.events import FeedEvent

__all__ = ["Runner", "iterate"]

Runner = Callable[[Callable[[FeedEvent], object]], Awaitable[None]]


async def iterate(run: Runner) -> AsyncIterator[FeedEvent]:
    """Yield the events ``run`` delivers; end when it returns, re-raise what it raises."""
    loop = asyncio.get_running_loop()
    pending: deque[FeedEvent] = deque()
    waiter: asyncio.Future[None] | None = None

    def wake(_: object = None) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_event(event: FeedEvent) -> None:
        pending.append(event)
        wake()

    runner = asyncio.ensure_future(run(on_event))
    runner.add_done_callback(wake)
    try:
        while True:
            while pending:
                yield pending.popleft()
            if runner.done():
                runner.result()  # re-raise what stopped the feed
                return
            waiter = loop.create_future()
            await waiter
            waiter = None
    finally:
        runner.cancel()

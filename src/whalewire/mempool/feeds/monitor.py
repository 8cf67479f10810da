"""Fan several feeds into one stream and deduplicate transactions across them by txid.

:class:`Dedup` is the synchronous rule (events in, keep/drop out, bounded memory);
:class:`Monitor` drives any number of feeds (async iterators of ``FeedEvent``) through it and
hands each surviving event to a callback, with no queue hop, or to ``async for``. This module
knows nothing of any one feed's protocol, of watch lists or of orders.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable

from whalewire.mempool.feeds.events import BlockSeen, EventKind, FeedEvent, FeedGap, RawTxEvent

__all__ = ["Dedup", "Monitor"]

_MEMPOOL = EventKind.MEMPOOL


class Dedup:
    """Keep the first arrival of each transaction and each kind of news about it.

    A transaction is let through once as it enters a mempool (whichever feed is first), once
    when it is reported mined, and once when reported removed; a MEMPOOL report after any
    other report of the same txid is a late duplicate (a feed re-announcing a mined
    transaction must not re-alert). Memory is bounded: the oldest txids are forgotten once
    ``capacity`` are held.

    Attributes:
        first: per feed, how many events it delivered first.
        duplicates: per feed, how many events were dropped as already seen.
        lost: per feed, how many messages it reported lost through :class:`FeedGap` s.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._blocks: OrderedDict[tuple[str, bool], None] = OrderedDict()
        self.first: Counter[str] = Counter()
        self.duplicates: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._seen)

    def snapshot(self) -> list[dict[str, int | str]]:
        """Return per-feed counters, JSON-ready: ``name``, ``first``, ``duplicates``, ``lost``."""
        names = sorted(set(self.first) | set(self.duplicates) | set(self.lost))
        return [
            {
                "name": n,
                "first": self.first[n],
                "duplicates": self.duplicates[n],
                "lost": self.lost[n],
            }
            for n in names
        ]

    def admit(self, event: FeedEvent) -> bool:
        """Return True when ``event`` is news and should be passed on, False when a duplicate."""
        if type(event) is RawTxEvent:
            seen = self._seen
            kinds = seen.get(event.txid)
            if kinds is None:
                seen[event.txid] = 1 << event.kind
                if len(seen) > self.capacity:
                    seen.popitem(last=False)
                self.first[event.feed] += 1
                return True
            bit = 1 << event.kind
            if kinds & bit or event.kind == _MEMPOOL:
                self.duplicates[event.feed] += 1
                return False
            seen[event.txid] = kinds | bit
            self.first[event.feed] += 1
            return True
        if isinstance(event, BlockSeen):
            key = (event.block_hash, event.connected)
            if key in self._blocks:
                self.duplicates[event.feed] += 1
                return False
            self._blocks[key] = None
            if len(self._blocks) > 1024:
                self._blocks.popitem(last=False)
            return True
        if isinstance(event, FeedGap):
            self.lost[event.feed] += event.lost
        return True


class Monitor:
    """Run feeds concurrently and pass each event that :class:`Dedup` admits on.

    Args:
        feeds: async iterables of ``FeedEvent`` (ZMQ, P2P, mempool.space, replay ...).
        capacity: how many recent txids the deduplication remembers.
    """

    def __init__(self, feeds: Iterable[AsyncIterable[FeedEvent]], capacity: int = 100_000) -> None:
        self.feeds = list(feeds)
        self.dedup = Dedup(capacity)

    async def run(self, on_event: Callable[[FeedEvent], object]) -> None:
        """Call ``on_event`` for each admitted event, in the task of the feed that produced it.

        Feeds that offer ``run(callback)`` (the ZMQ feed) are driven through it, so their
        events reach ``on_event`` straight from the socket's read callback.

        Returns when every feed is exhausted. An exception from a feed cancels the others and
        propagates (in an ``ExceptionGroup``), so a broken feed is never silently dropped.
        """
        admit = self.dedup.admit

        def deliver(event: FeedEvent) -> None:
            if admit(event):
                on_event(event)

        async def pump(feed: AsyncIterable[FeedEvent]) -> None:
            # A feed that offers run(callback) delivers from its read callback: no hop.
            run: Callable[[Callable[[FeedEvent], None]], Awaitable[None]] | None
            run = getattr(feed, "run", None)
            if run is not None:
                await run(deliver)
                return
            async for event in feed:
                deliver(event)

        async with asyncio.TaskGroup() as tg:
            for feed in self.feeds:
                tg.create_task(pump(feed))

    async def __aiter__(self) -> AsyncIterator[FeedEvent]:
        """Yield admitted events (a convenience: the callback form of :meth:`run` is faster)."""
        queue: asyncio.Queue[FeedEvent | None] = asyncio.Queue()
        runner = asyncio.create_task(self.run(queue.put_nowait))
        runner.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (event := await queue.get()) is not None:
                yield event
            await runner  # re-raise a feed's failure
        finally:
            runner.cancel()

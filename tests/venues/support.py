"""What the venue client tests share: a clock moved by hand, and the event collector every
client reports into."""

from __future__ import annotations

import asyncio

from whalewire.model import OrderEvent


class Clock:
    """A clock the test moves by hand (``now``: ns for a monotonic clock, ms for a venue's)."""

    def __init__(self, now: int = 0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class Events:
    """Collects ``on_event`` calls and lets a test wait for one kind."""

    def __init__(self) -> None:
        self.items: list[OrderEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: OrderEvent) -> None:
        self.items.append(event)
        self._changed.set()

    def of(self, kind: type[OrderEvent], coid: str) -> list[OrderEvent]:
        """The events of ``kind`` about ``coid`` so far."""
        return [e for e in self.items if isinstance(e, kind) and e.client_order_id == coid]

    async def wait_for(self, kind: type[OrderEvent], coid: str, count: int = 1) -> list[OrderEvent]:
        """Wait (10 s at most) until ``count`` events of ``kind`` about ``coid`` arrived."""
        async with asyncio.timeout(10):
            while len(self.of(kind, coid)) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.of(kind, coid)

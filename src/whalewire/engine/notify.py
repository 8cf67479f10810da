"""Webhook notifications: each chosen event POSTed as JSON, retried with backoff, off the hot path.

The event log (``engine.events``) hands every event it writes to ``Webhook.offer`` (a
subscriber, called when the log drains, never on the hot path); chosen kinds go into a
bounded queue. One task sends them in order, each as one JSON object (the event log's
fields, plus ``engine``: the deployment's namespace): a failure (connection refused, a
timeout, a 5xx or 429) is retried after 0.5 s, 1 s, 2 s... up to ``max_attempts``; a 4xx
other than 429 is not retried. When the queue is full the oldest waiting event is dropped
and counted: a slow receiver never grows memory or delays the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Mapping
from typing import Any

import aiohttp

from whalewire.net.backoff import backoff

log = logging.getLogger("whalewire.notify")

#: the kinds notified when none are configured
DEFAULT_KINDS = ("whale", "fill", "denial", "halt", "resume")


class Webhook:
    """Sends chosen events to one URL."""

    def __init__(
        self,
        url: str,
        *,
        kinds: tuple[str, ...] = DEFAULT_KINDS,
        engine: str = "",
        max_attempts: int = 5,
        backoff_s: float = 0.5,
        timeout_s: float = 5.0,
        capacity: int = 1000,
    ) -> None:
        self.url = url
        self.kinds = frozenset(kinds)
        self.engine = engine
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._queue: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    def offer(self, event: Mapping[str, Any]) -> None:
        """Queue ``event`` if its kind is notified (the event log's subscriber)."""
        if event.get("event") not in self.kinds:
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        body = {k: v for k, v in event.items() if k != "line"}
        body["message"] = event.get("line", "")
        body["engine"] = self.engine
        self._queue.append(body)
        self._ready.set()

    def start(self) -> None:
        """Start sending (on the running loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, flush_s: float = 2.0) -> None:
        """Send what is queued for up to ``flush_s``, then stop."""
        if self._task is None:
            return
        deadline = asyncio.get_running_loop().time() + flush_s
        while self._queue and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if not self._queue:
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                body = self._queue[0]
                if await self._deliver(session, body):
                    self.sent += 1
                else:
                    self.failed += 1
                if self._queue and self._queue[0] is body:
                    self._queue.popleft()

    async def _deliver(self, session: aiohttp.ClientSession, body: dict[str, Any]) -> bool:
        # the same doubling waits as every reconnect (net.backoff), unjittered and uncapped
        delays = backoff(self.backoff_s, cap=math.inf, jitter=False)
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with session.post(self.url, json=body) as response:
                    if response.status < 300:
                        return True
                    if response.status < 500 and response.status != 429:
                        log.warning(
                            "webhook %s refused an event: HTTP %s", self.url, response.status
                        )
                        return False
                    why = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                why = f"{type(exc).__name__}: {exc}"
            if attempt < self.max_attempts:
                delay = next(delays)
                log.info("webhook %s: %s; retry %d in %.1f s", self.url, why, attempt, delay)
                await asyncio.sleep(delay)
        log.warning("webhook %s: gave up on an event after %d attempts", self.url, attempt)
        return False

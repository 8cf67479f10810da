"""A role's connection to NATS: connect with backoff until it works, then let nats-py keep it.

``nats.connect`` fails at once when no server answers; a role started before its NATS (a
machine booting, a node restarting) must wait instead, so ``connect`` retries with
``whalewire.net.backoff``'s delays (jittered, capped) until it succeeds or the role is
stopped. Once connected, nats-py reconnects by itself (every server in ``servers`` and the
ones the cluster advertises, ``reconnect_time_wait`` apart, forever) and buffers what is
published meanwhile; ``Link`` counts disconnects and reconnects for the heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import nats
from nats.aio.client import Client

from whalewire.fleet.wire import Heartbeat, Role, encode
from whalewire.net.backoff import backoff

log = logging.getLogger("whalewire.fleet")


class Link:
    """One role's NATS connection and what happened to it."""

    def __init__(self, servers: Sequence[str], name: str) -> None:
        self.servers = list(servers)
        self.name = name
        self.disconnects = 0
        self.reconnects = 0
        self.errors = 0
        self.connected = asyncio.Event()
        #: called (plain calls, in the client's task) after every reconnect
        self.on_reconnected: list[Callable[[], object]] = []
        self._nc: Client | None = None

    @property
    def nc(self) -> Client:
        """The client (after ``connect``)."""
        if self._nc is None:
            raise RuntimeError("Link.connect() first")
        return self._nc

    async def connect(self, *, first_delay_s: float = 0.2, cap_s: float = 5.0) -> Client:
        """Connect, retrying with backoff while no server answers; return the client."""
        delays = backoff(first_delay_s, cap=cap_s)
        while True:
            try:
                self._nc = await nats.connect(
                    self.servers,
                    name=self.name,
                    connect_timeout=2,
                    reconnect_time_wait=0.25,
                    max_reconnect_attempts=-1,
                    ping_interval=1,
                    max_outstanding_pings=3,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
            except (OSError, nats.errors.Error, TimeoutError) as exc:
                delay = next(delays)
                log.warning(
                    "%s: NATS not reachable (%s); retrying in %.2f s", self.name, exc, delay
                )
                await asyncio.sleep(delay)
                continue
            self.connected.set()
            return self._nc

    async def close(self) -> None:
        """Send what is buffered and close (never waits long on a broker that is gone)."""
        nc = self._nc
        if nc is None or nc.is_closed:
            return
        # not drain() or wait_for(flush()): a PING whose wait is cancelled leaves its
        # future in nats-py's queue, and the PONG then kills the client's reader
        if nc.is_connected:
            with contextlib.suppress(Exception):
                await nc.flush(timeout=2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 5.0)

    async def _on_error(self, exc: Exception) -> None:
        self.errors += 1
        log.debug("%s: NATS error: %s", self.name, exc)

    async def _on_disconnected(self) -> None:
        self.disconnects += 1
        self.connected.clear()

    async def _on_reconnected(self) -> None:
        self.reconnects += 1
        self.connected.set()
        for hook in self.on_reconnected:
            hook()

    async def heartbeats(
        self,
        subject: str,
        role: Role,
        name: str,
        *,
        state: Callable[[], str],
        stats: Callable[[], dict[str, Any]],
        interval_s: float,
    ) -> None:
        """Publish the role's heartbeat every ``interval_s`` until cancelled.

        ``seq`` counts up from 1 at each start, so the operator's view sees lost beats as a
        gap; ``state`` and ``stats`` are read at each beat. A publish that fails while
        reconnecting is dropped: the next beat will do.
        """
        seq = 0
        while True:
            seq += 1
            beat = Heartbeat(
                role=role,
                name=name,
                seq=seq,
                wall_ns=time.time_ns(),
                state=state(),
                stats=stats(),
            )
            with contextlib.suppress(Exception):
                await self.nc.publish(subject, encode(beat))
            await asyncio.sleep(interval_s)

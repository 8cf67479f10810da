"""The sensor role: mempool feeds and whale detection, alerts published on core NATS.

A sensor runs the configured feeds through the deduplicating ``Monitor`` into a
``WhaleDetector`` (the same parts, built from the same configuration tables, as
``whalewire run``), and publishes each alert on ``<prefix>.alerts.<entity>`` as a wire
``Alert`` stamped with when its feed first saw the transaction (and, with
``publish_seen``, every transaction's first-seen stamp on ``<prefix>.seen``). It holds no
orders, keys or journal: a sensor can sit beside any Bitcoin node in any region. The feed
callback never awaits: messages go into an outbox a publishing task drains, and while NATS
is away nats-py buffers them until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncIterable, Sequence
from typing import Any

import msgspec

from whalewire.engine.config import Config
from whalewire.engine.runner import detector_for, feeds
from whalewire.fleet.config import FleetSection, peer_addresses
from whalewire.fleet.link import Link
from whalewire.fleet.wire import Alert, Role, Seen, Subjects, encode
from whalewire.mempool.feeds.events import EventKind, FeedEvent, RawTxEvent
from whalewire.mempool.feeds.monitor import Monitor
from whalewire.mempool.feeds.p2p_pool import PeerPool
from whalewire.mempool.tx import TxParseError

log = logging.getLogger("whalewire.fleet.sensor")


class Sensor:
    """Feeds → detector → alerts on NATS, with a heartbeat."""

    def __init__(
        self,
        config: Config,
        fleet: FleetSection,
        *,
        sources: Sequence[AsyncIterable[FeedEvent]] | None = None,
    ) -> None:
        self.fleet = fleet
        self.name = fleet.name
        self.subjects = Subjects(fleet.subject_prefix)
        self.detector = detector_for(config)
        chosen = list(feeds(config) if sources is None else sources)
        #: the many-peer P2P feed of ``[fleet] p2p_peers`` (None: not configured)
        self.peers: PeerPool | None = None
        if fleet.p2p_peers:
            self.peers = PeerPool(
                peer_addresses(fleet),
                fleet.p2p_network,
                max_peers=fleet.p2p_max_peers,
                discover=fleet.p2p_discover,
            )
            chosen.append(self.peers)
        self.monitor = Monitor(chosen)
        self.link = Link(fleet.nats, f"sensor:{fleet.name}")
        self.delay_s = fleet.delay_ms / 1000
        self.counts: Counter[str] = Counter()
        self.feeds_done = asyncio.Event()
        self._outbox: deque[tuple[str, bytes]] = deque()
        self._ready = asyncio.Event()

    # -- the feed callback: never awaits --------------------------------------------------
    def on_event(self, event: FeedEvent) -> None:
        """Detect on one feed event; queue its alerts (and first-seen stamp) for NATS."""
        if type(event) is not RawTxEvent or not event.raw:
            return
        self.counts["transactions"] += 1
        if self.fleet.publish_seen:
            seen = Seen(
                sensor=self.name, txid=event.txid, feed=event.feed, seen_wall_ns=event.recv_wall_ns
            )
            self._queue(self.subjects.seen, encode(seen))
        try:
            alerts = self.detector.feed(
                event.raw,
                feed=event.feed,
                recv_ns=event.recv_ns,
                recv_wall_ns=event.recv_wall_ns,
                txid=event.txid,
            )
        except TxParseError as exc:
            self.counts["malformed_transactions"] += 1
            log.warning("feed %s: malformed transaction: %s", event.feed, exc)
            return
        mined = event.kind is EventKind.MINED
        for a in alerts:
            self.counts["alerts"] += 1
            alert = Alert(
                sensor=self.name,
                txid=a.txid,
                kind=a.kind,
                entity=a.entity,
                value=a.value,
                feed=a.feed,
                seen_wall_ns=a.recv_wall_ns,
                sent_wall_ns=0,
                mined=mined,
            )
            if self.delay_s > 0:
                asyncio.get_running_loop().call_later(self.delay_s, self._queue_alert, alert)
            else:
                self._queue_alert(alert)

    def _queue_alert(self, alert: Alert) -> None:
        stamped = msgspec.structs.replace(alert, sent_wall_ns=time.time_ns())
        self._queue(self.subjects.alert(alert.entity), encode(stamped))

    def _queue(self, subject: str, data: bytes) -> None:
        self._outbox.append((subject, data))
        self._ready.set()

    # -- the role ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, *, go: asyncio.Event | None = None) -> None:
        """Connect, then feed (once ``go`` is set, if given) and publish until ``stop``."""
        await self.link.connect()
        tasks = [
            asyncio.create_task(self._publish()),
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(self._feed(go)),
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._flush_outbox()
            await self.link.close()

    async def _feed(self, go: asyncio.Event | None) -> None:
        if go is not None:
            await go.wait()
        try:
            await self.monitor.run(self.on_event)
        finally:
            self.feeds_done.set()

    async def _publish(self) -> None:
        nc = self.link.nc
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._outbox:
                subject, data = self._outbox.popleft()
                await nc.publish(subject, data)
                self.counts["published"] += 1

    async def _flush_outbox(self) -> None:
        with contextlib.suppress(Exception):
            while self._outbox:
                subject, data = self._outbox.popleft()
                await self.link.nc.publish(subject, data)

    def stats(self) -> dict[str, Any]:
        """What the heartbeat reports."""
        return {
            **self.counts,
            "feeds": self.monitor.dedup.snapshot(),
            "peers": self.peers.snapshot() if self.peers is not None else None,
            "disconnects": self.link.disconnects,
        }

    async def _heartbeat(self) -> None:
        await self.link.heartbeats(
            self.subjects.heartbeat(Role.SENSOR, self.name),
            Role.SENSOR,
            self.name,
            state=lambda: "ok" if not self.feeds_done.is_set() else "feeds ended",
            stats=self.stats,
            interval_s=self.fleet.heartbeat_interval_s,
        )

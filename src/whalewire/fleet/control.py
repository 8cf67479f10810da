"""The operator's side of the fleet: the control heartbeat, kill and resume, and the fleet view.

``ControlPlane.beat`` publishes the control heartbeat executors halt without (run it on one
or more machines: ``whalewire fleet control``; any beat counts). ``kill`` and ``resume``
reach every executor two ways at once: the desired state is written to the KV bucket
(read by executors at every connect and watched), and the command is broadcast on core
NATS (the fast path). ``FleetView`` listens to every role's heartbeat for a moment and
says who is there, how recently heard, and what each reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
import nats
from nats.aio.msg import Msg
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from whalewire.fleet.executor import ensure_streams
from whalewire.fleet.link import Link
from whalewire.fleet.wire import (
    CONTROL_BUCKET,
    KILL_KEY,
    ORDERS_STREAM,
    Action,
    Command,
    Heartbeat,
    Inbox,
    OrderRecord,
    Role,
    Subjects,
    encode,
)


async def order_records(servers: list[str]) -> list[OrderRecord]:
    """Read every record of the order stream (the audit view of every executor's journal)."""
    nc = await nats.connect(servers)
    try:
        js = nc.jetstream(timeout=5)
        info = await js.stream_info(ORDERS_STREAM)
        inbox = Inbox()
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(ORDERS_STREAM, seq)
            record = inbox.expect(msg.data or b"", OrderRecord)
            if record is not None:
                out.append(record)
        return out
    finally:
        await nc.close()


def operator() -> str:
    """Name who issues a command: the host, for the audit and the halt's reason."""
    return f"operator@{socket.gethostname()}"


class ControlPlane:
    """Publish the control heartbeat; issue kill and resume."""

    def __init__(
        self,
        servers: list[str],
        *,
        name: str = "control",
        prefix: str = "ww",
        interval_s: float = 1.0,
        replicas: int = 1,
    ) -> None:
        self.link = Link(servers, f"control:{name}")
        self.name = name
        self.subjects = Subjects(prefix)
        self.interval_s = interval_s
        self.replicas = replicas
        self.beats = 0
        #: the kill switch's desired state as last read from the bucket (None: never set)
        self.desired: Command | None = None
        self._kv: KeyValue | None = None

    async def connect(self, *, create: bool = True) -> None:
        """Connect to NATS and open the control bucket (``create``: and the stream, if missing).

        Without ``create`` (a read-only look: ``status``) nothing is made: a cluster's
        bucket is made with its replicas by the first executor or command, not an R1 one by
        a passing glance; the bucket stays unopened (None) where JetStream does not answer.
        """
        nc = await self.link.connect()
        if create:
            js = nc.jetstream(timeout=5)
            self._kv = await ensure_streams(js, self.replicas, self.subjects.prefix)
            return
        with contextlib.suppress(Exception):
            await self._open_bucket()

    async def _open_bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self.link.nc.jetstream(timeout=5).key_value(CONTROL_BUCKET)
        return self._kv

    async def read_desired(self) -> Command | None:
        """Read the kill switch's desired state from the bucket (None: never set).

        Raises:
            Exception: the bucket cannot be read (none yet, JetStream unavailable).
        """
        kv = await self._open_bucket()  # made since we connected, by an executor or a kill
        try:
            entry = await kv.get(KILL_KEY)
        except KeyNotFoundError:
            return None
        return Inbox().expect(entry.value or b"", Command)

    async def close(self) -> None:
        """Close the connection."""
        await self.link.close()

    async def beat(self, stop: asyncio.Event) -> None:
        """Publish the control heartbeat every ``interval_s`` until ``stop`` is set.

        Each beat carries the kill switch's desired state as last read from the KV bucket
        (``state = "kill"`` and the command in ``stats``): the third way a kill reaches an
        executor that missed the broadcast and the bucket's watch. The bucket is read by a
        task of its own, so a JetStream outage never delays a beat.
        """
        nc = self.link.nc
        following = asyncio.create_task(self._follow_desired(stop))
        try:
            while not stop.is_set():
                self.beats += 1
                desired = self.desired
                killed = desired is not None and desired.action is Action.KILL
                hb = Heartbeat(
                    role=Role.CONTROL,
                    name=self.name,
                    seq=self.beats,
                    wall_ns=time.time_ns(),
                    state="kill" if killed else "ok",
                    stats=msgspec.structs.asdict(desired) if killed and desired else {},
                )
                with contextlib.suppress(Exception):  # reconnecting: the next beat will do
                    await nc.publish(self.subjects.control_heartbeat, encode(hb))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval_s)
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)

    async def _follow_desired(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self._kv is not None:
                with contextlib.suppress(Exception):  # unavailable: keep the last known state
                    self.desired = await self.read_desired()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)

    async def command(self, action: Action, source: str | None = None) -> Command:
        """Set the desired state in the KV, then broadcast it; return the command."""
        assert self._kv is not None, "connect() first"
        command = Command(action=action, source=source or operator(), issued_wall_ns=time.time_ns())
        data = encode(command)
        await self.link.nc.publish(self.subjects.commands, data)  # the fast path first
        await self.link.nc.flush()
        await self._kv.put(KILL_KEY, data)
        self.desired = command
        return command


@dataclass
class Member:
    """One role as its heartbeats describe it."""

    role: str
    name: str
    last: Heartbeat
    heard_monotonic: float
    beats: int = 1
    stats: dict[str, Any] = field(default_factory=dict)

    def age_s(self) -> float:
        """Seconds since its last heartbeat arrived."""
        return time.monotonic() - self.heard_monotonic

    def health(self, interval_s: float) -> str:
        """``ok`` / ``late`` (> 2 intervals) / ``lost`` (> 5 intervals), or its own state."""
        age = self.age_s()
        if age > 5 * interval_s:
            return "lost"
        if age > 2 * interval_s:
            return "late"
        return self.last.state


class FleetView:
    """Every role's latest heartbeat, kept up to date while subscribed."""

    def __init__(self, link: Link, prefix: str = "ww") -> None:
        self.link = link
        self.subjects = Subjects(prefix)
        self.inbox = Inbox()
        self.members: dict[tuple[str, str], Member] = {}

    async def start(self) -> None:
        """Subscribe to every heartbeat."""
        await self.link.nc.subscribe(self.subjects.heartbeats, cb=self._on_beat)

    async def _on_beat(self, msg: Msg) -> None:
        beat = self.inbox.expect(msg.data, Heartbeat)
        if beat is None:
            return
        key = (beat.role.value, beat.name)
        member = self.members.get(key)
        if member is None:
            self.members[key] = Member(
                beat.role.value, beat.name, beat, time.monotonic(), stats=beat.stats
            )
        else:
            member.last = beat
            member.heard_monotonic = time.monotonic()
            member.beats += 1
            member.stats = beat.stats

    def snapshot(self, interval_s: float = 1.0) -> list[dict[str, Any]]:
        """JSON-ready: one row per role, sensors first."""
        order = {"sensor": 0, "executor": 1, "control": 2}
        rows = []
        for (role, name), m in sorted(self.members.items(), key=lambda i: (order[i[0][0]], i[0])):
            rows.append(
                {
                    "role": role,
                    "name": name,
                    "health": m.health(interval_s),
                    "age_s": round(m.age_s(), 2),
                    "stats": m.stats,
                }
            )
        return rows

"""The executor role: an engine beside its venues, trading on alerts that come over NATS.

The executor composes an engine (built by ``engine.runner.build`` with no local feeds) and
talks to it through three calls only: ``on_alert(alert)`` (the hot path, a plain call),
``kill(source)`` and ``status()``. Around it:

- **alerts** (core NATS ``<prefix>.alerts.*``): decoded (``Inbox``: garbage is counted and
  dropped), deduplicated across sensors by txid (``FirstArrival``: first arrival wins; the
  winner and its lead are recorded), then handed to ``engine.on_alert`` in nats-py's
  delivery task, with nothing awaited on the way: the hot path never waits on the broker.
- **the kill switch**, three ways: the ``<prefix>.cmd`` broadcast; the desired state in the
  JetStream KV bucket ``ww_control`` (read at every connect, then watched); and the control
  heartbeat (``<prefix>.control.hb``): silent for ``halt_after_s``, the executor halts
  (fail-safe; a venue's own dead man's switch, Kraken's cancel-after, is kept armed by the
  engine). Until the desired state has been read, nothing is traded. Every command
  applied is acknowledged on ``<prefix>.ack.<name>`` (``Ack``: the state reached; for a
  kill, after the engine's cancels, with what is still open), once whichever way it came.
- **the journal into JetStream**: every record of the engine's journal goes to the stream
  ``WW_ORDERS`` on ``<prefix>.orders.<name>``, in order, with ``Nats-Msg-Id =
  <name>:<seq>`` (the server drops a repeat within its duplicate window) and the journal
  sequence in a header; on (re)connect the executor asks the stream for its last record and
  resumes after it, so a restart replays nothing twice and skips nothing. The journal on
  the executor's disk stays the source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any, Protocol

import msgspec
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from whalewire.fleet.config import FleetSection
from whalewire.fleet.link import Link
from whalewire.fleet.wire import (
    CONTROL_BUCKET,
    KILL_KEY,
    ORDERS_STREAM,
    SEQ_HEADER,
    Ack,
    Action,
    Alert,
    Command,
    Heartbeat,
    Inbox,
    OrderRecord,
    Role,
    Subjects,
    encode,
)
from whalewire.mempool.feeds.firstseen import FirstArrival
from whalewire.mempool.whales import AlertKind
from whalewire.model import AnyMessage

log = logging.getLogger("whalewire.fleet.executor")

HEARTBEAT_LOST = "control heartbeat lost"
#: the stream's duplicate window: a record republished within it is dropped by the server
DUPLICATE_WINDOW_S = 600.0


class EngineFacade(Protocol):
    """What the executor needs of the engine (``whalewire.engine.app.Engine``)."""

    def on_alert(self, alert: Any, *, mined: bool = False) -> None: ...

    async def kill(self, source: str) -> Mapping[str, Any]: ...

    def status(self) -> Mapping[str, Any]: ...


class JournalTap(Protocol):
    """What the executor reads of the engine's journal (``Journal.since``, ``next_seq``)."""

    @property
    def next_seq(self) -> int: ...

    def since(self, seq: int) -> list[tuple[int, AnyMessage]]: ...


class ArrivedAlert(msgspec.Struct, frozen=True, gc=False):
    """An alert as the engine takes it: the sensor's facts, this executor's arrival stamp."""

    txid: str
    kind: AlertKind
    entity: str
    value: int
    #: ``perf_counter_ns()`` when the alert arrived here (the engine's latency origin)
    recv_ns: int
    feed: str
    sensor: str


async def ensure_streams(js: JetStreamContext, replicas: int, prefix: str = "ww") -> KeyValue:
    """Create the order stream and the control bucket if missing; return the bucket."""
    try:
        await js.stream_info(ORDERS_STREAM)
    except NotFoundError:
        await js.add_stream(
            name=ORDERS_STREAM,
            subjects=[Subjects(prefix).orders],
            num_replicas=replicas,
            duplicate_window=DUPLICATE_WINDOW_S,
        )
    try:
        return await js.key_value(CONTROL_BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(bucket=CONTROL_BUCKET, history=16, replicas=replicas)


class Executor:
    """Alerts from NATS into one engine; its journal into JetStream; the kill switch."""

    def __init__(self, engine: EngineFacade, journal: JournalTap, fleet: FleetSection) -> None:
        self.engine = engine
        self.journal = journal
        self.fleet = fleet
        self.name = fleet.name
        self.subjects = Subjects(fleet.subject_prefix)
        self.link = Link(fleet.nats, f"executor:{fleet.name}")
        self.inbox = Inbox()
        self.dedup = FirstArrival(fleet.dedup_capacity)
        self.counts: Counter[str] = Counter()
        #: the kill switch's desired state (None: not read yet, so nothing is traded)
        self.desired: Action | None = None
        self.desired_source = ""
        #: why alerts do not reach the engine now ("" when they do)
        self.halted = "not connected yet"
        self._latched = False
        self._engine_killed = False
        self._last_command: tuple[Action, str, int] | None = None
        self._last_issued_ns = 0
        #: ``monotonic()`` of the last control heartbeat (None: none yet)
        self.last_control_beat: float | None = None
        #: kill commands' propagation, issue → here, in ms (wall clocks)
        self.kill_latency_ms: list[float] = []
        #: the last journal sequence number the stream acknowledged
        self.streamed_seq = 0
        #: per message type, the journal records streamed by this process
        self.journaled: Counter[str] = Counter()
        self.started = time.monotonic()
        self._kills: set[asyncio.Task[Any]] = set()
        #: the engine's last kill (its cancels), which a kill's acknowledgement waits for
        self._killing: asyncio.Task[Any] | None = None
        #: the last first-arrivals: (txid, entity, kind, value, sensor, seen_wall_ns, outcome)
        self.recent_alerts: deque[tuple[str, str, str, int, str, int, str]] = deque(maxlen=5)
        self._stream_ready = asyncio.Event()

    @property
    def trading(self) -> bool:
        """Whether alerts reach the engine now."""
        return not self.halted

    # -- the hot path --------------------------------------------------------------------
    async def _on_alert_msg(self, msg: Msg) -> None:
        arrival = time.perf_counter_ns()
        alert = self.inbox.expect(msg.data, Alert)
        if alert is None:
            return
        self.counts["alerts"] += 1
        if not self.dedup.admit(alert.txid, alert.sensor, arrival):
            self.counts["duplicates"] += 1
            return
        if alert.mined:
            self.counts["mined"] += 1
            self._remember(alert, "mined")
            return
        if self.halted:
            self.counts["alerts_while_halted"] += 1
            self._remember(alert, "halted")
            return
        self.engine.on_alert(
            ArrivedAlert(
                txid=alert.txid,
                kind=alert.kind,
                entity=alert.entity,
                value=alert.value,
                recv_ns=arrival,
                feed=alert.feed,
                sensor=alert.sensor,
            )
        )
        self.counts["handed"] += 1
        self._remember(alert, "traded")

    def _remember(self, alert: Alert, outcome: str) -> None:
        # after the engine's call: the order is already on its way
        self.recent_alerts.append(
            (alert.txid, alert.entity, alert.kind.value, alert.value, alert.sensor,
             alert.seen_wall_ns, outcome)
        )  # fmt: skip

    # -- the kill switch -----------------------------------------------------------------
    def _command(self, command: Command, how: str) -> None:
        key = (command.action, command.source, command.issued_wall_ns)
        if key == self._last_command:
            return  # the same command by another path (broadcast, then the KV): once
        self._last_command = key
        self._last_issued_ns = max(self._last_issued_ns, command.issued_wall_ns)
        if command.action is Action.KILL and command.issued_wall_ns:
            self.kill_latency_ms.append((time.time_ns() - command.issued_wall_ns) / 1e6)
        self.desired = command.action
        self.desired_source = f"{command.source} ({how})"
        if command.action is Action.RESUME:
            self._latched = False  # an operator's resume also lifts a heartbeat halt
        self._update()
        task = asyncio.get_running_loop().create_task(self._acknowledge(command))
        self._kills.add(task)
        task.add_done_callback(self._kills.discard)

    async def _acknowledge(self, command: Command) -> None:
        """Tell the operator this command is applied (a kill: once the cancels are done)."""
        report: Mapping[str, Any] = {}
        killing = self._killing
        if command.action is Action.KILL and killing is not None:
            await asyncio.wait({killing})
            if not killing.cancelled() and killing.exception() is None:
                report = killing.result()
        failures = {
            k: str(v) for k, v in report.get("canceled", {}).items() if str(v).startswith("failed")
        }
        ack = Ack(
            executor=self.name,
            action=command.action,
            source=command.source,
            issued_wall_ns=command.issued_wall_ns,
            halted=self.halted,
            open_orders=open_orders(self.engine),
            cancel_failures=failures,
            wall_ns=time.time_ns(),
        )
        with contextlib.suppress(Exception):  # reconnecting: the heartbeat still says it
            await self.link.nc.publish(self.subjects.ack(self.name), encode(ack))

    def _why_halted(self) -> str:
        if self.desired is None:
            return "kill switch state not read yet"
        if self.desired is Action.KILL:
            return f"kill switch: {self.desired_source}"
        if self._latched:
            return HEARTBEAT_LOST
        beat = self.last_control_beat
        if beat is None:
            return "no control heartbeat yet"
        if time.monotonic() - beat > self.fleet.halt_after_s:
            return HEARTBEAT_LOST
        return ""

    def _update(self) -> None:
        """Recompute whether alerts reach the engine; halt or resume it on a change."""
        reason = self._why_halted()
        was = self.halted
        self.halted = reason  # first: no alert passes from here on
        # the engine is killed (orders canceled) once: when trading stops, or on a kill
        # switch set before it ever traded (orders the journal left open are canceled)
        if reason and not self._engine_killed and (not was or self.desired is Action.KILL):
            self._kill_engine(reason)
        elif not reason and was and self._engine_killed:
            resume_engine(self.engine, f"fleet: {self.desired_source}")
            self._engine_killed = False
            log.warning("%s trading again: %s", self.name, self.desired_source)

    def _kill_engine(self, reason: str) -> None:
        self.counts["halts"] += 1
        self._engine_killed = True
        task = asyncio.get_running_loop().create_task(self.engine.kill(f"fleet: {reason}"))
        self._killing = task
        self._kills.add(task)
        task.add_done_callback(self._killed)
        log.warning("%s halted: %s", self.name, reason)

    def _killed(self, task: asyncio.Task[Any]) -> None:
        self._kills.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # halted all the same (no alert passes); the cancels may not all have been made
            self.counts["kill_errors"] += 1
            log.error("%s: canceling open orders failed: %r", self.name, task.exception())

    async def _on_command(self, msg: Msg) -> None:
        command = self.inbox.expect(msg.data, Command)
        if command is not None:
            self._command(command, "broadcast")

    async def _on_control_beat(self, msg: Msg) -> None:
        beat = self.inbox.expect(msg.data, Heartbeat)
        if beat is None or beat.role is not Role.CONTROL:
            return
        self.last_control_beat = time.monotonic()
        if beat.state == "kill" and self.desired is not Action.KILL:
            # the third way: a kill this executor missed (broadcast lost, watch broken);
            # one issued before the last command applied here is stale (a resume followed)
            try:
                command = msgspec.convert(beat.stats, Command)
            except msgspec.ValidationError:
                command = Command(action=Action.KILL, source=beat.name, issued_wall_ns=0)
            if command.issued_wall_ns > self._last_issued_ns or self.desired is None:
                self._command(command, "control heartbeat")
        if self._latched and self.fleet.resume_on_heartbeat:
            self._latched = False
        if self.halted:
            self._update()

    async def _watch_heartbeat(self) -> None:
        # fail-safe: no word from the control plane for halt_after_s halts trading, and
        # (unless resume_on_heartbeat) it stays halted until an operator's resume
        while True:
            await asyncio.sleep(min(0.1, self.fleet.halt_after_s / 10))
            beat = self.last_control_beat
            if beat is not None and time.monotonic() - beat > self.fleet.halt_after_s:
                self._latched = not self.fleet.resume_on_heartbeat
            self._update()

    async def _read_desired(self, kv: KeyValue) -> None:
        try:
            entry = await kv.get(KILL_KEY)
        except KeyNotFoundError:
            command = Command(action=Action.RESUME, source="(no kill switch set)", issued_wall_ns=0)
        else:
            decoded = self.inbox.expect(entry.value or b"", Command)
            # an unreadable desired state is a kill: never trade on a state we cannot read
            command = decoded or Command(
                action=Action.KILL, source="(unreadable kill switch)", issued_wall_ns=0
            )
        self._command(command, "desired state")

    async def _watch_desired(self, kv: KeyValue) -> None:
        while True:
            try:
                watcher = await kv.watch(KILL_KEY)
                async for entry in watcher:
                    if entry is None or entry.value is None:
                        continue
                    command = self.inbox.expect(entry.value, Command)
                    if command is not None:
                        self._command(command, "desired state")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bucket's leader moved, a reconnect: watch again
                log.info("%s: watch of the kill switch restarts: %s", self.name, exc)
                await asyncio.sleep(0.5)
                with contextlib.suppress(Exception):
                    await self._read_desired(kv)

    # -- the journal into JetStream ------------------------------------------------------
    async def _resume_point(self, js: JetStreamContext) -> int:
        subject = self.subjects.order_events(self.name)
        try:
            last = await js.get_last_msg(ORDERS_STREAM, subject)
        except NotFoundError:
            return 0
        headers = last.headers or {}
        return int(headers.get(SEQ_HEADER, "0"))

    async def _stream_journal(self, js: JetStreamContext) -> None:
        subject = self.subjects.order_events(self.name)
        while True:
            try:
                self.streamed_seq = max(self.streamed_seq, await self._resume_point(js))
                self._stream_ready.set()
                log.info("%s: streaming the journal after record %d", self.name, self.streamed_seq)
                while True:
                    if self.journal.next_seq - 1 > self.streamed_seq:
                        # read off the loop's thread: the journal's lock may be held by a
                        # checkpoint (an fsync), and the loop is the hot path's
                        rows = await asyncio.to_thread(self.journal.since, self.streamed_seq)
                        for seq, message in rows:
                            record = OrderRecord(executor=self.name, seq=seq, message=message)
                            await js.publish(
                                subject,
                                encode(record),
                                headers={"Nats-Msg-Id": f"{self.name}:{seq}", SEQ_HEADER: str(seq)},
                            )
                            self.streamed_seq = seq
                            self.counts["streamed"] += 1
                            self.journaled[type(message).__name__] += 1
                    await asyncio.sleep(self.fleet.stream_poll_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # no stream leader, a reconnect: resume from the stream
                self.counts["stream_retries"] += 1
                log.info("%s: streaming the journal paused: %s", self.name, exc)
                await asyncio.sleep(0.25)

    # -- heartbeat -----------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """What the heartbeat reports (and ``whalewire fleet status`` shows)."""
        # not engine.status(): its latency summaries walk histograms (hundreds of ms),
        # too long a stall for a heartbeat; the journal's records say what was ordered
        return {
            **self.counts,
            "desired": self.desired.value if self.desired else None,
            "halted": self.halted,
            "orders_sent": self.journaled["OrderSubmitted"],
            "journaled": dict(self.journaled),
            "journal_seq": self.journal.next_seq - 1,
            "streamed_seq": self.streamed_seq,
            "dedup": self.dedup.snapshot(),
            "dropped": dict(self.inbox.dropped),
            "kill_latency_ms": self.kill_latency_ms[-5:],
            "disconnects": self.link.disconnects,
            "positions": positions(self.engine),
            "open_orders": open_orders(self.engine),
            "recent_alerts": [
                dict(zip(_ALERT_FIELDS, alert, strict=True)) for alert in self.recent_alerts
            ],
        }

    async def _heartbeat(self) -> None:
        await self.link.heartbeats(
            self.subjects.heartbeat(Role.EXECUTOR, self.name),
            Role.EXECUTOR,
            self.name,
            state=lambda: "halted" if self.halted else "ok",
            stats=self.stats,
            interval_s=self.fleet.heartbeat_interval_s,
        )

    # -- the role ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Connect, read the kill switch, then trade on alerts until ``stop`` is set."""
        nc = await self.link.connect()
        tasks: list[asyncio.Task[Any]] = [
            asyncio.create_task(self._watch_heartbeat()),
            asyncio.create_task(self._heartbeat()),
        ]
        try:
            await nc.subscribe(self.subjects.control_heartbeat, cb=self._on_control_beat)
            await nc.subscribe(self.subjects.commands, cb=self._on_command)
            js = nc.jetstream(timeout=5)
            fleet = self.fleet
            kv = await _retry(
                lambda: ensure_streams(js, fleet.replicas, fleet.subject_prefix), stop
            )
            if kv is not None:
                await _retry(lambda: self._read_desired(kv), stop)
                tasks.append(asyncio.create_task(self._watch_desired(kv)))
                # the desired state is read again at every reconnect, not only watched
                self.link.on_reconnected.append(
                    lambda: tasks.append(asyncio.create_task(_retry(
                        lambda: self._read_desired(kv), stop)))
                )  # fmt: skip
            # alerts last: none is taken before the kill switch's desired state is known
            await nc.subscribe(self.subjects.alerts, cb=self._on_alert_msg)
            tasks.append(asyncio.create_task(self._stream_journal(js)))
            await stop.wait()
            await self.drain_stream(2.0)  # what the journal has, in the stream before we go
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, *self._kills, return_exceptions=True)
            await self.link.close()

    async def drain_stream(self, timeout: float = 5.0) -> bool:
        """Wait until every journal record so far is in the stream; return whether it is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._stream_ready.is_set() and self.streamed_seq >= self.journal.next_seq - 1:
                return True
            await asyncio.sleep(0.02)
        return False


_ALERT_FIELDS = ("txid", "entity", "kind", "value", "sensor", "seen_wall_ns", "outcome")


def positions(engine: object) -> dict[str, str]:
    """Per symbol, the position ``engine``'s risk books hold (none for an engine without)."""
    risk = getattr(engine, "risk", None)
    books: Mapping[str, Any] = getattr(risk, "books", {})
    return {symbol: str(book.position) for symbol, book in books.items()}


def open_orders(engine: object, limit: int = 100) -> list[str]:
    """The client order ids ``engine`` holds open (not final), the first ``limit`` of them.

    Bounded: it rides in every heartbeat and acknowledgement (a whale strategy holds a
    handful; a hundred says "far too many" as well as ten thousand would).
    """
    orders: Mapping[str, Any] = getattr(engine, "orders", {})
    return [cid for cid, order in orders.items() if not order.is_final][:limit]


async def _retry(make: Any, stop: asyncio.Event) -> Any:
    while not stop.is_set():
        try:
            return await make()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # JetStream not ready yet (no leader): try again
            log.info("JetStream not ready: %s", exc)
            await asyncio.sleep(0.25)
    return None


def resume_engine(engine: EngineFacade, source: str) -> None:
    """Let ``engine`` trade again after a kill.

    The engine's façade has ``kill`` and no ``resume`` yet: its ``resume(source)`` is used
    when it has one, else the risk engine is set ACTIVE (the one place the fleet reaches
    past the façade; see docs/how-to/fleet.md).
    """
    resume = getattr(engine, "resume", None)
    if resume is not None:
        resume(source)
        return
    from whalewire.engine.risk import TradingState  # noqa: PLC0415 - the fallback only

    engine.risk.set_state(TradingState.ACTIVE, source)  # type: ignore[attr-defined]

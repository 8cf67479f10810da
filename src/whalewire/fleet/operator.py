"""The operator's fleet-wide status, kill and resume: one implementation for every front end.

``whalewire status|kill|resume`` pointed at a fleet (``--nats URL`` or a ``--config`` with
a ``[fleet]`` table), ``whalewire fleet status|kill|resume`` and the fleet dashboards all
go through ``Operator``: one NATS connection that listens to every role's heartbeat and to
the executors' acknowledgements, reads the kill switch's desired state, and issues
commands. ``survey`` folds what the heartbeats say into one JSON-ready picture (every
executor's halt, positions, open orders and last alerts; every sensor's feeds and peers;
the first-arrival wins and leads per sensor, summed over the executors). ``command`` sets
the desired state and broadcasts it (``ControlPlane.command``), then waits for every
executor it hears to acknowledge, and says who did, in what state, and who did not.

What an operator cannot hear it cannot expect an answer from: an executor whose heartbeats
do not reach NATS is not among those a command waits for (a partitioned executor halts by
itself after ``halt_after_s``). Such an executor is still *named*, as ``unheard``, when it
has ever streamed its journal: the order stream keeps one subject per executor. Knows no
argparse and prints nothing.
"""

from __future__ import annotations

import asyncio
import time
import tomllib
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from nats.aio.msg import Msg

from whalewire.engine.config import ConfigError
from whalewire.fleet.config import FleetSection
from whalewire.fleet.control import ControlPlane, FleetView
from whalewire.fleet.wire import ORDERS_STREAM, Ack, Action, Command, Inbox


@dataclass(frozen=True)
class FleetTarget:
    """Where the fleet is: its NATS servers and its subject prefix."""

    servers: list[str]
    prefix: str = "ww"


def fleet_target(
    nats: list[str] | None, config: str | None, prefix: str | None = None
) -> FleetTarget | None:
    """Return the fleet named by ``--nats`` or by ``config``'s ``[fleet]`` table, else None.

    A configuration without a ``[fleet]`` table (or one that is not readable TOML: the
    local path says why) names no fleet: the command then talks to one engine.

    Raises:
        ConfigError: the ``[fleet]`` table is there but wrong (naming the field).
    """
    if nats:
        return FleetTarget(list(nats), prefix or "ww")
    if not config:
        return None
    try:
        table = tomllib.loads(Path(config).read_text()).get("fleet")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if table is None:
        return None
    try:
        fleet = msgspec.convert(table, FleetSection)
    except (msgspec.ValidationError, ValueError) as exc:
        raise ConfigError(f"{config}: [fleet]: {exc}") from None
    return FleetTarget(fleet.nats, prefix or fleet.subject_prefix)


class Operator:
    """The operator's connection to a fleet: heartbeats, acknowledgements, the kill switch."""

    def __init__(self, target: FleetTarget, *, name: str = "operator", replicas: int = 1):
        self.target = target
        self.control = ControlPlane(
            target.servers, name=name, prefix=target.prefix, replicas=replicas
        )
        self.view = FleetView(self.control.link, target.prefix)
        self.inbox = Inbox()
        #: every acknowledgement heard, per executor (the latest)
        self.acks: dict[str, Ack] = {}

    async def connect(self, *, create: bool = False, timeout: float = 10.0) -> None:
        """Connect, listen to heartbeats and acknowledgements, open the control bucket.

        ``create``: make the order stream and the bucket if missing (before a command).
        """
        await asyncio.wait_for(self.control.connect(create=create), timeout)
        await self.view.start()
        await self.control.link.nc.subscribe(self.control.subjects.acks, cb=self._on_ack)

    async def close(self) -> None:
        """Disconnect."""
        await self.control.close()

    async def _on_ack(self, msg: Msg) -> None:
        ack = self.inbox.expect(msg.data, Ack)
        if ack is not None:
            self.acks[ack.executor] = ack

    async def recorded_executors(self) -> set[str]:
        """Every executor with records in the order stream (empty when it cannot be read)."""
        prefix = f"{self.target.prefix}.orders."
        try:
            js = self.control.link.nc.jetstream(timeout=3)
            info = await js.stream_info(ORDERS_STREAM, subjects_filter=prefix + ">")
        except Exception:  # no stream yet, JetStream unavailable: nothing to name
            return set()
        return {subject.removeprefix(prefix) for subject in info.state.subjects or {}}

    async def survey(self) -> dict[str, Any]:
        """Every role as its heartbeats say, the kill switch, and the fleet's totals."""
        rows = self.view.snapshot()
        recorded = await self.recorded_executors()
        try:
            desired = await asyncio.wait_for(self.control.read_desired(), 3.0)
            switch: dict[str, Any] | str | None = (
                msgspec.structs.asdict(desired) if desired is not None else None
            )
        except Exception:  # no bucket yet, JetStream unavailable: say so, do not fail
            switch = "unknown"
        return summarize(rows, switch, recorded)

    async def command(
        self,
        action: Action,
        *,
        wait_s: float = 2.5,
        timeout_s: float = 10.0,
        source: str | None = None,
    ) -> dict[str, Any]:
        """Issue ``action`` to every executor; wait for their acknowledgements; report.

        Executors are expected when heard (heartbeat or acknowledgement) within ``wait_s``
        of the command; the wait ends once every expected executor has acknowledged it
        (and ``wait_s`` has passed), or at ``timeout_s``.
        """
        t0 = time.monotonic()
        command = await self.control.command(action, source)
        while True:
            elapsed = time.monotonic() - t0
            answered = self._answers(command)
            expected = self._executors() | set(answered)
            if elapsed >= timeout_s or (elapsed >= wait_s and expected <= set(answered)):
                break
            await asyncio.sleep(0.02)
        return command_report(command, answered, self._heard(), await self.recorded_executors())

    def _answers(self, command: Command) -> dict[str, Ack]:
        return {
            name: ack
            for name, ack in self.acks.items()
            if ack.source == command.source and ack.issued_wall_ns == command.issued_wall_ns
        }

    def _executors(self) -> set[str]:
        return {name for role, name in self.view.members if role == "executor"}

    def _heard(self) -> dict[str, str]:
        return {
            name: str(member.stats.get("halted") or "trading")
            for (role, name), member in self.view.members.items()
            if role == "executor"
        }


def command_report(
    command: Command,
    answered: dict[str, Ack],
    heard: dict[str, str],
    recorded: AbstractSet[str] = frozenset(),
) -> dict[str, Any]:
    """JSON-ready: who acknowledged ``command`` (in what state, how fast), who did not.

    ``heard``: every executor heard, with the state its last heartbeat gave (shown for
    those that did not answer: halted by other means, or not). ``recorded``: executors
    known from the order stream; those neither heard nor answering are listed as
    ``unheard`` (informational: a retired executor stays in the stream).

    ``ok`` is true when at least one executor was heard, every one heard answered, and
    every answer is the state asked for (a kill: halted; a resume: trading).
    """
    want_halted = command.action is Action.KILL
    acked = {
        name: {
            "halted": ack.halted,
            "ms": round((ack.wall_ns - command.issued_wall_ns) / 1e6, 3),
            "open_orders": ack.open_orders,
            "cancel_failures": ack.cancel_failures,
        }
        for name, ack in sorted(answered.items())
    }
    reached = sorted(n for n, ack in answered.items() if bool(ack.halted) == want_halted)
    silent = sorted(set(heard) - set(answered))
    return {
        "command": command.action.value,
        "source": command.source,
        "issued_wall_ns": command.issued_wall_ns,
        "executors": {n: a["halted"] or "trading" for n, a in acked.items()}
        | {n: f"no acknowledgement (heartbeat: {heard[n]})" for n in silent},
        "acked": acked,
        "not_acked": silent,
        "reached": reached,
        "unheard": sorted(recorded - set(heard) - set(answered)),
        "ok": bool(answered) and not silent and len(reached) == len(answered),
    }


def summarize(
    rows: list[dict[str, Any]],
    switch: dict[str, Any] | str | None,
    recorded: AbstractSet[str] = frozenset(),
) -> dict[str, Any]:
    """Fold the roles' rows (``FleetView.snapshot``) into the fleet's picture.

    ``recorded``: executors known from the order stream; those not heard are ``unheard``.
    """
    executors = [r for r in rows if r["role"] == "executor"]
    sensors = [r for r in rows if r["role"] == "sensor"]
    positions: dict[str, dict[str, str]] = {}
    wins: Counter[str] = Counter()
    leads: dict[str, dict[str, Any]] = {}
    for row in executors:
        stats = row["stats"]
        for symbol, position in (stats.get("positions") or {}).items():
            positions.setdefault(symbol, {})[row["name"]] = position
        dedup = stats.get("dedup") or {}
        wins.update(dedup.get("wins") or {})
        for pair, lead in (dedup.get("leads") or {}).items():
            leads.setdefault(pair, {})[row["name"]] = lead
    return {
        "kill_switch": switch,
        "executors": len(executors),
        "sensors": len(sensors),
        "trading": sorted(r["name"] for r in executors if _trading(r)),
        "halted": {r["name"]: r["stats"].get("halted") for r in executors if not _trading(r)},
        "unhealthy": {r["name"]: r["health"] for r in rows if r["health"] in ("late", "lost")},
        "unheard": sorted(recorded - {r["name"] for r in executors}),
        "open_orders": {r["name"]: r["stats"].get("open_orders", []) for r in executors},
        "positions": positions,
        "sensor_wins": dict(wins),
        "sensor_leads": leads,
        "members": rows,
    }


def _trading(row: dict[str, Any]) -> bool:
    return row["health"] not in ("late", "lost") and row["stats"].get("halted") == ""

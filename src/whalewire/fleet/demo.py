"""``whalewire fleet demo``: a whole fleet on one machine, no configuration, and its report.

Starts a local ``nats-server`` (JetStream, loopback, a temporary store), the control
plane's heartbeat, two executors (paper engines on their own embedded Binance emulators)
and three sensors replaying the same mainnet block, each holding its alerts back a little
longer (standing in for sensors farther from where transactions are first announced). It
runs for ``seconds``, then pulls the kill switch, and reports: which sensor saw each whale
first and by how much, how many alerts were deduplicated, that each whale led to one order
per executor (read back from the JetStream stream), and how long the kill switch took to
reach each executor. Every role talks to the others only through NATS, as on many machines;
they share this process to keep the demo one command.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whalewire.fleet.config import parse
from whalewire.fleet.control import ControlPlane, order_records
from whalewire.fleet.executor import Executor
from whalewire.fleet.natsserver import NatsServer
from whalewire.fleet.roles import executor_role, sensor_role
from whalewire.fleet.sensor import Sensor
from whalewire.fleet.wire import Action
from whalewire.model import OrderInitialized

#: the recorded replay lasts this long at speed 1
REPLAY_S = 36.0
#: (name, alert delay in ms) of the demo's sensors
SENSORS = (("sensor-near", 0.0), ("sensor-mid", 40.0), ("sensor-far", 120.0))
EXECUTORS = ("ex-tokyo", "ex-paris")

ROLE = """
[engine]
mode = "paper"
namespace = "{namespace}"
journal = "{journal}"
rehearse_interval_ms = 0

[control]
port = 0
kill_file = ""

[strategy]
min_value_sats = 25_000_000
cooldown_s = 1.0

[[feeds]]
type = "replay"
speed = {speed}

[venues.binance]
recv_window_ms = 5000

[fleet]
name = "{name}"
nats = [{nats}]
heartbeat_interval_s = {heartbeat}
halt_after_s = {halt_after}
delay_ms = {delay_ms}
replicas = {replicas}
"""


@dataclass
class DemoReport:
    """What the demo measured."""

    seconds: float
    #: per executor: its cross-sensor dedup snapshot (wins, late, leads)
    dedup: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: per executor: alerts received, duplicates dropped, handed to the engine
    alerts: dict[str, dict[str, int]] = field(default_factory=dict)
    #: per executor: orders per whale (txid) as read back from the stream
    orders_per_whale: dict[str, Counter[str]] = field(default_factory=dict)
    #: per executor: journal records, and records in the stream
    records: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: per executor: kill switch propagation (issue → executor), ms
    kill_ms: dict[str, float] = field(default_factory=dict)
    #: per sensor: transactions seen and alerts published
    sensors: dict[str, dict[str, int]] = field(default_factory=dict)


def role_text(
    tmp: Path,
    name: str,
    nats_urls: list[str],
    speed: float,
    *,
    delay_ms: float = 0.0,
    heartbeat: float = 0.5,
    halt_after: float = 3.0,
    replicas: int = 1,
) -> str:
    """The configuration of one demo role (sensor or executor: one file serves both)."""
    return ROLE.format(
        namespace=name.rsplit("-", maxsplit=1)[-1][:8].lower(),
        journal=tmp / f"{name}.db",
        speed=speed,
        name=name,
        nats=", ".join(f'"{u}"' for u in nats_urls),
        heartbeat=heartbeat,
        halt_after=halt_after,
        delay_ms=delay_ms,
        replicas=replicas,
    )


async def run_demo(seconds: float, *, say: Any = print) -> DemoReport:
    """Run the demo fleet for ``seconds`` and return its report."""
    speed = max(1.0, REPLAY_S / max(seconds * 0.6, 1.0))
    report = DemoReport(seconds=seconds)
    with tempfile.TemporaryDirectory(prefix="whalewire-fleet-") as tmp_name:
        tmp = Path(tmp_name)
        server = NatsServer(tmp / "nats", name="demo")
        server.start()
        try:
            await server.wait_ready_async()
            say(f"nats-server with JetStream at {server.url}")
            await _run(tmp, server.url, seconds, speed, report=report, say=say)
        finally:
            server.stop()
    return report


async def _run(
    tmp: Path, url: str, seconds: float, speed: float, *, report: DemoReport, say: Any
) -> None:
    control = ControlPlane([url], interval_s=0.5)
    await control.connect()
    stop_control, stop_execs, stop_sensors = asyncio.Event(), asyncio.Event(), asyncio.Event()
    beating = asyncio.create_task(control.beat(stop_control))
    executors: list[Executor] = []
    exec_tasks = []
    for name in EXECUTORS:
        fleet, config = parse(role_text(tmp, name, [url], speed))
        exec_tasks.append(
            asyncio.create_task(executor_role(config, fleet, stop_execs, started=executors.append))
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        len(executors) < len(EXECUTORS) or any(e.halted for e in executors)
    ):
        await asyncio.sleep(0.05)
    say(f"executors trading: {', '.join(e.name for e in executors)}")
    sensors: list[Sensor] = []
    sensor_tasks = []
    go = asyncio.Event()  # the sensors' replays start together, once all are connected
    for name, delay in SENSORS:
        fleet, config = parse(role_text(tmp, name, [url], speed, delay_ms=delay))
        sensor_tasks.append(
            asyncio.create_task(
                sensor_role(config, fleet, stop_sensors, started=sensors.append, go=go)
            )
        )
    while len(sensors) < len(SENSORS) or not all(s.link.connected.is_set() for s in sensors):
        await asyncio.sleep(0.05)
    go.set()
    say(
        f"sensors replaying block 951,658 at {speed:.1f}x: "
        + ", ".join(f"{n} (+{d:.0f} ms)" for n, d in SENSORS)
    )
    end = time.monotonic() + max(seconds - 1.0, 1.0)
    while time.monotonic() < end:
        await asyncio.sleep(0.5)
        if all(s.feeds_done.is_set() for s in sensors) and len(sensors) == len(SENSORS):
            await asyncio.sleep(1.0)  # the last alerts and their orders' answers
            break
    await control.command(Action.KILL, "fleet demo")
    say("kill switch pulled")
    waited = time.monotonic() + 5
    while time.monotonic() < waited and not all(e.kill_latency_ms for e in executors):
        await asyncio.sleep(0.01)
    for e in executors:
        report.kill_ms[e.name] = e.kill_latency_ms[0] if e.kill_latency_ms else float("nan")
    stop_sensors.set()
    await asyncio.gather(*sensor_tasks)
    stop_execs.set()
    await asyncio.gather(*exec_tasks)
    stop_control.set()
    await beating
    await control.close()
    for s in sensors:
        report.sensors[s.name] = {
            "transactions": s.counts["transactions"],
            "alerts": s.counts["alerts"],
        }
    for e in executors:
        report.dedup[e.name] = e.dedup.snapshot()
        report.alerts[e.name] = {
            "received": e.counts["alerts"],
            "duplicates": e.counts["duplicates"],
            "handed": e.counts["handed"],
        }
    records = await order_records([url])
    for e in executors:
        mine = [r for r in records if r.executor == e.name]
        report.records[e.name] = (e.journal.next_seq - 1, len({r.seq for r in mine}))
        whales: Counter[str] = Counter()
        for r in mine:
            if isinstance(r.message, OrderInitialized):
                whales[r.message.command.reason.rsplit(" ", 1)[-1]] += 1
        report.orders_per_whale[e.name] = whales


def render(report: DemoReport) -> list[str]:
    """The report as lines of text."""
    lines = [f"fleet demo report ({report.seconds:.0f} s)"]
    lines.append("sensors:")
    for name, c in report.sensors.items():
        lines.append(f"  {name}: {c['transactions']} transactions, {c['alerts']} alerts published")
    for name, d in report.dedup.items():
        a = report.alerts[name]
        lines.append(
            f"executor {name}: {a['received']} alerts received, {a['duplicates']} deduplicated, "
            f"{a['handed']} handed to the engine"
        )
        lines.append(f"  first arrivals per sensor: {d['wins']}")
        for pair, lead in d["leads"].items():
            winner, loser = pair.split(">")
            lines.append(
                f"  {winner} ahead of {loser}: p50 {lead['p50_ms']:.1f} ms, "
                f"p99 {lead['p99_ms']:.1f} ms over {lead['count']} whales"
            )
        whales = report.orders_per_whale[name]
        most = max(whales.values(), default=0)
        journal, streamed = report.records[name]
        lines.append(
            f"  orders: {sum(whales.values())} for {len(whales)} whales "
            f"({'once each' if most <= 1 else f'UP TO {most} FOR ONE WHALE'}); "
            f"journal {journal} records, stream {streamed}"
        )
        lines.append(f"  kill switch reached it in {report.kill_ms[name]:.1f} ms")
    return lines

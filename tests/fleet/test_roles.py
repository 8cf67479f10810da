"""Sensor, executor and control plane in one process over a real NATS node."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.fleet.factories import role_config

from whalewire.fleet.config import parse
from whalewire.fleet.control import ControlPlane, order_records
from whalewire.fleet.executor import Executor
from whalewire.fleet.natsserver import NatsServer
from whalewire.fleet.roles import executor_role, sensor_role
from whalewire.fleet.wire import Action
from whalewire.model import OrderInitialized


async def wait_for(check, timeout: float = 20.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_alert_from_a_sensor_is_traded_once_and_journal_streamed(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    urls = [nats_node.url]
    control = ControlPlane(urls, interval_s=0.2)
    await control.connect()
    stop_control, stop_exec, stop_sensor = asyncio.Event(), asyncio.Event(), asyncio.Event()
    beating = asyncio.create_task(control.beat(stop_control))
    fleet_e, config_e = parse(role_config(tmp_path, "ex-a", urls))
    started: list[Executor] = []
    executing = asyncio.create_task(
        executor_role(config_e, fleet_e, stop_exec, started=started.append)
    )
    await wait_for(lambda: bool(started) and not started[0].halted, what="executor trading")
    executor = started[0]
    fleet_s, config_s = parse(role_config(tmp_path, "sensor-1", urls))
    sensing = asyncio.create_task(sensor_role(config_s, fleet_s, stop_sensor))
    await wait_for(lambda: executor.counts["handed"] >= 3, what="alerts handed")
    kill = await control.command(Action.KILL, "test")
    await wait_for(lambda: executor.halted.startswith("kill switch"), what="kill")
    assert executor.kill_latency_ms and executor.kill_latency_ms[0] < 1000
    stop_sensor.set()
    await sensing
    stop_exec.set()
    await executing
    stop_control.set()
    await beating
    await control.close()
    assert kill.action is Action.KILL
    records = await order_records([nats_node.url])
    seqs = [r.seq for r in records]
    assert seqs == list(range(1, len(seqs) + 1))  # every journal record, once, in order
    inits = [r.message for r in records if isinstance(r.message, OrderInitialized)]
    reasons = [m.command.reason for m in inits]
    assert len(reasons) == len(set(reasons)) >= 1  # one order per whale

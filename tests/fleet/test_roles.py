"""Sensor, executor and control plane in one process over a real NATS node."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import nats
from tests.fleet.support import role_config, trading_executor, wait_for

from whalewire.fleet.config import parse
from whalewire.fleet.control import order_records
from whalewire.fleet.demo import render, run_demo
from whalewire.fleet.natsserver import NatsServer
from whalewire.fleet.roles import sensor_role
from whalewire.fleet.sensor import Sensor
from whalewire.fleet.wire import Action, Command, Heartbeat, Inbox, Role, Seen, encode
from whalewire.mempool.feeds.firstseen import FirstArrival
from whalewire.model import OrderInitialized


async def test_alert_from_a_sensor_is_traded_once_and_journal_streamed(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    urls = [nats_node.url]
    async with trading_executor(urls, tmp_path, "ex-a") as (control, executor):
        stop_sensor = asyncio.Event()
        fleet_s, config_s = parse(role_config(tmp_path, "sensor-1", urls))
        sensing = asyncio.create_task(sensor_role(config_s, fleet_s, stop_sensor))
        await wait_for(lambda: executor.counts["handed"] >= 3, what="alerts handed")
        stats = executor.stats()
        assert {a["sensor"] for a in stats["recent_alerts"]} == {"sensor-1"}
        assert "traded" in {a["outcome"] for a in stats["recent_alerts"]}
        assert set(stats["positions"]) == {"BTCUSDT"}
        await control.command(Action.KILL, "test")
        await wait_for(lambda: executor.halted.startswith("kill switch"), what="kill")
        assert executor.kill_latency_ms and executor.kill_latency_ms[0] < 1000
        stop_sensor.set()
        await sensing
    records = await order_records([nats_node.url])
    seqs = [r.seq for r in records]
    assert seqs == list(range(1, len(seqs) + 1))  # every journal record, once, in order
    inits = [r.message for r in records if isinstance(r.message, OrderInitialized)]
    reasons = [m.command.reason for m in inits]
    assert len(reasons) == len(set(reasons)) >= 1  # one order per whale


async def test_garbage_on_every_subject_is_counted_and_the_executor_keeps_trading(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    async with trading_executor([nats_node.url], tmp_path, "ex-g") as (control, executor):
        nc = control.link.nc
        for subject in ("ww.alerts.demo", "ww.cmd", "ww.control.hb"):
            await nc.publish(subject, b"\x00garbage{")
            await nc.publish(subject, b'{"type": "alert", "v": 99}')
        kill = Command(action=Action.KILL, source="x", issued_wall_ns=1)
        await nc.publish("ww.alerts.demo", encode(kill))
        await nc.flush()
        await wait_for(lambda: sum(executor.inbox.dropped.values()) == 7, what="drops counted")
        assert executor.inbox.dropped == {"malformed": 3, "version": 3, "unexpected": 1}
        assert not executor.halted  # a kill on the alerts subject is not a kill
        await asyncio.sleep(0.5)  # heartbeats go on: the watchdog saw nothing wrong
        assert not executor.halted


def test_first_arrival_admits_once_and_credits_the_winner_with_its_leads() -> None:
    firsts = FirstArrival(capacity=2)
    assert firsts.admit("t1", "near", 1_000)
    assert not firsts.admit("t1", "far", 121_000_000 + 1_000)
    assert not firsts.admit("t1", "near", 5_000)  # a repeat of the winner: late, no lead
    assert firsts.snapshot() == {
        "wins": {"near": 1},
        "late": {"far": 1, "near": 1},
        "leads": {"near>far": {"count": 1, "p50_ms": 121.0, "p99_ms": 121.0, "max_ms": 121.0}},
    }
    assert firsts.admit("t2", "far", 0) and firsts.admit("t3", "far", 0)
    assert firsts.winner("t1") is None  # forgotten beyond capacity
    assert firsts.admit("t1", "mid", 0)


async def test_fleet_kill_and_status_commands_reach_a_running_executor(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    async def cli(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "whalewire", "fleet", *args, "--nats", nats_node.url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    async with trading_executor([nats_node.url], tmp_path, "ex-cli") as (_, executor):
        code, out = await cli("status", "--json", "--wait", "1")
        rows = json.loads(out)["members"]
        assert code == 0 and {(r["role"], r["name"]) for r in rows} == {("executor", "ex-cli")}
        code, out = await cli("kill", "--wait", "1")
        assert code == 0, out
        assert json.loads(out)["executors"]["ex-cli"].startswith("kill switch")
        assert executor.halted.startswith("kill switch")
        code, out = await cli("resume", "--wait", "1", "--yes")
        assert code == 0 and json.loads(out)["executors"] == {"ex-cli": "trading"}, out


async def test_sensor_publishes_every_transactions_first_seen_stamp_when_asked(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    urls = [nats_node.url]
    text = role_config(tmp_path, "s-seen", urls).replace("[fleet]", "[fleet]\npublish_seen = true")
    fleet, config = parse(text)
    seen: list[Seen] = []
    inbox = Inbox()
    listener = await nats.connect(urls)

    async def on_seen(msg: Any) -> None:
        message = inbox.expect(msg.data, Seen)
        if message is not None:
            seen.append(message)

    await listener.subscribe("ww.seen", cb=on_seen)
    stop = asyncio.Event()
    sensors: list[Sensor] = []
    sensing = asyncio.create_task(sensor_role(config, fleet, stop, started=sensors.append))
    try:
        await wait_for(lambda: bool(sensors) and sensors[0].feeds_done.is_set(), what="replay")
        await wait_for(lambda: len(seen) == sensors[0].counts["transactions"], what="stamps")
    finally:
        stop.set()
        await sensing
        await listener.close()
    assert len({s.txid for s in seen}) == len(seen) > 300  # the block's transactions, once each
    assert all(s.sensor == "s-seen" and s.seen_wall_ns > 0 for s in seen)


async def test_kill_carried_only_by_the_control_heartbeat_halts_the_executor(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    async with trading_executor([nats_node.url], tmp_path, "ex-hb") as (control, executor):
        # neither broadcast nor bucket: a heartbeat from another control plane says "kill"
        beat = Heartbeat(
            role=Role.CONTROL, name="console-2", seq=1, wall_ns=time.time_ns(), state="kill",
            stats={"action": "kill", "source": "ops", "issued_wall_ns": time.time_ns()},
        )  # fmt: skip
        await control.link.nc.publish("ww.control.hb", encode(beat))
        await wait_for(lambda: executor.halted != "", what="halt")
        assert executor.halted == "kill switch: ops (control heartbeat)"


async def test_fleet_demo_reports_leads_dedup_single_orders_and_the_kill() -> None:
    report = await run_demo(8.0, say=lambda *_: None)
    assert set(report.dedup) == {"ex-tokyo", "ex-paris"}
    for name, dedup in report.dedup.items():
        assert sum(dedup["wins"].values()) >= 1
        whales = report.orders_per_whale[name]
        assert whales and max(whales.values()) == 1  # one order per whale
        journal, streamed = report.records[name]
        assert journal == streamed > 0
        assert report.kill_ms[name] < 1000
        assert report.alerts[name]["duplicates"] > 0
    lines = render(report)
    assert any("once each" in line for line in lines)

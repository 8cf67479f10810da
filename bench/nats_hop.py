"""The NATS hop a fleet adds: sensor publish → executor hands the alert to its engine, in µs.

A local ``nats-server`` (loopback, JetStream), this process as sensor and control plane,
and a second process running the real ``whalewire.fleet.executor.Executor`` (nats-py
delivery, ``Inbox`` decode, cross-sensor dedup, the kill-switch gate) in front of an engine
stand-in that only stamps when ``on_alert`` is entered. Alerts are published paced
(``--interval-ms``, so each hop is measured alone, not a batch); each carries its publish
time (``CLOCK_REALTIME``, the same clock in both processes on one machine). Figures:

- **hop**: publish call → ``engine.on_alert`` entered in the executor process;
- **in-process**: the same alert handed by a plain call (``whalewire run``'s path): build
  the engine's alert and call ``on_alert``, the comparison the issue asks for;
- **codec**: encode + ``Inbox`` decode + dedup alone (what the wire schema costs);
- **kill**: ``ControlPlane.command(KILL)`` issue → the executor's gate closed (broadcast
  path; the KV write follows it), over ``--kills`` kill/resume cycles;
- **kill acked**: the same issue → the executor's ``Ack`` back in this process (what
  ``whalewire kill --nats`` waits for per executor, the stand-in's cancels being instant).

    .venv/bin/python bench/nats_hop.py [--alerts 2000] [--interval-ms 1] [--kills 30]
        [--cpus 0,1]   (sensor on the first CPU, executor on the second)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nats

from whalewire.fleet.config import FleetSection
from whalewire.fleet.control import ControlPlane
from whalewire.fleet.executor import ArrivedAlert, Executor
from whalewire.fleet.natsserver import NatsServer
from whalewire.fleet.wire import Ack, Action, Alert, Inbox, encode
from whalewire.mempool.feeds.firstseen import FirstArrival
from whalewire.mempool.whales import AlertKind

DONE = "bench.done"


class StampingEngine:
    """Stands in for the engine: stamps when an alert is handed over, nothing else."""

    def __init__(self) -> None:
        self.hops_ns: list[int] = []

    def on_alert(self, alert: Any, *, mined: bool = False) -> None:
        now = time.time_ns()
        self.hops_ns.append(now - int(alert.feed))  # the publish stamp rides in ``feed``

    async def kill(self, source: str) -> Mapping[str, Any]:
        return {"halted": True}

    def resume(self, source: str) -> None:
        return None

    def status(self) -> Mapping[str, Any]:
        return {}


class NoJournal:
    """The executor's journal tap, empty (nothing is traded here)."""

    next_seq = 1

    def since(self, seq: int) -> list[Any]:
        return []


def alert(i: int, sent_ns: int) -> Alert:
    return Alert(
        sensor="bench",
        txid=f"{i:064x}",
        kind=AlertKind.DEPOSIT,
        entity="demo-binance",
        value=250_000_000,
        feed=str(sent_ns),
        seen_wall_ns=sent_ns,
        sent_wall_ns=sent_ns,
    )


def summary(ns: list[int] | list[float]) -> dict[str, float]:
    q = statistics.quantiles(ns, n=100, method="inclusive") if len(ns) > 1 else [ns[0]] * 99
    return {"n": len(ns), "p50_us": q[49] / 1e3, "p99_us": q[98] / 1e3, "max_us": max(ns) / 1e3}


async def receiver(url: str) -> None:
    fleet = FleetSection(name="bench-ex", nats=[url], heartbeat_interval_s=0.2, halt_after_s=5)
    engine = StampingEngine()
    executor = Executor(engine, NoJournal(), fleet)
    stop = asyncio.Event()
    nc = await nats.connect(url)

    async def done(msg: Any) -> None:
        stop.set()

    await nc.subscribe(DONE, cb=done)
    running = asyncio.create_task(executor.run(stop))
    while executor.halted:
        await asyncio.sleep(0.01)
    print("ready", flush=True)
    await stop.wait()
    await running
    await nc.close()
    print(
        json.dumps(
            {"hop": summary(engine.hops_ns), "kill_ms": executor.kill_latency_ms},
        ),
        flush=True,
    )


def in_process(n: int) -> dict[str, dict[str, float]]:
    engine = StampingEngine()
    direct, codec = [], []
    inbox, dedup = Inbox(), FirstArrival()
    for i in range(n):
        t0 = time.perf_counter_ns()
        a = alert(i, time.time_ns())
        engine.on_alert(
            ArrivedAlert(
                txid=a.txid, kind=a.kind, entity=a.entity, value=a.value,
                recv_ns=t0, feed=a.feed, sensor=a.sensor,
            )
        )  # fmt: skip
        direct.append(time.perf_counter_ns() - t0)
        t1 = time.perf_counter_ns()
        got = inbox.expect(encode(a), Alert)
        assert got is not None and dedup.admit(got.txid, got.sensor, t1)
        codec.append(time.perf_counter_ns() - t1)
    return {"in_process": summary(direct), "codec": summary(codec)}


async def sender(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ww-nats-hop-") as tmp:
        server = NatsServer(Path(tmp), name="hop")
        server.start()
        try:
            await server.wait_ready_async()
            return await _measure(server.url, args)
        finally:
            server.stop()


async def _measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    control = ControlPlane([url], interval_s=0.2)
    await control.connect()
    stop_beat = asyncio.Event()
    beating = asyncio.create_task(control.beat(stop_beat))
    cmd = [sys.executable, __file__, "--receiver", url]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
    if args.cpus:
        os.sched_setaffinity(proc.pid, {args.cpus[1]})
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line.strip() == b"ready", line
    nc = await nats.connect(url)
    pace = args.interval_ms / 1000
    for i in range(args.alerts):
        a = alert(i, time.time_ns())
        await nc.publish(f"ww.alerts.{a.entity}", encode(a))
        await asyncio.sleep(pace)
    await nc.flush()
    await asyncio.sleep(0.5)
    acked_ns: list[int] = []  # kill issued -> the executor's acknowledgement back here
    inbox = Inbox()

    async def on_ack(msg: Any) -> None:
        ack = inbox.expect(msg.data, Ack)
        if ack is not None and ack.action is Action.KILL:
            acked_ns.append(time.time_ns() - ack.issued_wall_ns)

    await nc.subscribe("ww.ack.*", cb=on_ack)
    for _ in range(args.kills):
        await control.command(Action.KILL, "bench")
        await asyncio.sleep(0.05)
        await control.command(Action.RESUME, "bench")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    await nc.publish(DONE, b"")
    await nc.flush()
    result = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
    await proc.wait()
    await nc.close()
    stop_beat.set()
    await beating
    await control.close()
    kills = result["kill_ms"]
    result["kill"] = summary([k * 1e6 for k in kills])
    result["kill_acked"] = summary(acked_ns)
    del result["kill_ms"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receiver", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--interval-ms", type=float, default=1.0)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument(
        "--cpus", type=lambda s: [int(c) for c in s.split(",")], default=None,
        help="sensor CPU,executor CPU",
    )  # fmt: skip
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the executor's halt/resume lines, 2 per kill
    if args.receiver:
        asyncio.run(receiver(args.receiver))
        return 0
    if args.cpus:
        os.sched_setaffinity(0, {args.cpus[0]})
    result = asyncio.run(sender(args))
    result.update(in_process(args.alerts))
    print(f"load average {os.getloadavg()[0]:.2f}; cpus {args.cpus or 'any'}")
    print(f"{'path':<12}{'n':>7}{'p50 µs':>12}{'p99 µs':>12}{'max µs':>12}")
    for name in ("in_process", "codec", "hop", "kill", "kill_acked"):
        r = result[name]
        print(f"{name:<12}{r['n']:>7}{r['p50_us']:>12.1f}{r['p99_us']:>12.1f}{r['max_us']:>12.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

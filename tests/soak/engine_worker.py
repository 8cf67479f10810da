"""A real engine process for the soak: trade a synthetic busy mempool, report as it goes.

Run as ``python -m tests.soak.engine_worker PARAMS.json``. It builds the engine as
``runner.build`` does (same parts: address book, whale detector, venue client, journal)
but with the soak's ``ack_timeout_s`` (``build`` has no option for it), reconciles what the
journal holds, prints ``{"event": "ready"}`` and waits for commands on stdin, one a line:

- ``go``: play the synthetic mempool (``seconds`` long at ``rate`` tx/s, one whale every
  ``whale_every``) through the deduplicating monitor into the engine, printing a
  ``sample`` line (resident memory, orders, open orders) every ``sample_s``; then wait up
  to ``settle_s`` for every order to become final by the engine's own means, and print
  ``settled``;
- ``quiet``: (faults are off by now) wait up to ``quiet_s`` for the engine's own
  reconciliations to end, and print what is still open;
- ``reconcile``: the final reconciliation (``Engine.reconcile_open_orders``);
- ``stop``: print the ``summary`` and exit.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from whalewire.engine.app import Engine
from whalewire.engine.config import load_config
from whalewire.engine.journal import Journal
from whalewire.engine.runner import address_book, venue_client
from whalewire.mempool.feeds.monitor import Monitor
from whalewire.mempool.feeds.replay import DEFAULT_REPLAY, load_replay
from whalewire.mempool.feeds.synthetic import SyntheticMempool
from whalewire.mempool.whales import AlertKind, WhaleDetector
from whalewire.venues.binance import BinanceClient


def rss_kb() -> int:
    """Return this process's resident set size in KiB (``VmRSS`` of /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def pools(detector: WhaleDetector, weights: dict[str, int]) -> tuple[list[bytes], list[bytes]]:
    """Split the embedded block into noise and deposit transactions (repeated by entity)."""
    noise: list[bytes] = []
    whales: list[bytes] = []
    for rec in load_replay(DEFAULT_REPLAY):
        alerts = detector.feed(rec.raw, feed="split", recv_ns=0, recv_wall_ns=0)
        deposits = [a for a in alerts if a.kind is AlertKind.DEPOSIT]
        if deposits:
            whales.extend([rec.raw] * weights.get(deposits[0].entity, 1))
        else:
            noise.append(rec.raw)
    return noise, whales


def emit(**fields: Any) -> None:
    """Print one JSON line for the harness."""
    print(json.dumps(fields, default=str), flush=True)


async def until_quiet(engine: Engine, timeout_s: float) -> None:
    """Wait until every order is final and no background task runs, or ``timeout_s``."""
    until = time.monotonic() + timeout_s
    while time.monotonic() < until:
        if all(o.is_final for o in engine.orders.values()) and not engine.execution.tasks:
            return
        await asyncio.sleep(0.1)


async def main(params_path: str) -> None:
    p = json.loads(Path(params_path).read_text())
    config = load_config(p["config"])
    book = address_book(config)
    threshold = config.strategy.min_value_sats
    detector = WhaleDetector(book, threshold_sats=threshold)
    noise, whales = pools(WhaleDetector(book, threshold_sats=threshold), p["whale_weights"])
    venues = {"binance": await venue_client("binance", config.venues["binance"], config, [])}
    journal = Journal(config.engine.journal)
    engine = Engine(
        config,
        venues=venues,
        detector=detector,
        journal=journal,
        namespace=config.engine.namespace,
        ack_timeout_s=p["ack_timeout_s"],
    )
    reconciled = await engine.start()
    venue = venues["binance"]
    if isinstance(venue, BinanceClient):
        venue.prepare("BTCUSDT", "SELL")  # the hot-path template, before the first whale
    emit(event="ready", reconciled=reconciled, noise=len(noise), whales=len(whales))
    loop = asyncio.get_running_loop()
    t0 = time.monotonic()
    feed: SyntheticMempool | None = None
    while True:
        cmd = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if cmd == "go":
            feed = SyntheticMempool(
                noise,
                whales,
                rate=p["rate"],
                whale_every=p["whale_every"],
                duration_s=p["seconds"],
            )
            monitor = Monitor([feed], capacity=p["dedup_capacity"])
            t0 = time.monotonic()
            feeding = asyncio.create_task(monitor.run(engine.on_feed_event))
            while not feeding.done():
                await asyncio.wait({feeding}, timeout=p["sample_s"])
                open_ = sum(1 for o in engine.orders.values() if not o.is_final)
                emit(
                    event="sample",
                    t=round(time.monotonic() - t0, 3),
                    rss_kb=rss_kb(),
                    tx=feed.emitted,
                    orders=len(engine.orders),
                    open=open_,
                )
            feeding.result()
            await until_quiet(engine, p["settle_s"])
            left = Counter(o.status.value for o in engine.orders.values() if not o.is_final)
            emit(
                event="settled",
                t=round(time.monotonic() - t0, 3),
                open=dict(left),
                rss_kb=rss_kb(),
            )
        elif cmd == "quiet":
            # faults are off: give the engine's own reconciliations time to finish
            await until_quiet(engine, p["quiet_s"])
            left = Counter(o.status.value for o in engine.orders.values() if not o.is_final)
            emit(event="quiet", t=round(time.monotonic() - t0, 3), open=dict(left))
        elif cmd == "reconcile":
            # what a restart would do, without the restart: ask about every open order
            report = await engine.reconcile_open_orders()
            left = Counter(o.status.value for o in engine.orders.values() if not o.is_final)
            emit(event="reconciled", report=report, open=dict(left))
        elif cmd in ("stop", ""):
            break
    statuses = Counter(o.status.value for o in engine.orders.values())
    gc.collect()
    emit(
        event="summary",
        statuses=dict(statuses),
        counters=dict(engine.metrics.counters),
        whales_seen=engine.pipeline.whales_seen,
        ignored=dict(engine.pipeline.ignored),
        tx=feed.emitted if feed else 0,
        whale_tx=feed.whales_emitted if feed else 0,
        rss_kb=rss_kb(),
    )
    await engine.close()
    journal.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))

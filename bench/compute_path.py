"""The compute path before the journal, warm: detect, decide and risk per whale, in µs.

The engine is built exactly as ``bench/e2e_latency.py`` builds it (``runner.build`` against
a standalone ``whalewire emulator`` process, pinned to CPU 1), then its venue is put in
dry-run (everything but the ``write(2)``) with a rate limiter that never refuses. Fresh
whale variants (``e2e_latency.whale_variants``) go through the feed's path in a tight loop,
each followed by one ordinary transaction of the block (as in a busy mempool):
``tx_event`` (receive stamp first) → ``Monitor.dedup.admit`` → ``Engine.on_feed_event``,
and the engine's own stage histograms give the figures (detect: receive stamp → alert;
decide: the strategy; risk: ``submit`` up to the risk verdict). ``--profile`` runs the same
loop under cProfile instead and prints where the time goes.

    taskset -c 0 .venv/bin/python bench/compute_path.py [--whales 3000] [--rounds 3] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import logging
import os
import pstats
import signal
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

from e2e_latency import Option, config_text, start_emulator, whale_variants
from whalewire.commands.embedded import build
from whalewire.engine.config import parse_config
from whalewire.mempool.feeds.events import EventKind, tx_event

STAGES = ("detect", "decide", "risk")


async def measure(url: str, key: str, secret: str, args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="whalewire-compute-"))
    keys = tmp / "keys.toml"
    keys.write_text(f'[binance]\napi_key = "{key}"\napi_secret = "{secret}"\n')
    keys.chmod(0o600)
    # no rehearsals, no pongs, the plain socket: the compute path alone
    option = Option("split", 1, 0.0, 0.0, "socket")
    config = parse_config(config_text(url, keys, tmp / "journal.db", option))
    running = await build(config)
    engine = running.engine
    venue = engine.venues["binance"]
    venue.dry_run = True  # type: ignore[attr-defined]
    venue.limiter.headroom = 1e9  # type: ignore[attr-defined]
    dedup = running.monitor.dedup
    perf = time.perf_counter_ns
    base = 3_000_000
    figures: dict[str, list[float]] = {s: [] for s in STAGES}
    for r in range(args.rounds):
        engine.metrics.latencies.clear()  # each round counts its own
        whales, noise = whale_variants(args.whales)
        first = base + r * args.whales
        raws = [w[:-4] + struct.pack("<I", first + i) for i, w in enumerate(whales)]
        profile = cProfile.Profile() if args.profile else None
        gc.collect()
        gc.disable()
        try:
            if profile is not None:
                profile.enable()
            for i, raw in enumerate(raws):
                ev = tx_event(raw, "bench", EventKind.MEMPOOL, recv_ns=perf())
                if dedup.admit(ev):
                    engine.on_feed_event(ev)
                # an ordinary transaction between whales, as in a busy mempool (a duplicate
                # after the first pass over the block: dropped by the deduplication)
                ev = tx_event(noise[i % len(noise)], "bench", EventKind.MEMPOOL)
                if dedup.admit(ev):
                    engine.on_feed_event(ev)
                if i % 64 == 0:
                    await asyncio.sleep(0)  # let the loop run the ack deadlines' callbacks
            if profile is not None:
                profile.disable()
        finally:
            gc.enable()
        m = engine.metrics
        line = []
        for s in STAGES:
            v = m.latency(s).percentile(50) / 1000
            figures[s].append(v)
            line.append(f"{s} {v:.2f}")
        tails = ", ".join(f"{s} {m.latency(s).percentile(99) / 1000:.1f}" for s in STAGES)
        print(
            f"round {r}: p50 µs " + ", ".join(line) + f"; p99 {tails} "
            f"({m.latency('detect').count} whales)"
        )
        if profile is not None:
            pstats.Stats(profile).sort_stats("tottime").print_stats(40)
    print(
        "median of rounds, p50 µs: "
        + ", ".join(f"{s} {statistics.median(v):.2f}" for s, v in figures.items())
        + f" = {sum(statistics.median(v) for v in figures.values()):.2f}"
    )
    await running.close()


def main() -> None:
    logging.disable(logging.WARNING)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--whales", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; {' '.join(sys.argv)}")
    # the emulator stamps each order it reads; nothing reads the stamps here
    stamps = Path(tempfile.mkdtemp(prefix="whalewire-compute-stamps-")) / "reads"
    proc, url, key, secret = start_emulator(1, stamps)
    try:
        asyncio.run(measure(url, key, secret, args))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()

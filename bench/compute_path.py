"""The compute path, warm: detect, decide and risk per whale, and feed bytes → order bytes, in µs.

The engine is built exactly as ``bench/e2e_latency.py`` builds it (``runner.build`` against
a standalone ``whalewire emulator`` process, pinned to CPU 1), then its venue is put in
dry-run (everything but the ``write(2)``) with a rate limiter that never refuses. Fresh
whale variants (``e2e_latency.whale_variants``) go through the feed's path in a tight loop,
each followed by one ordinary transaction of the block (as in a busy mempool):
``tx_event`` (receive stamp first) → ``Monitor.dedup.admit`` → ``Engine.on_feed_event``,
and the engine's own stage histograms give the figures (detect: receive stamp → alert;
decide: the strategy; risk: ``submit`` up to the risk verdict; journal: the intent record;
send: ``venue.place``, dry-run: up to the frame). ``--profile`` runs the same
loop under cProfile instead and prints where the time goes.

"compute" is issue 18's compute-only figure: from the feed's receive stamp to the order's
bytes ready for the kernel (the dry-run venue stamps ``written`` right after the C framer
returned the signed, masked frame; the write itself is excluded). Rounds alternate between
the reflex (the armed order fires: ``engine/reflex.py``) and the reference path (strategy →
risk); ``--noise N`` feeds N fresh ordinary transactions of the block (new locktimes, so each
is parsed and scanned) between two whales: a busy mempool evicting the whale path's caches;
``--rehearse`` runs one rehearsal (``Engine.rehearse``) after them, as the engine's timer does.

    taskset -c 0 .venv/bin/python bench/compute_path.py [--whales 3000] [--rounds 4]
        [--noise 1] [--rehearse] [--profile]
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

STAGES = ("detect", "decide", "risk", "journal", "send")
PATHS = ("reflex", "reference")


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
    figures: dict[str, list[float]] = {f"{p} {s}": [] for p in PATHS for s in (*STAGES, "compute")}
    computed: list[int] = []
    received = [0]
    place = venue.place

    def stamped(command: object) -> int:
        written: int = place(command)  # type: ignore[arg-type]
        computed.append(written - received[0])
        return written

    venue.place = stamped  # type: ignore[method-assign]
    for r in range(args.rounds):
        path = PATHS[r % 2]
        engine.pipeline.fast = path == "reflex"
        fired = engine.pipeline.reflex.fired
        engine.metrics.latencies.clear()  # each round counts its own
        computed.clear()
        whales, noise = whale_variants(args.whales)
        first = base + r * args.whales
        raws = [w[:-4] + struct.pack("<I", first + i) for i, w in enumerate(whales)]
        # fresh ordinary transactions: parsed and scanned, never dropped as duplicates
        k = args.noise
        noisy = [
            n[:-4] + struct.pack("<I", 100_000_000 + (r * args.whales + i) * k + j)
            for i in range(args.whales)
            for j, n in enumerate(noise[(i * k + x) % len(noise)] for x in range(k))
        ]
        profile = cProfile.Profile() if args.profile else None
        gc.collect()
        gc.disable()
        try:
            if profile is not None:
                profile.enable()
            for i, raw in enumerate(raws):
                received[0] = now = perf()
                ev = tx_event(raw, "bench", EventKind.MEMPOOL, recv_ns=now)
                if dedup.admit(ev):
                    engine.on_feed_event(ev)
                # ordinary transactions between whales, as in a busy mempool
                for n in noisy[i * k : (i + 1) * k]:
                    ev = tx_event(n, "bench", EventKind.MEMPOOL)
                    if dedup.admit(ev):
                        engine.on_feed_event(ev)
                if args.rehearse:  # as [engine] rehearse_interval_ms would, between whales
                    engine.rehearse()
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
            figures[f"{path} {s}"].append(v)
            line.append(f"{s} {v:.2f}")
        tails = ", ".join(f"{s} {m.latency(s).percentile(99) / 1000:.1f}" for s in STAGES)
        done = sorted(computed)
        c50, c99 = done[len(done) // 2] / 1000, done[int(len(done) * 0.99)] / 1000
        figures[f"{path} compute"].append(c50)
        figures.setdefault(f"{path} compute p99", []).append(c99)
        print(
            f"round {r} ({path}, {engine.pipeline.reflex.fired - fired} fired): "
            f"compute p50 {c50:.2f} p99 {c99:.2f} µs ({len(done)} orders); stages p50 µs "
            + ", ".join(line)
            + f"; p99 {tails} ({m.latency('detect').count} whales)"
        )
        if profile is not None:
            pstats.Stats(profile).sort_stats("tottime").print_stats(40)
    print("median of rounds, µs (p50 unless named):")
    for name, values in figures.items():
        if values:
            print(f"  {name:24} {statistics.median(values):7.2f}")
    await running.close()


def main() -> None:
    logging.disable(logging.WARNING)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--whales", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--noise", type=int, default=1, help="ordinary transactions between whales")
    ap.add_argument("--rehearse", action="store_true", help="one rehearsal between whales")
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

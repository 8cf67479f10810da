"""Benchmark detection while the compact watch set grows: scan latency, idle vs under adds.

    .venv/bin/python bench/watchset_live_adds.py [--base N] [--add M] [--cpu C] [--no-write]

A ``_scan.WatchSet`` of N synthetic P2WPKH scripts (not reserved: every doubling is a growth)
is scanned, transaction by transaction, with the 373 non-coinbase transactions of mainnet
block 951,658: first alone for a few seconds, then while a second thread adds M more scripts
the way ``addresses.live.LabelLoader`` does (``add_many`` of 1,024 scripts, then
``time.sleep(0)`` to offer the GIL). Growth rebuilds the table with the GIL released. Both
threads share one CPU (``--cpu``) as they would share the detector's. Per-transaction
``perf_counter_ns`` deltas; writes the live-adds table of docs/benchmarks.md's "Watch set at
scale" unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import os
import threading
import time
from pathlib import Path

from _sections import parse_args, write_section

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "mempool" / "data" / "block_951658.bin.gz"
BEGIN = "<!-- watchset-live-bench:begin -->"
END = "<!-- watchset-live-bench:end -->"
CHUNK = 1024


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def main() -> None:
    def options(ap: argparse.ArgumentParser) -> None:
        ap.add_argument("--base", type=int, default=1_000_000)
        ap.add_argument("--add", type=int, default=8_000_000)

    args = parse_args(__doc__ or "", options)

    from whalewire.mempool import _scan
    from whalewire.mempool.tx import parse_block

    raws = [t.serialize() for t in parse_block(gzip.decompress(DATA.read_bytes())).txs][1:]
    ws: _scan.WatchSet[str] = _scan.WatchSet(["base", "added"])
    blob = os.urandom(20 * (args.base + args.add))
    scripts = [b"\x00\x14" + blob[k : k + 20] for k in range(0, len(blob), 20)]
    ws.add_many(scripts[: args.base], 0)
    more = scripts[args.base :]
    gc.disable()
    spent: dict[bytes, str] = {}
    scan = _scan.scan_tx
    clock = time.perf_counter_ns

    def scan_until(stop: threading.Event | None, seconds: float) -> list[int]:
        out: list[int] = []
        end = time.monotonic() + seconds
        while (stop is None and time.monotonic() < end) or (stop is not None and not stop.is_set()):
            for raw in raws:
                t0 = clock()
                scan(raw, ws, spent)
                out.append(clock() - t0)
        return out

    idle = scan_until(None, 3.0)
    caps = [ws.capacity]
    done = threading.Event()

    def writer() -> None:
        for k in range(0, len(more), CHUNK):
            ws.add_many(more[k : k + CHUNK], 1)
            if ws.capacity != caps[-1]:
                caps.append(ws.capacity)
            time.sleep(0)
        done.set()

    t0 = time.perf_counter()
    thread = threading.Thread(target=writer)
    thread.start()
    live = scan_until(done, 0)
    thread.join()
    add_s = time.perf_counter() - t0
    assert len(ws) == args.base + args.add
    rows = []
    for name, v in (("alone", idle), (f"while {args.add:,} scripts are added", live)):
        rows.append(
            f"| {name} | {len(v):,} | {pct(v, 0.5):.2f} | {pct(v, 0.99):.2f} |"
            f" {pct(v, 0.999):.1f} | {max(v) / 1000:,.0f} |"
            f" {sum(1 for x in v if x > 50_000):,} |"
        )
        print(rows[-1])
    text = "\n".join(
        [
            BEGIN,
            f"`bench/watchset_live_adds.py --base {args.base} --add {args.add}`, both threads on"
            f" CPU {args.cpu}: the set grew {len(caps) - 1} times ({caps[0]:,} to {caps[-1]:,}"
            f" slots) while scanned; the adds ran at {args.add / add_s / 1e6:.2f} M scripts/s.",
            "",
            "| `_scan.scan_tx` per transaction | scans | p50 µs | p99 µs | p99.9 µs | max µs |"
            " scans > 50 µs |",
            "|---|---|---|---|---|---|---|",
            *rows,
            END,
        ]
    )
    if not args.no_write:
        write_section(BEGIN, END, text, after="<!-- watchset-bench:end -->")


if __name__ == "__main__":
    main()

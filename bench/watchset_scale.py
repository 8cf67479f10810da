"""Benchmark the compact watch set at chain scale against today's dict watch set, same run.

    .venv/bin/python bench/watchset_scale.py [--scripts N] [--mix MIX] [--cpu C] [--no-write]

Builds a ``_scan.WatchSet`` of N synthetic scripts (random hashes in the templates of
``--mix``: ``exchange`` = 50% P2WPKH, 25% P2SH, 15% P2PKH, 10% P2TR; or one template),
measures the process's resident memory before and after (``/proc/self/statm``, the batches
of Python bytes that fed it freed), then scans every transaction of mainnet block 951,658
(374 ordinary transactions, tests/mempool/data) with ``_scan.scan_tx`` against (a) the
demo book as a dict (what the detector scanned before), (b) the demo book as a compact set
and (c) the N-script set with the demo book's scripts in it, taking turns per round. Figures
are per-transaction ``perf_counter_ns`` deltas (timer overhead, ~0.05 µs, included). Writes
the "Watch set at scale" section of docs/benchmarks.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from _sections import parse_args, rss_bytes, write_section

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "mempool" / "data" / "block_951658.bin.gz"
BEGIN = "<!-- watchset-bench:begin -->"
END = "<!-- watchset-bench:end -->"

TEMPLATES: dict[str, tuple[bytes, int, bytes]] = {
    "p2wpkh": (b"\x00\x14", 20, b""),
    "p2sh": (b"\xa9\x14", 20, b"\x87"),
    "p2pkh": (b"\x76\xa9\x14", 20, b"\x88\xac"),
    "p2tr": (b"\x51\x20", 32, b""),
}
MIXES: dict[str, list[tuple[str, int]]] = {
    "exchange": [("p2wpkh", 50), ("p2sh", 25), ("p2pkh", 15), ("p2tr", 10)],
    **{name: [(name, 100)] for name in TEMPLATES},
}


def batch(kind: str, count: int) -> list[bytes]:
    pre, size, post = TEMPLATES[kind]
    blob = os.urandom(size * count)
    return [pre + blob[k : k + size] + post for k in range(0, size * count, size)]


def latencies_ns(fn: Callable[[bytes], object], raws: list[bytes]) -> list[int]:
    clock = time.perf_counter_ns
    out = []
    for raw in raws:
        t0 = clock()
        fn(raw)
        out.append(clock() - t0)
    return out


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def main() -> None:
    def options(ap: argparse.ArgumentParser) -> None:
        ap.add_argument("--scripts", type=int, default=50_000_000)
        ap.add_argument("--mix", choices=sorted(MIXES), default="exchange")
        ap.add_argument("--rounds", type=int, default=200)

    args = parse_args(__doc__ or "", options)

    from whalewire.mempool import _scan
    from whalewire.mempool.tx import parse_block
    from whalewire.mempool.watchlist import AddressBook, AddressEntry

    book = AddressBook.demo()
    raws = [t.serialize() for t in parse_block(gzip.decompress(DATA.read_bytes())).txs][1:]
    gc.disable()

    n = args.scripts
    before = rss_bytes()
    big = _scan.WatchSet(list(book.entries))
    big.reserve(n + len(book.entries))
    t0 = time.perf_counter()
    step = 1_000_000
    done = 0
    weights = MIXES[args.mix]
    total_w = sum(w for _, w in weights)
    for kind, w in weights:
        share = n * w // total_w if kind != weights[-1][0] else n - done
        left = share
        while left:
            k = min(step, left)
            big.add_many(batch(kind, k), 0)
            left -= k
        done += share
    build_s = time.perf_counter() - t0
    for k, e in enumerate(book.entries):
        big.add(e.script_pubkey, k)
    gc.collect()
    grown = rss_bytes() - before
    per_script = grown / n
    print(
        f"{n:,} scripts ({args.mix}): RSS +{grown / 2**20:,.0f} MiB = {per_script:.1f} B/script; "
        f"nbytes {big.nbytes / n:.1f} B/script; build {n / build_s / 1e6:.2f} M scripts/s"
    )

    small = _scan.WatchSet(list(book.entries))
    for k, e in enumerate(book.entries):
        small.add(e.script_pubkey, k)
    today = dict(book.watch)
    spent: dict[bytes, AddressEntry] = {}
    scan = _scan.scan_tx
    paths: list[tuple[str, Callable[[bytes], object]]] = [
        (f"dict, demo book ({len(today)} scripts): before", lambda r: scan(r, today, spent)),
        (f"compact set, demo book ({len(small)} scripts)", lambda r: scan(r, small, spent)),
        (f"compact set, {n:,} scripts + demo book", lambda r: scan(r, big, spent)),
    ]
    lat: list[list[int]] = [[] for _ in paths]
    for _ in range(args.rounds):
        for k, (_, fn) in enumerate(paths):
            lat[k].extend(latencies_ns(fn, raws))
    base = pct(lat[0], 0.5)
    rows = []
    for (name, _), values in zip(paths, lat, strict=True):
        p50, p99 = pct(values, 0.5), pct(values, 0.99)
        rows.append(f"| {name} | {p50:.2f} | {p99:.2f} | {p50 / base:.2f}x |")
        print(rows[-1])
    hits = 0
    for r in raws:
        found = scan(r, big, spent)
        hits += len(found[0]) if found is not None else 0
    cpu = f"pinned to CPU {args.cpu}" if args.cpu >= 0 else "not pinned"
    text = "\n".join(
        [
            BEGIN,
            f"`bench/watchset_scale.py --scripts {n} --mix {args.mix}` on {platform.machine()},"
            f" {os.cpu_count()} vCPU, Python {platform.python_version()}, {cpu}, same run:",
            "",
            "| memory | figure |",
            "|---|---|",
            f"| resident growth for {n:,} scripts ({args.mix} mix) | {grown / 2**20:,.0f} MiB ="
            f" **{per_script:.1f} B/script** |",
            f"| allocated by the set (`nbytes`) | {big.nbytes / n:.1f} B/script |",
            f"| build (`reserve`, then `add_many` in batches of 1M) | {n / build_s / 1e6:.2f} M"
            " scripts/s |",
            "",
            "| `_scan.scan_tx` of the block's 373 non-coinbase transactions against | p50 µs |"
            " p99 µs | p50 vs before |",
            "|---|---|---|---|",
            *rows,
            "",
            f"Watched outputs found in the block by the big set: {hits} (the demo book's).",
            END,
        ]
    )
    if not args.no_write:
        write_section(BEGIN, END, text, heading="Watch set at scale")


if __name__ == "__main__":
    main()

"""Benchmark the address learner's ingest from block files, and its store, on one machine.

    .venv/bin/python bench/learn_ingest.py [--blocks 300] [--scale 20] [--seed 3] [--no-write]

Writes a synthetic economy (``whalewire addresses synth``: blk files shuffled out of height
order) to a temporary directory, then times, same run, pinned to one CPU:

1. reading and ordering the blk files and parsing every block (``parse_block``) only;
2. learning the chain from the files with no store;
3. learning it with a SQLite checkpoint every 100 blocks (``addresses.store``), and, for the
   choice of store, the same snapshot written as a msgpack file (write + fsync + rename);

and reports transactions per second, the learner's resident memory per address and per
unspent output, and the score against the economy's truth. Writes the "Address learner"
section of docs/benchmarks.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from _sections import parse_args, rss_bytes, write_section

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- learn-bench:begin -->"
END = "<!-- learn-bench:end -->"


def main() -> None:
    def options(ap: argparse.ArgumentParser) -> None:
        ap.add_argument("--blocks", type=int, default=300)
        ap.add_argument("--scale", type=int, default=20)
        ap.add_argument("--seed", type=int, default=3)

    args = parse_args(__doc__ or "", options, cpu=1)

    import msgspec

    from whalewire.addresses.blockfiles import best_chain, index, read_chain
    from whalewire.addresses.learner import Learner
    from whalewire.addresses.score import score
    from whalewire.addresses.seeds import load_seeds
    from whalewire.addresses.store import SAVED_UNDO, Store
    from whalewire.addresses.synth import Params, generate
    from whalewire.mempool.tx import parse_block

    k = args.scale
    params = Params(
        blocks=args.blocks,
        customers=40 * k,
        users=60 * k,
        deposits_per_block=8 * k,
        payments_per_block=6 * k,
    )
    with tempfile.TemporaryDirectory() as tmp:
        eco = Path(tmp)
        truth = generate(eco, seed=args.seed, params=params)
        n_tx = truth["transactions"]
        size = sum(p.stat().st_size for p in (eco / "blocks").glob("blk*.dat"))
        seeds = load_seeds(eco / "seeds.csv")

        def seeded() -> Learner:
            learner = Learner()
            for s in seeds:
                learner.seed(s.script, s.entity, s.label, s.source)
            return learner

        gc.collect()
        t0 = time.perf_counter()
        chain = best_chain(index(eco / "blocks"))
        parsed = sum(len(parse_block(raw).txs) for _, raw in read_chain(chain))
        parse_s = time.perf_counter() - t0
        assert parsed == n_tx

        gc.collect()
        before = rss_bytes()
        t0 = time.perf_counter()
        learner = seeded()
        for h, raw in read_chain(best_chain(index(eco / "blocks"))):
            learner.connect(h, bytes(raw))
        learn_s = time.perf_counter() - t0
        grown = rss_bytes() - before
        n_addr, n_utxo = len(learner.scripts), len(learner.utxo)

        t0 = time.perf_counter()
        stored = seeded()
        store = Store(eco / "store.db")
        saves: list[float] = []
        for h, raw in read_chain(best_chain(index(eco / "blocks"))):
            stored.connect(h, bytes(raw))
            if h % 100 == 99:
                s0 = time.perf_counter()
                store.save(stored)
                saves.append(time.perf_counter() - s0)
        s0 = time.perf_counter()
        store.save(stored)
        saves.append(time.perf_counter() - s0)
        store_s = time.perf_counter() - t0
        db_size = (eco / "store.db").stat().st_size + (eco / "store.db-wal").stat().st_size
        # the alternative: the same snapshot as one msgpack file, replaced atomically
        s0 = time.perf_counter()
        snap = msgspec.msgpack.encode(
            {
                "scripts": stored.scripts,
                "parent": stored.parent.tobytes(),
                "utxo": stored.utxo,
                "role": stored.role,
                "entity": stored.entity,
                "funders": stored.funders.tobytes(),
                "undo": stored.undo[-SAVED_UNDO:],
            }
        )
        with (eco / "snap.tmp").open("wb") as fh:
            fh.write(snap)
            fh.flush()
            os.fsync(fh.fileno())
        (eco / "snap.tmp").replace(eco / "snap.msgpack")
        file_s = time.perf_counter() - s0
        s0 = time.perf_counter()
        Store(eco / "store.db").load()
        load_s = time.perf_counter() - s0
        result = score(learner, truth, ((h, bytes(r)) for h, r in read_chain(chain)))

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rows = [
        f"| read + order blk files + `parse_block` only | {n_tx / parse_s:,.0f} |",
        f"| learn from blk files (no store) | **{n_tx / learn_s:,.0f}** |",
        f"| learn + SQLite checkpoint every 100 blocks | {n_tx / store_s:,.0f} |",
    ]
    text = "\n".join(
        [
            BEGIN,
            f"`bench/learn_ingest.py --blocks {args.blocks} --scale {k} --seed {args.seed}` on"
            f" {platform.machine()}, {os.cpu_count()} vCPU, Python {platform.python_version()},"
            f" pinned to CPU {args.cpu}, same run. Synthetic economy: {truth['blocks']} blocks,"
            f" {n_tx:,} transactions, {size / 2**20:.1f} MiB of blk files, {n_addr:,} addresses,"
            f" {n_utxo:,} unspent outputs at the tip.",
            "",
            "| path | transactions/s |",
            "|---|---|",
            *rows,
            "",
            "| store | figure |",
            "|---|---|",
            f"| learner's resident growth (no store) | {grown / 2**20:.0f} MiB = "
            f"{grown / n_addr:.0f} B per address seen (each with its unspent outputs) |",
            f"| SQLite checkpoint (snapshot + labels + evidence + label log), last | "
            f"{saves[-1] * 1000:.0f} ms; file {db_size / 2**20:.1f} MiB |",
            "| the same snapshot as a msgpack file (write, fsync, rename) |"
            f" {file_s * 1000:.0f} ms |",
            f"| load the last checkpoint (resume) | {load_s * 1000:.0f} ms |",
            f"| process peak RSS | {peak / 2**20:.0f} MiB |",
            "",
            "Score on this economy: " + json.dumps(result.as_dict()),
            END,
        ]
    )
    print(text)
    if not args.no_write:
        write_section(BEGIN, END, text, heading="Address learner: ingest and store")


if __name__ == "__main__":
    main()

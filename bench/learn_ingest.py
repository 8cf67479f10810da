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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _sections import parse_args, write_section

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- learn-bench:begin -->"
END = "<!-- learn-bench:end -->"


def _child(eco: Path, mode: str, upto: int) -> tuple[int, int]:
    """Learn ``eco`` to ``upto`` in a fresh process; return its peak RSS and address count."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--economy", str(eco), "--upto", str(upto)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    peak, addrs = json.loads(out)
    return int(peak), int(addrs)


def child(mode: str, eco: Path, upto: int) -> None:
    """Learn to ``upto`` (in memory, or spilled past 50,000 entries); print peak RSS, addresses."""
    from whalewire.addresses.blockfiles import best_chain, index, read_chain
    from whalewire.addresses.learner import Learner
    from whalewire.addresses.store import Store

    store = Store(eco / f"child-{mode}-{upto}.db")
    learner = store.load(cache_entries=50_000) if mode == "spilled" else Learner()
    for h, raw in read_chain(best_chain(index(eco / "blocks")), 0):
        if h > upto:
            break
        learner.connect(h, bytes(raw))
        if mode == "spilled" and h % 100 == 99:
            store.save(learner)
    # VmHWM: this process's own peak (ru_maxrss would carry the parent's across exec)
    status = Path("/proc/self/status").read_text()
    peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
    print(json.dumps([peak, len(learner.parent)]))


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
    from whalewire.addresses.store import Store
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

        # bounded: address ids and unspent outputs spill to the store past 50,000 entries
        t0 = time.perf_counter()
        spill_store = Store(eco / "spilled.db")
        spilled = spill_store.load(cache_entries=50_000)
        for s in seeds:
            spilled.seed(s.script, s.entity, s.label, s.source)
        for h, raw in read_chain(best_chain(index(eco / "blocks"))):
            spilled.connect(h, bytes(raw))
            if h % 100 == 99:
                spill_store.save(spilled)

        spill_store.save(spilled)
        spill_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        learner = seeded()
        for h, raw in read_chain(best_chain(index(eco / "blocks"))):
            learner.connect(h, bytes(raw))

        learn_s = time.perf_counter() - t0
        n_addr, n_utxo = len(learner.parent), len(learner.utxo)

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
                "undo": stored.undo,
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
        assert spilled.role == learner.role
        result = score(learner, truth, ((h, bytes(r)) for h, r in read_chain(chain)))
        # peak memory, each mode in a fresh process, to half and to all of the chain
        peaks = {
            (mode, upto): _child(eco, mode, upto)
            for mode in ("memory", "spilled")
            for upto in (truth["blocks"] // 2, truth["blocks"] - 1)
        }
        half, full = truth["blocks"] // 2, truth["blocks"] - 1
        slope = {
            mode: (peaks[mode, full][0] - peaks[mode, half][0])
            / (peaks[mode, full][1] - peaks[mode, half][1])
            for mode in ("memory", "spilled")
        }

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rows = [
        f"| read + order blk files + `parse_block` only | {n_tx / parse_s:,.0f} |",
        f"| learn from blk files (no store) | **{n_tx / learn_s:,.0f}** |",
        f"| learn + SQLite checkpoint every 100 blocks | {n_tx / store_s:,.0f} |",
        f"| learn + checkpoints, ids and outputs spilled past 50,000 (bounded) |"
        f" {n_tx / spill_s:,.0f} |",
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
            f"| peak RSS learning the whole chain (fresh process): in memory / spilled |"
            f" {peaks['memory', full][0] / 2**20:.0f} MiB /"
            f" {peaks['spilled', full][0] / 2**20:.0f} MiB |",
            "| peak RSS growth from half to all of the chain, per address: in memory / spilled"
            f" (fresh processes) | {slope['memory']:.0f} B / **{slope['spilled']:.0f} B** |",
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
    if "--child" in sys.argv:
        child_args = argparse.ArgumentParser()
        child_args.add_argument("--child")
        child_args.add_argument("--economy", type=Path)
        child_args.add_argument("--upto", type=int)
        ns = child_args.parse_args()
        child(ns.child, ns.economy, ns.upto)
    else:
        main()

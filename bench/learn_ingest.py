"""Benchmark the address learner's ingest from block files, and its store, on one machine.

    .venv/bin/python bench/learn_ingest.py [--blocks 300] [--scale 20] [--seed 3] [--rounds 3]
        [--cpu N | --cpu -1] [--no-write]

Writes a synthetic economy (``whalewire addresses synth``: blk files shuffled out of height
order) to a temporary directory, then times, same run, pinned to one CPU:

1. reading and ordering the blk files and parsing every block (``parse_block``) only;
2. learning the chain with no store, over the Python reference walk (``walk_block_py``:
   ``parse_block``, then lists) and over the C walk (``addresses._ingest``), alternated
   ``--rounds`` times, in wall and CPU time (the machine is shared: CPU time is what the
   code costs);
3. learning it with an (incremental) SQLite checkpoint every 100 blocks, and bounded;

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
        ap.add_argument("--rounds", type=int, default=3)

    args = parse_args(__doc__ or "", options, cpu=1)

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
        # before/after, alternated in one run: the learner over the Python walk (parse_block,
        # as before the C walk) and over the C walk; wall and CPU time, and the load average
        from whalewire.addresses import walk

        c_walk = walk.walk_block_c
        timings: dict[str, list[tuple[float, float]]] = {"python walk": [], "C walk": []}
        loads: list[float] = []
        chain_raw = [(h, bytes(raw)) for h, raw in read_chain(best_chain(index(eco / "blocks")))]
        for _ in range(args.rounds):
            for name, fn in (("python walk", None), ("C walk", c_walk)):
                walk.walk_block_c = fn
                gc.collect()
                loads.append(os.getloadavg()[0])
                t0, c0 = time.perf_counter(), time.process_time()
                learner = seeded()
                for h, raw in chain_raw:
                    learner.connect(h, raw)
                timings[name].append((time.perf_counter() - t0, time.process_time() - c0))
        walk.walk_block_c = c_walk
        n_addr, n_utxo = len(learner.parent), len(learner.utxo)

        t0 = time.perf_counter()
        store = Store(eco / "store.db")
        stored = store.load()
        for s in seeds:
            stored.seed(s.script, s.entity, s.label, s.source)
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

    def rate(name: str) -> str:
        walls = sorted(n_tx / w for w, _ in timings[name])
        cpus = sorted(n_tx / c for _, c in timings[name])
        return f"{walls[-1]:,.0f} (worst {walls[0]:,.0f}) | {cpus[-1]:,.0f} (worst {cpus[0]:,.0f})"

    rows = [
        f"| read + order blk files + `parse_block` only | {n_tx / parse_s:,.0f} | |",
        f"| learn (no store), Python reference walk (`walk_block_py`) | {rate('python walk')} |",
        f"| learn (no store), C walk (`addresses._ingest`) | **{rate('C walk')}** |",
        f"| learn + SQLite checkpoint every 100 blocks | {n_tx / store_s:,.0f} | |",
        f"| learn + checkpoints, ids and outputs spilled past 50,000 (bounded) |"
        f" {n_tx / spill_s:,.0f} | |",
    ]
    text = "\n".join(
        [
            BEGIN,
            f"`bench/learn_ingest.py --blocks {args.blocks} --scale {k} --seed {args.seed}` on"
            f" {platform.machine()}, {os.cpu_count()} vCPU, Python {platform.python_version()},"
            f" {f'pinned to CPU {args.cpu}' if args.cpu >= 0 else 'not pinned'}, same run."
            f" Synthetic economy: {truth['blocks']} blocks,"
            f" {n_tx:,} transactions, {size / 2**20:.1f} MiB of blk files, {n_addr:,} addresses,"
            f" {n_utxo:,} unspent outputs at the tip. The two learn rows alternate"
            f" {args.rounds} times (best, and worst in brackets); load average"
            f" {min(loads):.1f}-{max(loads):.1f} during them.",
            "",
            "| path | transactions/s (wall) | transactions/s (CPU time) |",
            "|---|---|---|",
            *rows,
            "",
            "| store | figure |",
            "|---|---|",
            f"| peak RSS learning the whole chain (fresh process): in memory / spilled |"
            f" {peaks['memory', full][0] / 2**20:.0f} MiB /"
            f" {peaks['spilled', full][0] / 2**20:.0f} MiB |",
            "| peak RSS growth from half to all of the chain, per address: in memory / spilled"
            f" (fresh processes) | {slope['memory']:.0f} B / **{slope['spilled']:.0f} B** |",
            f"| SQLite checkpoint (incremental: what changed in the last 100 blocks), last | "
            f"{saves[-1] * 1000:.0f} ms; file {db_size / 2**20:.1f} MiB |",
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

"""``whalewire addresses``: learn exchange deposit addresses from a chain, and query them.

``learn`` follows block files or a node's RPC into a store (resumable; ``--follow`` keeps
polling for new blocks), ``show`` explains one address, ``export`` writes the labels as an
address-book CSV, ``stats`` counts them, ``synth`` writes a synthetic economy with its
truth and ``score`` measures a store against that truth.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from whalewire.addresses.blockfiles import best_chain, index, read_chain
from whalewire.addresses.learner import Learner
from whalewire.addresses.rpc import RpcClient, follow
from whalewire.addresses.seeds import load_seeds
from whalewire.addresses.store import Store


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``addresses`` subcommands."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    learn = sub.add_parser("learn", help="follow a chain into a store")
    learn.add_argument("--store", required=True, help="the SQLite store (created if missing)")
    src = learn.add_mutually_exclusive_group(required=True)
    src.add_argument("--rpc", metavar="URL", help="http://user:password@host:port of a node")
    src.add_argument("--blocks-dir", metavar="DIR", help="a directory of Core's blk*.dat files")
    learn.add_argument("--cookie", metavar="FILE", help="RPC auth from Core's .cookie file")
    learn.add_argument(
        "--seed",
        action="append",
        default=[],
        metavar="FILE",
        help="seed labels: CSV address book or TagPack YAML (repeatable)",
    )
    learn.add_argument("--network", default="mainnet")
    learn.add_argument("--checkpoint-every", type=int, default=1000, metavar="BLOCKS")
    learn.add_argument(
        "--cache-entries",
        type=int,
        default=2_000_000,
        metavar="N",
        help="address ids and unspent outputs kept in memory; the rest live in the store",
    )
    learn.add_argument("--follow", action="store_true", help="RPC: keep polling for new blocks")
    learn.add_argument("--poll-seconds", type=float, default=2.0)
    show = sub.add_parser("show", help="what the store knows of one address, and why")
    show.add_argument("address")
    show.add_argument("--store", required=True)
    show.add_argument("--json", action="store_true")
    export = sub.add_parser("export", help="the learned labels as an address-book CSV")
    export.add_argument("--store", required=True)
    stats = sub.add_parser("stats", help="counts of the learned labels")
    stats.add_argument("--store", required=True)
    synth = sub.add_parser("synth", help="write a synthetic economy: blk files, seeds, truth")
    synth.add_argument("--out", required=True)
    synth.add_argument("--seed", type=int, default=1)
    synth.add_argument("--blocks", type=int, default=120)
    synth.add_argument("--scale", type=int, default=1, help="multiply the activity per block")
    score = sub.add_parser("score", help="score a store against a synthetic economy's truth")
    score.add_argument("--store", required=True)
    score.add_argument("--economy", required=True, help="the directory synth wrote")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action."""
    action = {
        "learn": _learn,
        "show": _show,
        "export": _export,
        "stats": _stats,
        "synth": _synth,
        "score": _score,
    }[args.action]
    return action(args)


def _progress() -> Progress:
    return Progress(
        TextColumn("height {task.completed:>8.0f}/{task.fields[tip]}"),
        BarColumn(),
        TextColumn("{task.fields[rate]:>8.0f} blocks/s"),
        TimeRemainingColumn(),
        transient=not sys.stderr.isatty(),
    )


def _learn(args: argparse.Namespace) -> int:
    store = Store(args.store, network=args.network)
    learner = store.load(cache_entries=args.cache_entries)
    for path in args.seed:
        for s in load_seeds(path, args.network):
            clash = learner.seed(s.script, s.entity, s.label, s.source)
            if clash is not None:
                print(
                    f"seed refused: {clash.entity_b} vs {clash.entity_a} ({s.source})",
                    file=sys.stderr,
                )
    every = max(1, args.checkpoint_every)
    t0 = time.perf_counter()
    start_height = learner.height
    with _progress() as bar:
        task = bar.add_task("learn", total=None, rate=0.0, tip="?")

        def step(height: int, tip: int) -> None:
            done = height - start_height
            bar.update(
                task,
                completed=height + 1,
                total=tip + 1,
                tip=tip,
                rate=done / max(time.perf_counter() - t0, 1e-9),
            )
            if height % every == 0:
                store.save(learner)

        if args.blocks_dir:
            _from_files(learner, Path(args.blocks_dir), step)
        else:
            rpc = RpcClient(args.rpc, cookie_file=args.cookie)
            follow(rpc, learner, on_block=step)
            while args.follow:
                store.save(learner)
                time.sleep(args.poll_seconds)
                follow(rpc, learner, on_block=step)
    store.save(learner)
    secs = time.perf_counter() - t0
    print(
        f"learned to height {learner.height}: {learner.transactions:,} transactions, "
        f"{len(learner.role):,} labelled addresses, {len(learner.conflicts)} merges refused "
        f"({secs:.1f} s)"
    )
    store.close()
    return 0


def _from_files(learner: Learner, blocks_dir: Path, step: object) -> None:
    chain = best_chain(index(blocks_dir))
    # a restart after the files' chain reorganised: back off to the common ancestor
    while learner.tip and (
        learner.height >= len(chain) or chain[learner.height].hash != learner.tip[-1][1]
    ):
        learner.disconnect()
    for height, raw in read_chain(chain, learner.height + 1):
        learner.connect(height, bytes(raw))
        step(height, len(chain) - 1)  # type: ignore[operator]


def _show(args: argparse.Namespace) -> int:
    store = Store(args.store)
    info = store.show(args.address)
    if info is None:
        print(f"{args.address}: not labelled in {args.store}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(
        f"{info['address']}: {info['entity']} {info['role']} (learned at height "
        f"{info['learned_at_height']}; its cluster has {info['labelled_cluster_addresses']} "
        "labelled addresses)"
    )
    for e in info["evidence"]:
        print(f"  {e['heuristic']:<28} {e['txid']}  height {e['height']}")
    return 0


def _export(args: argparse.Namespace) -> int:
    store = Store(args.store)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["address", "entity", "label", "source"])
    out.writerows(store.export_rows())
    return 0


def _stats(args: argparse.Namespace) -> int:
    print(json.dumps(Store(args.store).stats(), indent=2))
    return 0


def _synth(args: argparse.Namespace) -> int:
    from whalewire.addresses.synth import Params, generate  # noqa: PLC0415

    k = max(1, args.scale)
    p = Params(
        blocks=args.blocks,
        customers=40 * k,
        users=60 * k,
        deposits_per_block=8 * k,
        payments_per_block=6 * k,
    )
    truth = generate(args.out, seed=args.seed, params=p)
    print(
        f"{args.out}: {truth['blocks']} blocks, {truth['transactions']:,} transactions, "
        f"{len(truth['deposit_addresses'])} deposit addresses; seeds in seeds.csv, "
        "truth in truth.json"
    )
    return 0


def _score(args: argparse.Namespace) -> int:
    from whalewire.addresses.score import score  # noqa: PLC0415

    eco = Path(args.economy)
    truth = json.loads((eco / "truth.json").read_text())
    learner = Store(args.store).load()
    chain = best_chain(index(eco / "blocks"))
    result = score(learner, truth, ((h, bytes(r)) for h, r in read_chain(chain)))
    print(json.dumps(result.as_dict(), indent=2))
    return 0

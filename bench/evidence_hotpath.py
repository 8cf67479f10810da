"""Recording off the hot path: the per-transaction figure with recording off and on.

The replayed block's transactions, each made new by its locktime (as a busy mempool
delivers them), go one by one through the demo book's whale detector, paced one every
``--gap-us``: the hot path's work per transaction. With recording on, each transaction is
then handed to a running ``Recorder`` exactly as the tap does (after the detector has
returned), and a second source records book tops and 20-level depth at ``--tops-hz`` on
the same thread, so the writer thread drains, converts and writes (zstd Arrow IPC) while
the detector runs. Rounds alternate off/on; the figures are per-transaction detect time
(``perf_counter_ns`` around ``detector.feed``) and, with recording on, the cost of the
recorder call itself. Written to docs/benchmarks.md, "Evidence: recording off the hot path".

    taskset -c 0 .venv/bin/python bench/evidence_hotpath.py [--txs 20000] [--rounds 4]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _sections import parse_args, write_section
from whalewire.evidence.recorder import Recorder
from whalewire.mempool.feeds.events import EventKind, RawTxEvent
from whalewire.mempool.feeds.replay import DEFAULT_REPLAY, load_replay
from whalewire.mempool.feeds.synthetic import with_locktime
from whalewire.mempool.watchlist import AddressBook
from whalewire.mempool.whales import WhaleDetector

BEGIN = "<!-- evidence-hotpath:begin -->"
END = "<!-- evidence-hotpath:end -->"


def _pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e3


def one_round(
    detector: WhaleDetector,
    events: list[RawTxEvent],
    recorder: Recorder | None,
    args: argparse.Namespace,
) -> tuple[list[int], list[int]]:
    perf = time.perf_counter_ns
    detect: list[int] = []
    record: list[int] = []
    gap = args.gap_us * 1000
    top_every = 1e9 / args.tops_hz if args.tops_hz else 0
    next_top = perf()
    bids = [(60_000.0 - i, 1.0 + i) for i in range(20)]
    asks = [(60_001.0 + i, 1.0 + i) for i in range(20)]
    due = perf()
    for e in events:
        while perf() < due:  # paced, as a feed delivers
            pass
        due += gap
        t0 = perf()
        detector.feed(e.raw, feed=e.feed, recv_ns=t0, recv_wall_ns=e.recv_wall_ns, txid=e.txid)
        t1 = perf()
        detect.append(t1 - t0)
        if recorder is not None:
            recorder.tx(e)
            record.append(perf() - t1)
            if top_every and t1 >= next_top:
                next_top = t1 + top_every
                recorder.top(t1, "binance", "BTCUSDT", 60_000.0, 1.0, 60_001.0, 1.0)
                recorder.levels(t1, "binance", "BTCUSDT", bids, asks)
    return detect, record


def main() -> None:
    def add(ap: argparse.ArgumentParser) -> None:
        ap.add_argument("--txs", type=int, default=20_000)
        ap.add_argument("--rounds", type=int, default=4)
        ap.add_argument("--gap-us", type=int, default=100)
        ap.add_argument("--tops-hz", type=float, default=1000.0)

    args = parse_args(__doc__ or "", add)
    records = load_replay(Path(str(DEFAULT_REPLAY)))
    events = []
    for i in range(args.txs):
        r = records[i % len(records)]
        raw = with_locktime(r.raw, i + 1)
        events.append(
            RawTxEvent(
                raw,
                r.txid if i < len(records) else f"{i:064x}",
                "zmq",
                EventKind.MEMPOOL,
                0,
                time.time_ns(),
            )
        )
    detector = WhaleDetector(AddressBook.demo(), threshold_sats=25_000_000)
    tmp = Path(tempfile.mkdtemp(prefix="whalewire-hotpath-"))
    off: list[int] = []
    on: list[int] = []
    calls: list[int] = []
    try:
        one_round(detector, events[:2000], None, args)  # warm
        gc.collect()
        for r in range(args.rounds * 2):
            if r % 2 == 0:
                detect, _ = one_round(detector, events, None, args)
                off += detect
            else:
                rec = Recorder(tmp / f"r{r}")
                rec.start()
                detect, record = one_round(detector, events, rec, args)
                stats = rec.close()
                assert stats.dropped == 0 and stats.rows["txs"] == len(events)
                on += detect
                calls += record
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        "| recording | txs | detect p50 (µs) | p90 | p99 | p99.9 | mean "
        "| recorder call p50 / p99 (µs) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, values, extra in (
        ("off", off, "-"),
        ("on", on, f"{_pct(calls, 0.5):.2f} / {_pct(calls, 0.99):.2f}"),
    ):
        rows.append(
            f"| {name} | {len(values)} | {_pct(values, 0.5):.2f} | {_pct(values, 0.9):.2f} | "
            f"{_pct(values, 0.99):.2f} | {_pct(values, 0.999):.2f} | "
            f"{statistics.fmean(values) / 1e3:.2f} | {extra} |"
        )
    print("\n".join(rows))
    if not args.no_write:
        text = "\n".join(
            [
                BEGIN,
                f"`taskset -c {args.cpu} .venv/bin/python bench/evidence_hotpath.py "
                f"--txs {args.txs} --rounds {args.rounds}` ({time.strftime('%Y-%m-%d')}, "
                "shared 2 vCPU, pinned to "
                f"CPU {args.cpu}; the writer thread shares the CPU and the GIL): one transaction "
                f"every {args.gap_us} µs through the demo book's detector; with recording on, "
                f"each is recorded after detection and tops + 20-level depth are recorded at "
                f"{args.tops_hz:g} Hz on the same thread.",
                "",
                *rows,
                END,
            ]
        )
        write_section(BEGIN, END, text, heading="Evidence: recording off the hot path")


if __name__ == "__main__":
    main()

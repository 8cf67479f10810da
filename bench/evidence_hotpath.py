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
import asyncio
import gc
import itertools
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from _sections import parse_args, write_section
from whalewire.engine.app import Engine
from whalewire.engine.config import parse_config
from whalewire.engine.journal import Journal
from whalewire.evidence.recorder import Recorder
from whalewire.evidence.schema import SCHEMAS
from whalewire.evidence.simvenue import Latency, RecordedBooks, SimClock, SimVenue, venue_fees
from whalewire.evidence.writer import ProcessRecorder
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


Step = Callable[[RawTxEvent, int], object]


def one_round(
    step: Step,
    events: list[RawTxEvent],
    recorder: Recorder | ProcessRecorder | None,
    args: argparse.Namespace,
) -> tuple[list[int], list[int]]:
    perf = time.perf_counter_ns
    detect: list[int] = []
    record: list[int] = []
    gap = args.gap_us * 1000
    top_every = 1e9 / args.tops_hz if args.tops_hz else 0
    next_top = next_levels = perf()
    levels_every = 1e9 / args.levels_hz if args.levels_hz else 0
    bids = [(60_000.0 - i, 1.0 + i) for i in range(20)]
    asks = [(60_001.0 + i, 1.0 + i) for i in range(20)]
    due = perf()
    for e in events:
        while perf() < due:  # paced, as a feed delivers
            pass
        due += gap
        t0 = perf()
        step(e, t0)
        t1 = perf()
        detect.append(t1 - t0)
        if recorder is not None:
            recorder.tx(e)
            record.append(perf() - t1)
            if top_every and t1 >= next_top:
                next_top = t1 + top_every
                recorder.top(t1, "binance", "BTCUSDT", 60_000.0, 1.0, 60_001.0, 1.0)
            if levels_every and t1 >= next_levels:
                next_levels = t1 + levels_every
                recorder.levels(t1, "binance", "BTCUSDT", bids, asks)
    return detect, record


_ROUNDS = itertools.count()


def _fresh(events: list[RawTxEvent], r: int) -> list[RawTxEvent]:
    """The same transactions under txids no round used: the strategy decides each anew."""
    return [
        RawTxEvent(e.raw, f"{r:08x}{i:056x}", e.feed, e.kind, e.recv_ns, e.recv_wall_ns)
        for i, e in enumerate(events)
    ]


def measure(
    step: Step,
    events: list[RawTxEvent],
    args: argparse.Namespace,
    tmp: Path,
    *,
    writer_cpus: set[int] | None,
    process: bool = False,
) -> tuple[list[int], list[int], list[int]]:
    """Alternate rounds off and on; return the step's times off, on, and the recorder's."""
    off: list[int] = []
    on: list[int] = []
    calls: list[int] = []
    one_round(step, _fresh(events[:2000], 999), None, args)  # warm
    gc.collect()
    for r in range(args.rounds * 2):
        events = _fresh(events, next(_ROUNDS))
        if r % 2 == 0:
            times, _ = one_round(step, events, None, args)
            off += times
            continue
        where = tmp / f"r{r}-{id(step)}-{writer_cpus}-{process}"
        rec: Recorder | ProcessRecorder
        rec = (
            ProcessRecorder(where, cpus=writer_cpus)
            if process
            else Recorder(where, cpus=writer_cpus)
        )
        rec.start()
        times, record = one_round(step, events, rec, args)
        stats = rec.close()
        assert stats.dropped == 0 and stats.rows["txs"] == len(events)
        on += times
        calls += record
    return off, on, calls


async def _engine_figures(
    events: list[RawTxEvent],
    args: argparse.Namespace,
    tmp: Path,
    writers: dict[str, set[int] | None],
) -> dict[str, tuple[list[int], list[int], list[int]]]:
    """The same rounds through a whole engine whose venue queues orders (never sends)."""
    config = parse_config(ENGINE_CONFIG)
    books = RecordedBooks(
        pa.table(
            {"ts_ns": [0], "bid": [60_000.0], "bid_qty": [5.0], "ask": [60_001.0], "ask_qty": [5.0]}
        ),
        SCHEMAS["levels"].empty_table(),
    )
    venue = SimVenue(
        "binance",
        {"BTCUSDT": books},
        clock=SimClock(1),
        latency=Latency(),
        fees=venue_fees("binance"),
        balances={},
    )
    journal = Journal(tmp / "journal.db")
    engine = Engine(
        config,
        venues={"binance": venue},
        detector=WhaleDetector(AddressBook.demo(), threshold_sats=25_000_000),
        journal=journal,
    )
    engine.pipeline.armed = True

    def engine_step(e: RawTxEvent, t0: int) -> object:
        engine.on_feed_event(RawTxEvent(e.raw, e.txid, e.feed, e.kind, t0, e.recv_wall_ns))
        return None

    try:
        figures = {
            name: measure(engine_step, events, args, tmp, writer_cpus=cpus, process=process)
            for name, (cpus, process) in writers.items()
        }
        # every whale was decided, risk-checked, journaled and placed: the path is whole
        ignored = dict(engine.pipeline.ignored)
        print(f"engine: {engine.pipeline.whales_seen} whales, {venue.queued} orders, {ignored}")
        assert venue.queued == engine.pipeline.whales_seen - sum(ignored.values()) > 0
        return figures
    finally:
        await engine.close()
        journal.close()


#: the demo's strategy; risk limits no bench whale reaches (every whale is decided and sent)
ENGINE_CONFIG = """
[strategy]
min_value_sats = 25_000_000
cooldown_s = 0
max_reactions = 1000000
[risk]
max_orders_per_second = 100000
max_orders_per_minute = 100000
[risk.symbols.BTCUSDT]
max_order_qty = 1
max_order_notional = 1000000
max_position = 1000000
max_daily_loss = 1000000
"""


def main() -> None:
    def add(ap: argparse.ArgumentParser) -> None:
        ap.add_argument("--txs", type=int, default=20_000)
        ap.add_argument("--rounds", type=int, default=4)
        ap.add_argument("--gap-us", type=int, default=100)
        ap.add_argument("--tops-hz", type=float, default=1000.0)
        ap.add_argument("--levels-hz", type=float, default=1.0)

    args = parse_args(__doc__ or "", add)
    records = load_replay(Path(str(DEFAULT_REPLAY)))
    events = []
    for i in range(args.txs):
        r = records[i % len(records)]
        raw = with_locktime(r.raw, i + 1)
        events.append(
            RawTxEvent(
                raw,
                f"{i:064x}",  # unique: the strategy decides once per txid
                "zmq",
                EventKind.MEMPOOL,
                0,
                time.time_ns(),
            )
        )
    detector = WhaleDetector(AddressBook.demo(), threshold_sats=25_000_000)

    def detect_step(e: RawTxEvent, t0: int) -> object:
        return detector.feed(
            e.raw, feed=e.feed, recv_ns=t0, recv_wall_ns=e.recv_wall_ns, txid=e.txid
        )

    tmp = Path(tempfile.mkdtemp(prefix="whalewire-hotpath-"))
    try:
        # the writer thread on the other CPU, as `--record` places it when [engine] cpu is
        # set; and, to show why, on the engine's own CPU
        other = {1 - args.cpu} if args.cpu in (0, 1) else None
        writers = {
            "engine, writer thread": (other, False),
            "engine, writer thread on its CPU": ({args.cpu}, False),
            "engine, writer process": (other, True),
        }
        figures = {"detector": measure(detect_step, events, args, tmp, writer_cpus=other)}
        figures.update(asyncio.run(_engine_figures(events, args, tmp, writers)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        "| path | recording | txs | p50 (µs) | p90 | p99 | p99.9 | mean "
        "| recorder call p50 / p99 (µs) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path, (off, on, calls) in figures.items():
        record = f"{_pct(calls, 0.5):.2f} / {_pct(calls, 0.99):.2f}"
        for name, values, extra in (("off", off, "-"), ("on", on, record)):
            rows.append(
                f"| {path} | {name} | {len(values)} | {_pct(values, 0.5):.2f} | "
                f"{_pct(values, 0.9):.2f} | {_pct(values, 0.99):.2f} | "
                f"{_pct(values, 0.999):.2f} | {statistics.fmean(values) / 1e3:.2f} | {extra} |"
            )
    print("\n".join(rows))
    if not args.no_write:
        text = "\n".join(
            [
                BEGIN,
                f"`taskset -c {args.cpu} .venv/bin/python bench/evidence_hotpath.py "
                f"--txs {args.txs} --rounds {args.rounds}` ({time.strftime('%Y-%m-%d')}, "
                "shared 2 vCPU, pinned to "
                f"CPU {args.cpu}; the writer, thread or process, on CPU {1 - args.cpu} unless "
                "the row says it is on the engine's): one transaction "
                f"every {args.gap_us} µs through the demo book's detector (`detector`: "
                "`WhaleDetector.feed`) and through the whole engine (`engine`: "
                "`Engine.on_feed_event`, detector → strategy → risk → intent → `place`, on "
                "the backtest's simulated venue); with recording on, "
                f"each is recorded after detection, tops at "
                f"{args.tops_hz:g} Hz and 20-level depth at {args.levels_hz:g} Hz on the same "
                "thread.",
                "",
                *rows,
                END,
            ]
        )
        write_section(BEGIN, END, text, heading="Evidence: recording off the hot path")


if __name__ == "__main__":
    main()

"""Which file format a recording is written in: Parquet or Arrow IPC, by measurement.

The rows are what a recording holds most of: transactions (``txs``: raw bytes of the
replayed block's lengths with random bodies, so no two rows repeat, txid, stamps) and book
tops (``tops``: floats), written through the
``Recorder`` itself (writer thread, batches, rotation off) and read back with
``recording.read_table``. For each format and codec: write throughput (rows/s from the
first row offered to the last file closed), bytes on disk per row, and read-back speed.
The figures go to docs/benchmarks.md, "Evidence: recording format".

    .venv/bin/python bench/evidence_format.py [--rows 200000] [--no-write]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from _sections import parse_args, write_section
from whalewire.evidence.recorder import Recorder
from whalewire.evidence.recording import read_table
from whalewire.mempool.feeds.events import EventKind, RawTxEvent
from whalewire.mempool.feeds.replay import DEFAULT_REPLAY, load_replay

CANDIDATES = (
    ("parquet", "zstd"),
    ("parquet", "snappy"),
    ("parquet", "none"),
    ("arrow", "none"),
    ("arrow", "lz4"),
    ("arrow", "zstd"),
)
BEGIN = "<!-- evidence-format:begin -->"
END = "<!-- evidence-format:end -->"


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure(fmt: str, codec: str, table: str, rows: int, tmp: Path) -> dict[str, float]:
    records = load_replay(Path(str(DEFAULT_REPLAY)))
    rng = random.Random(1)
    # each row unique, as in a real mempool: a cycled block would let the codecs store each
    # transaction once, so the bodies are random bytes of the block's lengths (the
    # incompressible bound: real transactions are mostly hashes, keys and signatures)
    events = [
        RawTxEvent(
            r.raw[:5] + rng.randbytes(len(r.raw) - 5),
            f"{i:064x}",
            "zmq",
            EventKind.MEMPOOL,
            i,
            1_800_000_000_000_000_000 + i,
        )
        for i, r in enumerate(records * (rows // len(records) + 1))
    ][:rows]
    tops = [
        (1_800_000_000_000_000_000 + i, 60_000 + rng.random(), rng.random()) for i in range(rows)
    ]
    folder = tmp / f"{fmt}-{codec}-{table}"
    rec = Recorder(folder, fmt=fmt, compression=codec, capacity=rows + 1, poll_s=0.01)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    rec.start()
    if table == "txs":
        for e in events:
            rec.tx(e)
    else:
        for ts, p, q in tops:
            rec.top(ts, "binance", "BTCUSDT", p, q, p + 0.01, q)
    rec.close()
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    back = read_table(folder, table)
    read_s = time.perf_counter() - t0
    assert back.num_rows == rows
    size = _size(folder / table)
    shutil.rmtree(folder)
    return {"write": rows / write_s, "bytes": size / rows, "read": rows / read_s}


def main() -> None:
    def add(ap: argparse.ArgumentParser) -> None:
        ap.add_argument("--rows", type=int, default=200_000)

    args = parse_args(__doc__ or "", add, cpu=-1)
    tmp = Path(tempfile.mkdtemp(prefix="whalewire-format-"))
    lines = [
        "| format | codec | txs write (k rows/s) | txs B/row | txs read (k rows/s) "
        "| tops write (k rows/s) | tops B/row | tops read (k rows/s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    try:
        for fmt, codec in CANDIDATES:
            tx = measure(fmt, codec, "txs", args.rows, tmp)
            top = measure(fmt, codec, "tops", args.rows, tmp)
            line = (
                f"| {fmt} | {codec} | {tx['write'] / 1e3:.0f} | {tx['bytes']:.0f} | "
                f"{tx['read'] / 1e3:.0f} | {top['write'] / 1e3:.0f} | {top['bytes']:.1f} | "
                f"{top['read'] / 1e3:.0f} |"
            )
            print(line, flush=True)
            lines.append(line)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not args.no_write:
        text = "\n".join(
            [
                BEGIN,
                f"`.venv/bin/python bench/evidence_format.py --rows {args.rows}` "
                f"({time.strftime('%Y-%m-%d')}, shared 2 vCPU, not pinned): {args.rows} rows "
                "per table through the Recorder (writer thread), read back with "
                "`recording.read_table`; txs have the replayed block's lengths with random "
                "bodies (unique rows; the incompressible bound), tops are floats.",
                "",
                *lines,
                END,
            ]
        )
        write_section(BEGIN, END, text, heading="Evidence: recording format")


if __name__ == "__main__":
    main()

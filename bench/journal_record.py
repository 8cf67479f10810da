"""The order's pre-send journal record: SQLite commit vs a pwrite record vs the mmap intent log.

``taskset -c 0 .venv/bin/python bench/journal_record.py [--n 20000] [--cold 300]``

Each way writes the same ``OrderInitialized`` (encoded inside the timed call, as the
engine does) so that a SIGKILL right after the call loses nothing:

- ``sqlite NORMAL 4 KiB`` — ``Journal.append``: one WAL commit (the engine's way until now);
- ``sqlite NORMAL 512 B`` — the same with ``page_size=512`` (a smaller WAL frame per commit);
- ``pwrite record`` — length + crc32 + seq + body, ``os.pwrite`` at the start of a
  pre-allocated file;
- ``intent log (mmap)`` — ``IntentLog.append`` then ``clear`` (what ``Journal.intend`` does
  per order; the SQLite row follows after the send, off the latency path);
- the same, with the log's page written back (``msync``) before each call: what the
  first order after the kernel's periodic writeback pays (the write-protect fault), and
  what ``Journal.rehearse`` takes instead (it writes the same page every 2 ms);
- ``Journal.intend`` — the engine's pre-send call itself (encode, intent record, pending
  row), its ``settle`` (the SQLite row) after each call, untimed.

*warm*: median of per-call wall time over ``--n`` calls in a tight loop. *cold*: median
over ``--cold`` calls, each after touching 32 MiB of other memory and sleeping 2 ms (the
engine between two whales, without rehearsals).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sqlite3
import statistics
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from whalewire.engine.intents import IntentLog
from whalewire.engine.journal import Journal
from whalewire.model import OrderInitialized, Side, SubmitOrder, encode

WriteAndAfter = tuple[Callable[[OrderInitialized], object], Callable[[int], object]]


def init(i: int) -> OrderInitialized:
    command = SubmitOrder(
        client_order_id=f"ww-bench-{i:012d}",
        ts_init=time.perf_counter_ns(),
        venue="binance",
        symbol="BTCUSDT",
        side=Side.SELL,
        quantity=Decimal("0.00120000"),
        reason="deposit 12.5 BTC to binance",
    )
    return OrderInitialized(
        client_order_id=command.client_order_id, ts_init=1, ts_event=1, command=command
    )


def sqlite_small_pages(
    path: Path,
) -> tuple[Callable[[OrderInitialized], object], Callable[[int], object]]:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA page_size=512")
    db.execute("PRAGMA locking_mode=EXCLUSIVE")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute(
        "CREATE TABLE messages (seq INTEGER PRIMARY KEY, client_order_id TEXT NOT NULL,"
        " type TEXT NOT NULL, body BLOB NOT NULL, ts_init INTEGER NOT NULL)"
    )
    sql = "INSERT INTO messages(client_order_id, type, body, ts_init) VALUES (?, ?, ?, ?)"

    def write(m: OrderInitialized) -> object:
        return db.execute(sql, (m.client_order_id, "OrderInitialized", encode(m), m.ts_init))

    def after(i: int) -> None:
        if i % 500 == 499:  # as the engine does
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    return write, after


def pwrite_record(path: Path) -> Callable[[OrderInitialized], object]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.posix_fallocate(fd, 0, 64 * 1024)
    head = struct.Struct("<IIQ")
    seq = 0

    def write(m: OrderInitialized) -> object:
        nonlocal seq
        seq += 1
        body = encode(m)
        crc = zlib.crc32(body, zlib.crc32(struct.pack("<IQ", len(body), seq)))
        return os.pwrite(fd, head.pack(crc, len(body), seq) + body + bytes(16), 16)

    return write


def intent_log(path: Path, *, written_back: bool = False) -> WriteAndAfter:
    log = IntentLog(path, owner=1)
    seq = 0

    def write(m: OrderInitialized) -> object:
        nonlocal seq
        seq += 1
        log.append(seq, encode(m))
        log.clear()  # the journal clears once the SQLite row is in (after the send)
        return None

    def after(i: int) -> None:
        if written_back:  # as the kernel does ~30 s after a page was dirtied: the page is
            log._map.flush()  # clean and write-protected, the next store faults

    return write, after


def measure(
    write: Callable[[OrderInitialized], object], after: Callable[[int], object], n: int, cold: int
) -> tuple[float, float]:
    perf = time.perf_counter_ns
    msgs = [init(i) for i in range(n + cold)]
    warm: list[int] = []
    for i, m in enumerate(msgs[:n]):
        t0 = perf()
        write(m)
        warm.append(perf() - t0)
        after(i)  # what the engine does after the send, off the timed call
    junk = bytearray(32 * 1024 * 1024)
    cold_ns: list[int] = []
    for m in msgs[n:]:
        junk[::64] = b"\1" * (len(junk) // 64)  # the caches now hold other work's data
        time.sleep(0.002)
        t0 = perf()
        write(m)
        cold_ns.append(perf() - t0)
        after(0)
    return statistics.median(warm) / 1000, statistics.median(cold_ns) / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--cold", type=int, default=300)
    args = ap.parse_args()
    print(f"machine: {platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"command: {' '.join(sys.argv)}; load average {os.getloadavg()[0]:.2f}")
    encode_only = [init(i) for i in range(args.n)]
    t0 = time.perf_counter_ns()
    for m in encode_only:
        encode(m)
    print(f"encode(OrderInitialized) alone: {(time.perf_counter_ns() - t0) / args.n / 1000:.2f} µs")
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        d = Path(tmp)
        journal = Journal(d / "j.db")

        def nothing(i: int) -> None:
            pass

        def checkpoint_every_500(i: int) -> None:
            if i % 500 == 499:
                journal.checkpoint()

        engine_journal = Journal(d / "e.db")

        def settle(i: int) -> None:
            engine_journal.settle()  # the SQLite row, after the send
            if i % 500 == 499:
                engine_journal.checkpoint()

        ways: dict[str, tuple[Callable[[OrderInitialized], object], Callable[[int], object]]] = {
            "encode only (the floor)": (encode, nothing),
            "sqlite NORMAL 4 KiB (Journal.append)": (journal.append, checkpoint_every_500),
            "sqlite NORMAL 512 B pages": sqlite_small_pages(d / "small.db"),
            "pwrite record": (pwrite_record(d / "rec.bin"), nothing),
            "intent log (mmap) append + clear": intent_log(d / "j.intents"),
            "  the same, page written back before each": intent_log(
                d / "wb.intents", written_back=True
            ),
            "Journal.intend (the engine's pre-send call)": (engine_journal.intend, settle),
        }
        gc.disable()
        print(f"{'way':44} {'warm p50 µs':>12} {'cold p50 µs':>12}")
        for name, (write, after) in ways.items():
            warm, cold = measure(write, after, args.n, args.cold)
            print(f"{name:44} {warm:>12.2f} {cold:>12.2f}")
        journal.close()
        engine_journal.close()


if __name__ == "__main__":
    main()

"""Instructions per transaction on detect's path, counted by callgrind: deterministic under load.

A warm loop over what the engine runs per feed event before the strategy: ``tx_event``
(receive stamp, txid) → ``Dedup.admit`` → ``WhaleDetector.feed`` with the event's txid, on
one fresh whale variant of block 951,658 and one of its ordinary transactions per iteration
(the shape of ``bench/compute_path.py``). ``--hashed`` leaves the txid out of ``feed`` (the
detector hashes the transaction itself, as every tree before ``feed(txid=...)`` did: with
``PYTHONPATH`` at an older ``src`` it measures that tree). Run bare it loops
``--iterations`` times after a warm-up; with ``--callgrind`` it runs itself under
``valgrind --tool=callgrind`` at 1000 and 3000 iterations and prints the difference per
iteration (start-up cancels out). Under valgrind OpenSSL's SHA-256 runs without the CPU's
SHA extensions: hashing weighs more there.

    .venv/bin/python bench/detect_instructions.py --callgrind [--hashed]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from e2e_latency import whale_variants
from whalewire.mempool.feeds.events import EventKind, tx_event
from whalewire.mempool.feeds.monitor import Dedup
from whalewire.mempool.watchlist import AddressBook
from whalewire.mempool.whales import WhaleDetector

WARM_UP = 2000


def loop(iterations: int, hashed: bool) -> int:
    detector = WhaleDetector(AddressBook.demo(), threshold_sats=25_000_000)
    dedup = Dedup()
    whales, noise = whale_variants(WARM_UP + 3000)  # the same list whatever the count
    alerts = 0
    for i in range(WARM_UP + iterations):
        for raw in (whales[i], noise[i % len(noise)]):
            ev = tx_event(raw, "bench", EventKind.MEMPOOL)
            if not dedup.admit(ev):
                continue
            if hashed:  # no txid keyword: the loop also runs on trees before it existed
                found = detector.feed(
                    ev.raw, feed=ev.feed, recv_ns=ev.recv_ns, recv_wall_ns=ev.recv_wall_ns
                )
            else:
                found = detector.feed(
                    ev.raw,
                    feed=ev.feed,
                    recv_ns=ev.recv_ns,
                    recv_wall_ns=ev.recv_wall_ns,
                    txid=ev.txid,
                )
            alerts += len(found)
    return alerts


def collected(iterations: int, hashed: bool) -> int:
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(Path(__file__).resolve()),
        "--iterations",
        str(iterations),
        *(["--hashed"] if hashed else []),
    ]
    # a fixed hash seed: str hashes (the txids' dict slots) otherwise move the count ~1%
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    err = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stderr
    found = re.search(r"Collected : (\d+)", err)
    if found is None:
        raise RuntimeError(f"no callgrind total in: {err[-500:]}")
    return int(found.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--hashed", action="store_true", help="the detector hashes the txid")
    ap.add_argument("--callgrind", action="store_true")
    args = ap.parse_args()
    if not args.callgrind:
        loop(args.iterations, args.hashed)
        return
    low, high = collected(1000, args.hashed), collected(3000, args.hashed)
    print(f"instructions per iteration (whale + ordinary tx): {(high - low) / 2000:,.0f}")


if __name__ == "__main__":
    main()

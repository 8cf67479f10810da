"""Feed latency: Bitcoin Core-shaped ZMQ ``rawtx`` on loopback, send -> event -> whale verdict.

A publisher process (an XPUB socket speaking Bitcoin Core's three-frame ``rawtx`` messages)
sends distinct real transactions (block 951,658's, each with a fresh locktime so every txid is
new) at a fixed pace and records ``perf_counter_ns`` just before each send; CLOCK_MONOTONIC
is system-wide, so the receiver's stamps compare directly. Receivers, same run:

* ``pyzmq sync``    bare blocking ``recv_multipart`` loop: the floor;
* ``pyzmq asyncio`` bare ``zmq.asyncio`` ``recv_multipart`` loop: the floor for an asyncio feed;
* ``decoder sync``  blocking recv + ``ZmqDecoder`` (txid, kind, gaps) + ``Dedup`` + detector;
* ``feed+monitor``  ``BitcoindZmqFeed`` through ``Monitor`` (asyncio, the feed's callback path)
  + detector in the callback;
* ``feed async for`` ``async for event in BitcoindZmqFeed`` + ``Dedup`` + detector.

"detector" is ``WhaleDetector.feed`` on the demo address book (real outputs of the block, so
the whale transactions alert), stamped after its verdict for every transaction. Reported:
p50/p99 of send -> stamp, per CPU placement (both ends on CPU 0, or publisher on CPU 1),
since cross-CPU wake-ups dominate on 2 vCPUs.

    .venv/bin/python bench/feed_latency.py [--n 3000] [--interval-us 250] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import struct
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

import zmq
import zmq.asyncio

from whalewire.mempool.feeds.bitcoind_zmq import BitcoindZmqFeed, ZmqDecoder
from whalewire.mempool.feeds.events import FeedEvent, RawTxEvent
from whalewire.mempool.feeds.monitor import Dedup, Monitor
from whalewire.mempool.feeds.replay import DEFAULT_REPLAY, load_replay
from whalewire.mempool.watchlist import AddressBook
from whalewire.mempool.whales import WhaleDetector

WARMUP = 200


def payloads(n: int) -> list[bytes]:
    """Return ``n`` distinct raw transactions: the block's, with locktime set to the index."""
    base = [r.raw for r in load_replay(DEFAULT_REPLAY)]
    return [base[i % len(base)][:-4] + struct.pack("<I", i) for i in range(n)]


def detector() -> WhaleDetector:
    """Return the whale detector on the demo address book (real outputs of the block)."""
    return WhaleDetector(AddressBook.demo())


def pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def publisher(conn: Connection, n: int, interval_us: float, cpu: int | None) -> None:
    pin(cpu)
    msgs = payloads(n)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.SNDHWM, 0)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    conn.send(port)
    while sock.recv()[:1] != b"\x01":  # wait for the subscription
        pass
    conn.recv()  # the receiver is in its loop
    sends = []
    perf, send, pack = time.perf_counter_ns, sock.send_multipart, struct.Struct("<I").pack
    for i, raw in enumerate(msgs):
        time.sleep(interval_us / 1e6)
        sends.append(perf())
        send([b"rawtx", raw, pack(i)])
    conn.send(sends)
    sock.close(0)
    ctx.term()


def recv_pyzmq_sync(endpoint: str, n: int, go: Callable[[], None], det: object) -> list[int]:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"rawtx")
    sock.connect(endpoint)
    go()
    perf, recv = time.perf_counter_ns, sock.recv_multipart
    stamps = []
    for _ in range(n):
        recv()
        stamps.append(perf())
    sock.close(0)
    ctx.term()
    return stamps


def recv_pyzmq_asyncio(endpoint: str, n: int, go: Callable[[], None], det: object) -> list[int]:
    async def run() -> list[int]:
        ctx = zmq.asyncio.Context()
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.SUBSCRIBE, b"rawtx")
        sock.connect(endpoint)
        go()
        perf, recv = time.perf_counter_ns, sock.recv_multipart
        stamps = []
        for _ in range(n):
            await recv()
            stamps.append(perf())
        sock.close(0)
        ctx.term()
        return stamps

    return asyncio.run(run())


def recv_decoder_sync(
    endpoint: str, n: int, go: Callable[[], None], det: WhaleDetector
) -> list[int]:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"rawtx")
    sock.connect(endpoint)
    go()
    perf, wall, recv = time.perf_counter_ns, time.time_ns, sock.recv_multipart
    decode, admit = ZmqDecoder().decode, Dedup().admit
    stamps = []
    while len(stamps) < n:
        frames = recv()
        for event in decode(frames, perf(), wall()):
            if type(event) is RawTxEvent and admit(event):
                det.feed(event.raw, feed="zmq", recv_ns=event.recv_ns, recv_wall_ns=0)
                stamps.append(perf())
    sock.close(0)
    ctx.term()
    return stamps


def recv_feed_monitor(
    endpoint: str, n: int, go: Callable[[], None], det: WhaleDetector
) -> list[int]:
    async def run() -> list[int]:
        feed = BitcoindZmqFeed(endpoint, topics=("rawtx",))
        feed.open()
        monitor = Monitor([feed])
        stamps: list[int] = []
        perf = time.perf_counter_ns
        done = asyncio.Event()

        def on_event(event: FeedEvent) -> None:
            if type(event) is RawTxEvent:
                det.feed(event.raw, feed="zmq", recv_ns=event.recv_ns, recv_wall_ns=0)
                stamps.append(perf())
                if len(stamps) == n:
                    done.set()

        task = asyncio.create_task(monitor.run(on_event))
        go()
        await done.wait()
        task.cancel()
        feed.close()
        return stamps

    return asyncio.run(run())


def recv_feed_async_for(
    endpoint: str, n: int, go: Callable[[], None], det: WhaleDetector
) -> list[int]:
    async def run() -> list[int]:
        feed = BitcoindZmqFeed(endpoint, topics=("rawtx",))
        feed.open()
        admit, perf = Dedup().admit, time.perf_counter_ns
        stamps: list[int] = []
        go()
        async for event in feed:
            if type(event) is RawTxEvent and admit(event):
                det.feed(event.raw, feed="zmq", recv_ns=event.recv_ns, recv_wall_ns=0)
                stamps.append(perf())
                if len(stamps) == n:
                    break
        return stamps

    return asyncio.run(run())


RECEIVERS = {
    "pyzmq sync": recv_pyzmq_sync,
    "pyzmq asyncio": recv_pyzmq_asyncio,
    "decoder sync": recv_decoder_sync,
    "feed+monitor": recv_feed_monitor,
    "feed async for": recv_feed_async_for,
}


def measure(name: str, n: int, interval_us: float, pub_cpu: int | None) -> list[float]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=publisher, args=(child, n, interval_us, pub_cpu))
    proc.start()
    port = parent.recv()
    stamps = RECEIVERS[name](f"tcp://127.0.0.1:{port}", n, lambda: parent.send("go"), detector())
    sends = parent.recv()
    proc.join()
    assert len(stamps) == len(sends) == n
    return [(r - s) / 1000 for r, s in zip(stamps, sends, strict=True)]


def alerting(n: int) -> list[int]:
    """Return the indices of the messages on which the detector raises an alert."""
    det = detector()
    return [
        i
        for i, raw in enumerate(payloads(n))
        if det.feed(raw, feed="zmq", recv_ns=0, recv_wall_ns=0)
    ]


def compute_only(n: int, repeats: int = 5) -> tuple[float, float, float]:
    """Return per-message µs of decode+dedup, of decode+dedup+detector, and of the detector
    on a transaction that raises an alert; best of ``repeats`` (noise only adds).

    No socket: what our code costs per message regardless of wake-ups and CPU placement.
    """
    msgs = [[b"rawtx", raw, struct.pack("<I", i)] for i, raw in enumerate(payloads(n))]
    perf = time.perf_counter_ns
    best = [float("inf")] * 2
    for _ in range(repeats):
        for k, with_detector in enumerate((False, True)):
            decode, admit, det = ZmqDecoder().decode, Dedup().admit, detector()
            t0 = perf()
            for frames in msgs:
                for event in decode(frames, t0, 0):
                    if type(event) is RawTxEvent and admit(event) and with_detector:
                        det.feed(event.raw, feed="zmq", recv_ns=event.recv_ns, recv_wall_ns=0)
            best[k] = min(best[k], (perf() - t0) / n / 1000)
    whale = payloads(n)[alerting(n)[0]]
    det = detector()
    alert_us = float("inf")
    for _ in range(repeats):
        t0 = perf()
        for _ in range(200):
            det.feed(whale, feed="zmq", recv_ns=0, recv_wall_ns=0)
        alert_us = min(alert_us, (perf() - t0) / 200 / 1000)
    return best[0], best[1], alert_us


def pct(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=1000)[int(p * 10) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--interval-us", type=float, default=250.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    placements = {"same CPU": (cpus[0], cpus[0])}
    if len(cpus) > 1:
        placements["split CPUs"] = (cpus[0], cpus[1])
    print(
        f"{args.rounds} rounds x {args.n} rawtx messages ({WARMUP} warm-up dropped each),"
        f" one per {args.interval_us} µs"
    )
    decode_us, full_us, alert_us = compute_only(args.n)
    print(
        f"compute only, per message: decode+dedup {decode_us:.2f} µs,"
        f" decode+dedup+detector {full_us:.2f} µs; detector on an alerting tx {alert_us:.2f} µs"
    )
    alert_idx = [i for i in alerting(args.n) if i >= WARMUP]
    print(f"{len(alert_idx)} of the {args.n - WARMUP} measured messages per round raise an alert")
    print(
        f"{'placement':<11} {'receiver':<15} {'p50 µs':>8} {'p99 µs':>8}  vs sync  {'alert p50':>9}"
    )
    for placement, (sub_cpu, pub_cpu) in placements.items():
        pin(sub_cpu)
        # Rounds interleave the receivers so background noise spreads over all of them.
        pooled: dict[str, list[float]] = {name: [] for name in RECEIVERS}
        alerts: dict[str, list[float]] = {name: [] for name in RECEIVERS}
        for _ in range(args.rounds):
            for name in RECEIVERS:
                lat = measure(name, args.n, args.interval_us, pub_cpu)
                pooled[name] += lat[WARMUP:]
                alerts[name] += [lat[i] for i in alert_idx]
        floor = statistics.median(pooled["pyzmq sync"])
        for name, lat in pooled.items():
            p50, p99 = statistics.median(lat), pct(lat, 99)
            a50 = statistics.median(alerts[name]) if alerts[name] else float("nan")
            print(
                f"{placement:<11} {name:<15} {p50:8.1f} {p99:8.1f}  {p50 / floor:5.2f}x  {a50:8.1f}"
            )


if __name__ == "__main__":
    main()

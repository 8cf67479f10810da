"""End to end: feed receive → order bytes written, through the real engine, with stages.

The engine runs in this process exactly as ``whalewire run`` builds it (runner.build:
detector over the demo address book, strategy, risk, SQLite journal, Binance client with
its pre-built templates); the venue is a standalone ``whalewire emulator`` process on
loopback, as a real venue would be. Each trigger is a real whale transaction of block
951,658 re-serialised with a new locktime (so every one has a fresh txid), preceded by
``--noise`` ordinary transactions of the block. Per trigger, the transaction's bytes are
stamped as received, turned into a feed event (txid), deduplicated by the monitor and
handed to ``Engine.on_feed_event``; the engine's own histograms record every stage.
Between whales, ordinary transactions keep arriving every ``--noise-interval-ms`` (a busy
mempool), and whales are paced to stay inside the venue's 100 orders / 10 s.

The emulator stamps when it read each order (``--stamp-reads``, CLOCK_MONOTONIC like our
``perf_counter_ns``), so "feed receive → venue read" is reported too: the figure that
compares send backends honestly (io_uring SQPOLL returns before the kernel has the bytes).

The same stages are then timed alone on the same inputs (detector, strategy, risk,
journal append, venue place incl. the send); the report compares the end-to-end p50
with the sum of the stages' p50s, to show the wiring adds nothing. A floor row follows:
a bare ``os.write`` of a frame of the order's length, with the same pacing, to a plain
reader process in epoll on the emulator's CPU (what the machine charges for the write
alone), and the end to end minus it. Last, a compute-only phase: the whole path in a
tight loop with the venue in dry-run (its limiter's headroom raised for that phase).

CPU placement matters on a 2-vCPU VM (DESIGN.md): both placements are run and reported,
the engine pinned to CPU 0 and the emulator to CPU 0 (same) or CPU 1 (split). Every
combination of ``--placements``, ``--rehearse``, ``--pong-interval-ms`` and
``--send-backend`` is a fresh engine and emulator in the same run.

    .venv/bin/python bench/e2e_latency.py [--orders 200] [--gap-ms 110] [--busy-poll]
        [--rehearse 0,2] [--pong-interval-ms 250,1] [--send-backend socket,uring-sqpoll]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import platform
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from whalewire.commands.embedded import build
from whalewire.emulator.stamps import load as load_stamps
from whalewire.engine.config import parse_config
from whalewire.mempool.feeds.events import EventKind, tx_event
from whalewire.mempool.feeds.replay import DEFAULT_REPLAY, load_replay
from whalewire.mempool.tx import parse_tx
from whalewire.model import OrderInitialized, Side, SubmitOrder
from whalewire.venues.base import VenueUnavailable
from whalewire.ws import mask as ws_mask

STAGES = ("detect", "decide", "risk", "journal", "send")
#: [venues.binance] pong_interval_ms: with rehearsals every 2 ms, each one writes the venue
#: client's warm-up Pong (the emulator, like Binance's WebSocket API, states no frame limit;
#: the setting's default, 250 ms, is for venues that might count them: configuration.md)
PONG_INTERVAL_MS = 1.0
#: the venue limiter's headroom in the compute-only phase (dry-run: nothing is sent), so
#: that its 100 orders / 10 s refuse none of the phase's triggers; restored after it
COMPUTE_HEADROOM = 1e6


def start_emulator(cpu: int, stamps: Path) -> tuple[subprocess.Popen[str], str, str, str]:
    """Start ``whalewire emulator`` on ``cpu``, stamping each order's read into ``stamps``."""
    command = [sys.executable, "-m", "whalewire", "emulator", "--port", "0"]
    proc = subprocess.Popen(
        ["taskset", "-c", str(cpu), *command, "--stamp-reads", str(stamps)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    text = ""
    while "secretKey" not in text:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("emulator did not start")
        text += line
    url = re.search(r"endpoint\s+(ws://\S+)", text)
    key = re.search(r"apiKey\s+(\S+)", text)
    secret = re.search(r"secretKey\s+(\S+)", text)
    assert url and key and secret
    return proc, url.group(1), key.group(1), secret.group(1)


def whale_variants(n: int) -> tuple[list[bytes], list[bytes]]:
    """``n`` whale transactions with fresh txids, and the block's ordinary transactions."""
    records = load_replay(DEFAULT_REPLAY)
    # the demo book's deposits >= 0.25 BTC (see docs/address-book.md)
    whale_prefixes = ("e8a4eef8", "d39e6417", "e6707305", "014cf678")
    whales = [r.raw for r in records if parse_tx(r.raw).txid.startswith(whale_prefixes)]
    noise = [r.raw for r in records if r.raw not in whales]
    variants = []
    for i in range(n):
        raw = whales[i % len(whales)]
        # locktime is the last 4 bytes in both serialisations: a new locktime, a new txid
        variants.append(raw[:-4] + struct.pack("<I", 500_000 + i))
    return variants, noise


def config_text(url: str, keys: Path, journal: Path, option: Option) -> str:
    return f"""
[engine]
namespace = "bench"
journal = "{journal}"
rehearse_interval_ms = {option.rehearse_ms}
[control]
port = 0
kill_file = ""
[strategy]
min_value_sats = 25_000_000
cooldown_s = 0.0
max_reactions = 1000000
[risk]
max_orders_per_second = 100000
max_orders_per_minute = 1000000
[risk.symbols.BTCUSDT]
max_order_qty = 1
max_order_notional = 1000000
max_position = 1000
max_daily_loss = 1000000000
[venues.binance]
endpoint = "{url}"
credentials_file = "{keys}"
pong_interval_ms = {option.pong_ms}
send_backend = "{option.backend}"
"""


#: the floor's reader: a plain process on the emulator's CPU, blocked in epoll ("epoll",
#: as the venue waits) or spinning on a non-blocking read ("spin": nothing to wake), that
#: stamps (perf_counter_ns, CLOCK_MONOTONIC like ours) the read completing each fixed-size
#: frame, and prints the stamps when the sender closes
FLOOR_READER = """
import select, socket, sys, time
size = int(sys.argv[1])
spin = sys.argv[2] == "spin"
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
conn.setblocking(False)
ep = select.epoll()
ep.register(conn.fileno(), select.EPOLLIN)
buf = bytearray(1 << 16)
total = 0
stamps = []
clock = time.perf_counter_ns
while True:
    if not spin:
        ep.poll()
    try:
        n = conn.recv_into(buf)
    except BlockingIOError:
        continue
    now = clock()
    if not n:
        break
    done = total // size
    total += n
    stamps.extend([now] * (total // size - done))
print(" ".join(map(str, stamps)), flush=True)
"""


class Option(NamedTuple):
    """One engine and emulator of the run: what is compared."""

    place: str
    emu_cpu: int
    rehearse_ms: float
    pong_ms: float
    backend: str

    def label(self) -> str:
        where = {
            "same": "same CPU (engine 0, emulator 0)",
            "split": "split CPUs (engine 0, emulator 1)",
        }
        warm = f"rehearsal every {self.rehearse_ms:g} ms" if self.rehearse_ms else "no rehearsal"
        if self.rehearse_ms:
            pong = f"every {self.pong_ms:g} ms" if self.pong_ms else "never"
            warm += f", venue Pong at most {pong}"
        return f"{where[self.place]}, {warm}, send_backend {self.backend}"


async def floor(
    venue: Any,
    option: Option,
    args: argparse.Namespace,
    busy: Callable[[float], Awaitable[None]],
    reader_mode: str,
) -> tuple[list[int], list[int]]:
    """What the machine charges for the write alone, paced as the whales are.

    One ``os.write`` of a real order frame (the venue's template, so the same length as
    each order's) on a loopback TCP socket of this process (CPU 0, TCP_NODELAY as the
    venue's), to ``FLOOR_READER`` on the emulator's CPU (``reader_mode``: "epoll" or
    "spin"), then the same busy mempool as between whales (rehearsals and their pongs
    included). Returns, per write, ns until ``os.write`` returned and ns until the reader
    had read the frame.
    """
    cmd = SubmitOrder(
        client_order_id=venue.client_order_id("bench", 1),
        ts_init=0,
        venue="binance",
        symbol="BTCUSDT",
        side=Side.SELL,
        quantity=Decimal("0.001"),
    )
    fill, qty, price = venue._prepared(cmd)
    frame = bytes(fill(venue.clock.timestamp_ms(), cmd.client_order_id.encode(), qty, price))
    script = [sys.executable, "-c", FLOOR_READER, str(len(frame)), reader_mode]
    reader = subprocess.Popen(
        ["taskset", "-c", str(option.emu_cpu), *script],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None
    port = int(reader.stdout.readline())
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    fd = sock.fileno()
    perf = time.perf_counter_ns
    starts: list[int] = []
    returned: list[int] = []
    gc.disable()
    try:
        for _ in range(args.orders + args.warmup):
            t0 = perf()
            os.write(fd, frame)
            t1 = perf()
            starts.append(t0)
            returned.append(t1 - t0)
            await busy(args.gap_ms)
    finally:
        gc.enable()
        sock.close()
    out, _ = reader.communicate(timeout=30)
    read = [int(r) - t0 for r, t0 in zip(out.split(), starts, strict=True)]
    return returned[args.warmup :], read[args.warmup :]


def pct(values: list[int], p: float) -> float:
    if not values:  # e.g. the client's ORDERS window (100 / 10 s) was full for the phase
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] / 1000


async def measure(
    url: str, key: str, secret: str, args: argparse.Namespace, option: Option, *, stamps: Path
) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="whalewire-bench-"))
    keys = tmp / "keys.toml"
    keys.write_text(f'[binance]\napi_key = "{key}"\napi_secret = "{secret}"\n')
    keys.chmod(0o600)
    text = config_text(url, keys, tmp / "journal.db", option)
    running = await build(parse_config(text))
    engine = running.engine
    dedup = running.monitor.dedup
    noise = whale_variants(0)[1]
    k = 0

    async def busy_mempool(gap_ms: float) -> None:
        """A busy mempool until the next whale; acks, fills and rehearsals meanwhile."""
        nonlocal k
        until = time.monotonic() + gap_ms / 1000
        while time.monotonic() < until:
            ev = tx_event(noise[k % len(noise)], "bench", EventKind.MEMPOOL)
            k += 1
            dedup.admit(ev)  # repeats of the block are duplicates after the first pass
            engine.on_feed_event(ev)
            # --busy-poll: never give the CPU away (caches stay warm), only yield to
            # the loop so acknowledgements are read; else wait like a quiet mempool
            await asyncio.sleep(0 if args.busy_poll else args.noise_interval_ms / 1000)

    whales = whale_variants(args.orders + args.warmup)[0]
    trigger: list[int] = []
    received: dict[str, int] = {}  # client order id -> feed receive, for the venue's read
    gc.collect()
    gc.disable()
    try:
        for i, raw in enumerate(whales):
            recv = time.perf_counter_ns()
            ev = tx_event(raw, "bench", EventKind.MEMPOOL, recv_ns=recv)
            if dedup.admit(ev):
                engine.on_feed_event(ev)
            if i >= args.warmup:
                coid = next(reversed(engine.orders))
                written = engine.execution.submitted_ns.get(coid)
                if written is not None:
                    trigger.append(written - recv)
                    received[coid] = recv
            await busy_mempool(args.gap_ms)
    finally:
        gc.enable()
    venue_read = [ns - received[c] for c, ns in load_stamps(stamps).items() if c in received]
    m = engine.metrics
    stages = {s: m.latency(s).percentile(50) / 1000 for s in STAGES}
    ack = m.latency("ack")

    # the same stages alone, on the same inputs
    alone: dict[str, list[int]] = {s: [] for s in STAGES}
    refused = 0
    detector = engine.detector
    strategy = engine.strategy
    venue = engine.venues["binance"]
    perf = time.perf_counter_ns
    gc.disable()
    try:
        for i, variant in enumerate(whale_variants(args.orders)[0]):
            raw = variant[:-4] + struct.pack("<I", 900_000 + i)
            t0 = perf()
            alerts = detector.feed(raw, feed="b", recv_ns=t0, recv_wall_ns=0)
            t1 = perf()
            decision = strategy.on_alert(alerts[0])
            t2 = perf()
            assert isinstance(decision, SubmitOrder)
            engine.risk.check(decision)
            t3 = perf()
            engine.journal.intend(
                OrderInitialized(
                    client_order_id=decision.client_order_id,
                    ts_init=t3,
                    ts_event=t3,
                    command=decision,
                )
            )
            t4 = perf()
            cmd = SubmitOrder(
                client_order_id=engine.ids.next("binance"),
                ts_init=0,
                venue="binance",
                symbol="BTCUSDT",
                side=Side.SELL,
                quantity=Decimal("0.001"),
            )
            t5 = perf()
            try:
                venue.place(cmd)
            except VenueUnavailable:  # e.g. the venue's count (acks) filled the 10 s window
                refused += 1
                engine.journal.settle()
                await asyncio.sleep(args.gap_ms / 1000)
                continue
            t6 = perf()
            engine.journal.settle()  # its SQLite row, after the send as in the engine
            for name, dt in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t6 - t5), strict=True):
                alone[name].append(dt)
            await asyncio.sleep(args.gap_ms / 1000)  # stay inside the venue's order limit
    finally:
        gc.enable()
    floors = {
        mode: await floor(venue, option, args, busy_mempool, mode) for mode in args.floor_reader
    }
    # compute only: the whole hot path in a tight loop, the venue in dry-run (everything but
    # the socket write), on fresh whale variants; wall and thread CPU time per trigger. The
    # venue's own limiter (100 orders / 10 s) would refuse almost all of them: room for this
    # phase only (nothing is sent), the headroom restored after
    venue.dry_run = True  # type: ignore[attr-defined]
    limiter = venue.limiter  # type: ignore[attr-defined]
    headroom = limiter.headroom
    limiter.headroom = COMPUTE_HEADROOM
    compute: list[int] = []
    cpu: list[int] = []
    thread_ns = time.thread_time_ns
    gc.disable()
    try:
        for i, variant in enumerate(whale_variants(args.compute)[0]):
            raw = variant[:-4] + struct.pack("<I", 2_000_000 + i)
            c0 = thread_ns()
            recv = perf()
            ev = tx_event(raw, "bench", EventKind.MEMPOOL, recv_ns=recv)
            if dedup.admit(ev):
                engine.on_feed_event(ev)
            coid = next(reversed(engine.orders))
            written = engine.execution.submitted_ns.get(coid)
            c1 = thread_ns()
            if written is not None and i >= args.warmup:
                compute.append(written - recv)
                cpu.append(c1 - c0)
            if i % 64 == 0:
                await asyncio.sleep(0)
    finally:
        gc.enable()
        limiter.headroom = headroom
    # what one rehearsal costs the loop, warm (dry-run venue, so no Pong either)
    t0 = time.thread_time_ns()
    for _ in range(1000):
        engine.rehearse()
    rehearse_us = (time.thread_time_ns() - t0) / 1000 / 1000
    backend = venue.send_backend_in_use  # type: ignore[attr-defined]
    await running.close()
    return {
        "backend": backend,
        "rehearse_us": rehearse_us,
        "compute_n": len(compute),
        "alone_refused": refused,
        "venue_read_p50": pct(venue_read, 50),
        "venue_read_p99": pct(venue_read, 99),
        "venue_read_n": len(venue_read),
        "floors": {
            mode: (pct(w, 50), pct(w, 99), pct(rd, 50), pct(rd, 99))
            for mode, (w, rd) in floors.items()
        },
        "compute_p50": pct(compute, 50),
        "compute_p99": pct(compute, 99),
        "compute_cpu_p50": pct(cpu, 50),
        "trigger_p50": pct(trigger, 50),
        "trigger_p99": pct(trigger, 99),
        "trigger_p999": pct(trigger, 99.9),
        "n": len(trigger),
        "stages_p50": stages,
        "alone_p50": {s: statistics.median(v) / 1000 for s, v in alone.items()},
        "ack_p50": ack.percentile(50) / 1000,
        "ack_p99": ack.percentile(99) / 1000,
    }


def main() -> None:
    logging.disable(logging.WARNING)  # the stages-alone phase places orders the engine
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--compute", type=int, default=3000, help="triggers in the compute phase")
    ap.add_argument(
        "--noise-interval-ms",
        type=float,
        default=2.0,
        help="ordinary transactions arrive this often between whales",
    )
    ap.add_argument(
        "--gap-ms",
        type=float,
        default=110.0,
        help="time between whales (the venue allows 100 orders / 10 s)",
    )
    ap.add_argument(
        "--busy-poll",
        action="store_true",
        help="process the mempool without sleeping between transactions (a pinned deployment)",
    )
    ap.add_argument(
        "--rehearse",
        type=lambda text: text.split(","),
        default=["0", "2"],
        help="engine.rehearse_interval_ms values to compare, comma-separated (0: off)",
    )
    ap.add_argument("--placements", default="same,split", help="same, split or both")
    ap.add_argument(
        "--pong-interval-ms",
        type=lambda text: text.split(","),
        default=[f"{PONG_INTERVAL_MS:g}"],
        help="[venues.binance] pong_interval_ms values to compare, comma-separated "
        "(0: never; the setting's default is 250; with rehearsals only)",
    )
    ap.add_argument(
        "--send-backend",
        type=lambda text: text.split(","),
        default=["socket"],
        help="[venues.binance] send_backend values to compare: socket, uring, uring-sqpoll",
    )
    ap.add_argument(
        "--floor-reader",
        type=lambda text: text.split(","),
        default=["epoll"],
        help="the floor's reader: epoll (blocked, as the venue), spin (never sleeps), or both",
    )
    args = ap.parse_args()
    os.sched_setaffinity(0, {0})
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, C masking {ws_mask.SPEEDUPS}"
    )
    print(f"command: {' '.join(sys.argv)}; load average {os.getloadavg()[0]:.2f}")
    cpus = {"same": 0, "split": 1}
    options = []
    for place in args.placements.split(","):
        for value in args.rehearse:
            pongs = args.pong_interval_ms if float(value) else args.pong_interval_ms[:1]
            for pong in pongs:
                for backend in args.send_backend:
                    options.append(Option(place, cpus[place], float(value), float(pong), backend))
    stamps_dir = Path(tempfile.mkdtemp(prefix="whalewire-stamps-"))
    for n, option in enumerate(options):
        stamps = stamps_dir / f"reads-{n}"
        proc, url, key, secret = start_emulator(option.emu_cpu, stamps)
        try:
            r = asyncio.run(measure(url, key, secret, args, option, stamps=stamps))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
        report(option.label(), r)
        print(f"  load average {os.getloadavg()[0]:.2f}")


def report(label: str, r: dict[str, object]) -> None:
    stages = r["stages_p50"]
    alone = r["alone_p50"]
    assert isinstance(stages, dict) and isinstance(alone, dict)
    total_alone = sum(alone.values())
    print(f"\n{label}: {r['n']} orders")
    if r["backend"] != label.rpartition(" ")[2]:
        print(f"  (send_backend fell back to {r['backend']})")
    print(
        f"  feed receive → bytes written: p50 {r['trigger_p50']:.1f} µs, "
        f"p99 {r['trigger_p99']:.1f} µs, p99.9 {r['trigger_p999']:.1f} µs"
    )
    print(
        f"  feed receive → venue read (emulator's stamp): p50 {r['venue_read_p50']:.1f} µs, "
        f"p99 {r['venue_read_p99']:.1f} µs ({r['venue_read_n']} orders)"
    )
    floors = r["floors"]
    assert isinstance(floors, dict)
    for mode, (w50, w99, r50, r99) in floors.items():
        waits = "blocked in epoll" if mode == "epoll" else "spinning on a non-blocking read"
        print(
            f"  floor, a bare os.write of the same frame, same pacing, reader {waits} on the "
            f"emulator's CPU: returned p50 {w50:.1f} / p99 {w99:.1f} µs, "
            f"read p50 {r50:.1f} / p99 {r99:.1f} µs"
        )
    if "epoll" in floors:
        w50, _, r50, _ = floors["epoll"]
        print(
            "  end to end minus floor (epoll reader), p50: bytes written "
            f"{float(r['trigger_p50']) - w50:.1f} µs, venue read "
            f"{float(r['venue_read_p50']) - r50:.1f} µs"
        )
    print(f"  {'stage':8} {'in pipeline p50':>16} {'alone p50':>10}")
    if r["alone_refused"]:
        print(f"  (stages alone: the venue client refused {r['alone_refused']} orders)")
    for s in STAGES:
        print(f"  {s:8} {stages[s]:>16.2f} {alone[s]:>10.2f}")
    print(
        f"  sum of stages alone: {total_alone:.1f} µs; end-to-end p50 / sum = "
        f"{float(r['trigger_p50']) / total_alone:.2f}x"
    )
    print(
        f"  compute only (dry-run venue, tight loop, {r['compute_n']} triggers, the venue "
        f"limiter's headroom raised for it): p50 {r['compute_p50']:.1f} µs, "
        f"p99 {r['compute_p99']:.1f} µs; thread CPU p50 {r['compute_cpu_p50']:.1f} µs "
        "(incl. the post-send bookkeeping)"
    )
    print(f"  one rehearsal (warm, thread CPU): {r['rehearse_us']:.1f} µs")
    print(
        f"  send → ack (emulator on loopback): p50 {r['ack_p50']:.1f} µs, p99 {r['ack_p99']:.1f} µs"
    )


if __name__ == "__main__":
    main()

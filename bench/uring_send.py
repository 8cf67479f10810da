"""Order sends through io_uring against the socket ``os.write`` fast path, same run.

Each path sends the same signed Binance ``order.place`` text frames (fresh timestamp, client
order id and quantity per order, built by ``BinanceOrderTemplate.frame`` in the timed region)
over its own loopback TCP connection to a receiver process, one order every ``--gap-us``
(orders are sparse: this measures latency, not throughput). Paths:

* ``socket``        ``os.write(fd, frame)``: what ``WebSocket.send_prebuilt`` does when the
  transport has nothing buffered;
* ``uring plain``   ``UringSender.send``: one ``io_uring_enter`` per order;
* ``uring sqpoll``  ``UringSender(mode="sqpoll")``: the hot thread only writes the SQE; a
  kernel thread polls the ring (``--sqpoll-idle-ms`` longer than the gap: it never sleeps;
  shorter, e.g. ``--gap-us 3000 --sqpoll-idle-ms 1``: each order has to wake it);
  both use the socket as the ring's fixed file (the default); ``... fd``: the plain fd;
* ``uring zc``      ``IORING_OP_SEND_ZC`` from a registered buffer (``Ring.register_arena``,
  frame copied into it) on the fixed file, plain submission; each order's completion and
  zero-copy notification are waited for after it (off the timed region);
* ``... x4``        four orders per trigger: ``os.write`` of the joined frames, or one
  ``send_batch`` (the joined frames as one SQE; ``linked``: four linked SQEs, one enter).

``--ws`` adds the same orders through an open ``WebSocket`` to a whalewire server process:
``ws.send_prebuilt(frame)`` on the socket backend (its direct ``os.write``) against
``net.uring.use_send_backend(ws, "uring" | "uring-sqpoll")`` (``RingTransport``: every write of
the connection goes through the ring), on the default asyncio loop; the server stamps each
message as its ``on_message`` sees it.

Per order: hot-thread time from the trigger until the send call returned (frame build
included; "send only" excludes it), and the time until the frame's last byte was read by
the receiver (both sides stamp ``CLOCK_MONOTONIC``). CPU: the sender thread's
``thread_time`` in the timed region and, apart, for reaping completions between orders (off
the timed region), and the SQPOLL kernel thread's on-CPU time (``/proc/self/task/*/schedstat``)
as a share of wall time: the core it takes from whatever else runs there.

    .venv/bin/python bench/uring_send.py [--orders 2000] [--rounds 3] [--gap-us 200]
        [--sqpoll-idle-ms 2000] [--ws]
"""

from __future__ import annotations

import argparse
import array
import asyncio
import os
import platform
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable

from whalewire.net import _uring, uring
from whalewire.net.client import connect
from whalewire.venues.templates import BinanceOrderTemplate

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
QTYS = [b"0.01000000", b"0.25000000", b"1.50000000", b"0.00120000"]

RECEIVER = """
import array, os, socket, struct, sys, time
srv = socket.create_server(("127.0.0.1", 0))
print(srv.getsockname()[1], flush=True)
buf = bytearray(1 << 20)
view = memoryview(buf)
clock = time.monotonic_ns
while True:
    conn, _ = srv.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    head = conn.recv(8, socket.MSG_WAITALL)
    if len(head) < 8:
        break
    n, size = struct.unpack("<II", head)
    stamps = array.array("q", bytes(8 * n))
    total, done, want = 0, 0, n * size
    while total < want:
        got = conn.recv_into(view)
        if not got:
            break
        total += got
        now = clock()
        while done < n and (done + 1) * size <= total:
            stamps[done] = now
            done += 1
    conn.sendall(stamps.tobytes())
    conn.close()
"""


WS_RECEIVER = """
import array, asyncio, time
from whalewire.net.server import serve
stamps = array.array("q")
clock = time.monotonic_ns
def on_message(ws, message):
    if message == "done":
        ws.send(stamps.tobytes())
        del stamps[:]
    else:
        stamps.append(clock())
async def main():
    srv = await serve(None, "127.0.0.1", 0, on_message=on_message, deflate=False)
    print(srv.port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def template() -> BinanceOrderTemplate:
    return BinanceOrderTemplate(
        symbol="BTCUSDT",
        side="SELL",
        order_type="MARKET",
        cid_width=19,
        recv_window_ms=1000,
        api_key=API_KEY,
        secret=SECRET,
    )


def sqpoll_threads() -> dict[int, int]:
    """On-CPU ns (``/proc/<tid>/schedstat``) of each of this process's SQPOLL kernel threads."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
            if name.startswith("iou-sqp"):
                with open(f"/proc/self/task/{tid}/schedstat") as f:
                    out[int(tid)] = int(f.read().split()[0])
        except OSError:
            continue
    return out


def sqpoll_ns(before: dict[int, int]) -> int:
    """On-CPU ns of the SQPOLL threads since ``before`` (a thread born since counts whole)."""
    return sum(ns - before.get(tid, 0) for tid, ns in sqpoll_threads().items())


class Run:
    """One path's samples: hot-thread ns, send-only ns, trigger stamps, CPU."""

    def __init__(self) -> None:
        self.hot: list[int] = []
        self.send_only: list[int] = []
        self.latency: list[int] = []
        self.cpu_hot_ns = 0
        self.cpu_reap_ns = 0
        self.sqpoll_ns = 0
        self.elapsed_ns = 0
        self.orders = 0


def run_path(
    port: int, name: str, *, n: int, gap_ns: int, batch: int, sqpoll_cpu: int, idle_ms: int
) -> Run:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    tpl = template()
    size = len(tpl.frame(1_700_000_000_000, b"ww-b-%014d" % 0, QTYS[0]))
    sock.sendall(struct.pack("<II", n * batch, size))
    sock.setblocking(False)
    fd = sock.fileno()
    sender: uring.UringSender | None = None
    send: Callable[[bytes | bytearray], object]
    closers: list[Callable[[], object]] = []
    send_batch: Callable[[list[bytes | bytearray]], object]
    if name.startswith("socket"):
        send = lambda data: os.write(fd, data)  # noqa: E731
        send_batch = lambda frames: os.write(fd, b"".join(frames))  # noqa: E731
        poll: Callable[[], object] = lambda: None  # noqa: E731
    elif name.startswith("uring zc"):
        ring = _uring.Ring(64)
        ring.register_file(fd)
        ring.register_arena(4096, zerocopy=True)
        ring_send = ring.send
        send = lambda data: ring_send(fd, data, None, True)  # noqa: E731
        send_batch = lambda frames: ring_send(fd, b"".join(frames), None, True)  # noqa: E731

        def poll() -> None:
            while ring.in_flight:
                ring.submit(1)
                ring.reap()

        closers.append(ring.close)
    else:
        mode: uring.Mode = "sqpoll" if "sqpoll" in name else "plain"
        sender = uring.UringSender(
            fd,
            mode=mode,
            entries=64,
            sqpoll_idle_ms=idle_ms,
            sqpoll_cpu=sqpoll_cpu,
            fixed_file=not name.endswith(" fd"),
        )
        send, poll = sender.send, sender.poll
        linked = name.endswith("linked")
        batcher = sender.send_batch
        send_batch = lambda frames: batcher(frames, linked=linked)  # noqa: E731
    run = Run()
    clock = time.monotonic_ns
    triggers = array.array("q")
    frame = tpl.frame
    cpu = time.thread_time_ns
    time.sleep(0.01)
    sq0 = sqpoll_threads()
    t_start = clock()
    for i in range(n):
        c0 = cpu()
        base = 1_700_000_000_000 + i * batch
        if batch == 1:
            t0 = clock()
            data = frame(base, b"ww-b-%014d" % base, QTYS[i % 4])
            t1 = clock()
            send(data)
            t2 = clock()
            triggers.append(t0)
        else:
            t0 = clock()
            frames = [
                frame(base + k, b"ww-b-%014d" % (base + k), QTYS[(i + k) % 4]) for k in range(batch)
            ]
            t1 = clock()
            send_batch(frames)
            t2 = clock()
            triggers.extend([t0] * batch)
        c1 = cpu()
        run.hot.append((t2 - t0) // batch)
        run.send_only.append((t2 - t1) // batch)
        poll()  # off the timed region: completions are reaped between orders
        c2 = cpu()
        run.cpu_hot_ns += c1 - c0
        run.cpu_reap_ns += c2 - c1
        deadline = t2 + gap_ns
        while clock() < deadline:
            time.sleep(gap_ns / 4e9)
    elapsed = clock() - t_start
    run.elapsed_ns = elapsed
    run.sqpoll_ns = sqpoll_ns(sq0)
    run.orders = n * batch
    if sender is not None:
        sender.flush()
        sender.close()
    for close in closers:
        close()
    sock.setblocking(True)
    raw = bytearray()
    while len(raw) < 8 * n * batch:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        raw += chunk
    stamps = array.array("q", bytes(raw))
    run.latency = [s - t for s, t in zip(stamps, triggers, strict=True)]
    sock.close()
    return run


async def ws_path(
    port: int, backend: str, *, n: int, gap_ns: int, sqpoll_cpu: int, idle_ms: int
) -> Run:
    ws = await connect(f"ws://127.0.0.1:{port}/", deflate=False)
    assert uring.use_send_backend(ws, backend, sqpoll_idle_ms=idle_ms, sqpoll_cpu=sqpoll_cpu) == (
        backend
    )
    frame, send = template().frame, ws.send_prebuilt
    clock, cpu = time.monotonic_ns, time.thread_time_ns
    run = Run()
    triggers = []
    t_start = clock()
    sq0 = sqpoll_threads()
    for i in range(n):
        base = 1_700_000_000_000 + i
        c0 = cpu()
        t0 = clock()
        data = frame(base, b"ww-b-%014d" % base, QTYS[i % 4])
        t1 = clock()
        send(data)
        t2 = clock()
        c1 = cpu()
        triggers.append(t0)
        run.hot.append(t2 - t0)
        run.send_only.append(t2 - t1)
        run.cpu_hot_ns += c1 - c0
        c1 = cpu()
        await asyncio.sleep(gap_ns / 1e9)  # the loop reaps the ring's completions here
        run.cpu_reap_ns += cpu() - c1  # includes the loop's own wake-up work
    run.elapsed_ns = clock() - t_start
    run.sqpoll_ns = sqpoll_ns(sq0)
    run.orders = n
    ws.send("done")
    reply = await asyncio.wait_for(ws.recv(), 30)
    assert isinstance(reply, bytes)
    stamps = array.array("q", reply)
    run.latency = [s - t for s, t in zip(stamps, triggers, strict=True)]
    await ws.close()
    return run


def ws_section(args: argparse.Namespace, placements: list[tuple[str, int, int]]) -> None:
    backends = ["socket", "uring", "uring-sqpoll"]
    for label, rcpu, sqcpu in placements:
        proc = subprocess.Popen(
            ["taskset", "-c", str(rcpu), sys.executable, "-c", WS_RECEIVER],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        runs: dict[str, list[Run]] = {b: [] for b in backends}
        try:
            for _ in range(args.rounds):
                for b in backends:
                    runs[b].append(
                        asyncio.run(
                            ws_path(
                                port,
                                b,
                                n=args.orders,
                                gap_ns=args.gap_us * 1000,
                                sqpoll_cpu=sqcpu,
                                idle_ms=args.sqpoll_idle_ms,
                            )
                        )
                    )
        finally:
            proc.kill()
            proc.wait(timeout=10)
        print(f"\nWebSocket.send_prebuilt, {label}: {args.orders} orders x {args.rounds} rounds")
        print(
            f"  {'backend':22} {'hot p50':>8} {'p99':>7} {'send p50':>9} {'vs sock':>8} "
            f"{'read p50':>9} {'p99':>7} {'vs sock':>8} {'cpu hot':>8} {'loop':>6} {'sqpoll':>7}"
        )
        base_send = statistics.median(v for r in runs["socket"] for v in r.send_only)
        base_read = statistics.median(v for r in runs["socket"] for v in r.latency)
        for b in backends:
            rs = runs[b]
            hot = [v for r in rs for v in r.hot]
            snd = [v for r in rs for v in r.send_only]
            lat = [v for r in rs for v in r.latency]
            orders = sum(r.orders for r in rs)
            sq_share = sum(r.sqpoll_ns for r in rs) / sum(r.elapsed_ns for r in rs)
            print(
                f"  {b:22} {pct(hot, 0.5):8.2f} {pct(hot, 0.99):7.2f} {pct(snd, 0.5):9.2f} "
                f"{statistics.median(snd) / base_send:7.2f}x {pct(lat, 0.5):9.2f} "
                f"{pct(lat, 0.99):7.2f} {statistics.median(lat) / base_read:7.2f}x "
                f"{sum(r.cpu_hot_ns for r in rs) / orders / 1000:8.2f} "
                f"{sum(r.cpu_reap_ns for r in rs) / orders / 1000:6.2f} {sq_share:7.0%}"
            )
    print(
        "  (loop: sender-thread CPU µs per order spent in the event loop between orders:"
        "\n   the sleep's wake-up, plus reaping the ring's completions)"
    )


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--gap-us", type=int, default=200)
    ap.add_argument("--sqpoll-idle-ms", type=int, default=2000)
    ap.add_argument("--ws", action="store_true", help="also through WebSocket.send_prebuilt")
    ap.add_argument("--ws-only", action="store_true", help="only the WebSocket section")
    args = ap.parse_args()
    ok, reason = uring.available()
    if not ok:
        sys.exit(f"io_uring not available here: {reason}")
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, kernel "
        f"{platform.release()}, Python {platform.python_version()}; load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    print(f"command: {' '.join(sys.argv)}")
    paths = [
        ("socket", 1),
        ("uring plain", 1),
        ("uring sqpoll", 1),
        ("uring plain fd", 1),
        ("uring sqpoll fd", 1),
        ("uring zc", 1),
        ("socket x4", 4),
        ("uring plain x4", 4),
        ("uring sqpoll x4", 4),
        ("uring plain x4 linked", 4),
        ("uring sqpoll x4 linked", 4),
    ]
    placements = [
        ("same CPU (sender 0, receiver 0, SQPOLL thread 0)", 0, 0),
        ("split (sender 0, receiver 1, SQPOLL thread 1)", 1, 1),
        ("split (sender 0, receiver 1, SQPOLL thread 0)", 1, 0),
    ]
    os.sched_setaffinity(0, {0})
    if args.ws_only:
        ws_section(args, placements)
        return
    for label, rcpu, sqcpu in placements:
        proc = subprocess.Popen(
            ["taskset", "-c", str(rcpu), sys.executable, "-c", RECEIVER],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        runs: dict[str, list[Run]] = {name: [] for name, _ in paths}
        try:
            for _ in range(args.rounds):
                for name, batch in paths:
                    n = args.orders // batch
                    runs[name].append(
                        run_path(
                            port,
                            name,
                            n=n,
                            gap_ns=args.gap_us * 1000,
                            batch=batch,
                            sqpoll_cpu=sqcpu,
                            idle_ms=args.sqpoll_idle_ms,
                        )
                    )
        finally:
            socket.create_connection(("127.0.0.1", port)).close()  # ends the receiver
            proc.wait(timeout=10)
        print(f"\n{label}: {args.orders} orders x {args.rounds} rounds, one every {args.gap_us} µs")
        print(
            f"  {'path':22} {'hot p50':>8} {'p99':>7} {'send p50':>9} {'read p50':>9} "
            f"{'p99':>7} {'vs sock':>8} {'cpu hot':>8} {'reap':>6} {'sqpoll':>7}"
        )
        base = statistics.median(v for r in runs["socket"] for v in r.latency)
        for name, _ in paths:
            rs = runs[name]
            hot = [v for r in rs for v in r.hot]
            snd = [v for r in rs for v in r.send_only]
            lat = [v for r in rs for v in r.latency]
            orders = sum(r.orders for r in rs)
            hot_us = sum(r.cpu_hot_ns for r in rs) / orders / 1000
            reap_us = sum(r.cpu_reap_ns for r in rs) / orders / 1000
            sq_share = sum(r.sqpoll_ns for r in rs) / sum(r.elapsed_ns for r in rs)
            print(
                f"  {name:22} {pct(hot, 0.5):8.2f} {pct(hot, 0.99):7.2f} {pct(snd, 0.5):9.2f} "
                f"{pct(lat, 0.5):9.2f} {pct(lat, 0.99):7.2f} {statistics.median(lat) / base:7.2f}x "
                f"{hot_us:8.2f} {reap_us:6.2f} {sq_share:7.0%}"
            )
    print(
        "\nhot/send: µs per order in the sender thread (trigger → call returned; send only);"
        "\nread: µs from trigger until the receiver had read the frame's last byte;"
        "\ncpu hot: sender thread CPU µs per order in the timed region (thread_time, +~0.3 µs"
        "\n  of clock reads); reap: CPU µs per order reaping completions after it;"
        "\nsqpoll: the SQPOLL kernel thread's on-CPU time as a share of the run's wall time."
    )
    if args.ws:
        ws_section(args, placements)


if __name__ == "__main__":
    main()

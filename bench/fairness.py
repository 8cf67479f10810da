"""A greedy peer against ``whalewire ws serve``: a canary's echo round trips; the budget's cost.

Issue 21: one connection's huge messages must not delay the other connections of the same
server by more than a few milliseconds. Each scenario starts a fresh server in its own
process (what ``whalewire ws serve`` runs: ``serve`` with ``echo_on_message`` and its limits,
uvloop, the C speedups unless ``--python``) plus a loop-lag probe (a 1 ms sleep in a loop,
its lateness is the longest turn another connection waited behind), an attacker in another
process and, in this process, a canary client that sends small text messages one at a time
and times each echo. Attacks (each never reads the server's echoes back):

* ``none``: the canary alone (the baseline under the machine's current load);
* ``deflate-bombs``: twenty permessage-deflate messages of 61 KB, each inflating to 60 MiB;
* ``text-bombs``: the same as text (60 MiB of spaces): UTF-8 checks and the str at the end;
* ``huge-plain``: four 60 MiB binary messages, uncompressed, one frame each.

Then the throughput cost of ``Limits.work_per_turn``: one connection's core
(``ws.protocol.Connection``, in process) inflating a 60 MiB message and deflating its echo,
with ``resume`` calls as the transport makes them, per budget against no budget.

Every line carries the load average: the machine may be shared; compare a scenario with the
``none`` row of the same run.

    .venv/bin/python bench/fairness.py [--seconds 4] [--budget 65536] [--python] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import zlib

from whalewire import speedups
from whalewire.commands.ws import CONFORMANCE_LIMITS
from whalewire.net import Message, WebSocket, _protocol
from whalewire.net.client import connect, install_uvloop
from whalewire.net.server import echo_on_message, serve
from whalewire.ws.deflate import DeflateParams, PerMessageDeflate
from whalewire.ws.protocol import Connection, Role

HERE = os.path.abspath(__file__)
INFLATED = 60 * 1024 * 1024
ATTACKS = ["none", "deflate-bombs", "text-bombs", "huge-plain"]
BUDGETS = [64 * 1024, 256 * 1024, 1024 * 1024, None]


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if "model name" in ln), "")
    except OSError:
        pass
    return f"{platform.node()}: {os.cpu_count()} CPUs, {model}, Python {platform.python_version()}"


# ---- the attacker (its own process) -----------------------------------------------------


def deflated(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH))[:-4]  # RFC 7692 §7.2.1


def client_frame(b0: int, payload: bytes) -> bytes:
    """A client frame with mask key 0 (the payload goes as it is), RFC 6455 §5.2."""
    n = len(payload)
    if n < 126:
        head = bytes([b0, 0x80 | n])
    elif n < 65536:
        head = bytes([b0, 0xFE]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, 0xFF]) + n.to_bytes(8, "big")
    return head + b"\x00\x00\x00\x00" + payload


def attack_frames(kind: str) -> bytes:
    if kind == "deflate-bombs":
        return client_frame(0xC2, deflated(bytes(INFLATED))) * 20
    if kind == "text-bombs":
        return client_frame(0xC1, deflated(b" " * INFLATED)) * 20
    if kind == "huge-plain":
        return client_frame(0x82, bytes(INFLATED)) * 4
    raise ValueError(kind)


async def attack(port: int, kind: str) -> None:
    frames = attack_frames(kind)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        ).encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    print("ready", flush=True)
    writer.write(frames)
    await writer.drain()  # the server reads it all in time; its echoes are never read
    await asyncio.sleep(3600)


# ---- the server (its own process) -------------------------------------------------------

LAG_QUERY = "fairness: lag?"


async def run_server(work_per_turn: int) -> None:
    """``whalewire ws serve``'s server, plus probes the canary can query (and reset): the
    loop's lag and the CPU time of the longest single call into a connection (a read or a
    turn of budgeted work, with the callbacks and sends it made)."""
    lags: list[tuple[float, float]] = []  # (wall lateness, the process's CPU time meanwhile)
    longest = [0.0]
    receive = _protocol.WebSocketProtocol._receive

    def timed(self: _protocol.WebSocketProtocol, data: bytearray | memoryview | None) -> None:
        start = time.thread_time()
        receive(self, data)
        longest[0] = max(longest[0], time.thread_time() - start)

    _protocol.WebSocketProtocol._receive = timed  # type: ignore[method-assign]

    def on_message(ws: WebSocket, message: Message) -> None:
        if message == LAG_QUERY:
            wall, cpu = max(lags, default=(0.0, 0.0))
            ws.send(f"{wall} {cpu} {longest[0]}")
            lags.clear()
            longest[0] = 0.0
        else:
            echo_on_message(ws, message)

    limits = CONFORMANCE_LIMITS
    limits.work_per_turn = work_per_turn
    server = await serve(None, "127.0.0.1", 0, on_message=on_message, limits=limits)
    print(f"listening on ws://127.0.0.1:{server.port}", flush=True)
    while True:
        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.sleep(0.001)
        # wall lateness beyond the CPU time spent: the machine's other processes had the CPU
        lags.append((time.perf_counter() - start - 0.001, time.process_time() - cpu))


# ---- the canary (this process) ----------------------------------------------------------


async def start_server(python: bool, budget: int) -> tuple[asyncio.subprocess.Process, int]:
    env = dict(os.environ)
    env.pop("WHALEWIRE_NO_SPEEDUPS", None)
    if python:
        env["WHALEWIRE_NO_SPEEDUPS"] = "1"
    cmd = [sys.executable, HERE, "--serve", "--budget", str(budget)]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    match = re.search(r"ws://127\.0\.0\.1:(\d+)", line)
    assert match, line
    return proc, int(match.group(1))


async def canary(
    port: int, count: int, seconds: float = 0.0
) -> tuple[list[float], tuple[float, float, float]]:
    """Round trips of small text messages (``count``, and for ``seconds`` at least); and the
    server's probes meanwhile: its longest loop lag (wall time, the process's CPU time in
    it) and its longest single call into a connection (CPU time)."""
    ws = await connect(f"ws://127.0.0.1:{port}/", deflate=False)
    times: list[float] = []
    try:
        ws.send(LAG_QUERY)  # reset the probe
        await ws.recv()
        end = time.perf_counter() + seconds
        i = 0
        while i < count or time.perf_counter() < end:
            i += 1
            start = time.perf_counter()
            ws.send(f"canary {i}")
            assert await ws.recv() == f"canary {i}"
            times.append(time.perf_counter() - start)
        ws.send(LAG_QUERY)
        wall, cpu, call = map(float, str(await ws.recv()).split())
    finally:
        await ws.close()
    return times, (wall, cpu, call)


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def scenario(kind: str, count: int, seconds: float, python: bool, budget: int) -> str:
    server, port = await start_server(python, budget)
    attacker = None
    try:
        await canary(port, 20)  # warm: the server's first connection, imports, buffers
        if kind != "none":
            attacker = await asyncio.create_subprocess_exec(
                sys.executable, HERE, "--attack", kind, "--port", str(port),
                stdout=subprocess.PIPE,
            )  # fmt: skip
            assert attacker.stdout is not None
            await asyncio.wait_for(attacker.stdout.readline(), 60)
            await asyncio.sleep(0.2)  # the server is at work on the attack
        before = load()
        times, lag = await canary(port, count, seconds)
        ms = [t * 1e3 for t in times]
        return (
            f"| {kind} | {budget >> 10} KiB | {statistics.median(ms):.2f} | {pct(ms, 0.99):.2f} "
            f"| {max(ms):.2f} | {lag[0] * 1e3:.1f} ({lag[1] * 1e3:.1f}) | {lag[2] * 1e3:.2f} "
            f"| {len(ms)} | {before} |"
        )
    finally:
        for proc in (attacker, server):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()


# ---- the budget's throughput cost (in process) ------------------------------------------


def budget_cost(budget: int | None, payload: bytes, message: bytes) -> tuple[float, float]:
    """Seconds to inflate ``payload`` (one 60 MiB message) and to deflate ``message``."""
    codec = PerMessageDeflate(DeflateParams(), is_client=False)
    conn = Connection(Role.SERVER, deflate=codec, max_message_size=64 << 20, work_budget=budget)
    frame = client_frame(0xC2, payload)
    start = time.perf_counter()
    conn.receive_data(frame)
    while conn.work_pending():
        conn.resume()
    assert len(conn.events_received()) == 1
    inflate = time.perf_counter() - start
    start = time.perf_counter()
    conn.send_binary(message)
    sent = len(conn.data_to_send())
    while conn.work_pending():
        conn.resume()
        sent += len(conn.data_to_send())
    deflate = time.perf_counter() - start
    assert sent > 0
    return inflate, deflate


def budget_table(rounds: int) -> list[str]:
    speedups.use(True)
    zeros = bytes(INFLATED)
    text = (b'{"txid":"%064x","value":123456789,"vout":1},' * 40 % tuple(range(40)))[:2000] * (
        INFLATED // 2000
    )
    rows = []
    for name, message in (("zeros (bomb)", zeros), ("JSON-like text", text)):
        payload = deflated(message)
        best: dict[int | None, tuple[float, float]] = {}
        for _ in range(rounds):
            for budget in BUDGETS:
                inflate, deflate = budget_cost(budget, payload, message)
                old = best.get(budget, (1e9, 1e9))
                best[budget] = (min(old[0], inflate), min(old[1], deflate))
        base = best[None]
        mib = len(message) / (1 << 20)
        for budget in BUDGETS:
            inflate, deflate = best[budget]
            label = "none" if budget is None else f"{budget >> 10} KiB"
            rows.append(
                f"| {name} | {label} | {mib / inflate:.0f} | {inflate / base[0]:.2f}x "
                f"| {mib / deflate:.0f} | {deflate / base[1]:.2f}x | {load()} |"
            )
    return rows


async def main_async(args: argparse.Namespace) -> None:
    print(f"machine: {machine()}; server speedups: {'off' if args.python else 'on'}")
    print(f"load average at start: {load()}\n")
    print(
        "| attack | work_per_turn | canary p50 ms | p99 ms | max ms "
        "| server's worst loop lag ms (its CPU ms) | longest call CPU ms | round trips "
        "| load avg (1/5/15 min) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    attacks = ["none", "deflate-bombs"] if args.quick else ATTACKS
    for kind in args.attacks or attacks:
        row = await scenario(kind, args.round_trips, args.seconds, args.python, args.budget)
        print(row, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=4.0, help="canary time per attack")
    parser.add_argument("--python", action="store_true", help="server on pure Python")
    parser.add_argument("--quick", action="store_true", help="two scenarios, one round")
    parser.add_argument(
        "--budget", type=int, default=CONFORMANCE_LIMITS.work_per_turn, help="work_per_turn"
    )
    parser.add_argument("--attacks", type=lambda s: s.split(","), help="a subset, comma-separated")
    parser.add_argument("--no-budget-table", action="store_true")
    parser.add_argument("--attack", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    install_uvloop()
    if args.serve:
        asyncio.run(run_server(args.budget))
        return
    if args.attack:
        asyncio.run(attack(args.port, args.attack))
        return
    asyncio.run(main_async(args))
    if args.no_budget_table:
        return
    print("\nper-turn budget (`Limits.work_per_turn`), one 60 MiB message in process, best of")
    print(f"{1 if args.quick else 3}; MiB/s and time against no budget:\n")
    print("| message | budget | inflate MiB/s | inflate time | deflate MiB/s | deflate time "
          "| load avg |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---|")
    for row in budget_table(1 if args.quick else 3):
        print(row, flush=True)


if __name__ == "__main__":
    main()

"""Trigger → order bytes handed to the kernel: our order path against peers, same run.

Every path sends the same signed Binance ``order.place`` (fresh timestamp, client order id
and quantity per order) over an open WebSocket to a sink server in another process (our
server, a no-op ``on_message``), pinned as DESIGN.md asks. Timed per order, from the
trigger (the values are known) until the send call returned:

* ``minimal``    the hand-written baseline: ``bytes.join`` of the payload, an ``hmac``
  object keyed once and ``.copy()``-ed, JSON ``bytes.join``, ``ws.frames.build_frame``
  with a pooled mask key, ``socket.send`` on the connection's socket;
* ``whalewire``  ``BinanceOrderTemplate.frame`` + ``WebSocket.send_prebuilt`` (the engine's
  hot path; the transport writes straight to the socket when its buffer is empty);
* ``picows``     the same signed JSON built with ``template.request``, sent with
  ``WSTransport.send(TEXT, ...)``;
* ``websockets`` the same JSON, ``await ws.send(...)`` (its asyncio client).

Compute-only figures (the same work without the send) are printed too: most of a loopback
send is waking the reader (DESIGN.md), which no client controls. ``templates.SPEEDUPS``
says whether ``frame`` ran in C (``venues._hotpath``); ``--pure-python`` measures the
Python reference instead.

Last, ``BinanceClient.place`` (what the engine calls: clock, rate limiter, id and quantity
checks, template, send) against a ``BinanceEmulator`` in a child process, HMAC per request
and Ed25519 session, in dry-run (everything but the write) and sending (the client waits
for the answers every 8 orders). The emulator sits on CPU 1: on the client's CPU the
scheduler lets the woken emulator run its ~100 µs of matching inside our ``write(2)``, which
times the venue, not the client. Ratios are to the minimal send with the sink on CPU 0 (for
dry-run) and on CPU 1 (for sent).

    .venv/bin/python bench/order_send.py [--orders 3000] [--rounds 3] [--pure-python]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import hmac
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from importlib.metadata import version
from typing import Any

import picows
import websockets

from whalewire import speedups
from whalewire.model import Side, SubmitOrder
from whalewire.net.client import connect, install_uvloop
from whalewire.venues import templates
from whalewire.venues.binance import BinanceClient
from whalewire.venues.credentials import Credentials, Secret
from whalewire.venues.ids import BINANCE_ID_WIDTH, binance_client_order_id
from whalewire.venues.templates import BinanceOrderTemplate
from whalewire.ws import frames
from whalewire.ws.mask import default_key_pool

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
CID_WIDTH = 19
QTYS = [b"0.01000000", b"0.25000000", b"1.50000000", b"0.00120000"]

SINK = """
import asyncio, sys
from whalewire.net.client import install_uvloop
from whalewire.net.server import serve
install_uvloop()
async def main():
    server = await serve(None, "127.0.0.1", 0, on_message=lambda ws, m: None, deflate=False)
    print(server.port, flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def start_sink(cpu: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        ["taskset", "-c", str(cpu), sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def template() -> BinanceOrderTemplate:
    return BinanceOrderTemplate(
        symbol="BTCUSDT",
        side="SELL",
        order_type="MARKET",
        cid_width=CID_WIDTH,
        recv_window_ms=1000,
        api_key=API_KEY,
        secret=SECRET,
    )


def minimal_path(sock: socket.socket | None) -> Callable[[int, bytes, bytes], object]:
    """The hand-written path: keyed hmac copied per order, frame, socket.send (if a socket)."""
    tpl = template()
    c0, c1, c2, c3, c4 = tpl._pay  # the same constant text the template signs
    j0, j1, j2, j3, j4, j5, j6 = tpl._js
    keyed = hmac.new(SECRET.encode(), digestmod=hashlib.sha256)
    next_key = default_key_pool().next_key
    text = frames.Opcode.TEXT

    def send(ts: int, cid: bytes, qty: bytes) -> object:
        tsb = b"%d" % ts
        mac = keyed.copy()
        mac.update(b"".join((c0, cid, c1, b"", c2, qty, c3, tsb, c4)))
        sig = mac.hexdigest().encode()
        body = b"".join((j0, cid, j1, cid, j2, b"", j3, qty, j4, tsb, j5, sig, j6))
        frame = frames.build_frame(text, body, mask_key=next_key())
        return frame if sock is None else sock.send(frame)

    return send


class _Sink(picows.WSListener):  # type: ignore[misc]
    pass


async def measure(port: int, n: int) -> dict[str, list[int]]:
    url = f"ws://127.0.0.1:{port}/"
    ours = await connect(url, deflate=False)
    raw = await connect(url, deflate=False)  # its socket carries the minimal path's frames
    raw_sock = raw._proto.transport.get_extra_info("socket")  # type: ignore[union-attr]
    dup = socket.socket(fileno=os.dup(raw_sock.fileno()))
    pico, _ = await picows.ws_connect(_Sink, url)
    wsk = await websockets.connect(url, compression=None)
    tpl = template()
    minimal = minimal_path(dup)
    paths: dict[str, Callable[[int, bytes, bytes], object]] = {
        "minimal": minimal,
        "whalewire": lambda ts, cid, q: ours.send_prebuilt(tpl.frame(ts, cid, q)),
        "picows": lambda ts, cid, q: pico.send(picows.WSMsgType.TEXT, tpl.request(ts, cid, q)),
    }
    compute: dict[str, Callable[[int, bytes, bytes], object]] = {
        "minimal (no send)": minimal_path(None),
        "whalewire (no send)": tpl.frame,
        "request JSON only": tpl.request,
    }
    out: dict[str, list[int]] = {name: [] for name in [*paths, "websockets", *compute]}
    order = list(paths.items())
    perf = time.perf_counter_ns
    gc.disable()
    try:
        for i in range(n):
            ts = 1_700_000_000_000 + i
            cid = b"ww-b-%014d" % i
            qty = QTYS[i % 4]
            # rotate who goes first: the first send after the others' work pays more
            # (0.1-0.25 µs seen), and a fixed order would hand that to one path
            k = i % len(order)
            for name, fn in order[k:] + order[:k]:
                t0 = perf()
                fn(ts, cid, qty)
                out[name].append(perf() - t0)
            t0 = perf()
            await wsk.send(tpl.request(ts, cid, qty).decode())
            out["websockets"].append(perf() - t0)
            for name, fn in compute.items():
                t0 = perf()
                fn(ts, cid, qty)
                out[name].append(perf() - t0)
            if i % 16 == 0:
                await asyncio.sleep(0)  # let the loop drain what the sink sends back (nothing)
    finally:
        gc.enable()
    dup.close()
    await ours.close()
    await raw.close()
    pico.disconnect()
    await wsk.close()
    return out


VENUE = """
import asyncio, dataclasses, json
from whalewire.emulator.accounts import open_default_account
from whalewire.emulator.binance.exchange import BinanceConfig
from whalewire.emulator.limits import Interval, RateLimit
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.net.client import install_uvloop
install_uvloop()
async def main():
    many = 10**9  # the venue refuses nothing: we time, not trade
    emu = BinanceEmulator(BinanceConfig(
        request_weight=RateLimit("REQUEST_WEIGHT", Interval.MINUTE, 1, many),
        orders=(RateLimit("ORDERS", Interval.SECOND, 10, many),),
        connections=RateLimit("CONNECTIONS", Interval.MINUTE, 5, many),
    ))
    await emu.start()
    keys = [open_default_account(emu.exchange.registry, f"bench{i}") for i in range(2)]
    print(json.dumps({"url": emu.url, "keys": [dataclasses.asdict(k) for k in keys]}), flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def start_venue(cpu: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        ["taskset", "-c", str(cpu), sys.executable, "-c", VENUE], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    venue: dict[str, Any] = json.loads(proc.stdout.readline())
    return proc, venue


async def measure_place(n: int, venue: dict[str, Any], ns: str) -> dict[str, list[int]]:
    """Time ``BinanceClient.place`` against the emulator process (warm, authenticated)."""
    out: dict[str, list[int]] = {}
    for session in (False, True):
        keys = venue["keys"][int(session)]
        if session:
            creds = Credentials(
                venue="binance",
                api_key=Secret(keys["ed25519_api_key"]),
                private_key_pem=Secret(keys["ed25519_private_key_pem"]),
            )
        else:
            creds = Credentials(
                venue="binance",
                api_key=Secret(keys["hmac_api_key"]),
                api_secret=Secret(keys["hmac_secret"]),
            )
        client = BinanceClient(venue["url"], creds, cid_width=BINANCE_ID_WIDTH[len(ns)])
        await client.start()
        label = "session" if session else "HMAC"
        perf = time.perf_counter_ns
        for dry in (True, False):
            client.dry_run = dry
            name = f"place {label} ({'dry-run' if dry else 'sent'})"
            times = out[name] = []
            gc.disable()
            try:
                for i in range(n):
                    cmd = SubmitOrder(
                        client_order_id=binance_client_order_id(ns, i + (n if dry else 0)),
                        ts_init=0,
                        venue="binance",
                        symbol="BTCUSDT",
                        side=Side.SELL if i & 1 else Side.BUY,
                        quantity=Decimal("0.001"),
                    )
                    t0 = perf()
                    # place returns perf_counter_ns right after write(2) (after the frame
                    # in dry-run): its bookkeeping after the write is not on this clock
                    times.append(client.place(cmd) - t0)
                    if not dry and i % 8 == 7:
                        # let the emulator answer: nothing piles up in the socket
                        async with asyncio.timeout(10):
                            while client.acks < client.sent:
                                await asyncio.sleep(0)
            finally:
                gc.enable()
        await client.close()
    return out


def report(title: str, merged: dict[str, list[int]], bases: dict[str, float]) -> None:
    print(f"\n{title}")
    heads = "".join(f" {label:>13}" for label in bases)
    print(f"  {'path':26} {'p50':>8} {'p99':>8}{heads}")
    for name, values in merged.items():
        values.sort()
        p50 = values[len(values) // 2]
        p99 = values[int(len(values) * 0.99)]
        ratios = "".join(f" {p50 / base:12.2f}x" for base in bases.values())
        print(f"  {name:26} {p50 / 1000:8.2f} {p99 / 1000:8.2f}{ratios}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pure-python", action="store_true", help="frame in Python, not C")
    args = ap.parse_args()
    if args.pure_python:
        speedups.use(False)
    uv = install_uvloop()
    os.sched_setaffinity(0, {0})
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, uvloop {uv}, picows {version('picows')}, websockets "
        f"{version('websockets')}; load average {os.getloadavg()[0]:.2f}; order frame in "
        f"{'C (venues._hotpath)' if templates.SPEEDUPS else 'pure Python'}"
    )
    print(f"command: {' '.join(sys.argv)}")
    bases: dict[str, float] = {}
    for label, cpu in (("same CPU (client 0, sink 0)", 0), ("split (client 0, sink 1)", 1)):
        proc, port = start_sink(cpu)
        try:
            rounds = [asyncio.run(measure(port, args.orders)) for _ in range(args.rounds)]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        merged = {k: [v for r in rounds for v in r[k]] for k in rounds[0]}
        base = statistics.median(merged["minimal"])
        report(
            f"{label}: {args.orders} orders x {args.rounds} rounds, µs",
            merged,
            {"vs minimal": base},
        )
        bases[f"vs min cpu {cpu}"] = base
    proc, venue = start_venue(1)
    try:
        places = [
            asyncio.run(measure_place(args.orders, venue, f"b{r}")) for r in range(args.rounds)
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    merged = {k: [v for r in places for v in r[k]] for k in places[0]}
    report(
        "BinanceClient.place, emulator process on CPU 1 (ratios: minimal send, sink CPU 0 / 1), µs",
        merged,
        bases,
    )


if __name__ == "__main__":
    main()

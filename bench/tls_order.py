"""Trigger → order bytes written over TLS against the plaintext path, same run.

One sink process (our server, a no-op ``on_message``) listens on ``ws://`` and, natively,
on ``wss://``; the client holds one connection of each kind and sends the same signed
Binance ``order.place`` (fresh timestamp, client order id and quantity per order) on each
in rotation, timed per order from the trigger (values known) until the send returned:

* ``plain``            ``BinanceOrderTemplate.frame`` + ``WebSocket.send_prebuilt`` over
  ``ws://`` (one ``write(2)`` from the protocol);
* ``tls native``       the same over ``wss://`` with ``net.nativetls``: the transport's
  write is the C ``Session.send`` (``SSL_write`` on the socket: encrypt + ``write(2)``);
* ``tls asyncio-ssl``  the same over asyncio's ``ssl`` (today's fallback). Under uvloop
  its write only queues: the bytes reach the kernel at the end of the loop iteration, so
  this figure stops *before* the write and is not comparable (shown for the cost of the
  layer alone);
* ``picows tls``       picows's ``send(TEXT, request JSON)`` over ``wss://`` (asyncio's
  ``ssl`` too; the same caveat).

* ``plain one call``   ``BinanceOrderTemplate.send(fd, ...)``: fill, sign, frame, mask and
  ``write(2)`` in one C call (the armed order's call, ``venues._hotpath``);
* ``tls one call``     the same to the native session: fill, sign, frame, mask, ``SSL_write``
  (encrypt + ``write(2)``) in one C call.

The floors (``bare write`` of a ready frame: ``os.write`` on ``ws://`` and ``Session.write``
on ``wss://``) say what the write itself costs, so the order path's own cost is visible.
Placements: sink on the client's CPU and on the other one.

    .venv/bin/python bench/tls_order.py [--orders 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version

import picows

from whalewire.net import nativetls
from whalewire.net.client import connect, install_uvloop
from whalewire.venues import templates
from whalewire.venues.templates import BinanceOrderTemplate

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
QTYS = [b"0.01000000", b"0.25000000", b"1.50000000", b"0.00120000"]

SINK = """
import asyncio, sys
from whalewire.net.client import install_uvloop
from whalewire.net.server import serve
install_uvloop()
cert, key = sys.argv[1], sys.argv[2]
async def main():
    noop = lambda ws, m: None
    plain = await serve(None, "127.0.0.1", 0, on_message=noop, deflate=False)
    tls = await serve(None, "127.0.0.1", 0, on_message=noop, deflate=False, tls_cert=cert,
                      tls_key=key)
    print(plain.port, tls.port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def start_sink(cpu: int, certdir: str) -> tuple[subprocess.Popen[str], int, int]:
    cert, key = os.path.join(certdir, "cert.pem"), os.path.join(certdir, "key.pem")
    proc = subprocess.Popen(
        ["taskset", "-c", str(cpu), sys.executable, "-c", SINK, cert, key],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    plain, tls = proc.stdout.readline().split()
    return proc, int(plain), int(tls)


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


class _Sink(picows.WSListener):  # type: ignore[misc]
    pass


async def measure(plain_port: int, tls_port: int, ca_file: str, n: int) -> dict[str, list[int]]:
    ctx = ssl.create_default_context(cafile=ca_file)
    plain = await connect(f"ws://127.0.0.1:{plain_port}/", deflate=False)
    wss = f"wss://127.0.0.1:{tls_port}/"
    native = await connect(wss, deflate=False, ca_file=ca_file, native_tls=True)
    sslmod = await connect(wss, deflate=False, ssl=ctx)
    floor_plain = await connect(f"ws://127.0.0.1:{plain_port}/", deflate=False)
    floor_tls = await connect(wss, deflate=False, ca_file=ca_file, native_tls=True)
    call_plain = await connect(f"ws://127.0.0.1:{plain_port}/", deflate=False)
    call_tls = await connect(wss, deflate=False, ca_file=ca_file, native_tls=True)
    call_fd = call_plain._proto.socket_fd
    call_session = call_tls._proto.transport.get_extra_info("ssl_object")  # type: ignore[union-attr]
    assert call_fd is not None
    fd = floor_plain._proto.socket_fd
    assert fd is not None
    session = floor_tls._proto.transport.get_extra_info("ssl_object")  # type: ignore[union-attr]
    pico, _ = await picows.ws_connect(_Sink, wss, ssl_context=ctx)
    tpl = template()
    ready = tpl.frame(1_700_000_000_000, b"ww-b-00000000000000", QTYS[0])
    paths: dict[str, Callable[[int, bytes, bytes], object]] = {
        "plain": lambda ts, cid, q: plain.send_prebuilt(tpl.frame(ts, cid, q)),
        "tls native": lambda ts, cid, q: native.send_prebuilt(tpl.frame(ts, cid, q)),
        "plain one call": lambda ts, cid, q: tpl.send(call_fd, ts, cid, q),
        "tls one call": lambda ts, cid, q: tpl.send(call_session, ts, cid, q),
        "tls asyncio-ssl": lambda ts, cid, q: sslmod.send_prebuilt(tpl.frame(ts, cid, q)),
        "picows tls": lambda ts, cid, q: pico.send(picows.WSMsgType.TEXT, tpl.request(ts, cid, q)),
        "bare write, plain": lambda ts, cid, q: os.write(fd, ready),
        "bare write, tls": lambda ts, cid, q: session.write(ready),
    }
    out: dict[str, list[int]] = {name: [] for name in paths}
    order = list(paths.items())
    perf = time.perf_counter_ns
    gc.disable()
    try:
        for i in range(n):
            ts = 1_700_000_000_000 + i
            cid = b"ww-b-%014d" % i
            qty = QTYS[i % 4]
            k = i % len(order)  # rotate who goes first (the first after others' work pays)
            for name, fn in order[k:] + order[:k]:
                t0 = perf()
                fn(ts, cid, qty)
                out[name].append(perf() - t0)
            if i % 16 == 0:
                await asyncio.sleep(0)  # the loop flushes the asyncio-ssl writes
    finally:
        gc.enable()
    for ws in (plain, native, sslmod, floor_plain, floor_tls, call_plain, call_tls):
        await ws.close()
    pico.disconnect()
    return out


def make_certs(directory: str) -> None:
    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(os.path.join(directory, "ca.pem"))
    leaf.cert_chain_pems[0].write_to_path(os.path.join(directory, "cert.pem"))
    leaf.private_key_pem.write_to_path(os.path.join(directory, "key.pem"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not nativetls.available():
        raise SystemExit("whalewire.net._tls is not built (or speedups are off)")
    uv = install_uvloop()
    os.sched_setaffinity(0, {0})
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, uvloop {uv}, picows {version('picows')}, "
        f"{nativetls.openssl_version()}; load average {os.getloadavg()[0]:.2f}; order frame "
        f"in {'C (venues._hotpath)' if templates.SPEEDUPS else 'pure Python'}"
    )
    print(f"command: {' '.join(sys.argv)}")
    with tempfile.TemporaryDirectory() as certdir:
        make_certs(certdir)
        ca_file = os.path.join(certdir, "ca.pem")
        for label, cpu in (("same CPU (client 0, sink 0)", 0), ("split (client 0, sink 1)", 1)):
            proc, plain_port, tls_port = start_sink(cpu, certdir)
            try:
                rounds = [
                    asyncio.run(measure(plain_port, tls_port, ca_file, args.orders))
                    for _ in range(args.rounds)
                ]
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)
            merged = {k: sorted(v for r in rounds for v in r[k]) for k in rounds[0]}
            base = statistics.median(merged["plain"])
            one = statistics.median(merged["plain one call"])
            print(f"\n{label}: {args.orders} orders x {args.rounds} rounds, µs")
            print(f"  {'path':22} {'p50':>8} {'p99':>8} {'vs plain':>9} {'vs plain 1 call':>16}")
            for name, values in merged.items():
                p50 = values[len(values) // 2]
                p99 = values[int(len(values) * 0.99)]
                print(
                    f"  {name:22} {p50 / 1000:8.2f} {p99 / 1000:8.2f} {p50 / base:8.2f}x"
                    f" {p50 / one:15.2f}x"
                )


if __name__ == "__main__":
    main()

"""The transport against peers, same run: echo round trip, receive throughput, TLS, idle memory.

Every figure comes from one invocation, so ratios compare like with like. All on uvloop.

* **echo RTT** (64 B and 256 B text, one connection): each library's client against its own
  echo server in another process; whalewire (``on_message`` path), picows and the raw
  asyncio TCP echo (a ``BufferedProtocol``, the floor) send the next message from the
  receive callback; websockets and aiohttp ``await`` send/recv. Placements: server on the
  client's CPU ("same") and on the other one ("split"); the client is pinned to CPU 0.
* **receive throughput**: a raw frame blaster (another process, identical for every client)
  streams pre-built binary frames of 100 B and 64 KiB; messages/s as the client counts them.
* **TLS echo**: whalewire vs picows over ``wss://`` (trustme cert): each against its own
  server, and crossed (``client@server``: our client against picows's server, picows's
  client against ours), so our client and our server are each measured against picows's.
  ``whalewire`` runs TLS natively (``net.nativetls``, OpenSSL on the socket); the
  ``-sslmod`` kinds run asyncio's ``ssl`` (the fallback) on both ends.
* **idle memory**: RSS growth of a fresh process holding 1,000 open client connections
  (no compression anywhere), per library, against one whalewire server process.

    .venv/bin/python bench/net_echo.py [--rtts 5000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import platform
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import picows

from whalewire.net.client import connect, install_uvloop
from whalewire.net.server import echo_on_message, serve
from whalewire.net.tls import server_context
from whalewire.ws.handshake import accept_key

HERE = os.path.abspath(__file__)
KINDS = ["whalewire", "whalewire-frame", "picows", "raw-tcp", "aiohttp", "websockets"]
#: the figure set against picows; the frame path is the analogue of picows' on_ws_frame
WHALEWIRE_KINDS = ("whalewire", "whalewire-frame")


# -- servers (run in a child process: ``--serve KIND``) --


class _PicowsEcho(picows.WSListener):
    def on_ws_frame(self, transport: Any, frame: Any) -> None:
        if frame.msg_type in (picows.WSMsgType.TEXT, picows.WSMsgType.BINARY):
            transport.send(frame.msg_type, frame.get_payload_as_bytes())
        elif frame.msg_type == picows.WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()


class _RawEcho(asyncio.BufferedProtocol):
    def __init__(self) -> None:
        self.buf = bytearray(256 * 1024)
        self.view = memoryview(self.buf)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        self.transport.write(bytes(self.view[:nbytes]))


def _blast_frames(size: int) -> bytes:
    # RFC 6455 §5.2: unmasked binary frames from the server (FIN + opcode 2).
    if size < 126:
        header = bytes([0x82, size])
    elif size < 65536:
        header = bytes([0x82, 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([0x82, 127]) + size.to_bytes(8, "big")
    frame = header + os.urandom(size)
    return frame * max(1, (1 << 20) // len(frame))  # ~1 MiB of frames per write


async def _blaster(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    key = next(
        v.split(":", 1)[1].strip() for v in lines if v.lower().startswith("sec-websocket-key")
    )
    _, size_s, count_s = lines[0].split(" ")[1].split("/")  # GET /<size>/<count>
    size, count = int(size_s), int(count_s)
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_key(key).encode() + b"\r\n\r\n"
    )
    blob = _blast_frames(size)
    n_frames = len(blob) // _frame_len(size)
    sent = 0
    while sent < count:
        writer.write(blob)
        sent += n_frames
        await writer.drain()
    with contextlib.suppress(ConnectionError):
        await reader.read()  # the client closes (or aborts) when done
    writer.close()


def _frame_len(size: int) -> int:
    return size + (2 if size < 126 else 4 if size < 65536 else 10)


async def _serve(kind: str, certdir: str | None) -> None:
    ctx = None
    cert = key = None
    if certdir:
        cert, key = os.path.join(certdir, "cert.pem"), os.path.join(certdir, "key.pem")
        ctx = server_context(cert, key)
    server: Any
    if kind in WHALEWIRE_KINDS:
        # TLS natively (net.nativetls) where built: tls_cert, not an ssl.SSLContext
        server = await serve(
            None,
            "127.0.0.1",
            0,
            on_message=echo_on_message,
            deflate=False,
            tls_cert=cert,
            tls_key=key,
        )
        port = server.port
    elif kind == "whalewire-sslmod":
        server = await serve(
            None, "127.0.0.1", 0, on_message=echo_on_message, deflate=False, ssl=ctx
        )
        port = server.port
    elif kind == "hold":

        async def hold(ws: Any) -> None:
            await ws.wait_closed()

        server = await serve(hold, "127.0.0.1", 0, deflate=False, backlog=2048)
        port = server.port
    elif kind == "picows":
        server = await picows.ws_create_server(lambda r: _PicowsEcho(), "127.0.0.1", 0, ssl=ctx)
        port = server.sockets[0].getsockname()[1]
    elif kind == "raw-tcp":
        server = await asyncio.get_running_loop().create_server(_RawEcho, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
    elif kind == "blast":
        server = await asyncio.start_server(_blaster, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
    elif kind == "websockets":
        from websockets.asyncio.server import serve as ws_serve

        async def ws_echo(conn: Any) -> None:
            async for message in conn:
                await conn.send(message)

        server = await ws_serve(ws_echo, "127.0.0.1", 0, compression=None)
        port = server.sockets[0].getsockname()[1]
    elif kind == "aiohttp":
        from aiohttp import web

        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(compress=False)
            await ws.prepare(request)
            async for msg in ws:
                await ws.send_str(msg.data)
            return ws

        app = web.Application()
        app.router.add_get("/", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # started above
    else:
        raise SystemExit(f"unknown server {kind}")
    print(port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


class Child:
    """A server in its own process, pinned to ``cpu``."""

    def __init__(self, kind: str, cpu: int, certdir: str | None = None) -> None:
        args = [sys.executable, HERE, "--serve", kind, "--cpu", str(cpu)]
        if certdir:
            args += ["--certdir", certdir]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# -- clients --


async def rtt_whalewire(
    url: str, payload: str, n: int, *, frame: bool = False, **kw: Any
) -> list[int]:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    times: list[int] = []
    t0 = [0]
    clock = time.perf_counter_ns

    def on_message(ws: Any, message: Any) -> None:
        times.append(clock() - t0[0])
        if len(times) >= n:
            done.set_result(None)
            return
        t0[0] = clock()
        ws.send(payload)

    if frame:
        # the frame path (payload as a memoryview, not read): picows' on_ws_frame analogue
        handle: list[Any] = []

        def on_frame(opcode: int, view: memoryview, fin: bool) -> None:
            times.append(clock() - t0[0])
            if len(times) >= n:
                done.set_result(None)
                return
            t0[0] = clock()
            handle[0].send(payload)

        ws = await connect(url, deflate=False, on_frame=on_frame, **kw)
        handle.append(ws)
    else:
        ws = await connect(url, deflate=False, on_message=on_message, **kw)
    t0[0] = clock()
    ws.send(payload)
    await done
    await ws.close()
    return times


async def rtt_picows(url: str, payload: str, n: int, **kw: Any) -> list[int]:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    times: list[int] = []
    data = payload.encode()
    clock = time.perf_counter_ns
    text = picows.WSMsgType.TEXT

    class Client(picows.WSListener):
        t0 = 0

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            times.append(clock() - self.t0)
            if len(times) >= n:
                if not done.done():
                    done.set_result(None)
                return
            self.t0 = clock()
            transport.send(text, data)

    transport, listener = await picows.ws_connect(Client, url, **kw)
    assert isinstance(listener, Client)
    listener.t0 = clock()
    transport.send(text, data)
    await done
    transport.send_close()
    transport.disconnect()
    return times


async def rtt_raw(port: int, payload: str, n: int) -> list[int]:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    times: list[int] = []
    data = payload.encode()
    size = len(data)
    clock = time.perf_counter_ns

    class Client(asyncio.BufferedProtocol):
        t0 = 0
        got = 0

        def __init__(self) -> None:
            self.view = memoryview(bytearray(256 * 1024))

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def get_buffer(self, sizehint: int) -> memoryview:
            return self.view

        def buffer_updated(self, nbytes: int) -> None:
            self.got += nbytes
            if self.got < size:
                return
            self.got = 0
            times.append(clock() - self.t0)
            if len(times) >= n:
                done.set_result(None)
                return
            self.t0 = clock()
            self.transport.write(data)

    transport, proto = await loop.create_connection(Client, "127.0.0.1", port)
    proto.t0 = clock()
    transport.write(data)
    await done
    transport.close()
    return times


async def rtt_websockets(url: str, payload: str, n: int) -> list[int]:
    from websockets.asyncio.client import connect as ws_connect

    times: list[int] = []
    clock = time.perf_counter_ns
    async with ws_connect(url, compression=None) as ws:
        for _ in range(n):
            t0 = clock()
            await ws.send(payload)
            await ws.recv()
            times.append(clock() - t0)
    return times


async def rtt_aiohttp(url: str, payload: str, n: int) -> list[int]:
    import aiohttp

    times: list[int] = []
    clock = time.perf_counter_ns
    async with aiohttp.ClientSession() as session, session.ws_connect(url, compress=0) as ws:
        for _ in range(n):
            t0 = clock()
            await ws.send_str(payload)
            await ws.receive()
            times.append(clock() - t0)
    return times


async def rtt(kind: str, port: int, payload: str, n: int) -> list[int]:
    url = f"ws://127.0.0.1:{port}/"
    if kind in WHALEWIRE_KINDS:
        return await rtt_whalewire(url, payload, n, frame=kind == "whalewire-frame")
    if kind == "picows":
        return await rtt_picows(url, payload, n)
    if kind == "raw-tcp":
        return await rtt_raw(port, payload, n)
    if kind == "websockets":
        return await rtt_websockets(url, payload, n)
    return await rtt_aiohttp(url, payload, n)


async def receive_rate(kind: str, port: int, size: int, count: int) -> float:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    url = f"ws://127.0.0.1:{port}/{size}/{count}"
    seen = [0]
    if kind == "whalewire-frame":

        def on_frame(opcode: int, payload: memoryview, fin: bool) -> None:
            bytes(payload)  # hand out a copy, as picows' get_payload_as_bytes does
            seen[0] += fin  # a frame of 64 KiB or more may come in pieces (STREAM_FROM)
            if seen[0] == count:
                done.set_result(None)

        t0 = time.perf_counter()
        ws = await connect(url, deflate=False, on_frame=on_frame)
        await done
        elapsed = time.perf_counter() - t0
        ws._proto.fail(1000, "")
        return count / elapsed
    if kind == "whalewire":

        def on_message(ws: Any, message: Any) -> None:
            seen[0] += 1
            if seen[0] == count:
                done.set_result(None)

        t0 = time.perf_counter()
        ws = await connect(url, deflate=False, on_message=on_message, limits=None)
        await done
        elapsed = time.perf_counter() - t0
        ws._proto.fail(1000, "")
        return count / elapsed

    class Client(picows.WSListener):
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            frame.get_payload_as_bytes()  # hand out a copy, as our on_message does
            seen[0] += 1
            if seen[0] == count and not done.done():
                done.set_result(None)

    t0 = time.perf_counter()
    fast = kind == "picows"  # "picows-asyncio": without its aiofastnet transport
    transport, _ = await picows.ws_connect(
        Client, url, max_frame_size=1 << 20, use_aiofastnet=None if fast else False
    )
    await done
    elapsed = time.perf_counter() - t0
    transport.disconnect()
    return count / elapsed


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def hold_connections(kind: str, port: int, n: int) -> int:
    """Open ``n`` idle connections; return the RSS growth in KiB."""
    url = f"ws://127.0.0.1:{port}/"
    gc.collect()
    before = rss_kib()
    held: list[Any] = []
    for _ in range(n):
        if kind == "whalewire":
            held.append(await connect(url, deflate=False))
        elif kind == "picows":
            held.append(await picows.ws_connect(picows.WSListener, url))
        else:
            from websockets.asyncio.client import connect as ws_connect

            held.append(await ws_connect(url, compression=None))
    gc.collect()
    return rss_kib() - before


# -- reporting --


def pct(values: list[int], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] / 1000


def _rtt_fn(kind: str, port: int, payload: str, certdir: str | None) -> Callable[[int], Any]:
    if certdir is None:
        return lambda n: rtt(kind, port, payload, n)
    ca_file = os.path.join(certdir, "ca.pem")
    ctx = ssl.create_default_context(cafile=ca_file)
    url = f"wss://127.0.0.1:{port}/"
    client = kind.split("@", maxsplit=1)[0]
    if client in WHALEWIRE_KINDS:  # native TLS (ca_file, no SSLContext)
        frame = client == "whalewire-frame"
        return lambda n: rtt_whalewire(url, payload, n, frame=frame, ca_file=ca_file)
    if client == "whalewire-sslmod":  # asyncio's ssl
        return lambda n: rtt_whalewire(url, payload, n, ssl=ctx)
    return lambda n: rtt_picows(url, payload, n, ssl_context=ctx)


def run_rtt_table(
    runner: asyncio.Runner, kinds: list[str], cpu: int, rtts: int, certdir: str | None = None
) -> dict[tuple[str, int], tuple[float, float, float]]:
    table: dict[tuple[str, int], tuple[float, float, float]] = {}
    for kind in kinds:
        child = Child(kind.split("@")[-1], cpu, certdir)  # "client@server": that server
        try:
            for size in (64, 256):
                fn = _rtt_fn(kind, child.port, "x" * size, certdir)
                runner.run(fn(max(200, rtts // 10)))  # warm-up
                times = runner.run(fn(rtts))
                table[(kind, size)] = (pct(times, 50), pct(times, 99), pct(times, 99.9))
        finally:
            child.stop()
    return table


def print_rtt(
    title: str, table: dict[tuple[str, int], tuple[float, float, float]], kinds: list[str]
) -> None:
    print(f"\n{title}")
    print("| client/server | size | p50 µs | p99 µs | p99.9 µs | p50 vs picows | p50 vs raw TCP |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for size in (64, 256):
        base_p = table.get(("picows", size), (0.0, 0.0, 0.0))[0]
        base_r = table.get(("raw-tcp", size), (0.0, 0.0, 0.0))[0]
        for kind in kinds:
            p50, p99, p999 = table[(kind, size)]
            vp = f"{p50 / base_p:.2f}x" if base_p else "-"
            vr = f"{p50 / base_r:.2f}x" if base_r else "-"
            print(f"| {kind} | {size} B | {p50:.1f} | {p99:.1f} | {p999:.1f} | {vp} | {vr} |")


def make_certs(directory: str) -> None:
    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(os.path.join(directory, "ca.pem"))
    leaf.cert_chain_pems[0].write_to_path(os.path.join(directory, "cert.pem"))
    leaf.private_key_pem.write_to_path(os.path.join(directory, "key.pem"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--certdir", help=argparse.SUPPRESS)
    parser.add_argument("--hold", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rtts", type=int, default=5000, help="round trips per figure")
    parser.add_argument("--conns", type=int, default=1000, help="idle connections for RSS")
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    parser.add_argument(
        "--only",
        choices=["echo", "receive", "tls", "rss"],
        action="append",
        help="run only these parts (repeatable; default all)",
    )
    parser.add_argument(
        "--kinds", help="comma-separated echo clients (default: all, e.g. whalewire,picows)"
    )
    args = parser.parse_args()
    install_uvloop()
    if args.serve:
        os.sched_setaffinity(0, {args.cpu})
        asyncio.run(_serve(args.serve, args.certdir))
        return
    if args.hold:
        grown = asyncio.run(hold_connections(args.hold, args.port, args.conns))
        print(grown, flush=True)
        return
    rtts = 500 if args.quick else args.rtts
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[0]})
    other = cpus[1] if len(cpus) > 1 else cpus[0]
    print(f"command: {' '.join([os.path.relpath(sys.executable), *sys.argv])}")
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
        f"{platform.system()} {platform.release()}; load average {os.getloadavg()}"
    )
    print(
        "python "
        + platform.python_version()
        + "; "
        + ", ".join(f"{p} {version(p)}" for p in ("uvloop", "picows", "websockets", "aiohttp"))
    )
    print(
        f"client pinned to CPU {cpus[0]}; 'same' = server on CPU {cpus[0]}, 'split' = CPU {other}"
    )

    parts = set(args.only or ["echo", "receive", "tls", "rss"])
    kinds = args.kinds.split(",") if args.kinds else KINDS
    with asyncio.Runner() as runner:
        if "echo" in parts:
            for name, cpu in (("same", cpus[0]), ("split", other)):
                table = run_rtt_table(runner, kinds, cpu, rtts)
                print_rtt(f"echo RTT, {name} CPU ({rtts} round trips)", table, kinds)
        if "receive" in parts:
            receive_table(runner, other, args.quick)
        if "tls" in parts:
            tls_kinds = [
                "whalewire",
                "whalewire-frame",
                "picows",
                "whalewire@picows",
                "whalewire-frame@picows",
                "picows@whalewire",
                "whalewire-sslmod",
            ]
            with tempfile.TemporaryDirectory() as certdir:
                make_certs(certdir)
                for name, cpu in (("same", cpus[0]), ("split", other)):
                    table = run_rtt_table(runner, tls_kinds, cpu, rtts, certdir)
                    print_rtt(f"TLS echo RTT, {name} CPU", table, tls_kinds)
    if "rss" in parts:
        rss_table(other, args.conns)


def receive_table(runner: asyncio.Runner, cpu: int, quick: bool) -> None:
    print("\nclient receive throughput (raw blaster server, binary frames, split CPU)")
    receivers = ["whalewire", "whalewire-frame", "picows", "picows-asyncio"]
    print("| frame | " + " | ".join(f"{k} msg/s" for k in receivers) + " | ours/picows |")
    print("|---|" + "---:|" * (len(receivers) + 1))
    blaster = Child("blast", cpu)
    try:
        for size, count in (
            (100, 200_000 if quick else 2_000_000),
            (65536, 2000 if quick else 20_000),
        ):
            rates = {}
            for kind in receivers:
                runner.run(receive_rate(kind, blaster.port, size, count // 10))
                rates[kind] = max(
                    runner.run(receive_rate(kind, blaster.port, size, count)) for _ in range(2)
                )
            best = max(rates["whalewire"], rates["whalewire-frame"])
            cells = " | ".join(f"{rates[k]:,.0f}" for k in receivers)
            print(f"| {size} B | {cells} | {best / rates['picows']:.2f}x |")
    finally:
        blaster.stop()


def rss_table(cpu: int, conns: int) -> None:
    print(f"\nRSS growth of {conns} idle client connections (fresh process each, no compression)")
    print("| client | KiB total | KiB per connection | vs picows |")
    print("|---|---:|---:|---:|")
    holder = Child("hold", cpu)
    try:
        growth: dict[str, int] = {}
        for kind in ("whalewire", "picows", "websockets"):
            cmd = [sys.executable, HERE, "--hold", kind, "--port", str(holder.port)]
            cmd += ["--conns", str(conns)]
            out = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                check=True,
            )
            growth[kind] = int(out.stdout.split()[-1])
        for kind, kib in growth.items():
            print(f"| {kind} | {kib:,} | {kib / conns:.1f} | {kib / growth['picows']:.2f}x |")
    finally:
        holder.stop()


if __name__ == "__main__":
    main()

"""ws micro-benchmarks: masking, frame parsing and frame building against peers, one run.

Run: ``.venv/bin/python bench/ws_micro.py`` (``--quick`` for a rough pass, ``--cpu N`` to
pin to another CPU). Prints Markdown tables with ratios measured in the same process, plus
the machine and package versions; paste them into docs/benchmarks.md ("ws micro").

Every figure is the best of several repeats of a timed loop (``timeit``), in ns per
operation, on one pinned CPU. Ratios are what to compare: absolute figures drift on
shared machines. Peers: websockets' C ``speedups.apply_mask`` and sans-IO ``Protocol``,
aiohttp's Cython ``WebSocketReader``, picows' Cython ``WSProtocol`` (fed through its
``BufferedProtocol`` interface with a stub transport, no socket I/O).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import platform
import socket
import struct
import sys
import timeit
from collections.abc import Callable
from importlib import metadata
from typing import Any

from whalewire import speedups
from whalewire.ws import frames, mask, protocol, utf8
from whalewire.ws.protocol import Connection, Role

FRAMES_PER_BUFFER = 1000
PAYLOAD = 125


def best_ns(fn: Callable[[], object], number: int, repeat: int, per: int = 1) -> float:
    """Return the best time of ``fn`` in ns per operation (``per`` operations per call)."""
    times = timeit.repeat(fn, number=number, repeat=repeat)
    return min(times) / number / per * 1e9


def machine() -> list[str]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = []
    for name in ("websockets", "aiohttp", "picows"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (absent)")
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    return [
        f"- machine: {cpu}, {os.cpu_count()} CPUs, pinned to {affinity}, {platform.platform()}",
        f"- Python {sys.version.split()[0]}; {', '.join(versions)}",
        f"- whalewire speedups: mask={mask.SPEEDUPS} utf8={utf8.SPEEDUPS} "
        f"frame-scan={protocol.SPEEDUPS}",
    ]


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n#### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


# ---- masking -----------------------------------------------------------------------------


def bench_mask(number: int, repeat: int) -> None:
    from websockets.speedups import apply_mask as ws_apply_mask

    key = os.urandom(4)
    rows = []
    for size in (16, 125, 1024, 65536):
        data = os.urandom(size)
        buf = bytearray(data)
        n = max(200, number * 125 // max(size, 125))
        ours = best_ns(lambda d=data: mask.apply_mask(d, key), n, repeat)
        theirs = best_ns(lambda d=data: ws_apply_mask(d, key), n, repeat)
        inplace = best_ns(lambda b=buf: mask.apply_mask_inplace(b, key), n, repeat)
        pure = best_ns(lambda d=data: mask.py_apply_mask(d, key), n, repeat)
        rows.append(
            [
                f"{size} B",
                f"{ours:.0f}",
                f"{theirs:.0f}",
                f"**{ours / theirs:.2f}x**",
                f"{inplace:.0f}",
                f"{pure:.0f}",
            ]
        )
    table(
        "Masking (ns per call; target: whalewire ≤ 1.2x websockets)",
        ["size", "whalewire C", "websockets C", "ratio", "whalewire in place", "pure Python"],
        rows,
    )


# ---- parsing -----------------------------------------------------------------------------


def _frames(masked: bool) -> bytes:
    payload = bytes(range(PAYLOAD))
    key = b"\x01\x02\x03\x04" if masked else None
    one = bytes(frames.build_frame(frames.Opcode.BINARY, payload, mask_key=key))
    return one * FRAMES_PER_BUFFER


def _noop(opcode: int, payload: memoryview, fin: bool) -> None:
    pass


def bench_parse(number: int, repeat: int) -> None:
    unmasked = _frames(masked=False)
    masked = bytearray(_frames(masked=True))
    per = FRAMES_PER_BUFFER
    unpack = struct.Struct("!BB").unpack_from

    def bare() -> None:
        pos, end = 0, len(unmasked)
        while pos < end:
            _, b1 = unpack(unmasked, pos)
            p = pos + 2
            pos = p + (b1 & 0x7F)
            unmasked[p:pos]

    view = memoryview(unmasked)

    def bare_callback() -> None:
        pos, end = 0, len(view)
        while pos < end:
            b0, b1 = unpack(view, pos)
            p = pos + 2
            pos = p + (b1 & 0x7F)
            _noop(b0 & 0x0F, view[p:pos], True)

    results: list[tuple[str, float]] = []
    base = best_ns(bare, number, repeat, per)
    results.append(("bare `struct.unpack_from` + slice (baseline)", base))
    results.append(
        (
            "bare `struct.unpack_from` + memoryview slice + the same no-op callback",
            best_ns(bare_callback, number, repeat, per),
        )
    )

    client = Connection(Role.CLIENT, on_frame=_noop, max_message_size=1 << 30)
    results.append(
        (
            "whalewire frame path, client (C scan, memoryview to a callback)",
            best_ns(lambda: client.receive_data(unmasked), number, repeat, per),
        )
    )
    old = speedups.use(False)
    pure = Connection(Role.CLIENT, on_frame=_noop, max_message_size=1 << 30)
    speedups.use(old)
    results.append(
        (
            "whalewire frame path, client (Python reader only)",
            best_ns(lambda: pure.receive_data(unmasked), number, repeat, per),
        )
    )
    server = Connection(Role.SERVER, on_frame=_noop, max_message_size=1 << 30)
    # The masked buffer is reused, as a transport's receive buffer is: it unmasks in place
    # (to garbage on later rounds, which costs the same).
    results.append(
        (
            "whalewire frame path, server (unmask in place)",
            best_ns(lambda: server.receive_data(masked), number, repeat, per),
        )
    )
    msg = Connection(Role.CLIENT, max_message_size=1 << 30)

    def messages() -> None:
        msg.receive_data(unmasked)
        msg.events_received()

    results.append(
        (
            "whalewire message path, client (BinaryMessage events)",
            best_ns(messages, number, repeat, per),
        )
    )

    results += _peer_parsers(unmasked, number, repeat, per)
    rows = [[name, f"{ns:.0f}", f"{ns / base:.2f}x"] for name, ns in results]
    table(
        f"Parsing {PAYLOAD} B binary frames, {per} per buffer (ns per frame; target: "
        "whalewire ≤ 1.5x baseline)",
        ["reader", "ns/frame", "vs baseline"],
        rows,
    )


def _peer_parsers(data: bytes, number: int, repeat: int, per: int) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    try:
        from websockets.protocol import Protocol, Side, State

        ws = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)

        def websockets_parse() -> None:
            ws.receive_data(data)
            ws.events_received()

        out.append(
            (
                "websockets sans-IO `Protocol` (Frame events)",
                best_ns(websockets_parse, max(1, number // 10), repeat, per),
            )
        )
    except ImportError:
        pass
    with contextlib.suppress(ImportError):
        out.append(
            ("aiohttp Cython `WebSocketReader` (messages)", _aiohttp(data, number, repeat, per))
        )
    with contextlib.suppress(ImportError):
        out.append(
            (
                "picows Cython `WSProtocol` (WSFrame to a listener)",
                _picows(data, number, repeat, per),
            )
        )
    return out


def _aiohttp(data: bytes, number: int, repeat: int, per: int) -> float:
    from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader

    class Proto:
        _reading_paused = False

        def pause_reading(self) -> None:
            pass

        def resume_reading(self) -> None:
            pass

    loop = asyncio.new_event_loop()
    try:
        state: dict[str, Any] = {}

        def fresh() -> None:
            # a stub with the two members the queue touches stands in for the protocol
            queue = WebSocketDataQueue(Proto(), 1 << 30, loop=loop)  # type: ignore[arg-type]
            state["reader"] = WebSocketReader(queue, 1 << 30, compress=False, decode_text=True)

        def parse() -> None:
            # a new queue per buffer keeps memory flat; its cost is spread over 1000 frames
            fresh()
            state["reader"].feed_data(data)

        return best_ns(parse, number, repeat, per)
    finally:
        loop.close()


def _picows(data: bytes, number: int, repeat: int, per: int) -> float:
    from picows import WSAutoPingStrategy, WSListener
    from picows.picows import WSProtocol

    guid = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    class StubTransport(asyncio.Transport):
        def __init__(self) -> None:
            super().__init__()
            self.out = bytearray()
            self.sock = socket.socket()

        def write(self, data: Any) -> None:
            self.out += data

        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return self.sock if name == "socket" else default

        def is_closing(self) -> bool:
            return False

        def close(self) -> None:
            self.sock.close()

    class Listener(WSListener):  # type: ignore[misc]  # picows ships no stubs for subclassing
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            pass

    async def run() -> float:
        proto = WSProtocol(
            "127.0.0.1:9",
            "/",
            True,
            Listener,
            logging.getLogger("bench"),
            True,
            5.0,
            False,
            10.0,
            10.0,
            WSAutoPingStrategy.PING_WHEN_IDLE,
            False,
            1 << 30,
            None,
            1 << 20,
        )
        transport = StubTransport()
        proto.connection_made(transport)

        def feed(chunk: bytes) -> None:
            view, i = memoryview(chunk), 0
            while i < len(view):
                buf = proto.get_buffer(-1)
                n = min(len(buf), len(view) - i)
                buf[:n] = view[i : i + n]
                proto.buffer_updated(n)
                i += n

        key = next(
            line.split(b":", 1)[1].strip()
            for line in bytes(transport.out).split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        accept = base64.b64encode(hashlib.sha1(key + guid).digest())
        feed(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        try:
            return best_ns(lambda: feed(data), number, repeat, per)
        finally:
            transport.close()

    return asyncio.run(run())


# ---- building ----------------------------------------------------------------------------


def bench_build(number: int, repeat: int) -> None:
    from websockets.frames import Frame, Opcode
    from websockets.speedups import apply_mask as ws_apply_mask

    payload = os.urandom(PAYLOAD)
    key = os.urandom(4)
    pool = mask.MaskKeyPool(64 * 1024)
    n = number * 20
    hdr = struct.Struct("!BB4s").pack

    def bare() -> bytes:
        k = pool.next_key()
        return hdr(0x82, 0x80 | PAYLOAD, k) + ws_apply_mask(payload, k)

    base = best_ns(bare, n, repeat)
    client = Connection(Role.CLIENT)

    def send_binary() -> None:
        client.send_binary(payload)
        client.data_to_send()

    in_place = Connection(Role.CLIENT)
    buf = bytearray(frames.HEADROOM) + payload

    def send_in_place() -> None:
        # the payload is re-masked on every round: the cost is the same as a fresh one
        in_place.send_in_place(buf, PAYLOAD, frames.Opcode.BINARY)

    rows_src = [
        ("bare `struct.pack` + pooled key + websockets C mask (baseline)", base),
        (
            "whalewire `build_frame` (masked, one allocation)",
            best_ns(lambda: frames.build_frame(2, payload, mask_key=key), n, repeat),
        ),
        (
            "whalewire `Connection.send_binary` + `data_to_send` (client)",
            best_ns(send_binary, n, repeat),
        ),
        (
            "whalewire `Connection.send_in_place` (payload pre-placed, zero copy)",
            best_ns(send_in_place, n, repeat),
        ),
        (
            "websockets `Frame.serialize(mask=True)`",
            best_ns(
                lambda: Frame(Opcode.BINARY, payload).serialize(mask=True, extensions=[]), n, repeat
            ),
        ),
    ]
    rows = [[name, f"{ns:.0f}", f"{ns / base:.2f}x"] for name, ns in rows_src]
    table(
        f"Building a masked {PAYLOAD} B binary frame (client side; ns per frame)",
        ["builder", "ns/frame", "vs baseline"],
        rows,
    )


def bench_utf8(number: int, repeat: int) -> None:
    samples = {
        "1 KiB ASCII": b"x" * 1024,
        "1 KiB mixed (Greek, €, emoji)": ("κόσμε €𝄞 " * 64).encode()[:1024].rsplit(b" ", 1)[0],
        "64 KiB ASCII": b"x" * 65536,
    }
    rows = []
    for name, data in samples.items():
        n = max(200, number * 1024 // len(data))
        ours = best_ns(lambda d=data: utf8.validate_utf8(d), n, repeat)
        decode = best_ns(lambda d=data: d.decode("utf-8"), n, repeat)
        rows.append([name, f"{ours:.0f}", f"{decode:.0f}", f"{ours / decode:.2f}x"])
    table(
        "UTF-8 validation (ns per call; `bytes.decode` also builds the str)",
        ["input", "whalewire `validate_utf8`", "`bytes.decode('utf-8')`", "ratio"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (rough figures)")
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to (default 0)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    number, repeat = (20, 3) if args.quick else (50, 7)
    print("### ws micro\n")
    print("\n".join(machine()))
    bench_mask(number * 100, repeat)
    bench_parse(number, repeat)
    bench_build(number * 100, repeat)
    bench_utf8(number * 100, repeat)


if __name__ == "__main__":
    main()

"""net._protocol's per-read and per-send paths in C, over real loopback sockets.

A raw client (its own framing, RFC 6455 §5.2/§5.3) talks to our echo server; every test
runs with the C reader/sender and with the Python reader alone (``impl``), and the bytes on
the wire must be the same: replies in order around pings and closes (conformance.md's
"echo order"), a failing callback answered 1011 after the replies before it, and a stream
of small frames cut at arbitrary points echoed whole and in order. ``set_writer`` turns the
direct send paths off: every write after it goes through the writer, in order.
"""

from __future__ import annotations

import asyncio
import os
import random
import struct
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from whalewire import speedups
from whalewire.net.client import connect
from whalewire.net.server import Server, echo_on_message, serve
from whalewire.venues.templates import mask_text_frame
from whalewire.ws import protocol
from whalewire.ws.exceptions import ConnectionClosed
from whalewire.ws.mask import default_key_pool
from whalewire.ws.protocol import BinaryMessage, CloseReceived, Ping, Pong, TextMessage

TIMEOUT = 20
KEY = b"\x37\xfa\x21\x3d"  # RFC 6455 §5.7's example key
UPGRADE = (
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


@pytest.fixture(params=["c", "python"])
def impl(request: pytest.FixtureRequest) -> Iterator[str]:
    """Build the connections with the C reader and sender, then with Python only."""
    if request.param == "c" and protocol._speedups is None:
        pytest.skip("whalewire.ws._speedups is not built")
    old = speedups.use(request.param == "c")
    try:
        yield request.param
    finally:
        speedups.use(old)


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame with a minimal length (RFC 6455 §5.2), framed here."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0xFE, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0xFF, n)
    return head + KEY + bytes(b ^ KEY[i % 4] for i, b in enumerate(payload))


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one unmasked server frame; return (opcode, payload)."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    return b0 & 0x0F, await reader.readexactly(n)


@asynccontextmanager
async def raw_client(**kw: Any) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """Our server with ``kw``, and an upgraded raw connection to it."""
    kw.setdefault("on_message", echo_on_message)
    server: Server = await serve(None, "127.0.0.1", 0, deflate=False, **kw)
    async with server, asyncio.timeout(TIMEOUT):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(UPGRADE)
        await reader.readuntil(b"\r\n\r\n")
        try:
            yield reader, writer
        finally:
            writer.close()


class RecordingWriter:
    """Stands in for a client's transport as ``net.uring.RingTransport`` does: keeps a copy
    of each write and passes it on to the transport."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.written = bytearray()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data
        self._transport.write(data)

    def writelines(self, lines: list[bytes]) -> None:
        self.write(b"".join(lines))

    def events(self) -> list[protocol.Event]:
        """What a server reads from the bytes written so far (ws.protocol, the reference)."""
        conn = protocol.Connection(protocol.Role.SERVER)
        conn.receive_data(bytes(self.written))
        return conn.events_received()


async def test_replies_keep_their_order_around_a_ping_in_the_same_read(impl: str) -> None:
    async with raw_client() as (reader, writer):
        writer.write(client_frame(1, b"a") + client_frame(9, b"p") + client_frame(1, b"b"))
        got = [await read_frame(reader) for _ in range(3)]
    assert got == [(1, b"a"), (10, b"p"), (1, b"b")]


async def test_a_close_in_the_middle_of_a_read_follows_the_replies_before_it(impl: str) -> None:
    async with raw_client() as (reader, writer):
        close = client_frame(8, struct.pack("!H", 1000))
        writer.write(client_frame(1, b"a") + close + client_frame(1, b"b"))
        got = [await read_frame(reader) for _ in range(2)]
        assert await reader.read() == b""  # the server closes TCP first (§7.1.1)
    assert got == [(1, b"a"), (8, struct.pack("!H", 1000))]


async def test_a_failing_callback_is_answered_1011_after_the_replies_before_it(
    impl: str,
) -> None:
    def on_message(ws: Any, message: Any) -> None:
        if message == "boom":
            raise RuntimeError("callback failed")
        ws.send(message)

    async with raw_client(on_message=on_message) as (reader, writer):
        writer.write(client_frame(1, b"a") + client_frame(1, b"boom") + client_frame(1, b"b"))
        got = [await read_frame(reader) for _ in range(2)]
    assert got == [(1, b"a"), (8, struct.pack("!H", 1011))]


async def test_a_stream_of_small_frames_cut_anywhere_comes_back_whole_and_in_order(
    impl: str,
) -> None:
    rng = random.Random(4)
    payloads = [rng.randbytes(rng.choice([0, 1, 10, 100, 125, 126, 300, 2000])) for _ in range(600)]
    stream = b"".join(client_frame(2, p) for p in payloads)
    async with raw_client() as (reader, writer):

        async def send() -> None:
            pos = 0
            while pos < len(stream):
                n = rng.randint(1, 9000)
                writer.write(stream[pos : pos + n])
                await writer.drain()
                pos += n

        sender = asyncio.create_task(send())
        got = [await read_frame(reader) for _ in payloads]
        await sender
    assert got == [(2, p) for p in payloads]


async def test_text_broken_in_a_frame_still_on_its_way_fails_1007(impl: str) -> None:
    # Autobahn 6.4.3: the first part of the frame already holds an invalid sequence.
    bad = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80" + b"x" * 200
    frame = client_frame(1, bad)
    async with raw_client() as (reader, writer):
        writer.write(client_frame(1, b"ok") + frame[:30])
        got = [await read_frame(reader) for _ in range(2)]
    assert got[0] == (1, b"ok")
    assert got[1][0] == 8 and got[1][1][:2] == struct.pack("!H", 1007)


async def test_client_frame_path_round_trip_reads_in_c_when_built(impl: str) -> None:
    server: Server = await serve(None, "127.0.0.1", 0, on_message=echo_on_message, deflate=False)
    async with server, asyncio.timeout(TIMEOUT):
        got: list[tuple[int, bytes]] = []
        parts: list[bytes] = []
        first = [0]
        done = asyncio.get_running_loop().create_future()

        def on_frame(opcode: int, payload: memoryview, fin: bool) -> None:
            # a frame of 64 KiB or more may come in pieces (ws.protocol.STREAM_FROM)
            first[0] = opcode or first[0]
            parts.append(bytes(payload))
            if fin:
                got.append((first[0], b"".join(parts)))
                parts.clear()
            if len(got) == 3 and not done.done():
                done.set_result(None)

        ws = await connect(f"ws://127.0.0.1:{server.port}/", deflate=False, on_frame=on_frame)
        ws.send("Hello")
        ws.send(b"\x00" * 70000)  # a 64-bit length: the Python reader's part
        ws.send(os.urandom(300))
        await done
        await ws.close()
        assert got[0] == (1, b"Hello") and got[1] == (2, b"\x00" * 70000)
        assert len(got[2][1]) == 300
        reader = ws._proto._reader
        assert (reader is not None) == (impl == "c")
        if reader is not None:
            assert reader.reads >= 1


async def test_set_writer_takes_every_write_after_it_in_the_order_written(impl: str) -> None:
    # RFC 6455 §5.4/§5.5: one byte stream; after the switch no message, prebuilt frame,
    # ping, pong (written inside a read) or close may take a direct path past the writer
    got: list[object] = []

    def on_message(ws: Any, message: Any) -> None:
        got.append(message)
        if message == "ping me":
            ws.ping(b"srv")

    server = await serve(None, "127.0.0.1", 0, on_message=on_message, deflate=False)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{server.port}/", deflate=False)
        proto = ws._proto
        transport = proto.transport
        assert transport is not None
        assert proto.socket_fd == transport.get_extra_info("socket").fileno()
        ws.send("before")  # the direct path: one write(2), not the transport
        writer = RecordingWriter(transport)
        proto.set_writer(writer)  # type: ignore[arg-type]  # a transport's stand-in
        assert proto.transport is writer
        assert proto.socket_fd is None
        ws.send("text")
        ws.send(b"bin")
        ws.send_prebuilt(mask_text_frame(b"order", default_key_pool().next_key()))
        ws.ping(b"cli")
        ws.send("ping me")
        while Pong(b"srv") not in writer.events():  # answered inside the read of the ping
            await asyncio.sleep(0.001)
        ws.send("after a read")  # the read re-armed no direct path
        await ws.close()
    assert got == ["before", "text", b"bin", "order", "ping me", "after a read"]
    assert writer.events() == [
        TextMessage("text"),
        BinaryMessage(b"bin"),
        TextMessage("order"),
        Ping(b"cli"),
        TextMessage("ping me"),
        Pong(b"srv"),
        TextMessage("after a read"),
        CloseReceived(1000, ""),
    ]


async def test_set_writer_refuses_a_closed_connection_and_keeps_its_transport(impl: str) -> None:
    server = await serve(None, "127.0.0.1", 0, on_message=echo_on_message, deflate=False)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{server.port}/", deflate=False)
        await ws.close()
        transport = ws._proto.transport
        assert transport is not None
        with pytest.raises(ConnectionClosed) as info:
            ws._proto.set_writer(RecordingWriter(transport))  # type: ignore[arg-type]
        assert info.value.code == 1000
        assert ws._proto.transport is transport

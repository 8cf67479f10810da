"""Back-pressure, socket options and memory over real loopback sockets (net._protocol,
net.sockets): ``drain()`` waits above the write high-water mark and resumes when the peer
reads; TCP_NODELAY is on at both ends; buffer sizes apply; ``SO_BUSY_POLL`` is tried and a
refusal reported; and a burst of large messages leaves the connection's buffers at their
base size."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from whalewire.net._protocol import READ_MIN, READ_SIZE, SHRINK_AFTER, Message, WebSocket
from whalewire.net.client import connect
from whalewire.net.server import echo, serve
from whalewire.net.sockets import SocketOptions
from whalewire.ws.handshake import accept_key

TIMEOUT = 20


@asynccontextmanager
async def stalled_server(start_reading: asyncio.Event) -> AsyncIterator[str]:
    """Answer the upgrade (RFC 6455 §4.2.2), then read nothing until ``start_reading``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_key(key.decode()).encode() + b"\r\n\r\n"
        )
        await start_reading.wait()
        while await reader.read(1 << 20):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


def sockopt(ws: WebSocket, level: int, option: int) -> int:
    transport = ws._proto.transport
    assert transport is not None
    return int(transport.get_extra_info("socket").getsockopt(level, option))


async def test_drain_waits_above_the_high_water_mark_until_the_peer_reads() -> None:
    start_reading = asyncio.Event()
    async with stalled_server(start_reading) as url, asyncio.timeout(TIMEOUT):
        ws = await connect(
            url,
            deflate=False,
            write_limits=(256 * 1024, 64 * 1024),
            socket_options=SocketOptions(sndbuf=64 * 1024),
        )
        transport = ws._proto.transport
        assert transport is not None
        chunk = os.urandom(1 << 20)
        while transport.get_write_buffer_size() <= 256 * 1024:
            ws.send(chunk)
        drained = asyncio.ensure_future(ws.drain())
        for _ in range(10):
            await asyncio.sleep(0)
        assert not drained.done()  # the peer reads nothing: no way below the mark
        start_reading.set()
        await drained
        assert transport.get_write_buffer_size() <= 256 * 1024
        transport.abort()
        await ws.wait_closed()


async def test_tcp_nodelay_is_on_at_both_ends() -> None:
    server_nodelay: list[int] = []

    async def handler(ws: WebSocket) -> None:
        server_nodelay.append(sockopt(ws, socket.IPPROTO_TCP, socket.TCP_NODELAY))

    server = await serve(handler, "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{server.port}/")
        assert sockopt(ws, socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        await ws.wait_closed()
    assert server_nodelay and server_nodelay[0] != 0


async def test_buffer_sizes_apply_to_client_and_accepted_sockets() -> None:
    seen: list[int] = []

    async def handler(ws: WebSocket) -> None:
        seen.append(sockopt(ws, socket.SOL_SOCKET, socket.SO_SNDBUF))

    opts = SocketOptions(sndbuf=96 * 1024, rcvbuf=80 * 1024)
    server = await serve(handler, "127.0.0.1", 0, socket_options=opts)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{server.port}/", socket_options=opts)
        # socket(7): Linux doubles the value set (bookkeeping overhead).
        assert sockopt(ws, socket.SOL_SOCKET, socket.SO_RCVBUF) >= 80 * 1024
        assert sockopt(ws, socket.SOL_SOCKET, socket.SO_SNDBUF) >= 96 * 1024
        await ws.wait_closed()
    assert seen and seen[0] >= 96 * 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_BUSY_POLL is Linux's")
def test_busy_poll_is_set_or_its_refusal_reported() -> None:
    with socket.socket() as sock:
        refused = SocketOptions(busy_poll_us=50).apply(sock)
        if refused:
            assert refused[0].startswith("SO_BUSY_POLL")
        else:
            assert sock.getsockopt(socket.SOL_SOCKET, 46) == 50


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
@pytest.mark.parametrize("fast_path", [False, True], ids=["recv", "on_message"])
async def test_buffers_return_to_base_size_after_a_burst_of_large_messages(
    compress: bool, fast_path: bool
) -> None:
    big = (os.urandom(1024) * 4096) if compress else os.urandom(4 << 20)  # 4 MiB each

    async def burst(ws: WebSocket) -> None:
        async for message in ws:
            if message == "go":
                for _ in range(8):
                    ws.send(big)
                    await ws.drain()
                ws.send("end")
            else:
                ws.send(message)

    queue: asyncio.Queue[Message] = asyncio.Queue()
    read_buffer_sizes: list[int] = []

    def on_message(ws: WebSocket, message: Message) -> None:
        read_buffer_sizes.append(len(ws._proto._buffer))
        queue.put_nowait(message)

    server = await serve(burst, "127.0.0.1", 0, deflate=compress)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(
            f"ws://127.0.0.1:{server.port}/",
            deflate=compress,
            on_message=on_message if fast_path else None,
        )

        async def recv() -> Message:
            if fast_path:
                return await queue.get()
            message = await ws.recv()
            read_buffer_sizes.append(len(ws._proto._buffer))
            return message

        conn = ws._proto.conn
        assert conn is not None
        ws.send("small")  # first use sets up the inflater: base state, not burst residue
        assert await recv() == "small"
        assert len(ws._proto._buffer) == READ_MIN
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            ws.send("go")
            while await recv() != "end":
                pass
            peak = tracemalloc.get_traced_memory()[1]
            # The read buffer grew for the burst, bounded by READ_SIZE...
            assert READ_MIN < max(read_buffer_sizes) <= READ_SIZE
            # ...and small messages bring it back to its base size.
            for _ in range(SHRINK_AFTER * 5):
                ws.send("small")
                assert await recv() == "small"
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert len(ws._proto._buffer) == READ_MIN
        assert peak - before >= 4 << 20  # the burst really went through this process
        assert after - before < 64 * 1024  # ...and left nothing of it behind
        assert sys.getsizeof(conn._buf) < 1024  # no partial frame kept
        await ws.close()


async def test_echo_under_back_pressure_keeps_every_message() -> None:
    server = await serve(echo, "127.0.0.1", 0, write_limits=(16 * 1024, 4 * 1024))
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{server.port}/", write_limits=(16 * 1024, 4 * 1024))
        payloads = [os.urandom(100_000) for _ in range(20)]
        for p in payloads:
            ws.send(p)
            await ws.drain()
        assert [await ws.recv() for _ in payloads] == payloads
        await ws.close()


async def test_raw_frame_path_hands_out_each_data_frame_in_order() -> None:
    frames: list[tuple[int, bytes, bool]] = []
    done = asyncio.Event()

    async def fragments(ws: WebSocket) -> None:
        # RFC 6455 §5.4: a fragmented text message, then a whole binary one
        transport = ws._proto.transport
        assert transport is not None
        transport.write(b"\x01\x03abc" + b"\x80\x02de" + b"\x82\x01\xff")
        await ws.wait_closed()

    def on_frame(opcode: int, payload: memoryview, fin: bool) -> None:
        frames.append((opcode, bytes(payload), fin))  # the view is valid only now
        if len(frames) == 3:
            done.set()

    server = await serve(fragments, "127.0.0.1", 0, deflate=False)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{server.port}/", on_frame=on_frame, deflate=False)
        await done.wait()
        assert frames == [(1, b"abc", False), (0, b"de", True), (2, b"\xff", True)]
        await ws.close()

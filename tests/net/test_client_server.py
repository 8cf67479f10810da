"""Our client and server over real loopback sockets (RFC 6455 §4 and §7 as the transport sees
them): both receive paths, compression, HTTP refusals, bytes pipelined behind the handshake,
protocol errors and handler failures turned into close codes, the closing-handshake timer,
and the same round trip under uvloop."""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from whalewire.net import Limits, Message, WebSocket
from whalewire.net.client import connect
from whalewire.net.server import Server, echo, echo_on_message, serve
from whalewire.ws.exceptions import ConnectionClosed, InvalidStatus
from whalewire.ws.handshake import accept_key

TIMEOUT = 20


@asynccontextmanager
async def echo_server(**kw: object) -> AsyncIterator[str]:
    handler = None if "on_message" in kw else echo
    # kw are serve()'s keyword options; typing them all here would only repeat serve().
    server: Server = await serve(handler, "127.0.0.1", 0, **kw)  # type: ignore[arg-type]
    async with server:
        yield f"ws://127.0.0.1:{server.port}/"


@pytest.mark.parametrize("fast_path", [False, True], ids=["handler", "on_message"])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
async def test_messages_round_trip_between_our_client_and_server(
    fast_path: bool, compress: bool
) -> None:
    if fast_path:
        server = await serve(None, "127.0.0.1", 0, on_message=echo_on_message, deflate=compress)
    else:
        server = await serve(echo, "127.0.0.1", 0, deflate=compress)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{server.port}/x?y=1", deflate=compress)
        assert (ws.deflate is not None) == compress
        for message in ["hi", b"\x00\xff", "", b"", os.urandom(300_000), "ü" * 70_000]:
            ws.send(message)
            assert await ws.recv() == message
        await ws.close()
        assert ws.close_code == 1000


async def test_client_on_message_runs_inside_the_read() -> None:
    got: list[Message] = []
    done = asyncio.Event()

    def on_message(ws: WebSocket, message: Message) -> None:
        got.append(message)
        if len(got) == 3:
            done.set()

    async with echo_server() as url, asyncio.timeout(TIMEOUT):
        ws = await connect(url, on_message=on_message)
        for message in ["a", b"b", "c"]:
            ws.send(message)
        await done.wait()
        assert got == ["a", b"b", "c"]
        await ws.close()


async def test_server_path_and_headers_reach_the_handler() -> None:
    seen: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()

    async def handler(ws: WebSocket) -> None:
        seen.put_nowait((ws.path, ws.headers.get("X-Trader")))

    server = await serve(handler, "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(
            f"ws://127.0.0.1:{server.port}/feed?s=btc", extra_headers=[("X-Trader", "ahab")]
        )
        assert await seen.get() == ("/feed?s=btc", "ahab")
        with pytest.raises(ConnectionClosed) as exc:
            await ws.recv()  # the handler returned: the server closes with 1000
        assert exc.value.code == 1000


async def test_handler_exception_closes_with_1011() -> None:
    async def handler(ws: WebSocket) -> None:
        raise RuntimeError("boom")

    server = await serve(handler, "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{server.port}/")
        await ws.wait_closed()
        assert ws.close_code == 1011
        assert ws.close_reason == ""


async def test_subprotocol_is_negotiated() -> None:
    async with echo_server(subprotocols=["v2", "v1"]) as url, asyncio.timeout(TIMEOUT):
        ws = await connect(url, subprotocols=["v1", "v2"])
        assert ws.subprotocol == "v2"
        await ws.close()


async def test_process_request_answers_with_http_status() -> None:
    def refuse(request: object) -> tuple[int, list[tuple[str, str]], bytes]:
        return 403, [], b"not for you"

    async with echo_server(process_request=refuse) as url, asyncio.timeout(TIMEOUT):
        with pytest.raises(InvalidStatus) as exc:
            await connect(url)
        assert (exc.value.status, exc.value.body) == (403, b"not for you")


async def test_client_reports_status_and_body_of_a_plain_http_server() -> None:
    app = web.Application()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with asyncio.timeout(TIMEOUT):
            with pytest.raises(InvalidStatus) as exc:
                await connect(f"ws://127.0.0.1:{runner.addresses[0][1]}/nothing")
        assert exc.value.status == 404
        assert b"404" in exc.value.body
    finally:
        await runner.cleanup()


async def raw_exchange(port: int, data: bytes, until: bytes) -> bytes:
    """Send raw bytes, read until ``until`` appears or the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    got = b""
    try:
        while until not in got:
            chunk = await reader.read(65536)
            if not chunk:
                break
            got += chunk
    finally:
        writer.close()
    return got


KEY = "dGhlIHNhbXBsZSBub25jZQ=="
UPGRADE = (
    f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()


def masked(opcode: int, payload: bytes, key: bytes = b"\x01\x02\x03\x04") -> bytes:
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + body


async def test_server_answers_bad_request_with_http_error_and_closes() -> None:
    async with echo_server() as url, asyncio.timeout(TIMEOUT):
        port = int(url.rsplit(":", 1)[1].strip("/"))
        got = await raw_exchange(port, UPGRADE.replace(b"13", b"8"), b"\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
        assert b"\r\nSec-WebSocket-Version: 13\r\n" in got


async def test_frames_pipelined_behind_the_request_are_processed() -> None:
    # on_message: the echo is sent inside the read, ahead of the answer to the close.
    async with echo_server(on_message=echo_on_message) as url, asyncio.timeout(TIMEOUT):
        port = int(url.rsplit(":", 1)[1].strip("/"))
        close = masked(0x8, struct.pack("!H", 1000))
        got = await raw_exchange(port, UPGRADE + masked(0x1, b"early") + close, b"\x88\x02")
        head, _, frames = got.partition(b"\r\n\r\n")
        assert f"Sec-WebSocket-Accept: {accept_key(KEY)}".encode() in head
        assert frames.startswith(b"\x81\x05early")


async def test_unmasked_client_frame_closes_with_1002() -> None:
    async with echo_server() as url, asyncio.timeout(TIMEOUT):
        port = int(url.rsplit(":", 1)[1].strip("/"))
        got = await raw_exchange(port, UPGRADE + b"\x81\x02hi", b"\x03\xea")
        frames = got.partition(b"\r\n\r\n")[2]
        assert frames[:4] == b"\x88" + bytes([len(frames) - 2]) + b"\x03\xea"  # 1002


async def test_client_aborts_when_server_never_closes_tcp() -> None:
    # A server that answers the handshake and the close frame but keeps TCP open.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b": ")[1].decode()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept_key(key).encode()
            + b"\r\n\r\n"
        )
        await reader.readexactly(2 + 4 + 2)  # the client's masked close frame
        writer.write(b"\x88\x02\x03\xe8")
        await reader.read()  # until the client gives up
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{port}/", limits=Limits(close_timeout=0.2))
        await ws.close()
        assert ws.closed
        assert ws.close_code == 1000


def test_round_trip_under_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> Message:
        async with echo_server(deflate=True) as url:
            ws = await connect(url)
            ws.send("under uvloop")
            reply = await ws.recv()
            await ws.close()
            return reply

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(main()) == "under uvloop"


@pytest.mark.parametrize("fast_path", [False, True], ids=["handler", "on_message"])
async def test_server_close_says_going_away_1001_to_open_connections(fast_path: bool) -> None:
    if fast_path:
        server = await serve(None, "127.0.0.1", 0, on_message=echo_on_message)
    else:
        server = await serve(echo, "127.0.0.1", 0)
    async with asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{server.port}/")
        ws.send("still here")
        assert await ws.recv() == "still here"
        server.close()
        await server.wait_closed()
        await ws.wait_closed()
        assert ws.close_code == 1001


async def test_masked_frame_from_server_fails_client_with_1002() -> None:
    # RFC 6455 §5.1: a client fails the connection on a masked frame from the server.
    async def bad_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b": ")[1].decode()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept_key(key).encode()
            + b"\r\n\r\n"
            + masked(0x1, b"masked!")
        )
        head = await reader.readexactly(2)
        assert head[0] == 0x88  # a close frame, FIN set
        rest = await reader.readexactly(4 + (head[1] & 0x7F))
        key4 = rest[:4]
        body = bytes(b ^ key4[i % 4] for i, b in enumerate(rest[4:]))
        writer.write(b"\x88\x02" + body[:2])
        received.put_nowait(int.from_bytes(body[:2], "big"))
        await reader.read()
        writer.close()

    received: asyncio.Queue[int] = asyncio.Queue()
    server = await asyncio.start_server(bad_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{port}/")
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert await received.get() == 1002


async def test_unread_messages_pause_reading_and_all_arrive_in_order() -> None:
    async def flood(ws: WebSocket) -> None:
        for i in range(2000):
            ws.send(f"{i:05d}" * 20)
            await ws.drain()

    server = await serve(flood, "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{server.port}/", limits=Limits(max_queue=8))
        got = [await ws.recv() for _ in range(2000)]
        assert got == [f"{i:05d}" * 20 for i in range(2000)]
        await ws.wait_closed()
        assert ws.close_code == 1000


async def test_round_trip_over_ipv6_loopback() -> None:
    try:
        server = await serve(echo, "::1", 0)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://[::1]:{server.port}/")  # Host: [::1]:port
        ws.send("v6")
        assert await ws.recv() == "v6"
        await ws.close()

"""Each way ``connect`` can fail gives its own error (net.errors), on real loopback sockets:
an unresolvable name (RFC 6761 §6.4: ``.invalid`` never resolves), a refused port, a TLS
failure, an HTTP status on the upgrade with the response body, a bad
``Sec-WebSocket-Accept`` (RFC 6455 §4.1, client step 4), and a timeout naming its stage."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from whalewire.net.client import connect
from whalewire.net.errors import ConnectFailed, DNSFailure, OpenTimeout, Refused, TLSFailure
from whalewire.ws.exceptions import InvalidHeader, InvalidStatus

TIMEOUT = 20

Handle = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handle: Handle) -> AsyncIterator[int]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unresolvable_name_is_a_dns_failure() -> None:
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(DNSFailure) as info:
            await connect("ws://nonexistent.invalid/")
    assert info.value.host == "nonexistent.invalid"
    assert "name resolution failed" in str(info.value)


async def test_closed_port_is_refused() -> None:
    port = free_port()
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(Refused) as info:
            await connect(f"ws://127.0.0.1:{port}/")
    assert (info.value.host, info.value.port) == ("127.0.0.1", port)
    assert isinstance(info.value, ConnectionError)


async def test_plain_server_behind_wss_is_a_tls_failure() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        writer.close()

    async with raw_server(handle) as port, asyncio.timeout(TIMEOUT):
        with pytest.raises(TLSFailure):
            await connect(f"wss://127.0.0.1:{port}/")


async def test_http_status_on_upgrade_carries_the_body() -> None:
    body = b'{"code":-1003,"msg":"Too many requests"}'

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        await writer.drain()
        writer.close()

    async with raw_server(handle) as port, asyncio.timeout(TIMEOUT):
        with pytest.raises(InvalidStatus) as info:
            await connect(f"ws://127.0.0.1:{port}/")
    assert info.value.status == 429
    assert info.value.body == body
    assert "Too many requests" in str(info.value)


async def test_bad_accept_key_is_refused() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        # RFC 6455 §1.3's example accept value, for a key this client did not send
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        )
        await reader.read()

    async with raw_server(handle) as port, asyncio.timeout(TIMEOUT):
        with pytest.raises(InvalidHeader) as info:
            await connect(f"ws://127.0.0.1:{port}/")
    assert "accept" in str(info.value).lower()


@pytest.mark.parametrize(
    ("scheme", "stage"), [("ws", "upgrade"), ("wss", "tls handshake")], ids=["upgrade", "tls"]
)
async def test_silent_server_times_out_naming_the_stage(scheme: str, stage: str) -> None:
    release = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()  # accept TCP, then say nothing
        writer.close()

    async with raw_server(handle) as port, asyncio.timeout(TIMEOUT):
        with pytest.raises(OpenTimeout) as info:
            await connect(f"{scheme}://127.0.0.1:{port}/", open_timeout=0.2)
        release.set()
    assert info.value.stage == stage
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, ConnectFailed)
    assert stage in str(info.value)


async def test_tls_options_on_a_ws_url_are_a_usage_error() -> None:
    with pytest.raises(ValueError, match="wss://"):
        await connect("ws://127.0.0.1:1/", pins=["A" * 43 + "="])


@pytest.mark.parametrize(
    "length",
    [b"\xb2", b"1" * 5000, b"99999999999999999999", b"-5"],
    ids=["superscript-two", "5000-digits", "20-digits", "negative"],
)
async def test_invalid_content_length_on_a_refusal_reports_the_status(length: bytes) -> None:
    # issue 21 item 4: this raised ValueError inside buffer_updated (a fatal loop error) and
    # connect() said "connection closed during the opening handshake"
    loop_errors: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: " + length + b"\r\n\r\nno")
        await writer.drain()
        await reader.read()  # the client closes
        writer.close()

    async with raw_server(handle) as port, asyncio.timeout(TIMEOUT):
        with pytest.raises(InvalidStatus) as info:
            await connect(f"ws://127.0.0.1:{port}/")
    assert (info.value.status, info.value.reason) == (403, "Forbidden")
    assert isinstance(info.value.__cause__, InvalidHeader)
    assert info.value.__cause__.name == "Content-Length"
    assert loop_errors == []

"""Tunnels through proxies started here on loopback (net.proxy): HTTP CONNECT (RFC 9110
§9.3.6) with Basic credentials, and SOCKS5 (RFC 1928) with user/password (RFC 1929); ws://
and wss:// through each, the target name passed unresolved, and refusals as
``ProxyFailure``. The proxies are minimal test implementations written for these tests."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import ssl
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
import trustme

from whalewire.net.client import connect
from whalewire.net.errors import ProxyFailure
from whalewire.net.server import echo, serve

TIMEOUT = 20


@dataclass
class Seen:
    """What a test proxy was asked for."""

    targets: list[tuple[str, int]] = field(default_factory=list)
    credentials: list[str] = field(default_factory=list)


async def relay(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int
) -> None:
    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except ConnectionError:
            pass
        finally:
            dst.close()

    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@asynccontextmanager
async def http_proxy(
    seen: Seen, *, refuse: bytes | None = None, user: str | None = None
) -> AsyncIterator[int]:
    """CONNECT host:port → 200 and relay (every name is served from 127.0.0.1)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, authority, _ = head[0].split(" ")
        auth = [h.split(":", 1)[1].strip() for h in head if h.lower().startswith("proxy-auth")]
        seen.credentials.extend(auth)
        host, _, port = authority.rpartition(":")
        seen.targets.append((host, int(port)))
        expected = "Basic " + base64.b64encode(f"{user}:pw".encode()).decode() if user else None
        if refuse is not None or method != "CONNECT" or (user and auth != [expected]):
            writer.write(refuse or b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await relay(reader, writer, host, int(port))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


@asynccontextmanager
async def socks5_proxy(
    seen: Seen, *, reply: int = 0, user: str | None = None
) -> AsyncIterator[int]:
    """RFC 1928 CONNECT, no auth or RFC 1929 user/password; ``reply`` != 0 refuses."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if user is not None:
            if 2 not in methods:
                writer.write(b"\x05\xff")
                writer.close()
                return
            writer.write(b"\x05\x02")
            _, ulen = await reader.readexactly(2)
            name = (await reader.readexactly(ulen)).decode()
            (plen,) = await reader.readexactly(1)
            password = (await reader.readexactly(plen)).decode()
            seen.credentials.append(f"{name}:{password}")
            ok = name == user and password == "pw"
            writer.write(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                writer.close()
                return
        else:
            writer.write(b"\x05\x00")
        _, cmd, _, atyp = await reader.readexactly(4)
        if atyp == 3:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode()
        else:
            host = str(ipaddress.ip_address(await reader.readexactly(4 if atyp == 1 else 16)))
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        seen.targets.append((host, port))
        # BND.ADDR as an IPv4 address, as most proxies answer
        writer.write(bytes([5, reply if cmd == 1 else 7, 0, 1]) + bytes(4) + b"\x00\x00")
        if reply != 0 or cmd != 1:
            writer.close()
            return
        await relay(reader, writer, host, port)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


@asynccontextmanager
async def echo_servers() -> AsyncIterator[tuple[int, int, ssl.SSLContext]]:
    """A ws:// and a wss:// echo server; the client context trusts the wss one's CA."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("ws.example", "127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    plain = await serve(echo, "127.0.0.1", 0)
    secure = await serve(echo, "127.0.0.1", 0, ssl=server_ctx)
    async with plain, secure:
        yield plain.port, secure.port, client_ctx


async def round_trip(url: str, **kw: object) -> None:
    ws = await connect(url, **kw)  # type: ignore[arg-type]  # connect's keyword options
    ws.send("through the tunnel")
    assert await ws.recv() == "through the tunnel"
    await ws.close()


@pytest.mark.parametrize("kind", ["http", "socks5"])
async def test_ws_and_wss_through_a_proxy_with_the_name_unresolved(kind: str) -> None:
    seen = Seen()
    proxy_cm = http_proxy(seen) if kind == "http" else socks5_proxy(seen)
    async with echo_servers() as (plain, secure, ctx), proxy_cm as proxy_port:
        async with asyncio.timeout(TIMEOUT):
            proxy = f"{kind}://127.0.0.1:{proxy_port}"
            await round_trip(f"ws://ws.example:{plain}/", proxy=proxy)
            # TLS runs end to end through the tunnel: SNI and verification for ws.example
            await round_trip(f"wss://ws.example:{secure}/", proxy=proxy, ssl=ctx)
    assert seen.targets == [("ws.example", plain), ("ws.example", secure)]


async def test_http_proxy_gets_basic_credentials() -> None:
    seen = Seen()
    async with echo_servers() as (plain, _, _), http_proxy(seen, user="trader") as port:
        async with asyncio.timeout(TIMEOUT):
            await round_trip(f"ws://127.0.0.1:{plain}/", proxy=f"http://trader:pw@127.0.0.1:{port}")
            with pytest.raises(ProxyFailure, match="407"):
                await connect(
                    f"ws://127.0.0.1:{plain}/", proxy=f"http://trader:no@127.0.0.1:{port}"
                )
    assert seen.credentials[0] == "Basic " + base64.b64encode(b"trader:pw").decode()


async def test_socks5_proxy_gets_user_and_password() -> None:
    seen = Seen()
    async with echo_servers() as (plain, _, _), socks5_proxy(seen, user="trader") as port:
        async with asyncio.timeout(TIMEOUT):
            await round_trip(
                f"ws://127.0.0.1:{plain}/", proxy=f"socks5://trader:pw@127.0.0.1:{port}"
            )
            with pytest.raises(ProxyFailure, match="user/password refused"):
                await connect(
                    f"ws://127.0.0.1:{plain}/", proxy=f"socks5://trader:no@127.0.0.1:{port}"
                )
            with pytest.raises(ProxyFailure, match="none of our methods"):
                await connect(f"ws://127.0.0.1:{plain}/", proxy=f"socks5://127.0.0.1:{port}")
    assert seen.credentials[0] == "trader:pw"
    assert seen.targets == [("127.0.0.1", plain)]  # an IP literal goes as an IPv4 address


async def test_http_proxy_refusal_names_the_status() -> None:
    async with http_proxy(Seen(), refuse=b"HTTP/1.1 403 Forbidden\r\n\r\n") as port:
        async with asyncio.timeout(TIMEOUT):
            with pytest.raises(ProxyFailure, match="403 Forbidden") as info:
                await connect("ws://exchange.example/", proxy=f"http://127.0.0.1:{port}")
    assert info.value.port == port


@pytest.mark.parametrize("status", ["2\xb20".encode("latin-1"), b"2" * 5000, b"20", b"+20"])
async def test_http_proxy_status_not_three_ascii_digits_is_not_an_http_answer(
    status: bytes,
) -> None:
    # "\xb2" passed isdigit() and 5,000 digits made int() raise ValueError
    answer = b"HTTP/1.1 " + status + b" OK\r\n\r\n"
    async with http_proxy(Seen(), refuse=answer) as port, asyncio.timeout(TIMEOUT):
        with pytest.raises(ProxyFailure, match="not an HTTP answer"):
            await connect("ws://exchange.example/", proxy=f"http://127.0.0.1:{port}")


async def test_socks5_refusal_names_the_reply() -> None:
    async with socks5_proxy(Seen(), reply=5) as port, asyncio.timeout(TIMEOUT):
        with pytest.raises(ProxyFailure, match="connection refused"):
            await connect("ws://exchange.example/", proxy=f"socks5://127.0.0.1:{port}")

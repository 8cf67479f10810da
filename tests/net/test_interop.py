"""Interop over real loopback sockets: our client against websockets and aiohttp servers, and
websockets and aiohttp clients against our server; with and without permessage-deflate;
text, binary, large and fragmented messages; close codes as each side observes them."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed as PeerClosed

from whalewire.net import WebSocket
from whalewire.net.client import connect
from whalewire.net.server import Server, serve

LARGE = os.urandom(1 << 20)
TEXT = "whale → exchange ✓ " * 100
TIMEOUT = 20

#: messages every test echoes: text, binary, empty of both kinds, large binary, large text
MESSAGES: list[str | bytes] = ["hello", b"\x00\x01\xff", "", b"", LARGE, TEXT * 500]


# -- peer servers: echo, plus "fragments:N" (send TEXT in N fragments) and "close:CODE" --


async def websockets_handler(ws: ServerConnection) -> None:
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith("fragments:"):
                n = int(message.split(":")[1])
                await ws.send([TEXT[i::n] for i in range(n)])
            elif isinstance(message, str) and message.startswith("close:"):
                await ws.close(int(message.split(":")[1]), "peer closes")
            else:
                await ws.send(message)
    except PeerClosed:
        pass


@asynccontextmanager
async def websockets_server(compress: bool) -> AsyncIterator[str]:
    async with ws_serve(
        websockets_handler,
        "127.0.0.1",
        0,
        compression="deflate" if compress else None,
        max_size=None,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/"


@asynccontextmanager
async def aiohttp_server(compress: bool) -> AsyncIterator[str]:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=compress, max_msg_size=0)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT and msg.data.startswith("close:"):
                await ws.close(code=int(msg.data.split(":")[1]), message=b"peer closes")
            elif msg.type == aiohttp.WSMsgType.TEXT and msg.data.startswith("fragments:"):
                # aiohttp cannot send fragments; answer with the whole text instead.
                await ws.send_str("".join(TEXT[i::3] for i in range(3)))
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"ws://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


PEER_SERVERS = {"websockets": websockets_server, "aiohttp": aiohttp_server}


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
@pytest.mark.parametrize("peer", list(PEER_SERVERS))
async def test_our_client_against_peer_server(peer: str, compress: bool) -> None:
    async with PEER_SERVERS[peer](compress) as url, asyncio.timeout(TIMEOUT):
        ws = await connect(url, deflate=compress)
        assert (ws.deflate is not None) == compress
        for message in MESSAGES:
            ws.send(message)
            assert await ws.recv() == message
        ws.send("fragments:3")
        assert await ws.recv() == "".join(TEXT[i::3] for i in range(3))
        await ws.close(4001, "bye")
        assert ws.closed


@pytest.mark.parametrize("peer", list(PEER_SERVERS))
async def test_peer_server_close_code_reaches_our_client(peer: str) -> None:
    async with PEER_SERVERS[peer](False) as url, asyncio.timeout(TIMEOUT):
        ws = await connect(url)
        ws.send("close:4002")
        await ws.wait_closed()
        assert ws.close_code == 4002
        assert ws.close_reason == "peer closes"


# -- our server: echo, "close:CODE" closes with CODE; records the close code it saw --


@asynccontextmanager
async def our_server(compress: bool) -> AsyncIterator[tuple[str, asyncio.Queue[int | None]]]:
    seen: asyncio.Queue[int | None] = asyncio.Queue()

    async def handler(ws: WebSocket) -> None:
        async for message in ws:
            if isinstance(message, str) and message.startswith("close:"):
                await ws.close(int(message.split(":")[1]), "we close")
                break
            ws.send(message)
        await ws.wait_closed()
        seen.put_nowait(ws.close_code)

    server: Server = await serve(handler, "127.0.0.1", 0, deflate=compress)
    async with server:
        yield f"ws://127.0.0.1:{server.port}/", seen


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
async def test_websockets_client_against_our_server(compress: bool) -> None:
    async with our_server(compress) as (url, seen), asyncio.timeout(TIMEOUT):
        async with ws_connect(
            url, compression="deflate" if compress else None, max_size=None
        ) as ws:
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions")
            assert (extensions is not None) == compress
            for message in MESSAGES:
                await ws.send(message)
                assert await ws.recv() == message
            # a fragmented message from the peer reaches us whole and comes back whole
            await ws.send([TEXT[i::4] for i in range(4)])
            assert await ws.recv() == "".join(TEXT[i::4] for i in range(4))
            await ws.close(4005, "client done")
        assert await seen.get() == 4005


async def test_our_server_close_code_reaches_websockets_client() -> None:
    async with our_server(False) as (url, _), asyncio.timeout(TIMEOUT):
        async with ws_connect(url) as ws:
            await ws.send("close:4006")
            with pytest.raises(PeerClosed) as exc:
                await ws.recv()
        assert exc.value.rcvd is not None
        assert (exc.value.rcvd.code, exc.value.rcvd.reason) == (4006, "we close")


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
async def test_aiohttp_client_against_our_server(compress: bool) -> None:
    async with our_server(compress) as (url, seen), asyncio.timeout(TIMEOUT):
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, compress=15 if compress else 0, max_msg_size=0) as ws,
        ):
            assert bool(ws.compress) == compress
            for message in MESSAGES:
                if isinstance(message, str):
                    await ws.send_str(message)
                else:
                    await ws.send_bytes(message)
                assert (await ws.receive()).data == message
            await ws.close(code=4007, message=b"aiohttp done")
        assert await seen.get() == 4007


async def test_our_server_close_code_reaches_aiohttp_client() -> None:
    async with (
        our_server(False) as (url, _),
        asyncio.timeout(TIMEOUT),
        aiohttp.ClientSession() as session,
        session.ws_connect(url) as ws,
    ):
        await ws.send_str("close:4008")
        msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (4008, "we close")

"""Interop with picows (frame-level peer, no permessage-deflate) over real loopback sockets:
our client against a picows echo server, a picows client against our server; text, binary,
large and fragmented messages; close codes as each side observes them."""

from __future__ import annotations

import asyncio
import os

import pytest

picows = pytest.importorskip("picows")

from whalewire.net import WebSocket  # noqa: E402
from whalewire.net.client import connect  # noqa: E402
from whalewire.net.server import serve  # noqa: E402

TIMEOUT = 20
LARGE = os.urandom(3 << 20)
MESSAGES: list[str | bytes] = ["hello", b"\x00\xff", "", b"", LARGE, "ж" * 100_000]


class EchoListener(picows.WSListener):
    """A picows server: echo every frame as it is (fragments too); "close:N" closes with N."""

    def on_ws_frame(self, t: picows.WSTransport, f: picows.WSFrame) -> None:
        if f.msg_type == picows.WSMsgType.CLOSE:
            t.send_close(f.get_close_code(), f.get_close_message())
            t.disconnect()
            return
        if f.msg_type == picows.WSMsgType.PING:
            return
        payload = f.get_payload_as_bytes()
        if payload.startswith(b"close:"):
            t.send_close(int(payload[6:]), b"picows closes")
            t.disconnect()
            return
        t.send(f.msg_type, payload, f.fin)


async def test_our_client_against_picows_server() -> None:
    server = await picows.ws_create_server(lambda request: EchoListener(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{port}/")
        assert ws.deflate is None  # picows declines the offer
        for message in MESSAGES:
            ws.send(message)
            assert await ws.recv() == message
        await ws.close(4001, "bye")
        assert ws.close_code == 4001  # picows echoes our close code


async def test_picows_server_close_code_reaches_our_client() -> None:
    server = await picows.ws_create_server(lambda request: EchoListener(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{port}/")
        ws.send("close:4002")
        await ws.wait_closed()
        assert (ws.close_code, ws.close_reason) == (4002, "picows closes")


class ClientListener(picows.WSListener):
    """A picows client that collects whole messages and the server's close frame."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[tuple[object, bytes]] = asyncio.Queue()
        self.parts: list[bytes] = []
        self.kind: object = None

    def on_ws_frame(self, transport: picows.WSTransport, f: picows.WSFrame) -> None:
        kind = f.msg_type
        if kind in (picows.WSMsgType.PING, picows.WSMsgType.PONG):
            return
        if kind == picows.WSMsgType.CLOSE:
            self.messages.put_nowait((kind, f.get_payload_as_bytes()))
            return
        if kind != picows.WSMsgType.CONTINUATION:
            self.kind = kind
        self.parts.append(f.get_payload_as_bytes())
        if f.fin:
            self.messages.put_nowait((self.kind, b"".join(self.parts)))
            self.parts = []


async def test_picows_client_against_our_server() -> None:
    seen: asyncio.Queue[int | None] = asyncio.Queue()

    async def handler(ws: WebSocket) -> None:
        async for message in ws:
            if message == "close:4003":
                await ws.close(4003, "we close")
                break
            ws.send(message)
        await ws.wait_closed()
        seen.put_nowait(ws.close_code)

    server = await serve(handler, "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):
        url = f"ws://127.0.0.1:{server.port}/"
        transport, listener = await picows.ws_connect(ClientListener, url)
        text, binary = picows.WSMsgType.TEXT, picows.WSMsgType.BINARY
        for message in MESSAGES:
            kind = text if isinstance(message, str) else binary
            data = message.encode() if isinstance(message, str) else message
            transport.send(kind, data)
            assert await listener.messages.get() == (kind, data)
        # a message in three fragments comes back whole
        transport.send(text, b"frag", fin=False)
        transport.send(picows.WSMsgType.CONTINUATION, b"men", fin=False)
        transport.send(picows.WSMsgType.CONTINUATION, b"ted", fin=True)
        assert await listener.messages.get() == (text, b"fragmented")
        transport.send_close(4004, b"picows done")
        kind, payload = await listener.messages.get()
        assert kind == picows.WSMsgType.CLOSE
        assert payload[:2] == (4004).to_bytes(2, "big")  # our server echoes the code
        assert await seen.get() == 4004
        transport.disconnect()

        transport, listener = await picows.ws_connect(ClientListener, url)
        transport.send(text, b"close:4003")
        kind, payload = await listener.messages.get()
        assert (kind, payload) == (picows.WSMsgType.CLOSE, (4003).to_bytes(2, "big") + b"we close")
        transport.disconnect()

"""The emulator's ping/pong rule, over loopback with a hand-driven client.

Binance ``web-socket-api.md``, "General API Information": "The websocket server will send a
ping frame every 20 seconds. If the websocket server does not receive a pong frame back from
the connection within a minute the connection will be disconnected. When you receive a
ping, you must send a pong with a copy of ping's payload as soon as possible. Unsolicited
pong frames are allowed, but will not prevent disconnection."

The emulator counts a pong only when it copies one of its pings' payloads (an answer to a
later ping answers the earlier ones, RFC 6455 §5.5.3) and drops the connection with 1008
once the oldest unanswered ping is ``pong_timeout`` old. Unsolicited pongs (the venue
clients' warm-up heartbeat) are taken and counted, and answer nothing.

The client is a raw TCP socket after a hand-made RFC 6455 handshake (the §1.3 example key,
whose accept value the RFC gives), so each test decides exactly which pongs go back. The
intervals are shortened (``ping_interval``, ``pong_timeout``); the tests wait on frames
and counts, never on the clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
from typing import Any

import pytest
import websockets

from whalewire.emulator.binance.exchange import BinanceConfig
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.net.client import connect

TIMEOUT = 10.0
# RFC 6455 §1.3: the example Sec-WebSocket-Key and the Sec-WebSocket-Accept it yields
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


class RawClient:
    """A WebSocket client whose only automatic behaviour is what a test asks for."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        #: payloads of the pings received, in order
        self.pings: list[bytes] = []

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                "GET /ws-api/v3 HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {RFC_KEY}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        assert head.startswith("HTTP/1.1 101"), head
        headers = dict(
            (name.strip().lower(), value.strip())
            for name, value in (line.split(":", 1) for line in head.split("\r\n")[1:] if line)
        )
        assert headers["sec-websocket-accept"] == RFC_ACCEPT
        return cls(reader, writer)

    def send(self, opcode: int, payload: bytes) -> None:
        # RFC 6455 §5.2/§5.3: FIN, opcode, MASK bit, length, 4-byte key, masked payload
        key = os.urandom(4)
        masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        assert len(payload) < 126
        self.writer.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + key + masked)

    async def frame(self) -> tuple[int, bytes]:
        """Read one server frame (unmasked, RFC 6455 §5.1); pings are also recorded."""
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        payload = await self.reader.readexactly(length)
        opcode = first & 0x0F
        if opcode == PING:
            self.pings.append(payload)
        return opcode, payload

    async def closed_by_server(self) -> int:
        """Read until the server's close frame, answer it, and return its code."""
        while True:
            opcode, payload = await self.frame()
            if opcode == CLOSE:
                self.send(CLOSE, payload[:2])
                (code,) = struct.unpack("!H", payload[:2])
                # the server then ends the TCP connection (RFC 6455 §7.1.1)
                assert await self.reader.read() == b""
                return code

    def close(self) -> None:
        self.writer.close()


async def start(ping_interval: float, pong_timeout: float | None) -> BinanceEmulator:
    emulator = BinanceEmulator(
        BinanceConfig(book_levels=0), ping_interval=ping_interval, pong_timeout=pong_timeout
    )
    await emulator.start()
    return emulator


async def test_client_that_never_answers_pings_is_disconnected_after_pong_timeout() -> None:
    emulator = await start(ping_interval=0.05, pong_timeout=0.3)
    client = await RawClient.connect(emulator.port)
    try:
        async with asyncio.timeout(TIMEOUT):
            code = await client.closed_by_server()
        assert code == 1008
        assert client.pings and all(client.pings)  # pings carry a payload to copy
        assert len(set(client.pings)) == len(client.pings)
        assert emulator.pong_timeouts == 1
        async with asyncio.timeout(TIMEOUT):
            while emulator.exchange.sessions:
                await asyncio.sleep(0.01)
    finally:
        client.close()
        await emulator.close()


async def test_unsolicited_pongs_do_not_prevent_disconnection() -> None:
    emulator = await start(ping_interval=0.05, pong_timeout=0.3)
    client = await RawClient.connect(emulator.port)
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                opcode, payload = await client.frame()
                if opcode == CLOSE:
                    (code,) = struct.unpack("!H", payload[:2])
                    break
                if opcode == PING:
                    # "It is recommended that the payload for these pong frames are empty."
                    client.send(PONG, b"")
                    client.send(PONG, b"not a ping payload")
        assert code == 1008
        assert emulator.pong_timeouts == 1
        assert emulator.unsolicited_pongs >= 2  # taken and counted, never as an answer
    finally:
        client.close()
        await emulator.close()


async def test_unsolicited_empty_pongs_between_requests_are_taken_and_the_client_served() -> None:
    # the venue clients' warm-up heartbeat (RFC 6455 §5.5.3): many empty pongs, no ping to
    # answer, around requests; the connection stays open and every request is answered
    emulator = await start(ping_interval=3600, pong_timeout=0.05)
    client = await RawClient.connect(emulator.port)
    try:
        async with asyncio.timeout(TIMEOUT):
            for i in range(20):
                for _ in range(5):
                    client.send(PONG, b"")
                client.send(TEXT, json.dumps({"id": f"warm{i}", "method": "ping"}).encode())
                opcode, payload = await client.frame()
                assert opcode == TEXT
                response = json.loads(payload)
                assert (response["id"], response["status"]) == (f"warm{i}", 200)
        assert emulator.unsolicited_pongs == 100
        assert (emulator.pings_sent, emulator.pong_timeouts) == (0, 0)
        assert emulator.exchange.sessions
    finally:
        client.close()
        await emulator.close()


async def test_client_that_echoes_each_ping_stays_connected_and_is_served() -> None:
    timeout = 0.4
    emulator = await start(ping_interval=0.05, pong_timeout=timeout)
    client = await RawClient.connect(emulator.port)
    try:
        async with asyncio.timeout(TIMEOUT):
            # answer pings for three pong timeouts' worth of pings
            while len(client.pings) < 3 * timeout / 0.05:
                opcode, payload = await client.frame()
                assert opcode == PING
                client.send(PONG, payload)
            client.send(TEXT, json.dumps({"id": "still-there", "method": "ping"}).encode())
            while True:
                opcode, payload = await client.frame()
                if opcode == PING:
                    client.send(PONG, payload)
                    continue
                assert opcode == TEXT
                response = json.loads(payload)
                break
        assert (response["id"], response["status"], response["result"]) == ("still-there", 200, {})
        assert emulator.pong_timeouts == 0
    finally:
        client.close()
        await emulator.close()


async def test_answering_every_fourth_ping_within_the_timeout_keeps_the_connection() -> None:
    # RFC 6455 §5.5.3: a pong may answer only the most recent ping; the rule is "within a
    # minute", not one pong per ping
    emulator = await start(ping_interval=0.05, pong_timeout=0.4)
    client = await RawClient.connect(emulator.port)
    try:
        async with asyncio.timeout(TIMEOUT):
            while len(client.pings) < 24:
                opcode, payload = await client.frame()
                assert opcode == PING
                if len(client.pings) % 4 == 0:
                    client.send(PONG, payload)
        assert emulator.pong_timeouts == 0
        assert emulator.exchange.sessions
    finally:
        client.close()
        await emulator.close()


async def test_pong_timeout_none_never_disconnects() -> None:
    emulator = await start(ping_interval=0.02, pong_timeout=None)
    client = await RawClient.connect(emulator.port)
    try:
        async with asyncio.timeout(TIMEOUT):
            while len(client.pings) < 20:
                opcode, _ = await client.frame()
                assert opcode == PING
        assert emulator.pong_timeouts == 0
        assert emulator.exchange.sessions
    finally:
        client.close()
        await emulator.close()


async def test_no_ping_sent_means_no_deadline_for_a_quiet_client() -> None:
    # the minute runs from a ping; a connection pinged rarely is not dropped in between
    emulator = await start(ping_interval=3600, pong_timeout=0.05)
    client = await RawClient.connect(emulator.port)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(TIMEOUT):
            until = loop.time() + 4 * 0.05
            while loop.time() < until:
                await asyncio.sleep(0.01)
            client.send(TEXT, json.dumps({"id": "quiet", "method": "ping"}).encode())
            opcode, payload = await client.frame()
        assert opcode == TEXT
        assert json.loads(payload)["status"] == 200
        assert (emulator.pings_sent, emulator.pong_timeouts) == (0, 0)
    finally:
        client.close()
        await emulator.close()


@pytest.mark.parametrize("peer", ["websockets", "whalewire"])
async def test_real_clients_answer_the_pings_and_stay_connected(peer: str) -> None:
    # websockets and our own client answer pings with a copy of the payload on their own
    emulator = await start(ping_interval=0.02, pong_timeout=0.2)
    if peer == "websockets":
        ws: Any = await websockets.connect(emulator.url)
    else:
        ws = await connect(emulator.url)
    try:
        async with asyncio.timeout(TIMEOUT):
            # three pong timeouts' worth of pings
            while emulator.pings_sent < 30:
                await asyncio.sleep(0.01)
            sent = ws.send(json.dumps({"id": "still-there", "method": "ping"}))
            if sent is not None:  # websockets' send is a coroutine, ours is not
                await sent
            response = json.loads(await ws.recv())
        assert (response["id"], response["status"]) == ("still-there", 200)
        assert emulator.pong_timeouts == 0
    finally:
        await ws.close()
        await emulator.close()

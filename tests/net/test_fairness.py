"""A greedy peer cannot delay the other clients of ``whalewire ws serve`` (issue 21, item 6).

The attack: permessage-deflate messages of 61 KB that each inflate to 60 MiB (under the
server's 64 MiB limit), twenty in a row, never read back. Inflating one and compressing its
echo took the server's loop about a second; every other client waited. Now each connection
inflates and deflates at most ``Limits.work_per_turn`` bytes per turn of the loop, with its
reads paused meanwhile (``ws.protocol``'s work budget). A canary client, connected to the
same server process over loopback, measures its echo round trips while the attack runs.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from whalewire.net import connect

TIMEOUT = 60
#: the canary's echo round trip, 99th percentile, while the attack runs: a turn of the
#: greedy connection costs a few ms, so this leaves room for a loaded 2-core machine
P99_BOUND = 0.050
ROUND_TRIPS = 200
INFLATED = 60 * 1024 * 1024


@asynccontextmanager
async def ws_serve() -> AsyncIterator[int]:
    """Run ``whalewire ws serve --port 0`` in its own process; yield its port."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "whalewire",
        "ws",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        stdout=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "WHALEWIRE_NO_SPEEDUPS"},
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode()
        match = re.search(r"ws://127\.0\.0\.1:(\d+)", line)
        assert match, line
        yield int(match.group(1))
    finally:
        proc.kill()
        await proc.wait()


def bomb() -> bytes:
    """One message's permessage-deflate payload: 60 MiB of zeros in about 61 KB."""
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = comp.compress(bytes(INFLATED)) + comp.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]  # RFC 7692 §7.2.1


def masked_frame(b0: int, payload: bytes) -> bytes:
    """A client frame (RFC 6455 §5.2) with mask key 0, so the payload goes as it is."""
    n = len(payload)
    head = (
        bytes([b0, 0xFE]) + n.to_bytes(2, "big")
        if n < 65536
        else bytes([b0, 0xFF]) + n.to_bytes(8, "big")
    )
    return head + b"\x00\x00\x00\x00" + payload


async def greedy(port: int, payload: bytes, count: int) -> asyncio.StreamWriter:
    """Open a deflate connection by hand, write ``count`` bombs, never read the echoes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101") and b"permessage-deflate" in head
    frame = masked_frame(0x80 | 0x40 | 0x2, payload)  # FIN, RSV1 (compressed), BINARY
    for _ in range(count):
        writer.write(frame)
    return writer  # the kernel holds what the server does not read yet


async def canary_round_trips(port: int, count: int) -> list[float]:
    ws = await connect(f"ws://127.0.0.1:{port}/")
    times: list[float] = []
    try:
        for i in range(count):
            start = time.perf_counter()
            ws.send(f"canary {i}")
            assert await ws.recv() == f"canary {i}"
            times.append(time.perf_counter() - start)
    finally:
        await ws.close()
    return times


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, -(-len(ordered) * 99 // 100) - 1)]


@pytest.mark.skipif(sys.platform != "linux", reason="timing bound calibrated on Linux")
async def test_a_greedy_deflate_peer_does_not_delay_the_canary() -> None:
    payload = bomb()
    assert 55_000 < len(payload) < 70_000
    async with ws_serve() as port, asyncio.timeout(TIMEOUT):
        quiet = await canary_round_trips(port, 20)
        writer = await greedy(port, payload, 20)
        try:
            # let the server start on the bombs: the canary measures while it works
            await asyncio.sleep(0.2)
            attacked = await canary_round_trips(port, ROUND_TRIPS)
        finally:
            writer.transport.abort()
    worst = max(attacked)
    assert p99(attacked) < P99_BOUND, (
        f"canary p99 {p99(attacked) * 1e3:.1f} ms (worst {worst * 1e3:.1f} ms, "
        f"quiet p99 {p99(quiet) * 1e3:.1f} ms)"
    )

"""Shared venue pieces (venues/base.py): the warm-up pong over real loopback sockets.

RFC 6455 §5.5.3: "A Pong frame MAY be sent unsolicited. This serves as a unidirectional
heartbeat. A response to an unsolicited Pong frame is not expected." ``WarmPong`` writes
one through ``WebSocket.send_prebuilt`` (the path orders take: the direct write, or the
io_uring backend), at most every interval, and never while anything is queued.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from whalewire.net import WebSocket, uring
from whalewire.net.client import connect
from whalewire.net.server import serve
from whalewire.net.uring import use_send_backend
from whalewire.venues.base import WarmPong

OK, REASON = uring.available()
BACKENDS = [
    "socket",
    *(
        pytest.param(b, marks=pytest.mark.skipif(not OK, reason=f"no io_uring: {REASON}"))
        for b in ("uring", "uring-sqpoll")
    ),
]


async def wait_until(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.001)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_pong_waits_while_anything_is_queued_and_goes_once_the_peer_reads(
    backend: str,
) -> None:
    peers: list[WebSocket] = []
    pongs: list[bytes] = []
    received: list[str | bytes] = []

    async def handler(ws: WebSocket) -> None:
        ws.on_pong = lambda payload, rtt: pongs.append(payload)
        peers.append(ws)
        async for message in ws:
            received.append(message)

    async with await serve(handler, "127.0.0.1", 0, deflate=False) as srv:
        ws = await connect(f"ws://127.0.0.1:{srv.port}/", deflate=False)
        if backend != "socket" and use_send_backend(ws, backend) != backend:
            pytest.skip(f"{backend} refused here (the socket path is tested above)")
        await wait_until(lambda: bool(peers))
        warm = WarmPong(0.1, time.perf_counter_ns)
        assert warm.send(ws)  # idle and open: one empty pong
        await wait_until(lambda: pongs == [b""])
        assert ws.buffered_amount == 0
        # the peer stops reading: what we send piles up past the kernel's buffers until
        # back-pressure reaches the protocol
        peers[0]._proto.pause_reading()
        sent = 0
        while not ws._proto._writing_paused:
            ws.send(b"x" * 65_536)
            sent += 1
            assert sent < 2_000, "the transport never buffered anything"
            await asyncio.sleep(0)
        await asyncio.sleep(0.001)  # past the interval: only the queue holds it back
        assert ws.buffered_amount > 0
        assert not warm.send(ws)
        assert warm.sent == 1
        peers[0]._proto.resume_reading()
        await wait_until(lambda: ws.buffered_amount == 0)
        assert warm.send(ws)
        await wait_until(lambda: len(pongs) == 2)
        await wait_until(lambda: len(received) == sent)
        # the pongs answered nothing and disturbed nothing: every message arrived whole
        assert received == [b"x" * 65_536] * sent
        assert pongs == [b"", b""] and warm.sent == 2
        await ws.close()


async def test_pongs_keep_their_interval_and_zero_means_never() -> None:
    async def handler(ws: WebSocket) -> None:
        async for _ in ws:
            pass

    async with await serve(handler, "127.0.0.1", 0, deflate=False) as srv:
        ws = await connect(f"ws://127.0.0.1:{srv.port}/", deflate=False)
        hourly, never = WarmPong(3_600_000, time.perf_counter_ns), WarmPong(0, time.perf_counter_ns)
        assert [hourly.send(ws) for _ in range(3)] == [True, False, False]
        assert not never.send(ws)
        await ws.close()
        assert not WarmPong(0.1, time.perf_counter_ns).send(ws)  # closed: nothing, no raise
    assert (hourly.sent, never.sent) == (1, 0)
    with pytest.raises(ValueError, match="pong interval must be >= 0 ms"):
        WarmPong(-1, time.perf_counter_ns)

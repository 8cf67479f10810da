"""Keepalive over real loopback sockets (net.keepalive): pings answered at once by the core
(RFC 6455 §5.5.2), our pings with RTT statistics, pong hooks on both sides, the liveness
timeout against a silent peer, ``mark_alive``, and no false timeout when the loop was busy."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest

from whalewire.net import Message, WebSocket
from whalewire.net.client import connect
from whalewire.net.keepalive import KeepaliveOptions, RTTStats
from whalewire.net.server import echo, serve
from whalewire.ws.handshake import accept_key

TIMEOUT = 20


async def wait_for(condition: Callable[[], bool], step: float = 0.01) -> None:
    """Poll ``condition`` until true (the caller bounds it with asyncio.timeout)."""
    while not condition():
        await asyncio.sleep(step)


@asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """Answer the upgrade (RFC 6455 §4.2.2), then read and ignore everything: no pongs."""

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
        while await reader.read(65536):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


def test_rtt_stats_min_avg_max_and_nearest_rank_percentiles() -> None:
    stats = RTTStats()
    with pytest.raises(ValueError):
        stats.percentile(50)
    for rtt in [0.004, 0.001, 0.003, 0.002, 0.010]:
        stats.add(rtt)
    assert (stats.count, stats.min, stats.max) == (5, 0.001, 0.010)
    assert stats.avg == pytest.approx(0.004)
    # nearest rank: p50 of 5 samples is the 3rd smallest, p99 the largest
    assert stats.percentile(50) == 0.003
    assert stats.percentile(99) == 0.010
    assert stats.percentile(0) == 0.001


async def test_server_answers_ping_while_its_handler_never_reads() -> None:
    release = asyncio.Event()

    async def idle(ws: WebSocket) -> None:
        await release.wait()

    pongs: list[bytes] = []
    server = await serve(idle, "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{server.port}/")
        ws.on_pong = lambda payload, rtt: pongs.append(payload)
        ws.ping(b"are you there")
        await wait_for(lambda: bool(pongs))
        assert pongs == [b"are you there"]
        release.set()
        await ws.wait_closed()


async def test_client_pings_record_round_trip_times() -> None:
    server = await serve(echo, "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(
            f"ws://127.0.0.1:{server.port}/", keepalive=KeepaliveOptions(interval=0.02)
        )
        rtt = ws.rtt
        assert rtt is not None
        await wait_for(lambda: rtt.count >= 3)
        assert 0 < rtt.min <= rtt.avg <= rtt.max
        assert rtt.min <= rtt.percentile(50) <= rtt.percentile(99) <= rtt.max
        await ws.close()


async def test_server_keepalive_pongs_reach_the_server_hook() -> None:
    seen: list[float | None] = []

    async def handler(ws: WebSocket) -> None:
        ws.on_pong = lambda payload, rtt: seen.append(rtt)
        await ws.wait_closed()

    server = await serve(handler, "127.0.0.1", 0, keepalive=KeepaliveOptions(interval=0.02))
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{server.port}/")
        await wait_for(lambda: len(seen) >= 2)
        assert all(rtt is not None and rtt > 0 for rtt in seen)
        await ws.close()


async def test_silent_peer_is_failed_after_the_timeout() -> None:
    async with silent_server() as url, asyncio.timeout(TIMEOUT):
        ws = await connect(url, keepalive=KeepaliveOptions(interval=0.02, timeout=0.2))
        await ws.wait_closed()
        assert ws.keepalive is not None and ws.keepalive.failure is not None
        assert ws.keepalive.failure.startswith("keepalive timeout")
        assert ws.rtt is not None and ws.rtt.count == 0


async def test_mark_alive_keeps_a_silent_peer_open_until_it_stops() -> None:
    async with silent_server() as url, asyncio.timeout(TIMEOUT):
        ws = await connect(url, keepalive=KeepaliveOptions(timeout=0.2))
        keepalive = ws.keepalive
        assert keepalive is not None
        # four timeouts' worth of checks (one per timeout/4), marked alive throughout
        while keepalive.checks < 16:
            ws.mark_alive()
            await asyncio.sleep(0.02)
        assert not ws.closed
        await ws.wait_closed()  # no more marks: the deadline now passes
        assert keepalive.failure is not None


def run_ticker_server(port_box: list[int], stop: threading.Event) -> None:
    """In its own thread and loop: a server that sends a message every 100 ms."""

    async def ticker(ws: WebSocket) -> None:
        while not stop.is_set():
            ws.send("tick")
            await asyncio.sleep(0.1)

    async def main() -> None:
        async with await serve(ticker, "127.0.0.1", 0) as server:
            port_box.append(server.port)
            while not stop.is_set():
                await asyncio.sleep(0.01)

    asyncio.run(main())


def run_on(loop_name: str, coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    if loop_name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(coro())
    else:
        asyncio.run(coro())


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_busy_loop_does_not_trip_the_timeout_while_the_peer_talks(loop_name: str) -> None:
    port_box: list[int] = []
    stop = threading.Event()
    thread = threading.Thread(target=run_ticker_server, args=(port_box, stop), daemon=True)
    thread.start()

    async def main() -> None:
        async with asyncio.timeout(TIMEOUT):
            await wait_for(lambda: bool(port_box))
            got: list[Message] = []

            loop = asyncio.get_running_loop()
            # Another socket whose read callback is busy for three timeouts (say, a feed
            # parsing a block): after a busy read, uvloop runs overdue timers before it
            # polls our socket again, where ticks have piled up meanwhile.
            busy_r, busy_w = socket.socketpair()

            def busy() -> None:
                busy_r.recv(1)
                time.sleep(1.0)

            loop.add_reader(busy_r, busy)

            def on_message(ws: WebSocket, message: Message) -> None:
                # Messages are taken as they are read (a paused reader could not see any).
                got.append(message)
                if len(got) == 2 and ws.keepalive is not None:
                    # just after the check that sees this read
                    loop.call_at(ws.keepalive.next_check + 0.001, busy_w.send, b"x")

            ws = await connect(
                f"ws://127.0.0.1:{port_box[0]}/",
                keepalive=KeepaliveOptions(timeout=0.3),
                on_message=on_message,
            )
            keepalive = ws.keepalive
            assert keepalive is not None
            await wait_for(lambda: len(got) > 12 or ws.closed)
            after = keepalive.checks
            await wait_for(lambda: keepalive.checks >= after + 4 or ws.closed)
            assert keepalive.failure is None and not ws.closed
            await ws.close()
            loop.remove_reader(busy_r)
            busy_r.close()
            busy_w.close()

    try:
        run_on(loop_name, main)
    finally:
        stop.set()
        thread.join(TIMEOUT)

"""The io_uring send backend under a real WebSocket connection (net.uring.use_send_backend).

What it must keep (RFC 6455 §5.4: frames of one connection must not interleave; §5.5.3:
a pong, §5.5.1: a close, are frames on the same byte stream): bytes written through the ring
and through the transport (pongs, messages, close) arrive in the order they were written,
a dead peer gives ``ConnectionClosed`` as on the socket path, and where io_uring is refused
the socket path stays.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from whalewire.net import WebSocket, uring
from whalewire.net.client import connect
from whalewire.net.server import Server, serve
from whalewire.net.uring import RingTransport, use_send_backend
from whalewire.venues.templates import mask_text_frame
from whalewire.ws.exceptions import ConnectionClosed
from whalewire.ws.mask import default_key_pool

OK, REASON = uring.available()
needs_uring = pytest.mark.skipif(not OK, reason=f"io_uring not available here: {REASON}")
RING_BACKENDS = ["uring", "uring-sqpoll"]


def order(i: int, pad: int = 0) -> bytes:
    return b'{"id":"ww-%d","method":"order.place"}' % i + b" " * pad


def prebuilt(body: bytes) -> bytes:
    return bytes(mask_text_frame(body, default_key_pool().next_key()))


async def wait_until(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.001)


class Collector:
    """A server handler keeping every message it receives, in order, and each close code."""

    def __init__(self) -> None:
        self.messages: list[str | bytes] = []
        self.close_codes: list[int | None] = []
        self.peers: list[WebSocket] = []

    async def __call__(self, ws: WebSocket) -> None:
        self.peers.append(ws)
        try:
            async for message in ws:
                self.messages.append(message)
        except ConnectionClosed:
            pass
        await ws.wait_closed()
        self.close_codes.append(ws.close_code)


#: the ``client`` fixture: our connection and the server's collector
Client = tuple[WebSocket, Collector]


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, Collector]]:
    collector = Collector()
    async with await serve(collector, "127.0.0.1", 0, deflate=False) as srv:
        yield srv, collector


@pytest.fixture
async def client(server: tuple[Server, Collector]) -> AsyncIterator[Client]:
    """Our client connected to the collecting server, on the socket path (each test puts the
    backend it checks under it); the server's side is in ``got.peers[0]``. Closed at the end
    if the test left it open, so no ring outlives its test."""
    srv, got = server
    ws = await connect(f"ws://127.0.0.1:{srv.port}/", deflate=False)
    await wait_until(lambda: bool(got.peers))
    yield ws, got
    await asyncio.wait_for(ws.close(), 30)


@needs_uring
@pytest.mark.parametrize("backend", RING_BACKENDS)
async def test_prebuilt_frames_messages_and_pings_arrive_in_the_order_written(
    client: Client, backend: str
) -> None:
    ws, got = client
    assert use_send_backend(ws, backend) == backend
    expected: list[str] = []
    for i in range(600):
        if i % 7 == 3:
            ws.send(f"message {i}")  # the core's path: transport.write
            expected.append(f"message {i}")
        elif i % 11 == 5:
            ws.ping(b"%d" % i)  # a control frame between data frames
        else:
            ws.send_prebuilt(prebuilt(order(i)))
            expected.append(order(i).decode())
    await wait_until(lambda: len(got.messages) >= len(expected))
    assert got.messages == expected
    transport: object = ws._proto.transport
    assert isinstance(transport, RingTransport)
    assert transport.ring_writes >= len(expected)  # the ring carried them, not os.write
    await ws.close()
    await wait_until(lambda: bool(got.close_codes))
    assert got.close_codes == [1000]


@needs_uring
@pytest.mark.parametrize("backend", RING_BACKENDS)
async def test_pongs_the_client_owes_go_through_the_ring_between_orders(
    client: Client, backend: str
) -> None:
    # RFC 6455 §5.5.2: a ping gets a pong; here the core writes it (transport.write) while
    # the ring carries the orders, and both must arrive whole
    ws, got = client
    use_send_backend(ws, backend)
    pongs: list[bytes] = []
    got.peers[0].on_pong = lambda payload, rtt: pongs.append(payload)
    expected = []
    for i in range(200):
        ws.send_prebuilt(prebuilt(order(i, pad=2000)))
        expected.append(order(i, pad=2000).decode())
        if i % 20 == 0:
            got.peers[0].ping(b"p%d" % i)
            await asyncio.sleep(0)  # let the client read the ping and answer it
    await wait_until(lambda: len(got.messages) >= 200 and len(pongs) >= 10)
    assert got.messages == expected
    assert pongs == [b"p%d" % i for i in range(0, 200, 20)]
    transport: object = ws._proto.transport
    assert isinstance(transport, RingTransport)
    assert transport.ring_writes > 200  # the pongs too


@needs_uring
@pytest.mark.parametrize("backend", RING_BACKENDS)
async def test_frames_larger_than_the_socket_buffers_keep_order_with_small_writes(
    client: Client, backend: str
) -> None:
    # each 1.5 MB frame stays in the kernel, partly sent, while the next writes arrive:
    # they must queue behind it, not overtake it
    ws, got = client
    use_send_backend(ws, backend)
    assert ws._proto.transport is not None
    sock = ws._proto.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
    expected: list[str] = []
    for i in range(8):
        big = order(i, pad=1_500_000)
        ws.send_prebuilt(prebuilt(big))
        ws.send(f"small {i}")
        ws.send_prebuilt(prebuilt(order(1000 + i)))
        expected += [big.decode(), f"small {i}", order(1000 + i).decode()]
    await wait_until(lambda: len(got.messages) >= len(expected), timeout=60)
    assert got.messages == expected
    await ws.close()
    await wait_until(lambda: bool(got.close_codes))
    assert got.close_codes == [1000]


@needs_uring
@pytest.mark.parametrize("backend", RING_BACKENDS)
async def test_close_waits_for_the_ring_then_sends_the_close_frame_last(
    client: Client, backend: str
) -> None:
    ws, got = client
    use_send_backend(ws, backend)
    big = order(1, pad=4_000_000)  # more than loopback buffers: in flight at close()
    ws.send_prebuilt(prebuilt(big))
    await asyncio.wait_for(ws.close(), 30)
    await wait_until(lambda: bool(got.close_codes))
    assert got.messages == [big.decode()]
    assert got.close_codes == [1000]


@pytest.mark.parametrize("backend", ["socket", *RING_BACKENDS])
async def test_a_peer_that_resets_mid_send_gives_connection_closed_on_every_backend(
    client: Client, backend: str
) -> None:
    if backend != "socket" and not OK:
        pytest.skip(f"io_uring not available here: {REASON}")
    ws, got = client
    use_send_backend(ws, backend)
    peer = got.peers[0]._proto
    assert peer.transport is not None
    peer.pause_reading()  # the peer stops reading: the big send stays out
    ws.send_prebuilt(prebuilt(order(0, pad=8_000_000)))
    peer_sock = peer.transport.get_extra_info("socket")
    peer_sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    peer.transport.abort()  # RST
    await asyncio.wait_for(ws.wait_closed(), 20)
    with pytest.raises(ConnectionClosed) as info:
        ws.send_prebuilt(prebuilt(order(1)))
    assert info.value.code == 1006


@needs_uring
async def test_a_buffer_reused_at_once_under_load_never_changes_bytes_in_flight(
    client: Client,
) -> None:
    ws, got = client
    use_send_backend(ws, "uring")
    frame = bytearray(prebuilt(order(0, pad=100_000)))
    expected = []
    for i in range(40):
        body = order(i, pad=100_000 - len(str(i)) + 1)
        frame[:] = prebuilt(body)
        ws.send_prebuilt(frame)
        frame[10:] = b"\xff" * (len(frame) - 10)  # scribbled on before the kernel sent it
        expected.append(body.decode())
    await wait_until(lambda: len(got.messages) >= 40, timeout=60)
    assert got.messages == expected


async def test_io_uring_refused_keeps_the_socket_path(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHALEWIRE_NO_URING", "1")
    ws, got = client
    assert use_send_backend(ws, "uring-sqpoll") == "socket"
    assert not isinstance(ws._proto.transport, RingTransport)
    ws.send_prebuilt(prebuilt(order(7)))
    await wait_until(lambda: bool(got.messages))
    assert got.messages == [order(7).decode()]


@needs_uring
async def test_a_connection_keeps_the_ring_it_got_first(client: Client) -> None:
    ws, got = client
    assert use_send_backend(ws, "uring-sqpoll") == "uring-sqpoll"
    assert use_send_backend(ws, "socket") == "uring-sqpoll"
    assert use_send_backend(ws, "uring") == "uring-sqpoll"
    ws.send_prebuilt(prebuilt(order(3)))
    await wait_until(lambda: bool(got.messages))
    assert got.messages == [order(3).decode()]


async def test_an_unknown_backend_name_is_refused(client: Client) -> None:
    ws, _ = client
    with pytest.raises(ValueError, match="send_backend"):
        use_send_backend(ws, "uring_sqpoll")


async def test_a_closed_connection_cannot_take_a_backend(client: Client) -> None:
    ws, _ = client
    await ws.close()
    with pytest.raises(ConnectionClosed):
        use_send_backend(ws, "uring")


@needs_uring
@pytest.mark.parametrize("backend", RING_BACKENDS)
async def test_a_peer_that_stops_reading_pauses_writing_without_blocking_the_loop(
    client: Client, backend: str
) -> None:
    ws, got = client
    use_send_backend(ws, backend, entries=16)  # 16 sends in flight at most, then a backlog
    got.peers[0]._proto.pause_reading()
    expected = []
    for i in range(600):  # 6 MB: more than the socket buffers and the ring together hold
        body = order(i, pad=10_000)
        ws.send_prebuilt(prebuilt(body))  # returns at once: nothing waits in the kernel
        expected.append(body.decode())
    drained = asyncio.ensure_future(ws.drain())
    await wait_until(lambda: ws._proto._writing_paused)  # back-pressure reached the protocol
    assert not drained.done()
    got.peers[0]._proto.resume_reading()
    await asyncio.wait_for(drained, 30)
    await wait_until(lambda: len(got.messages) >= 600, timeout=60)
    assert got.messages == expected
    await ws.close()
    await wait_until(lambda: bool(got.close_codes))
    assert got.close_codes == [1000]


@needs_uring
@pytest.mark.parametrize("backend", RING_BACKENDS)
async def test_completions_are_reaped_in_batches_without_watching_the_eventfd(
    client: Client, backend: str
) -> None:
    ws, got = client
    use_send_backend(ws, backend)
    transport: object = ws._proto.transport
    assert isinstance(transport, RingTransport)
    sender = transport._sender
    for i in range(300):  # sparse orders, as in trading: each one is read before the next
        ws.send_prebuilt(prebuilt(order(i)))
        await wait_until(lambda: len(got.messages) > i)  # noqa: B023 (used at once)
        assert not sender._watching  # no loop wake-up per completion
    # posted completions wait for a batch: buffers held stay bounded, none is lost
    assert sender.in_flight <= uring.REAP_BATCH + 1
    await ws.close()
    assert sender.in_flight == 0

"""whalewire.net.uring over real loopback TCP: order, big frames, buffer lifetime, peer close.

The ring rules checked here are io_uring's documented ones (io_uring_enter(2):
IOSQE_IO_LINK, IOSQE_IO_DRAIN; send(2): MSG_WAITALL, MSG_NOSIGNAL).
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import struct
import sys
import threading
import time
import types
from collections.abc import Iterator

import pytest

from whalewire.net import uring
from whalewire.net.uring import SocketSender, UringSender, UringUnavailable, open_sender
from whalewire.ws.exceptions import ConnectionClosed

OK, REASON = uring.available()
needs_uring = pytest.mark.skipif(not OK, reason=f"io_uring not available here: {REASON}")
MODES = ["plain", "sqpoll"]


class Peer:
    """The accepted end: a thread reads everything into ``data`` (optionally slowly)."""

    def __init__(self, sock: socket.socket, chunk: int = 1 << 16, pause: float = 0.0):
        self.sock = sock
        self.data = bytearray()
        self.chunk = chunk
        self.pause = pause
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                got = self.sock.recv(self.chunk)
            except OSError:
                got = b""
            with self.cond:
                self.data += got
                self.cond.notify_all()
            if not got:
                return
            if self.pause:
                time.sleep(self.pause)  # a slow reader keeps the sender's socket full

    def wait_for(self, n: int, timeout: float = 20.0) -> bytes:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.data) >= n, timeout), len(self.data)
            return bytes(self.data)


@pytest.fixture
def conn() -> Iterator[tuple[socket.socket, socket.socket]]:
    with socket.create_server(("127.0.0.1", 0)) as srv:
        client = socket.create_connection(srv.getsockname())
        server, _ = srv.accept()
    client.setblocking(False)
    yield client, server
    client.close()
    server.close()


def numbered(i: int, size: int) -> bytes:
    return struct.pack(">II", i, size) + bytes([i % 251]) * size


def parse_numbered(data: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(data):
        i, size = struct.unpack_from(">II", data, pos)
        assert data[pos + 8 : pos + 8 + size] == bytes([i % 251]) * size, i
        out.append(i)
        pos += 8 + size
    return out


@needs_uring
@pytest.mark.parametrize("mode", MODES)
def test_many_frames_arrive_intact_and_in_order(
    conn: tuple[socket.socket, socket.socket], mode: uring.Mode
) -> None:
    client, server = conn
    peer = Peer(server)
    sender = UringSender(client.fileno(), mode=mode)
    frames = [numbered(i, (i * 37) % 300) for i in range(3000)]
    i = 0
    while i < len(frames):
        if i % 20 == 0:  # every 20th order starts a batch of four in one enter
            sender.send_batch(frames[i : i + 4], linked=i % 40 == 0)
            i += 4
        else:
            sender.send(frames[i])
            i += 1
    sender.flush()
    assert parse_numbered(peer.wait_for(sum(map(len, frames)))) == list(range(3000))
    assert sender.in_flight == 0
    sender.close()


@needs_uring
@pytest.mark.parametrize("mode", MODES)
def test_frames_larger_than_socket_buffer_arrive_whole_and_in_order(
    conn: tuple[socket.socket, socket.socket], mode: uring.Mode
) -> None:
    client, server = conn
    client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    peer = Peer(server, chunk=8192, pause=0.0005)
    sender = UringSender(client.fileno(), mode=mode)
    frames = [numbered(i, 300_000 + i) for i in range(12)]
    for frame in frames[:8]:
        sender.send(frame)  # each must wait for room: the kernel sends it in many pieces
    sender.send_batch(frames[8:10], linked=True)
    sender.send_batch(frames[10:])
    assert sender.in_flight > 0  # the slow peer cannot have taken 3.6 MB yet
    sender.flush()
    assert parse_numbered(peer.wait_for(sum(map(len, frames)))) == list(range(12))
    sender.close()


@needs_uring
@pytest.mark.parametrize("mode", MODES)
def test_reused_bytearray_does_not_change_bytes_in_flight(
    conn: tuple[socket.socket, socket.socket], mode: uring.Mode
) -> None:
    client, server = conn
    client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
    peer = Peer(server, chunk=4096, pause=0.0002)
    sender = UringSender(client.fileno(), mode=mode, entries=256)
    buf = bytearray(20_008)
    for i in range(100):
        buf[:] = numbered(i, 20_000)
        sender.send(buf)
        buf[8:] = b"\xff" * 20_000  # the caller scribbles on its buffer at once
    sender.flush()
    assert parse_numbered(peer.wait_for(100 * 20_008)) == list(range(100))
    sender.close()


@needs_uring
def test_ring_keeps_the_buffer_exported_until_its_completion_is_reaped(
    conn: tuple[socket.socket, socket.socket],
) -> None:
    from whalewire.net._uring import Ring

    client, server = conn
    ring = Ring(8)
    big = bytearray(8 * 1024 * 1024)  # far more than loopback buffers hold: stays in flight
    ring.send(client.fileno(), big)
    assert ring.in_flight == 1
    with pytest.raises(BufferError):
        big.extend(b"x")  # exported to the kernel's send: no resize
    peer = Peer(server)
    peer.wait_for(len(big))
    ring.submit(1)
    (done,) = ring.reap()
    assert done[1] == len(big)
    big.extend(b"x")  # released once reaped
    ring.close()


@needs_uring
@pytest.mark.parametrize("mode", MODES)
def test_peer_reset_mid_send_raises_connection_closed(
    conn: tuple[socket.socket, socket.socket], mode: uring.Mode
) -> None:
    client, server = conn
    sender = UringSender(client.fileno(), mode=mode)
    sender.send(bytes(4 * 1024 * 1024))  # blocks in the kernel: the peer reads nothing
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.close()  # RST
    sender.flush()
    assert isinstance(sender.broken, ConnectionClosed)
    with pytest.raises(ConnectionClosed):
        sender.send(b"order")
    sender.close()


@needs_uring
def test_send_after_peer_closed_raises_connection_closed_on_next_send(
    conn: tuple[socket.socket, socket.socket],
) -> None:
    client, server = conn
    sender = UringSender(client.fileno())
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.close()
    deadline = time.monotonic() + 10
    with pytest.raises(ConnectionClosed):
        while time.monotonic() < deadline:
            sender.send(b"order")
            sender.flush()
    sender.close()


@needs_uring
@pytest.mark.parametrize("mode", MODES)
def test_attached_loop_reaps_completions_from_the_eventfd(
    conn: tuple[socket.socket, socket.socket], mode: uring.Mode
) -> None:
    client, server = conn
    peer = Peer(server)

    async def main() -> None:
        sender = UringSender(client.fileno(), mode=mode)
        sender.attach(asyncio.get_running_loop())
        for i in range(50):
            sender.send(numbered(i, 10))
        async with asyncio.timeout(10):
            while sender.in_flight:
                await asyncio.sleep(0.001)  # the loop's eventfd reader does the reaping
        sender.close()

    asyncio.run(main())
    assert parse_numbered(peer.wait_for(50 * 18)) == list(range(50))


@needs_uring
def test_close_with_sends_in_flight_cancels_and_returns(
    conn: tuple[socket.socket, socket.socket],
) -> None:
    client, _ = conn
    sender = UringSender(client.fileno())
    sender.send(bytes(8 * 1024 * 1024))  # the peer never reads
    assert sender.in_flight == 1
    sender.close()
    assert sender.in_flight == 0
    with pytest.raises(ConnectionClosed):
        sender.send(b"x")


def test_forced_unavailable_falls_back_to_the_socket_path(
    conn: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, server = conn
    monkeypatch.setenv("WHALEWIRE_NO_URING", "1")
    ok, reason = uring.available()
    assert not ok
    assert "WHALEWIRE_NO_URING" in reason
    with pytest.raises(UringUnavailable):
        UringSender(client.fileno())
    sender = open_sender(client.fileno(), "sqpoll")
    assert isinstance(sender, SocketSender)
    peer = Peer(server)
    for i in range(200):
        sender.send(numbered(i, 5000))
    sender.send_batch([numbered(200, 1), numbered(201, 2)])
    sender.flush()
    assert parse_numbered(peer.wait_for(200 * 5008 + 9 + 10)) == list(range(202))


def test_socket_sender_raises_connection_closed_after_peer_reset(
    conn: tuple[socket.socket, socket.socket],
) -> None:
    client, server = conn
    sender = SocketSender(client.fileno())
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.close()
    deadline = time.monotonic() + 10
    with pytest.raises(ConnectionClosed):
        while time.monotonic() < deadline:
            sender.send(b"order")
            sender.flush()


@needs_uring
def test_open_sender_gives_a_ring_where_io_uring_works(
    conn: tuple[socket.socket, socket.socket],
) -> None:
    client, _ = conn
    sender = open_sender(client.fileno(), "plain")
    assert isinstance(sender, UringSender)
    sender.close()


@pytest.mark.skipif(
    os.environ.get("WHALEWIRE_REQUIRE_SPEEDUPS") != "1" or sys.platform != "linux",
    reason="WHALEWIRE_REQUIRE_SPEEDUPS is not set (or not Linux)",
)
def test_ring_extension_is_built_where_c_extensions_are_required() -> None:
    assert uring._uring is not None, uring._IMPORT_ERROR


@needs_uring
@pytest.mark.parametrize("mode", MODES)
def test_a_small_ring_under_load_waits_for_room_and_keeps_every_byte(
    conn: tuple[socket.socket, socket.socket], mode: uring.Mode
) -> None:
    client, server = conn
    client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
    peer = Peer(server, chunk=8192, pause=0.0001)
    sender = UringSender(client.fileno(), mode=mode, entries=4)  # 8 sends in flight at most
    buf = bytearray(50_008)
    for i in range(150):
        buf[:] = numbered(i, 50_000)
        if i % 3 == 0:
            sender.send_batch([buf, numbered(1000 + i, 7)], linked=i % 2 == 0)
        else:
            sender.send(buf)
        assert sender.in_flight <= 8
    sender.flush()
    expected = []
    for i in range(150):
        expected += [i, 1000 + i] if i % 3 == 0 else [i]
    total = 150 * 50_008 + 50 * 15
    assert parse_numbered(peer.wait_for(total)) == expected
    sender.close()


def test_a_kernel_that_refuses_io_uring_gives_the_reason_and_the_socket_path(
    conn: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    # seccomp/sandbox refusal (EPERM) cannot be produced here without root: the ring
    # module is replaced by one whose io_uring_setup fails the way such a kernel does
    class RefusedRing:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.delenv("WHALEWIRE_NO_URING", raising=False)
    monkeypatch.setattr(uring, "_uring", types.SimpleNamespace(Ring=RefusedRing))
    monkeypatch.setattr(uring, "_probe", None)
    ok, reason = uring.available()
    assert not ok
    assert "EPERM" in reason
    client, server = conn
    sender = open_sender(client.fileno(), "plain")
    assert isinstance(sender, SocketSender)
    sender.send(b"order")
    sender.flush()
    assert server.recv(16) == b"order"


@needs_uring
def test_a_fixed_file_send_still_arrives_after_the_fd_number_is_closed_and_reused(
    conn: tuple[socket.socket, socket.socket],
) -> None:
    # the hazard fixed files remove: a send still in the ring when its fd number is closed
    # and handed to another socket must not land on that other socket
    client, server = conn
    sender = UringSender(client.fileno(), mode="sqpoll")
    assert sender._ring.fixed_fd == client.fileno()
    big = numbered(1, 6_000_000)  # more than loopback buffers: still in flight below
    sender.send(big)
    os.close(client.detach())  # the transport closes its fd while the ring still sends
    with socket.create_server(("127.0.0.1", 0)) as other_srv:
        other = socket.create_connection(other_srv.getsockname())  # may reuse the number
        other_peer, _ = other_srv.accept()
        peer = Peer(server)
        assert parse_numbered(peer.wait_for(len(big))) == [1]
        sender.flush()
        sender.close()
        other.close()
        other_peer.settimeout(5)
        assert other_peer.recv(16) == b""  # nothing of ours reached the other socket
        other_peer.close()


@needs_uring
def test_zero_copy_sends_from_the_registered_arena_arrive_and_refuse_to_overtake() -> None:
    # kept for bench/uring_send.py only (slower here, see docs/benchmarks.md "io_uring")
    from whalewire.net._uring import Ring

    with socket.create_server(("127.0.0.1", 0)) as srv:
        client = socket.create_connection(srv.getsockname())
        server, _ = srv.accept()
    ring = Ring(8)
    ring.register_arena(1024, zerocopy=True)
    assert (ring.slot_size, ring.capacity, ring.zerocopy) == (1024, 8, True)
    buf = bytearray(numbered(0, 100))
    ring.send(client.fileno(), buf, None, True)
    buf[8:] = b"\xff" * 100  # copied into the arena: the caller may reuse it at once
    with pytest.raises(BlockingIOError):
        ring.send(client.fileno(), numbered(1, 100), None, True)  # would need a drain
    while ring.in_flight:
        ring.submit(1)
        ring.reap()
    ring.send(client.fileno(), numbered(1, 100), None, True)
    while ring.in_flight:
        ring.submit(1)
        ring.reap()
    peer = Peer(server)
    assert parse_numbered(peer.wait_for(2 * 108)) == [0, 1]
    ring.close()
    client.close()
    server.close()


class DontWaitRing:
    """The real ring, but every send asks for MSG_DONTWAIT instead of MSG_WAITALL, so the
    kernel posts the short writes and EAGAINs that MSG_WAITALL otherwise hides."""

    def __init__(self, ring: object) -> None:
        self._ring = ring

    def __getattr__(self, name: str) -> object:
        return getattr(self._ring, name)

    def send(self, fd: int, data: bytes, flags: int | None, ordered: bool) -> int:
        flags = socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL
        return self._ring.send(fd, data, flags, ordered)  # type: ignore[attr-defined,no-any-return]


@needs_uring
def test_a_short_write_or_eagain_on_the_last_send_is_resubmitted_until_whole(
    conn: tuple[socket.socket, socket.socket],
) -> None:
    client, server = conn
    client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
    sender = UringSender(client.fileno())
    sender._ring = DontWaitRing(sender._ring)  # type: ignore[assignment]
    big = numbered(5, 3_000_000)
    sender.send(big)  # the kernel takes what fits and reports a short count
    peer = Peer(server, chunk=8192, pause=0.0001)
    sender.flush()  # poll() resubmits the rest each time, across EAGAINs
    assert parse_numbered(peer.wait_for(len(big))) == [5]
    assert sender.broken is None
    sender.close()


@needs_uring
def test_a_short_write_with_a_later_send_behind_it_breaks_the_sender_loudly(
    conn: tuple[socket.socket, socket.socket],
) -> None:
    # the later send's bytes went after a hole: the stream is unusable, and the next send
    # must say so rather than let a venue see a corrupt frame
    client, _ = conn
    client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
    sender = UringSender(client.fileno())
    sender._ring = DontWaitRing(sender._ring)  # type: ignore[assignment]
    sender.send(numbered(1, 3_000_000))  # cannot fit: short
    sender.send(numbered(2, 10))
    sender.flush()
    assert isinstance(sender.broken, ConnectionClosed)
    with pytest.raises(ConnectionClosed):
        sender.send(b"order")
    sender.close()

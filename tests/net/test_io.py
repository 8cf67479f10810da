"""net._io's per-read and per-send objects in C: ``PlainReader``, ``write_frame``, ``DirectSender``.

The reader must give the same frames, events, answers and close codes as the Python reader
(``ws.protocol``, the reference) for any bytes cut anywhere, with a harness that plays the
transport's part exactly as ``net._protocol`` does (fallback, rest, re-arming, handing back
an incomplete frame). Frames written are checked byte for byte against RFC 6455 §5.7's
examples, read back from a real socket. C only: skipped when the extension is not built.
"""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.net.support import Transport, outcome
from tests.ws.support import FRAME_SOUP, KEY, assert_fork_draws_fresh_keys, make, raw

from whalewire import speedups
from whalewire.ws.protocol import Role

_io = pytest.importorskip("whalewire.net._io")

CLIENT, SERVER = Role.CLIENT, Role.SERVER


@pytest.fixture(autouse=True)
def c_reader() -> Iterator[None]:
    """The core hands plain frames to a C reader (even under WHALEWIRE_NO_SPEEDUPS=1)."""
    old = speedups.use(True)
    try:
        yield
    finally:
        speedups.use(old)


# ---- helpers ------------------------------------------------------------------------------


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# ---- PlainReader --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=FRAME_SOUP,
    cuts=st.lists(st.integers(0, 300), max_size=5),
    server=st.booleans(),
    size=st.sampled_from([64, 256, 4096]),
)
def test_plain_reader_gives_what_the_python_reader_gives(
    data: bytes, cuts: list[int], server: bool, size: int
) -> None:
    role = SERVER if server else CLIENT
    chunks = cut(data, cuts)

    got: list[tuple[int, bytes, bool]] = []
    conn = make(role, max_message_size=200, on_frame=lambda o, p, f: got.append((o, bytes(p), f)))
    host = Transport(conn, size, lambda o, p, f: got.append((o, bytes(p), f)), None)
    for chunk in chunks:
        host.feed(chunk)

    old = speedups.use(False)
    try:
        want: list[tuple[int, bytes, bool]] = []
        ref = make(
            role, max_message_size=200, on_frame=lambda o, p, f: want.append((o, bytes(p), f))
        )
        for chunk in chunks:
            ref.receive_data(bytearray(chunk))
    finally:
        speedups.use(old)
    assert (got, outcome(conn)) == (want, outcome(ref))


def test_plain_reader_calls_the_message_callback_with_str_and_bytes() -> None:
    # RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d, as a client sends it to us.
    hello = bytes.fromhex("818537fa213d7f9f4d5158")
    blob = raw(0x2, b"\x00\xff" * 100, key=KEY)
    got: list[tuple[object, object]] = []
    conn = make(SERVER, on_frame=lambda o, p, f: None)
    host = Transport(conn, 1024, lambda ws, m: got.append((ws, m)), "ws")
    host.feed(hello + blob)
    assert got == [("ws", "Hello"), ("ws", b"\x00\xff" * 100)]
    assert host.reader.reads == 1


def test_plain_reader_keeps_an_incomplete_frame_and_reads_the_rest_behind_it() -> None:
    frame = raw(0x2, bytes(range(100)), key=KEY)
    got: list[bytes] = []
    conn = make(SERVER, on_frame=lambda o, p, f: None)
    host = Transport(conn, 1024, lambda o, p, f: got.append(bytes(p)), None)
    host.feed(frame + frame[:30])
    assert host.reader.pending == 30
    assert len(host.reader.get_buffer(-1)) == 1024 - 30
    host.feed(frame[30:])
    assert got == [bytes(range(100))] * 2
    assert host.reader.pending == 0


def test_plain_reader_fails_broken_text_on_the_read_that_breaks_it() -> None:
    # Autobahn 6.4.3: the frame is incomplete, but its first bytes are already invalid.
    frame = raw(
        0x1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80" + b"x" * 50, key=KEY
    )
    conn = make(SERVER, on_frame=lambda o, p, f: None)
    host = Transport(conn, 1024, lambda o, p, f: None, None)
    host.feed(frame[:25])
    assert conn.error is not None and conn.error.code == 1007


def test_plain_reader_reports_a_callback_exception_and_the_bytes_after_it() -> None:
    frames = [raw(0x1, p, key=KEY) for p in (b"a", b"boom", b"b")]
    seen: list[bytes] = []

    def on_frame(opcode: int, payload: memoryview, fin: bool) -> None:
        seen.append(bytes(payload))
        if payload == b"boom":
            raise RuntimeError("boom")

    conn = make(SERVER, on_frame=on_frame)
    host = Transport(conn, 1024, on_frame, None)
    host.feed(b"".join(frames))
    assert [str(e) for e in host.errors] == ["boom"]
    assert seen == [b"a", b"boom", b"b"]  # the rest went to the Python reader


def test_plain_reader_reuses_a_payload_view_only_when_nobody_kept_it() -> None:
    kept: list[memoryview] = []
    ids: list[int] = []

    def on_frame(opcode: int, payload: memoryview, fin: bool) -> None:
        ids.append(id(payload))
        if len(ids) == 2:
            kept.append(payload)

    conn = make(SERVER, on_frame=lambda o, p, f: None)
    host = Transport(conn, 1024, on_frame, None)
    host.feed(b"".join(raw(0x2, bytes([i]) * 3, key=KEY) for i in range(4)))
    assert ids[0] == ids[1]  # nobody kept the first view
    assert ids[2] != ids[1]  # the second was kept: never handed out again
    assert bytes(kept[0]) == b"\x01\x01\x01"


# ---- write_frame --------------------------------------------------------------------------


@pytest.fixture
def pair() -> Any:
    a, b = socket.socketpair()
    a.setblocking(False)
    yield a, b
    a.close()
    b.close()


def read_exactly(sock: socket.socket, n: int) -> bytes:
    out = b""
    sock.settimeout(5)
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk
        out += chunk
    return out


class RFCKey:
    def next_key(self) -> bytes:
        return KEY


# RFC 6455 §5.7: the single-frame examples, and the 256-byte / 64 KiB length encodings
VECTORS = [
    (0x81, "Hello", None, "810548656c6c6f"),
    (0x81, "Hello", RFCKey(), "818537fa213d7f9f4d5158"),
    (0x82, b"\x00" * 256, None, "827e0100" + "00" * 256),
    (0x82, b"\x00" * 65536, None, "827f0000000000010000" + "00" * 65536),
]


@pytest.mark.parametrize(("b0", "payload", "keys", "expected"), VECTORS)
def test_write_frame_writes_rfc_6455_examples(
    pair: Any, b0: int, payload: Any, keys: Any, expected: str
) -> None:
    a, b = pair
    want = bytes.fromhex(expected)
    rest = _io.write_frame(a.fileno(), b0, payload, keys) or b""
    assert read_exactly(b, len(want) - len(rest)) + rest == want


def test_write_frame_keys_from_its_own_pool_differ_and_unmask(pair: Any) -> None:
    a, b = pair
    keys = set()
    for _ in range(64):
        assert _io.write_frame(a.fileno(), 0x82, b"abc", True) is None
        frame = read_exactly(b, 9)
        assert frame[:2] == b"\x82\x83"
        key = frame[2:6]
        keys.add(key)
        assert bytes(c ^ key[i % 4] for i, c in enumerate(frame[6:])) == b"abc"
    assert len(keys) > 1


def test_write_frame_pool_is_emptied_in_a_forked_child(pair: Any) -> None:
    a, b = pair

    def draw() -> bytes:  # the key of one masked frame (bytes 2-5), written and read back
        assert _io.write_frame(a.fileno(), 0x82, b"abc", True) is None
        return read_exactly(b, 9)[2:6]

    assert_fork_draws_fresh_keys(draw)


def test_write_frame_returns_what_the_socket_did_not_take(pair: Any) -> None:
    a, _ = pair
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    with pytest.raises(BlockingIOError):
        while True:
            os.write(a.fileno(), b"\x00" * 65536)
    rest = _io.write_frame(a.fileno(), 0x81, "Hello", None)
    assert rest == bytes.fromhex("810548656c6c6f")


# ---- DirectSender -------------------------------------------------------------------------


class Transport2:
    """What DirectSender asks of an asyncio transport (it writes to the socket itself)."""

    def __init__(self) -> None:
        self.buffered = 0
        self.closing = False
        self.written: list[bytes] = []

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))


def test_direct_sender_writes_when_nothing_is_queued_else_falls_back(pair: Any) -> None:
    a, b = pair
    fallen: list[object] = []
    sender = _io.DirectSender(fallen.append)
    sender("early")  # not bound, not armed
    conn = make(SERVER)
    transport = Transport2()
    sender.bind(a.fileno(), transport, conn, None)
    sender.armed = True
    sender("Hello")
    assert read_exactly(b, 7) == bytes.fromhex("810548656c6c6f")
    transport.buffered = 10
    sender(b"queued behind the buffer")
    transport.buffered, transport.closing = 0, True
    sender(b"closing")
    transport.closing = False
    conn.send_close()  # leaves OPEN: plain_send is off
    sender(b"after close")
    assert fallen == ["early", b"queued behind the buffer", b"closing", b"after close"]
    assert transport.written == []


def test_direct_sender_without_a_socket_hands_the_frame_to_the_transport() -> None:
    # TLS: no socket of ours to write to; the frame (RFC 6455 §5.7) goes to transport.write.
    fallen: list[object] = []
    sender = _io.DirectSender(fallen.append)
    transport = Transport2()
    transport.buffered = 10  # irrelevant here: the transport keeps the order itself
    sender.bind(None, transport, make(CLIENT), RFCKey())
    sender.armed = True
    sender("Hello")
    assert transport.written == [bytes.fromhex("818537fa213d7f9f4d5158")]
    assert fallen == []

"""``ws.protocol.Connection``'s work budget: bounded inflation and deflation per call.

A peer's 61 KB frame may inflate to 60 MiB; with ``work_budget`` one call (``receive_data``,
``resume``) inflates and deflates at most that many bytes and ``work_pending()`` says more is
left, so a transport can serve other connections between calls (issue 21, item 6). What a
peer sees must not change: the same messages, in the same order, a big compressed send going
out as fragments (RFC 7692 §6.1) with control frames free to come between (RFC 6455 §5.4).
The frames and the compressed payloads here are built with zlib, independently of the code
under test; a reference ``Connection`` without a budget reads what is sent.
"""

from __future__ import annotations

import itertools
import zlib
from typing import Any

import pytest
from tests.ws.support import merged, raw

from whalewire.ws.deflate import DeflateParams, PerMessageDeflate
from whalewire.ws.protocol import (
    BinaryMessage,
    CloseReceived,
    Connection,
    Event,
    Ping,
    Role,
    State,
    TextMessage,
)

pytestmark = pytest.mark.usefixtures("impl")

CLIENT, SERVER = Role.CLIENT, Role.SERVER
BUDGET = 64 * 1024
#: 1 MiB that compresses to a few KB: 16 budgets' worth of inflating
BIG = bytes(itertools.islice(itertools.cycle(b"whale sighted; "), 1 << 20))
ROLES = pytest.mark.parametrize("role", [CLIENT, SERVER])
PATHS = pytest.mark.parametrize("frame_path", [False, True], ids=["messages", "frames"])


def deflated(message: bytes) -> bytes:
    """The permessage-deflate payload of one message (RFC 7692 §7.2.1), by zlib alone."""
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = comp.compress(message) + comp.flush(zlib.Z_SYNC_FLUSH)
    return data[:-4]


def frame(role: Role, b0: int, payload: bytes) -> bytes:
    """A frame as the peer of ``role`` sends it (masked, key 0, when we are the server)."""
    key = b"\x00\x00\x00\x00" if role is SERVER else None
    return raw(b0 & 0x0F, payload, fin=bool(b0 & 0x80), rsv=b0 & 0x70, key=key)


def codec(role: Role) -> PerMessageDeflate:
    return PerMessageDeflate(DeflateParams(), is_client=role is CLIENT)


class Receiver:
    """A budgeted connection and what it delivered, on either receive path."""

    def __init__(self, role: Role, frame_path: bool, **kw: Any) -> None:
        self.frames: list[tuple[int, bytes, bool]] = []
        on_frame = (lambda o, p, f: self.frames.append((o, bytes(p), f))) if frame_path else None
        self.conn = Connection(
            role,
            deflate=codec(role),
            max_message_size=64 << 20,
            on_frame=on_frame,
            work_budget=BUDGET,
            **kw,
        )
        self.events: list[Event] = []
        self.calls = 0

    def feed(self, data: bytes) -> None:
        self.conn.receive_data(data)
        self.events += self.conn.events_received()

    def finish(self) -> None:
        while self.conn.work_pending():
            self.calls += 1
            self.conn.resume()
            self.events += self.conn.events_received()

    def whole(self) -> list[tuple[int, bytes]]:
        """The frame path's messages so far (a frame's inflated output comes in pieces)."""
        return merged(self.frames)

    def messages(self) -> list[bytes]:
        if self.frames:
            return [payload for _, payload in self.whole()]
        return [e.data for e in self.events if isinstance(e, BinaryMessage)]


def reference(role: Role, data: bytes) -> list[Event]:
    """What the peer of ``role`` reads from ``data``, with no budget."""
    other = SERVER if role is CLIENT else CLIENT
    conn = Connection(other, deflate=codec(other), max_message_size=64 << 20)
    conn.receive_data(data)
    return conn.events_received()


def drain(conn: Connection) -> tuple[bytes, int]:
    """All ``conn`` sends, calling ``resume`` until no work is left; and how many calls."""
    out, calls = conn.data_to_send(), 0
    while conn.work_pending():
        calls += 1
        conn.resume()
        out += conn.data_to_send()
    return out, calls


@ROLES
@PATHS
def test_a_frame_that_inflates_past_the_budget_is_inflated_over_several_calls(
    role: Role, frame_path: bool
) -> None:
    rx = Receiver(role, frame_path)
    rx.feed(frame(role, 0xC2, deflated(BIG)))  # FIN, RSV1, BINARY
    assert rx.conn.work_pending()
    assert rx.events == [] and rx.whole() == []
    assert sum(len(p) for _, p, _ in rx.frames) <= BUDGET  # what one call inflated
    rx.finish()
    assert rx.messages() == [BIG]
    assert rx.calls >= len(BIG) // BUDGET - 1  # at most one budget per call
    assert not rx.conn.work_pending()


@ROLES
@PATHS
def test_bytes_that_arrive_during_the_work_keep_their_order(role: Role, frame_path: bool) -> None:
    rx = Receiver(role, frame_path)
    rx.feed(frame(role, 0xC2, deflated(BIG)))
    rx.feed(frame(role, 0x89, b"hb") + frame(role, 0x82, b"after"))  # PING, BINARY
    assert rx.events == [] and rx.whole() == []  # stored, not parsed, while work is left
    assert rx.conn.data_to_send() == b""  # the ping is not answered before its turn
    rx.finish()
    if frame_path:
        assert rx.whole() == [(2, BIG), (2, b"after")]
        assert rx.events == [Ping(b"hb")]
    else:
        assert rx.events == [BinaryMessage(BIG), Ping(b"hb"), BinaryMessage(b"after")]
    assert reference(role, rx.conn.data_to_send()) != []  # the pong went out after all


@ROLES
def test_a_fragmented_compressed_message_is_inflated_within_the_budget(role: Role) -> None:
    payload = deflated(BIG)
    half = len(payload) // 2
    rx = Receiver(role, False)
    rx.feed(frame(role, 0x42, payload[:half]) + frame(role, 0x80, payload[half:]))
    rx.finish()
    assert rx.events == [BinaryMessage(BIG)]


@ROLES
def test_a_message_over_the_budget_goes_out_as_fragments_over_several_calls(role: Role) -> None:
    conn = Connection(role, deflate=codec(role), work_budget=BUDGET)
    conn.send_binary(BIG)
    conn.send_text("after")  # waits behind the message being compressed
    conn.send_ping(b"hb")  # a control frame may come between fragments
    out, calls = drain(conn)
    assert calls >= len(BIG) // BUDGET - 1
    events = reference(role, out)
    assert events == [Ping(b"hb"), BinaryMessage(BIG), TextMessage("after")]


@ROLES
def test_a_small_message_is_sent_at_once_even_with_no_budget_left(role: Role) -> None:
    conn = Connection(role, deflate=codec(role), work_budget=BUDGET)
    conn.send_binary(BIG)
    conn.data_to_send()
    # nothing waits: a message within one budget is compressed in the call that sends it
    drain(conn)
    conn.send_text("quick")
    assert not conn.work_pending()
    assert reference(role, conn.data_to_send()) == [TextMessage("quick")]


@ROLES
def test_a_close_waits_for_the_message_being_compressed(role: Role) -> None:
    conn = Connection(role, deflate=codec(role), work_budget=BUDGET)
    conn.send_binary(BIG)
    conn.send_close(1000)
    assert conn.state is State.CLOSING
    out, _ = drain(conn)
    assert reference(role, out) == [BinaryMessage(BIG), CloseReceived(1000, "")]


@ROLES
def test_the_peers_close_drops_the_message_being_compressed(role: Role) -> None:
    conn = Connection(role, deflate=codec(role), work_budget=BUDGET)
    conn.send_binary(BIG)
    conn.data_to_send()
    conn.receive_data(frame(role, 0x88, (1000).to_bytes(2, "big")))
    assert not conn.work_pending()
    assert conn.state is State.CLOSED
    events = reference(role, conn.data_to_send())
    assert events[-1] == CloseReceived(1000, "")  # echoed at once, after the fragment sent


@ROLES
def test_without_a_budget_one_call_does_all_the_work(role: Role) -> None:
    conn = Connection(role, deflate=codec(role), max_message_size=64 << 20)
    conn.receive_data(frame(role, 0xC2, deflated(BIG)))
    conn.send_binary(BIG)
    assert not conn.work_pending()
    assert conn.events_received() == [BinaryMessage(BIG)]
    assert reference(role, conn.data_to_send()) == [BinaryMessage(BIG)]


@ROLES
@pytest.mark.parametrize("text", [BIG.decode(), "é€😀 " * (len(BIG) // 10)], ids=["ascii", "wide"])
def test_a_large_text_sent_is_compressed_over_several_calls(role: Role, text: str) -> None:
    # an ASCII str is also encoded a budget at a time (it cannot fail to encode); any
    # other str is encoded when sent, so that an unencodable one raises there
    conn = Connection(role, deflate=codec(role), work_budget=BUDGET)
    conn.send_text(text)
    assert conn.work_pending()
    out, calls = drain(conn)
    assert calls >= len(text.encode()) // BUDGET - 2
    assert reference(role, out) == [TextMessage(text)]


def test_an_unencodable_str_raises_when_sent() -> None:
    conn = Connection(SERVER, deflate=codec(SERVER), work_budget=BUDGET)
    with pytest.raises(UnicodeEncodeError):
        conn.send_text("\ud800" * (2 * BUDGET))
    assert not conn.work_pending() and conn.data_to_send() == b""

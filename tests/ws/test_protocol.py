"""ws.protocol: the connection state machine against RFC 6455 §5–§7 and RFC 7692 §6.

Each input is fed whole, one byte at a time and cut at every split point; the events, the
bytes we answer with and the failure must not depend on the cut. Frames are encoded here by
an independent helper (``raw``), and RFC 6455 §5.7 / RFC 7692 §7.2.3 examples are quoted
byte for byte. Every test runs over the C accelerator and over pure Python (``impl``).
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.ws.support import CLIENT, FRAME_SOUP, KEY, SERVER, make, parse_sent, peer, raw

from whalewire import speedups
from whalewire.ws.exceptions import InvalidState, ProtocolError
from whalewire.ws.frames import HEADROOM
from whalewire.ws.protocol import (
    BinaryMessage,
    CloseReceived,
    Connection,
    Event,
    Ping,
    Pong,
    Role,
    State,
    TextMessage,
)

pytestmark = pytest.mark.usefixtures("impl")

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


# ---- helpers ------------------------------------------------------------------------------


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


def chunkings(data: bytes) -> Iterator[list[bytes]]:
    """Whole, one byte at a time, and cut at every split point (all of them when small)."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    step = 1 if len(data) <= 400 else max(1, len(data) // 97)
    for i in range(1, len(data), step):
        yield [data[:i], data[i:]]


class Outcome:
    def __init__(self, conn: Connection, events: list[Event], sent: bytes) -> None:
        self.conn, self.events, self.sent = conn, events, sent
        self.code = None if conn.error is None else conn.error.code

    def key(self) -> tuple[object, ...]:
        return (self.events, self.sent, self.code, self.conn.state)


def feed(role: Role, data: bytes, **kw: Any) -> Outcome:
    """Feed ``data`` in every chunking; assert they agree and return one outcome."""
    outcomes = []
    for chunks in chunkings(data):
        conn = make(role, **kw)
        events: list[Event] = []
        sent = b""
        for chunk in chunks:
            conn.receive_data(chunk)
            events += conn.events_received()
            sent += conn.data_to_send()
        outcomes.append(Outcome(conn, events, sent))
    first = outcomes[0]
    for other in outcomes[1:]:
        assert other.key() == first.key()
    return first


def assert_fails(role: Role, data: bytes, code: int, **kw: Any) -> Outcome:
    """Feeding ``data`` fails the connection with ``code``, answered by one close frame."""
    out = feed(role, data, **kw)
    assert out.code == code
    assert out.conn.state is State.CLOSING
    assert out.conn.close_expected()
    assert out.conn.should_close_transport()
    frames = parse_sent(role, out.sent)
    assert frames[-1][0] == CLOSE
    assert int.from_bytes(frames[-1][2][:2], "big") == code
    assert [f for f in frames if f[0] == CLOSE] == [frames[-1]]
    # the frame path (and its C scanner) fails the same way
    fast = feed(role, data, on_frame=lambda opcode, payload, fin: None, **kw)
    assert (fast.code, fast.sent) == (out.code, out.sent)
    return out


class ZlibCodec:
    """A minimal permessage-deflate codec (RFC 7692 §7.2), independent of ws.deflate."""

    def __init__(self) -> None:
        self._c = zlib.compressobj(wbits=-15)
        self._d = zlib.decompressobj(wbits=-15)

    def compress(self, payload: bytes | bytearray | memoryview) -> bytes:
        return self.compress_step(payload, fin=True)

    def compress_step(self, chunk: bytes | bytearray | memoryview, *, fin: bool) -> bytes:
        if not fin:
            return self._c.compress(chunk)
        data = self._c.compress(chunk) + self._c.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        return data[:-4]

    def decompress_step(
        self,
        fragment: bytes | bytearray | memoryview | None,
        *,
        fin: bool,
        max_size: int,
        budget: int,
    ) -> tuple[bytes, bool]:
        # no bound on the work: a codec may ignore the budget (the core still counts it)
        return self.decompress(fragment or b"", fin=fin, max_size=max_size), True

    def decompress(
        self, fragment: bytes | bytearray | memoryview, *, fin: bool, max_size: int
    ) -> bytes:
        try:
            out = self._d.decompress(bytes(fragment) + (b"\x00\x00\xff\xff" if fin else b""))
        except zlib.error as exc:  # the MessageCodec contract: bad data is the peer's fault
            raise ProtocolError(f"invalid compressed data: {exc}") from None
        if len(out) > max_size:
            from whalewire.ws.exceptions import PayloadTooBig

            raise PayloadTooBig(len(out), max_size)
        return out


ROLES = pytest.mark.parametrize("role", [CLIENT, SERVER])


# ---- RFC 6455 §5.7 examples ------------------------------------------------------------------


def test_client_receives_rfc_unmasked_hello() -> None:
    # RFC 6455 §5.7: a single-frame unmasked text message
    out = feed(CLIENT, bytes.fromhex("810548656c6c6f"))
    assert out.events == [TextMessage("Hello")]
    assert out.sent == b""


def test_server_receives_rfc_masked_hello() -> None:
    # RFC 6455 §5.7: a single-frame masked text message
    out = feed(SERVER, bytes.fromhex("818537fa213d7f9f4d5158"))
    assert out.events == [TextMessage("Hello")]


def test_client_receives_rfc_fragmented_hello() -> None:
    # RFC 6455 §5.7: a fragmented unmasked text message
    out = feed(CLIENT, bytes.fromhex("010348656c") + bytes.fromhex("80026c6f"))
    assert out.events == [TextMessage("Hello")]


def test_client_answers_rfc_ping_with_masked_pong_of_same_payload() -> None:
    # RFC 6455 §5.7: unmasked ping "Hello"; §5.5.3 the pong carries the same data; the
    # client masks it, which with the §5.7 key gives the RFC's masked pong byte for byte.
    out = feed(CLIENT, bytes.fromhex("890548656c6c6f"))
    assert out.events == [Ping(b"Hello")]
    assert out.sent == bytes.fromhex("8a8537fa213d7f9f4d5158")


def test_server_receives_rfc_masked_pong() -> None:
    # RFC 6455 §5.7: masked pong "Hello" (answer to the ping above)
    out = feed(SERVER, bytes.fromhex("8a8537fa213d7f9f4d5158"))
    assert out.events == [Pong(b"Hello")]
    assert out.sent == b""


def test_client_receives_rfc_256_byte_binary_with_16_bit_length() -> None:
    # RFC 6455 §5.7: 0x82 0x7E 0x0100 [256 bytes of binary data]
    payload = bytes(range(256))
    out = feed(CLIENT, bytes.fromhex("827e0100") + payload)
    assert out.events == [BinaryMessage(payload)]


def test_client_receives_rfc_64k_binary_with_64_bit_length() -> None:
    # RFC 6455 §5.7: 0x82 0x7F 0x0000000000010000 [65536 bytes of binary data]
    payload = bytes(range(256)) * 256
    out = feed(CLIENT, bytes.fromhex("827f0000000000010000") + payload)
    assert out.events == [BinaryMessage(payload)]


def test_client_sends_rfc_masked_hello() -> None:
    conn = make(CLIENT)
    conn.send_text("Hello")
    assert conn.data_to_send() == bytes.fromhex("818537fa213d7f9f4d5158")


def test_server_sends_rfc_unmasked_hello() -> None:
    conn = make(SERVER)
    conn.send_text("Hello")
    assert conn.data_to_send() == bytes.fromhex("810548656c6c6f")


def test_server_sends_rfc_256_and_64k_binary_headers() -> None:
    conn = make(SERVER)
    conn.send_binary(bytes(256))
    assert conn.data_to_send()[:4] == bytes.fromhex("827e0100")
    conn.send_binary(bytes(65536))
    assert conn.data_to_send()[:10] == bytes.fromhex("827f0000000000010000")


# ---- messages and fragments ---------------------------------------------------------------


@ROLES
@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536])
def test_binary_message_of_each_length_encoding_is_received(role: Role, size: int) -> None:
    payload = bytes((i * 7) & 0xFF for i in range(size))
    out = feed(role, peer(role, BINARY, payload))
    assert out.events == [BinaryMessage(payload)]


@ROLES
def test_fragmented_text_is_reassembled_across_a_split_code_point(role: Role) -> None:
    text = "κόσμε €𝄞"
    data = text.encode()
    frames = peer(role, TEXT, data[:2], fin=False) + peer(role, CONT, data[2:6], fin=False)
    out = feed(role, frames + peer(role, CONT, data[6:]))
    assert out.events == [TextMessage(text)]


@ROLES
def test_ping_between_fragments_is_answered_and_the_message_completes(role: Role) -> None:
    data = (
        peer(role, BINARY, b"ab", fin=False)
        + peer(role, PING, b"p")
        + peer(role, CONT, b"cd", fin=False)
        + peer(role, PONG, b"q")
        + peer(role, CONT, b"ef")
    )
    out = feed(role, data)
    assert out.events == [Ping(b"p"), Pong(b"q"), BinaryMessage(b"abcdef")]
    assert parse_sent(role, out.sent) == [(PONG, True, b"p")]


@ROLES
def test_empty_fragments_make_an_empty_text_message(role: Role) -> None:
    data = peer(role, TEXT, b"", fin=False) + peer(role, CONT, b"", fin=False)
    out = feed(role, data + peer(role, CONT, b""))
    assert out.events == [TextMessage("")]


@ROLES
def test_several_messages_in_one_chunk_keep_their_order(role: Role) -> None:
    data = peer(role, TEXT, b"one") + peer(role, BINARY, b"two") + peer(role, TEXT, b"3")
    out = feed(role, data)
    assert out.events == [TextMessage("one"), BinaryMessage(b"two"), TextMessage("3")]


# ---- framing violations: 1002 --------------------------------------------------------------


def test_server_receives_unmasked_frame_closes_1002() -> None:
    assert_fails(SERVER, raw(TEXT, b"hi"), 1002)


def test_client_receives_masked_frame_closes_1002() -> None:
    assert_fails(CLIENT, raw(TEXT, b"hi", key=KEY), 1002)


@ROLES
@pytest.mark.parametrize("rsv", [0x40, 0x20, 0x10, 0x70])
def test_reserved_bits_without_extension_close_1002(role: Role, rsv: int) -> None:
    assert_fails(role, peer(role, TEXT, b"hi", rsv=rsv), 1002)


@ROLES
@pytest.mark.parametrize("rsv", [0x20, 0x10])
def test_rsv2_or_rsv3_with_deflate_close_1002(role: Role, rsv: int) -> None:
    assert_fails(role, peer(role, TEXT, b"hi", rsv=rsv), 1002, deflate=ZlibCodec)


@ROLES
def test_rsv1_on_a_continuation_frame_closes_1002(role: Role) -> None:
    # RFC 7692 §6.1: RSV1 marks the first frame of a compressed message only
    data = peer(role, TEXT, b"a", fin=False) + peer(role, CONT, b"b", rsv=0x40)
    assert_fails(role, data, 1002, deflate=ZlibCodec)


@ROLES
def test_rsv1_on_a_control_frame_closes_1002(role: Role) -> None:
    assert_fails(role, peer(role, PING, b"", rsv=0x40), 1002, deflate=ZlibCodec)


@ROLES
@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcode_closes_1002(role: Role, opcode: int) -> None:
    assert_fails(role, peer(role, opcode, b"x"), 1002)


@ROLES
def test_control_frame_over_125_bytes_closes_1002(role: Role) -> None:
    assert_fails(role, peer(role, PING, b"x" * 126), 1002)


@ROLES
def test_fragmented_ping_closes_1002(role: Role) -> None:
    assert_fails(role, peer(role, PING, b"x", fin=False), 1002)


@ROLES
def test_continuation_without_a_message_closes_1002(role: Role) -> None:
    assert_fails(role, peer(role, CONT, b"x"), 1002)


@ROLES
def test_new_text_frame_inside_a_fragmented_message_closes_1002(role: Role) -> None:
    data = peer(role, BINARY, b"a", fin=False) + peer(role, TEXT, b"b")
    assert_fails(role, data, 1002)


def test_non_minimal_16_bit_length_closes_1002() -> None:
    # RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length"
    assert_fails(CLIENT, bytes.fromhex("827e007d") + bytes(125), 1002)


def test_non_minimal_64_bit_length_closes_1002() -> None:
    assert_fails(CLIENT, bytes.fromhex("827f000000000000ffff") + bytes(65535), 1002)


def test_64_bit_length_with_the_high_bit_set_closes_1002() -> None:
    # RFC 6455 §5.2: "the most significant bit MUST be 0"
    assert_fails(CLIENT, bytes.fromhex("827f8000000000000001"), 1002)


@ROLES
def test_violation_fails_before_the_payload_arrives(role: Role) -> None:
    conn = make(role)
    conn.receive_data(peer(role, 0x3, b"x" * 50)[:2])
    assert conn.error is not None and conn.error.code == 1002


# ---- sizes: 1009 ---------------------------------------------------------------------------


@ROLES
def test_frame_over_the_frame_limit_closes_1009_on_its_header(role: Role) -> None:
    conn = make(role, max_frame_size=1000, max_message_size=10_000)
    conn.receive_data(peer(role, BINARY, bytes(1001))[:8])
    assert conn.error is not None and conn.error.code == 1009


@ROLES
def test_fragments_over_the_message_limit_close_1009(role: Role) -> None:
    data = peer(role, BINARY, bytes(600), fin=False) + peer(role, CONT, bytes(600))
    assert_fails(role, data, 1009, max_message_size=1000)


@ROLES
def test_message_at_the_limit_is_received(role: Role) -> None:
    data = peer(role, BINARY, bytes(500), fin=False) + peer(role, CONT, bytes(500))
    out = feed(role, data, max_message_size=1000)
    assert out.events == [BinaryMessage(bytes(1000))]


@ROLES
def test_compressed_message_inflating_over_the_limit_closes_1009(role: Role) -> None:
    payload = ZlibCodec().compress(bytes(5000))
    assert len(payload) < 1000  # the frame itself is within the limit
    data = peer(role, BINARY, payload, rsv=0x40)
    assert_fails(role, data, 1009, deflate=ZlibCodec, max_message_size=1000)


# ---- UTF-8: 1007 ---------------------------------------------------------------------------

#: Autobahn 6.4.1's parts: valid, then > U+10FFFF (invalid), then valid
AUTOBAHN_641 = (
    bytes.fromhex("cebae1bdb9cf83cebcceb5"),
    bytes.fromhex("f4908080"),
    bytes.fromhex("656469746564"),
)


@ROLES
@pytest.mark.parametrize(
    "payload",
    [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"ab\xe2\x82", b"\x80"],
    ids=["ff", "overlong", "surrogate", "above-10ffff", "truncated", "lone-continuation"],
)
def test_invalid_utf8_text_closes_1007(role: Role, payload: bytes) -> None:
    assert_fails(role, peer(role, TEXT, payload), 1007)


@ROLES
def test_invalid_utf8_fails_on_the_fragment_that_breaks_it(role: Role) -> None:
    # Autobahn 6.4.1: fail fast, before the final fragment arrives
    p1, p2, _ = AUTOBAHN_641
    conn = make(role)
    conn.receive_data(peer(role, TEXT, p1, fin=False))
    assert conn.error is None
    conn.receive_data(peer(role, CONT, p2, fin=False))
    assert conn.error is not None and conn.error.code == 1007


@ROLES
def test_invalid_utf8_fails_on_the_chunk_of_a_frame_that_breaks_it(role: Role) -> None:
    # Autobahn 6.4.3: one frame delivered in three TCP chunks; fail on the second
    p1, p2, p3 = AUTOBAHN_641
    frame = peer(role, TEXT, p1 + p2 + p3)
    cut1 = len(frame) - len(p2 + p3)
    conn = make(role)
    conn.receive_data(frame[:cut1])
    assert conn.error is None
    conn.receive_data(frame[cut1 : cut1 + len(p2)])
    assert conn.error is not None and conn.error.code == 1007


@ROLES
def test_valid_text_cut_inside_code_points_is_received(role: Role) -> None:
    text = "€𝄞κόσμε" * 20
    out = feed(role, peer(role, TEXT, text.encode()))
    assert out.events == [TextMessage(text)]


@ROLES
def test_close_reason_not_utf8_closes_1007(role: Role) -> None:
    assert_fails(role, peer(role, CLOSE, close_payload(1000, b"\xff")), 1007)


# ---- close handshake -----------------------------------------------------------------------


@ROLES
@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
)
def test_close_with_a_valid_code_is_echoed(role: Role, code: int) -> None:
    out = feed(role, peer(role, CLOSE, close_payload(code, b"bye")))
    assert out.events == [CloseReceived(code, "bye")]
    assert parse_sent(role, out.sent) == [(CLOSE, True, close_payload(code))]
    assert out.conn.state is State.CLOSED
    assert (out.conn.close_code, out.conn.close_reason) == (code, "bye")


@ROLES
@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000])
def test_close_with_an_invalid_code_closes_1002(role: Role, code: int) -> None:
    # Autobahn 7.9.x plus the reserved 1015 and the first code above the private range
    assert_fails(role, peer(role, CLOSE, close_payload(code)), 1002)


@ROLES
def test_close_with_a_1_byte_payload_closes_1002(role: Role) -> None:
    assert_fails(role, peer(role, CLOSE, b"\x03"), 1002)


@ROLES
def test_empty_close_means_1005_and_is_echoed_empty(role: Role) -> None:
    out = feed(role, peer(role, CLOSE))
    assert out.events == [CloseReceived(1005, "")]
    assert parse_sent(role, out.sent) == [(CLOSE, True, b"")]


@ROLES
def test_data_after_the_close_frame_is_ignored(role: Role) -> None:
    data = peer(role, CLOSE, close_payload(1000)) + peer(role, TEXT, b"late") + b"\xff\xff"
    out = feed(role, data)
    assert out.events == [CloseReceived(1000, "")]
    assert out.conn.error is None


@ROLES
def test_send_close_then_receive_close_completes_the_handshake(role: Role) -> None:
    conn = make(role)
    conn.send_close(1001, "going")
    assert conn.state is State.CLOSING
    assert parse_sent(role, conn.data_to_send()) == [(CLOSE, True, close_payload(1001, b"going"))]
    conn.receive_data(peer(role, TEXT, b"still flowing") + peer(role, CLOSE, close_payload(1001)))
    assert conn.events_received() == [TextMessage("still flowing"), CloseReceived(1001, "")]
    assert conn.state is State.CLOSED
    assert conn.data_to_send() == b""  # no second close frame


def test_server_closes_the_transport_after_the_close_handshake() -> None:
    conn = make(SERVER)
    conn.receive_data(peer(SERVER, CLOSE, close_payload(1000)))
    assert conn.should_close_transport()


def test_client_waits_for_the_server_to_close_the_transport() -> None:
    # RFC 6455 §7.1.1: the server closes the TCP connection first
    conn = make(CLIENT)
    conn.receive_data(peer(CLIENT, CLOSE, close_payload(1000)))
    assert conn.close_expected()
    assert not conn.should_close_transport()


@ROLES
def test_ping_while_closing_is_not_answered(role: Role) -> None:
    conn = make(role)
    conn.send_close()
    conn.data_to_send()
    conn.receive_data(peer(role, PING, b"x"))
    assert conn.events_received() == [Ping(b"x")]
    assert conn.data_to_send() == b""


@ROLES
def test_eof_without_close_means_1006(role: Role) -> None:
    conn = make(role)
    conn.receive_data(peer(role, TEXT, b"partial")[:4])
    conn.receive_eof()
    assert conn.state is State.CLOSED
    assert conn.close_code == 1006
    assert conn.events_received() == []
    assert conn.should_close_transport()


# ---- sticky errors and local misuse --------------------------------------------------------


@ROLES
def test_after_a_violation_valid_frames_are_ignored(role: Role) -> None:
    conn = make(role)
    conn.receive_data(peer(role, 0x3))
    conn.data_to_send()
    conn.receive_data(peer(role, TEXT, b"hello") + peer(role, PING, b"x"))
    assert conn.events_received() == []
    assert conn.data_to_send() == b""
    assert conn.error is not None and conn.error.code == 1002


@ROLES
def test_sending_after_a_violation_raises_invalid_state(role: Role) -> None:
    conn = make(role)
    conn.receive_data(peer(role, 0x3))
    with pytest.raises(InvalidState):
        conn.send_text("x")
    assert conn.state is State.CLOSING


@ROLES
@pytest.mark.parametrize(
    "send",
    [
        lambda c: c.send_text("x"),
        lambda c: c.send_binary(b"x"),
        lambda c: c.send_ping(),
        lambda c: c.send_pong(),
        lambda c: c.send_close(),
    ],
    ids=["text", "binary", "ping", "pong", "close"],
)
def test_sending_after_close_raises_and_leaves_the_state(role: Role, send: Any) -> None:
    conn = make(role)
    conn.send_close()
    conn.data_to_send()
    with pytest.raises(InvalidState):
        send(conn)
    assert conn.state is State.CLOSING
    assert conn.data_to_send() == b""


@ROLES
def test_send_close_rejects_a_reserved_code(role: Role) -> None:
    conn = make(role)
    with pytest.raises(ValueError, match="1005"):
        conn.send_close(1005)
    assert conn.state is State.OPEN


@ROLES
def test_ping_over_125_bytes_is_refused(role: Role) -> None:
    with pytest.raises(ValueError, match="125"):
        make(role).send_ping(bytes(126))


# ---- sending -------------------------------------------------------------------------------


@ROLES
def test_fragmented_send_keeps_the_opcode_sequence(role: Role) -> None:
    conn = make(role)
    conn.send_frame(TEXT, b"He", fin=False)
    conn.send_ping(b"!")
    conn.send_frame(CONT, b"ll", fin=False)
    conn.send_frame(CONT, b"o", fin=True)
    assert parse_sent(role, conn.data_to_send()) == [
        (TEXT, False, b"He"),
        (PING, True, b"!"),
        (CONT, False, b"ll"),
        (CONT, True, b"o"),
    ]


@ROLES
def test_new_message_during_a_fragmented_send_raises(role: Role) -> None:
    conn = make(role)
    conn.send_frame(BINARY, b"a", fin=False)
    with pytest.raises(InvalidState):
        conn.send_text("b")
    with pytest.raises(InvalidState):
        conn.send_frame(TEXT, b"b")


@ROLES
def test_continuation_without_a_started_message_raises(role: Role) -> None:
    with pytest.raises(InvalidState):
        make(role).send_frame(CONT, b"x")


@ROLES
def test_send_in_place_gives_the_same_bytes_as_send_text(role: Role) -> None:
    payload = b'{"method":"order.place","id":7}'
    buf = bytearray(HEADROOM) + payload
    a = make(role)
    frame = a.send_in_place(buf, len(payload))
    b = make(role)
    b.send_text(payload)
    assert bytes(frame) == b.data_to_send()
    # zero copy: the frame is a view into the caller's buffer
    assert frame.obj is buf


@ROLES
def test_send_in_place_puts_pending_bytes_first(role: Role) -> None:
    conn = make(role)
    conn.receive_data(peer(role, PING, b"p"))
    buf = bytearray(HEADROOM) + b"hi"
    frames = parse_sent(role, bytes(conn.send_in_place(buf, 2)))
    assert frames == [(PONG, True, b"p"), (TEXT, True, b"hi")]


# ---- permessage-deflate (RFC 7692) ---------------------------------------------------------


def test_client_inflates_rfc7692_compressed_hello() -> None:
    # RFC 7692 §7.2.3.1: "Hello" in one compressed frame
    out = feed(CLIENT, bytes.fromhex("c107f248cdc9c90700"), deflate=ZlibCodec)
    assert out.events == [TextMessage("Hello")]


def test_client_inflates_rfc7692_fragmented_compressed_hello() -> None:
    # RFC 7692 §7.2.3.1: the same compressed "Hello" in two fragments
    data = bytes.fromhex("4103f248cd") + bytes.fromhex("8004c9c90700")
    out = feed(CLIENT, data, deflate=ZlibCodec)
    assert out.events == [TextMessage("Hello")]


def test_client_inflates_rfc7692_shared_context_messages() -> None:
    # RFC 7692 §7.2.3.2: the second "Hello" refers back into the first message's window
    data = bytes.fromhex("c107f248cdc9c90700") + bytes.fromhex("c105f200110000")
    out = feed(CLIENT, data, deflate=ZlibCodec)
    assert out.events == [TextMessage("Hello"), TextMessage("Hello")]


@ROLES
def test_compressed_messages_round_trip_between_client_and_server(role: Role) -> None:
    sender = make(role, deflate=ZlibCodec())
    other = CLIENT if role is SERVER else SERVER
    receiver = make(other, deflate=ZlibCodec())
    for text in ["Hello", "Hello", "", "x" * 10_000]:
        sender.send_text(text)
    sender.send_binary(b"\x00" * 300, compress=False)
    receiver.receive_data(sender.data_to_send())
    assert receiver.events_received() == [
        TextMessage("Hello"),
        TextMessage("Hello"),
        TextMessage(""),
        TextMessage("x" * 10_000),
        BinaryMessage(b"\x00" * 300),
    ]


@ROLES
def test_compressed_invalid_utf8_closes_1007(role: Role) -> None:
    payload = ZlibCodec().compress(b"ok\xff")
    assert_fails(role, peer(role, TEXT, payload, rsv=0x40), 1007, deflate=ZlibCodec)


# ---- the frame path (on_frame) -------------------------------------------------------------


class Frames:
    """An on_frame callback that records copies of what it was given."""

    def __init__(self) -> None:
        self.got: list[tuple[int, bytes, bool]] = []

    def __call__(self, opcode: int, payload: memoryview, fin: bool) -> None:
        assert isinstance(payload, memoryview)
        self.got.append((opcode, bytes(payload), fin))


@ROLES
def test_frame_path_hands_each_data_frame_with_its_opcode_and_fin(role: Role) -> None:
    data = (
        peer(role, TEXT, b"He", fin=False)
        + peer(role, PING, b"p")
        + peer(role, CONT, b"llo")
        + peer(role, BINARY, b"\x00\x01")
    )
    for chunks in chunkings(data):
        cb = Frames()
        conn = make(role, on_frame=cb)
        for chunk in chunks:
            conn.receive_data(chunk)
        assert cb.got == [(TEXT, b"He", False), (CONT, b"llo", True), (BINARY, b"\x00\x01", True)]
        assert conn.events_received() == [Ping(b"p")]
        assert parse_sent(role, conn.data_to_send()) == [(PONG, True, b"p")]


def test_frame_path_server_unmasks_in_place_in_a_writable_buffer() -> None:
    buf = bytearray(peer(SERVER, BINARY, b"payload"))
    seen: list[memoryview] = []

    def on_frame(opcode: int, payload: memoryview, fin: bool) -> None:
        seen.append(payload)
        assert payload.obj is buf  # no copy: a view into the receive buffer

    make(SERVER, on_frame=on_frame).receive_data(buf)
    assert bytes(buf[-7:]) == b"payload"
    assert len(seen) == 1


@ROLES
def test_frame_path_checks_utf8_of_text_frames(role: Role) -> None:
    cb = Frames()
    conn = make(role, on_frame=cb)
    conn.receive_data(peer(role, TEXT, AUTOBAHN_641[0], fin=False))
    conn.receive_data(peer(role, CONT, AUTOBAHN_641[1], fin=False))
    assert conn.error is not None and conn.error.code == 1007
    assert len(cb.got) == 1


@ROLES
def test_frame_path_inflates_compressed_frames(role: Role) -> None:
    sender = make(CLIENT if role is SERVER else SERVER, deflate=ZlibCodec())
    sender.send_text("Hello " * 50)
    cb = Frames()
    conn = make(role, on_frame=cb, deflate=ZlibCodec())
    conn.receive_data(sender.data_to_send())
    assert cb.got == [(TEXT, b"Hello " * 50, True)]


@ROLES
def test_frame_path_callback_error_propagates_and_parsing_resumes(role: Role) -> None:
    got: list[bytes] = []

    def on_frame(opcode: int, payload: memoryview, fin: bool) -> None:
        got.append(bytes(payload))
        if payload == b"boom":
            raise RuntimeError("callback failed")

    conn = make(role, on_frame=on_frame)
    data = peer(role, BINARY, b"boom") + peer(role, BINARY, b"next")
    with pytest.raises(RuntimeError):
        conn.receive_data(data[:-2])
    conn.receive_data(data[-2:])
    assert got == [b"boom", b"next"]
    assert conn.error is None


@ROLES
def test_frame_path_survives_a_callback_that_keeps_its_view(role: Role) -> None:
    kept: list[memoryview] = []
    conn = make(role, on_frame=lambda op, payload, fin: kept.append(payload))
    data = peer(role, BINARY, b"first") + peer(role, BINARY, b"second")
    conn.receive_data(data[:-3])
    conn.receive_data(data[-3:])
    assert [bytes(v) for v in kept] == [b"first", b"second"]


@ROLES
def test_frame_path_refuses_a_single_invalid_text_frame_without_handing_it_out(role: Role) -> None:
    cb = Frames()
    conn = make(role, on_frame=cb)
    conn.receive_data(peer(role, BINARY, b"ok") + peer(role, TEXT, b"ab\xffcd"))
    assert conn.error is not None and conn.error.code == 1007
    assert cb.got == [(BINARY, b"ok", True)]


@ROLES
def test_frame_path_hands_out_frames_of_every_length_encoding(role: Role) -> None:
    sizes = [0, 125, 126, 65535, 65536]
    data = b"".join(peer(role, BINARY, bytes([i]) * n) for i, n in enumerate(sizes))
    cb = Frames()
    make(role, on_frame=cb).receive_data(bytearray(data))
    assert cb.got == [(BINARY, bytes([i]) * n, True) for i, n in enumerate(sizes)]


@ROLES
def test_rsv1_messages_go_through_the_real_permessage_deflate_codec(role: Role) -> None:
    from whalewire.ws.deflate import DeflateParams, PerMessageDeflate

    params = DeflateParams(client_no_context_takeover=True, server_max_window_bits=10)
    other = CLIENT if role is SERVER else SERVER
    sender = make(other, deflate=PerMessageDeflate(params, is_client=other is CLIENT))
    receiver = make(role, deflate=PerMessageDeflate(params, is_client=role is CLIENT))
    texts = ["Hello", "Hello", "", "€" * 5000]
    for text in texts:
        sender.send_text(text)
    # RFC 7692 §7.2.3.1's fragmented "Hello", as this peer would frame it
    data = sender.data_to_send() + peer(role, TEXT, bytes.fromhex("f248cd"), fin=False, rsv=0x40)
    data += peer(role, CONT, bytes.fromhex("c9c90700"))
    receiver.receive_data(data)
    assert receiver.events_received() == [TextMessage(t) for t in [*texts, "Hello"]]
    assert receiver.error is None


# ---- fuzzing: arbitrary bytes never escape as an exception ---------------------------------


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=FRAME_SOUP,
    cuts=st.lists(st.integers(0, 300), max_size=4),
    server=st.booleans(),
    frame_path=st.booleans(),
    deflate=st.booleans(),
)
def test_arbitrary_bytes_end_in_events_or_a_documented_close_code(
    data: bytes, cuts: list[int], server: bool, frame_path: bool, deflate: bool
) -> None:
    role = SERVER if server else CLIENT
    kw: dict[str, Any] = {"max_message_size": 200}
    if frame_path:
        kw["on_frame"] = lambda opcode, payload, fin: None
    if deflate:
        kw["deflate"] = ZlibCodec()
    conn = make(role, **kw)
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for a, b in itertools.pairwise(bounds):
        conn.receive_data(data[a:b])  # never raises: violations fail the connection
    conn.events_received()
    sent = parse_sent(role, conn.data_to_send())
    if conn.error is not None:
        assert conn.error.code in (1002, 1007, 1009)
        assert sent[-1][0] == CLOSE
        assert int.from_bytes(sent[-1][2][:2], "big") == conn.error.code
    conn.receive_eof()
    assert conn.state is State.CLOSED


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=FRAME_SOUP,
    cuts=st.lists(st.integers(0, 300), max_size=4),
    server=st.booleans(),
    frame_path=st.booleans(),
)
def test_c_scanners_agree_with_the_python_reader(
    impl: str, data: bytes, cuts: list[int], server: bool, frame_path: bool
) -> None:
    if impl != "c":
        pytest.skip("compares the C scanners with the Python reader")

    def run() -> tuple[object, ...]:
        got: list[tuple[int, bytes, bool]] = []
        kw: dict[str, Any] = {"max_message_size": 200}
        if frame_path:
            kw["on_frame"] = lambda opcode, payload, fin: got.append((opcode, bytes(payload), fin))
        conn = make(SERVER if server else CLIENT, **kw)
        bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
        for a, b in itertools.pairwise(bounds):
            conn.receive_data(bytearray(data[a:b]))
        code = None if conn.error is None else conn.error.code
        return conn.events_received(), got, conn.data_to_send(), code, conn.state

    with_c = run()
    old = speedups.use(False)
    try:
        reference = run()
    finally:
        speedups.use(old)
    assert with_c == reference

"""ws.frames: frame building (RFC 6455 §5.2, §5.7 examples) and the close-frame rules (§7.4)."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.ws.support import KEY, merged  # KEY: RFC 6455 §5.7

from whalewire import speedups
from whalewire.ws import frames
from whalewire.ws.exceptions import InvalidUTF8, ProtocolError
from whalewire.ws.frames import (
    HEADROOM,
    Opcode,
    build_close_payload,
    build_frame,
    frame_in_place,
    header_length,
    is_valid_close_code,
    parse_close_payload,
    py_pack_frame,
    py_pack_in_place,
    write_header,
)
from whalewire.ws.protocol import (
    STREAM_FROM,
    BinaryMessage,
    Connection,
    Event,
    Ping,
    Role,
    TextMessage,
)

pytestmark = pytest.mark.usefixtures("impl")


@pytest.fixture(scope="module", autouse=True)
def c_is_the_default_when_built() -> None:
    """Before any test switches paths: importing ``ws.frames`` picks C when it is built."""
    assert frames.SPEEDUPS is (frames._speedups is not None and speedups.ENABLED)


@pytest.fixture(autouse=True)
def impl_in_use(impl: str) -> Iterator[None]:
    """Fail a test whose "python" run would silently build frames in C (or the reverse)."""
    if impl == "python":
        assert (frames.pack_frame, frames.pack_in_place) == (py_pack_frame, py_pack_in_place)
        assert frames.SPEEDUPS is False
    else:
        assert frames.pack_frame is not py_pack_frame
        assert frames.pack_in_place is not py_pack_in_place
        assert frames.SPEEDUPS is True
    yield


#: (opcode, payload, fin, mask_key, frame) from RFC 6455 §5.7
RFC_FRAMES = [
    (Opcode.TEXT, b"Hello", True, None, "810548656c6c6f"),
    (Opcode.TEXT, b"Hello", True, KEY, "818537fa213d7f9f4d5158"),
    (Opcode.TEXT, b"Hel", False, None, "010348656c"),
    (Opcode.CONTINUATION, b"lo", True, None, "80026c6f"),
    (Opcode.PING, b"Hello", True, None, "890548656c6c6f"),
    (Opcode.PONG, b"Hello", True, KEY, "8a8537fa213d7f9f4d5158"),
]


@pytest.mark.parametrize(("opcode", "payload", "fin", "key", "frame"), RFC_FRAMES)
def test_build_frame_gives_the_rfc_example(
    opcode: int, payload: bytes, fin: bool, key: bytes | None, frame: str
) -> None:
    assert build_frame(opcode, payload, fin=fin, mask_key=key) == bytes.fromhex(frame)


@pytest.mark.parametrize(
    ("size", "header"),
    [(256, "827e0100"), (65536, "827f0000000000010000"), (125, "827d"), (65535, "827effff")],
)
def test_build_frame_uses_the_minimal_length_encoding(size: int, header: str) -> None:
    # RFC 6455 §5.7: 256 bytes and 64 KiB binary headers
    frame = build_frame(Opcode.BINARY, bytes(size))
    assert frame[: len(header) // 2] == bytes.fromhex(header)
    assert len(frame) == len(header) // 2 + size


def test_build_frame_sets_rsv1_for_compressed_messages() -> None:
    # RFC 7692 §7.2.3.1: c1 07 f2 48 cd c9 c9 07 00
    payload = bytes.fromhex("f248cdc9c90700")
    assert build_frame(Opcode.TEXT, payload, rsv1=True) == bytes.fromhex("c107") + payload


@pytest.mark.parametrize(
    ("n", "masked", "size"),
    [
        (0, False, 2),
        (125, True, 6),
        (126, False, 4),
        (65535, True, 8),
        (65536, False, 10),
        (2**40, True, 14),
    ],
)
def test_header_length(n: int, masked: bool, size: int) -> None:
    assert header_length(n, masked) == size


@pytest.mark.parametrize("size", [5, 300, 70_000])
@pytest.mark.parametrize("key", [None, KEY])
def test_frame_in_place_equals_build_frame_without_copying(size: int, key: bytes | None) -> None:
    payload = bytes((i * 13) & 0xFF for i in range(size))
    buf = bytearray(HEADROOM) + payload
    view = frame_in_place(buf, size, Opcode.BINARY, mask_key=key)
    assert bytes(view) == build_frame(Opcode.BINARY, payload, mask_key=key)
    assert view.obj is buf
    assert view.nbytes == len(buf) - (HEADROOM - header_length(size, key is not None))


def test_write_header_refuses_too_little_headroom() -> None:
    with pytest.raises(ValueError):
        write_header(bytearray(20), 3, Opcode.TEXT, 1000)


def test_frame_in_place_refuses_a_payload_past_the_buffer() -> None:
    with pytest.raises(ValueError):
        frame_in_place(bytearray(HEADROOM + 3), 4)


# ---- the length boundaries, in every path that writes a header ----------------------------
# RFC 6455 §5.2: a length up to 125 sits in the 7-bit field, 126..65535 takes the 16-bit
# extension (marker 126), 65536 and above the 64-bit one (marker 127). Expected headers are
# written out here by hand, unmasked (second byte) and masked (second byte | 0x80).

#: payload length -> (second header byte without the mask bit, extended length bytes)
LENGTHS = {
    0: (0x00, ""),
    1: (0x01, ""),
    3: (0x03, ""),
    125: (0x7D, ""),
    126: (0x7E, "007e"),
    127: (0x7E, "007f"),
    65535: (0x7E, "ffff"),
    65536: (0x7F, "0000000000010000"),
    65537: (0x7F, "0000000000010001"),
}


def expected_frame(b0: int, payload: bytes, key: bytes | None) -> bytes:
    second, extended = LENGTHS[len(payload)]
    if key is None:
        return bytes([b0, second]) + bytes.fromhex(extended) + payload
    masked = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    return bytes([b0, second | 0x80]) + bytes.fromhex(extended) + key + masked


def payload_of(size: int) -> bytes:
    return bytes((i * 7 + 3) & 0xFF for i in range(size))


@pytest.mark.parametrize("size", sorted(LENGTHS))
@pytest.mark.parametrize("key", [None, KEY], ids=["unmasked", "masked"])
def test_build_frame_at_each_length_boundary(size: int, key: bytes | None) -> None:
    payload = payload_of(size)
    assert build_frame(Opcode.BINARY, payload, mask_key=key) == expected_frame(0x82, payload, key)


@pytest.mark.parametrize("size", sorted(LENGTHS))
@pytest.mark.parametrize("key", [None, KEY], ids=["unmasked", "masked"])
def test_frame_in_place_at_each_length_boundary(size: int, key: bytes | None) -> None:
    payload = payload_of(size)
    buf = bytearray(HEADROOM) + payload + b"tail"
    view = frame_in_place(buf, size, Opcode.BINARY, mask_key=key)
    want = expected_frame(0x82, payload, key)
    assert bytes(view) == want
    assert buf[HEADROOM - len(want) + size :] == want + b"tail"  # header right before it
    assert header_length(size, key is not None) == len(want) - size


@pytest.mark.parametrize("size", sorted(LENGTHS))
@pytest.mark.parametrize("key", [None, KEY], ids=["unmasked", "masked"])
def test_write_header_at_each_length_boundary(size: int, key: bytes | None) -> None:
    second, extended = LENGTHS[size]
    header = (
        bytes([0x82, second | (0x80 if key is not None else 0)])
        + bytes.fromhex(extended)
        + (key or b"")
    )
    buf = bytearray(20)
    start = write_header(buf, 20, Opcode.BINARY, size, mask_key=key)
    assert (start, bytes(buf[start:])) == (20 - len(header), header)


@pytest.mark.parametrize("size", [125, 126, 65535, 65536])
def test_write_header_refuses_one_byte_too_little_room_at_each_boundary(size: int) -> None:
    need = len(bytes.fromhex(LENGTHS[size][1])) + 2
    assert write_header(bytearray(need), need, Opcode.BINARY, size) == 0
    with pytest.raises(ValueError):
        write_header(bytearray(need), need - 1, Opcode.BINARY, size)


@pytest.mark.parametrize(
    ("opcode", "rsv1", "fin", "first"),
    [
        (Opcode.BINARY, True, True, 0xC2),  # RFC 7692 §6: RSV1 marks a compressed message
        (Opcode.BINARY, False, True, 0x82),
        (Opcode.TEXT, True, False, 0x41),  # first fragment of a compressed text message
        (Opcode.BINARY, True, False, 0x42),
        (Opcode.CONTINUATION, False, False, 0x00),
        (Opcode.CONTINUATION, False, True, 0x80),
        (Opcode.PONG, False, True, 0x8A),
    ],
)
def test_first_byte_carries_fin_rsv1_and_opcode_in_both_builders(
    opcode: int, rsv1: bool, fin: bool, first: int
) -> None:
    payload = b"abc"
    frame = build_frame(opcode, payload, fin=fin, rsv1=rsv1)
    assert frame == bytes([first, 3]) + payload
    buf = bytearray(HEADROOM) + payload
    view = frame_in_place(buf, 3, opcode, fin=fin, rsv1=rsv1, mask_key=KEY)
    assert bytes(view) == expected_frame(first, payload, KEY)


class _RFCKey:
    def next_key(self) -> bytes:
        return KEY


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    out = b""
    sock.settimeout(5)
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk
        out += chunk
    return out


@pytest.mark.parametrize("size", [125, 126, 65535, 65536])
@pytest.mark.parametrize("key", [None, KEY], ids=["unmasked", "masked"])
def test_c_write_frame_to_a_socket_at_each_length_boundary(
    impl: str, size: int, key: bytes | None
) -> None:
    # the C send path (net/_io.c) writes its header with the shared wsframe.h: same boundaries
    if impl != "c":
        pytest.skip("write_frame exists only in C")
    _io = pytest.importorskip("whalewire.net._io")

    payload = payload_of(size)
    want = expected_frame(0x82, payload, key)
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        keys = None if key is None else _RFCKey()
        rest = _io.write_frame(a.fileno(), 0x82, payload, keys) or b""
        assert _read_exactly(b, len(want) - len(rest)) + rest == want


def test_frame_in_place_at_an_offset_other_than_the_headroom() -> None:
    buf = bytearray(b"xxxxxxxx") + b"Hello" + b"yy"
    view = frame_in_place(buf, 5, Opcode.TEXT, offset=8)
    assert bytes(view) == bytes.fromhex("810548656c6c6f")  # RFC 6455 §5.7
    assert buf == b"xxxxxx" + bytes.fromhex("810548656c6c6f") + b"yy"


def test_frame_in_place_refuses_too_little_headroom_for_the_16_bit_length() -> None:
    with pytest.raises(ValueError):
        frame_in_place(bytearray(3 + 126), 126, Opcode.BINARY, offset=3)
    assert bytes(frame_in_place(bytearray(4 + 126), 126, Opcode.BINARY, offset=4))[:4] == (
        bytes.fromhex("827e007e")
    )


def test_frame_in_place_takes_a_payload_ending_exactly_at_the_buffer_end() -> None:
    buf = bytearray(HEADROOM) + b"abcd"
    assert bytes(frame_in_place(buf, 4, Opcode.BINARY)) == b"\x82\x04abcd"


VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


@pytest.mark.parametrize("code", VALID_CODES)
def test_valid_close_code(code: int) -> None:
    assert is_valid_close_code(code)


@pytest.mark.parametrize("code", INVALID_CODES)
def test_invalid_close_code(code: int) -> None:
    assert not is_valid_close_code(code)


def test_parse_close_payload_reads_code_and_reason() -> None:
    assert parse_close_payload(b"\x03\xe8bye \xe2\x82\xac") == (1000, "bye €")
    assert parse_close_payload(b"") == (1005, "")


@pytest.mark.parametrize("payload", [b"\x03", b"\x03\xec", b"\x00\x00"])
def test_parse_close_payload_refuses_bad_framing_with_1002(payload: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_close_payload(payload)
    assert info.value.code == 1002


def test_parse_close_payload_refuses_a_reason_not_utf8_with_1007() -> None:
    with pytest.raises(InvalidUTF8) as info:
        parse_close_payload(b"\x03\xe8\xff")
    assert info.value.code == 1007


def test_opcodes_are_the_rfc_values() -> None:
    # RFC 6455 §11.8 (WebSocket Opcode Registry)
    assert {op.name: op.value for op in Opcode} == {
        "CONTINUATION": 0x0,
        "TEXT": 0x1,
        "BINARY": 0x2,
        "CLOSE": 0x8,
        "PING": 0x9,
        "PONG": 0xA,
    }


def test_headroom_is_exactly_the_largest_header() -> None:
    # 2 bytes + 8-byte length + 4-byte mask key (RFC 6455 §5.2): a masked 64-bit frame
    # framed in place starts at the buffer's first byte
    payload = payload_of(65536)
    buf = bytearray(HEADROOM) + payload
    view = frame_in_place(buf, len(payload), Opcode.BINARY, mask_key=KEY)
    assert HEADROOM == 14
    assert view.nbytes == len(buf)
    assert bytes(view) == expected_frame(0x82, payload, KEY)


def test_close_payload_defaults_to_normal_closure() -> None:
    assert build_close_payload() == b"\x03\xe8"  # 1000, RFC 6455 §7.4.1


def test_build_close_payload() -> None:
    assert build_close_payload(1000, "bye") == b"\x03\xe8bye"
    assert build_close_payload(None) == b""
    with pytest.raises(ValueError):
        build_close_payload(1006)
    with pytest.raises(ValueError):
        build_close_payload(1000, "x" * 124)
    # RFC 6455 §5.5: 125 bytes of payload, 2 of them the code, is the most a close carries
    assert build_close_payload(1000, "x" * 123) == b"\x03\xe8" + b"x" * 123
    assert len(build_close_payload(4999, "€" * 41)) == 125  # 41 * 3 UTF-8 bytes
    with pytest.raises(ValueError):
        build_close_payload(1000, "€" * 41 + "x")  # 124 bytes of reason: counted in bytes
    with pytest.raises(ValueError):
        build_close_payload(None, "reason")


# ---- property: parse(build(x)) == x over random frames, splits and masks -------------------

# 16-bit and 64-bit lengths; big pieces are cheap repeats so that the test stays fast
_piece = st.binary(max_size=300) | st.builds(
    lambda n, b: bytes([b]) * n, st.integers(65530, 65600), st.integers(0, 255)
)


@st.composite
def _messages(draw: st.DrawFn) -> list[tuple[int, list[bytes], list[bytes]]]:
    """Messages as (opcode, fragments, ping payloads sent after each fragment)."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            text = draw(st.text(max_size=200)).encode()
            cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=3)))
            bounds = [0, *cuts, len(text)]
            pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
            opcode = Opcode.TEXT
        else:
            pieces = draw(st.lists(_piece, min_size=1, max_size=3))
            opcode = Opcode.BINARY
        pings = [draw(st.binary(max_size=3)) if draw(st.booleans()) else b"" for _ in pieces]
        out.append((opcode, pieces, pings))
    return out


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    messages=_messages(),
    server=st.booleans(),
    keys=st.lists(st.binary(min_size=4, max_size=4), min_size=1),
    cuts=st.lists(st.integers(0, 2**20), max_size=6),
)
def test_received_frames_equal_the_built_frames(
    messages: list[tuple[int, list[bytes], list[bytes]]],
    server: bool,
    keys: list[bytes],
    cuts: list[int],
) -> None:
    wire = bytearray()
    want_frames: list[tuple[int, bytes, bool]] = []
    want_events: list[Event] = []
    n = 0
    for opcode, pieces, pings in messages:
        for i, (piece, ping) in enumerate(zip(pieces, pings, strict=True)):
            key = keys[n % len(keys)] if server else None
            n += 1
            op = opcode if i == 0 else Opcode.CONTINUATION
            fin = i == len(pieces) - 1
            wire += build_frame(op, piece, fin=fin, mask_key=key)
            want_frames.append((op, piece, fin))
            if fin:
                whole = b"".join(pieces)
                text = opcode == Opcode.TEXT
                want_events.append(TextMessage(whole.decode()) if text else BinaryMessage(whole))
            if ping:
                wire += build_frame(Opcode.PING, ping, mask_key=key)
                want_events.append(Ping(ping))
    bounds = sorted({0, len(wire), *(c % (len(wire) + 1) for c in cuts)})
    chunks = [bytes(wire[a:b]) for a, b in itertools.pairwise(bounds)]
    role = Role.SERVER if server else Role.CLIENT

    conn = Connection(role, max_message_size=1 << 20)
    for chunk in chunks:
        conn.receive_data(chunk)
    assert conn.error is None
    assert conn.events_received() == want_events

    got: list[tuple[int, bytes, bool]] = []
    fast = Connection(role, on_frame=lambda op, p, fin: got.append((op, bytes(p), fin)))
    for chunk in chunks:
        fast.receive_data(bytearray(chunk))
    assert fast.error is None
    # a frame of STREAM_FROM bytes or more may come in pieces, as if fragmented
    assert merged(got) == merged(want_frames)
    if all(len(payload) < STREAM_FROM for _, payload, _ in want_frames):
        assert got == want_frames
    assert fast.events_received() == [e for e in want_events if isinstance(e, Ping)]

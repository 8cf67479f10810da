"""ws.frames: frame building (RFC 6455 §5.2, §5.7 examples) and the close-frame rules (§7.4)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.ws.support import KEY  # RFC 6455 §5.7

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
    write_header,
)
from whalewire.ws.protocol import BinaryMessage, Connection, Event, Ping, Role, TextMessage

pytestmark = pytest.mark.usefixtures("impl")


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


def test_build_close_payload() -> None:
    assert build_close_payload(1000, "bye") == b"\x03\xe8bye"
    assert build_close_payload(None) == b""
    with pytest.raises(ValueError):
        build_close_payload(1006)
    with pytest.raises(ValueError):
        build_close_payload(1000, "x" * 124)
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
    assert got == want_frames
    assert fast.events_received() == [e for e in want_events if isinstance(e, Ping)]

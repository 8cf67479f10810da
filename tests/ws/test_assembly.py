"""``ws.assembly``: a large message is assembled as it arrives, never joined at the end.

Issue 21: joining a 60 MiB message's pieces when it completed held the event loop for a
tenth of a second. Here the buffer itself (C and Python), then ``ws.protocol.Connection`` in
both roles, plain and permessage-deflate, on both receive paths: completing a message of
16 MiB must not allocate a second copy of it (measured with ``tracemalloc``, which sees
every allocation of the interpreter and of the C buffer), and the frame path must never hand
the callback more than one read's bytes or one call's inflate budget at once. Messages
arrive in reads of 256 KiB, as ``net`` reads them (``READ_SIZE``).
"""

from __future__ import annotations

import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from tests.ws.support import merged, raw

from whalewire import speedups
from whalewire.ws import assembly
from whalewire.ws.deflate import DeflateParams, PerMessageDeflate
from whalewire.ws.protocol import BinaryMessage, Connection, Event, Role, TextMessage

pytestmark = pytest.mark.usefixtures("impl")

CLIENT, SERVER = Role.CLIENT, Role.SERVER
SIZE = 16 << 20
READ = 256 * 1024
BUDGET = 256 * 1024
#: a message's bytes: every value, so masking and inflating show in the result
BINARY = bytes(range(256)) * (SIZE // 256)
#: text (ASCII: CPython's decoder then needs no working space beyond the str)
TEXT = b'{"whale": "sighted"}' * (SIZE // 20) + b" " * (SIZE % 20)
ROLES = pytest.mark.parametrize("role", [CLIENT, SERVER])
SHAPES = pytest.mark.parametrize("shape", ["one frame", "fragments", "deflate"])


def wire(role: Role, opcode: int, message: bytes, shape: str) -> bytes:
    """``message`` as the peer of ``role`` sends it (masked, a fixed key, to a server)."""
    key = b"\x12\x34\x56\x78" if role is SERVER else None
    if shape == "one frame":
        return raw(opcode, message, key=key)
    if shape == "fragments":
        quarter = len(message) // 4
        parts = [message[i * quarter : (i + 1) * quarter] for i in range(4)]
        return b"".join(
            raw(opcode if i == 0 else 0, part, fin=i == 3, key=key) for i, part in enumerate(parts)
        )
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed = (comp.compress(message) + comp.flush(zlib.Z_SYNC_FLUSH))[:-4]  # RFC 7692 §7.2.1
    return raw(opcode, packed, rsv=0x40, key=key)


def connection(role: Role, shape: str, **kw: object) -> Connection:
    deflate = PerMessageDeflate(DeflateParams(), is_client=role is CLIENT)
    return Connection(
        role,
        deflate=deflate if shape == "deflate" else None,
        max_message_size=64 << 20,
        work_budget=BUDGET,
        **kw,  # type: ignore[arg-type]
    )


def reads(data: bytes) -> Iterator[bytearray]:
    for i in range(0, len(data), READ):
        yield bytearray(data[i : i + READ])


def completion_growth(conn: Connection, data: bytes) -> tuple[list[Event], int]:
    """Feed ``data`` read by read, with ``resume`` calls as a transport makes them; return
    the events and how far traced memory rose, above what it was before the call, during
    the call (``receive_data`` or ``resume``) that completed the message."""
    events: list[Event] = []
    growth = -1
    tracemalloc.start()  # from the start: a block allocated untraced looks new when resized
    try:
        for chunk in reads(data):
            calls = [lambda chunk=chunk: conn.receive_data(chunk)]
            while calls:
                before = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                calls.pop()()
                rise = tracemalloc.get_traced_memory()[1] - before
                new = conn.events_received()
                if new:
                    events += new
                    growth = rise
                if conn.work_pending():
                    calls.append(conn.resume)
    finally:
        tracemalloc.stop()
    return events, growth


@pytest.fixture(autouse=True)
def quiet_memory() -> Iterator[None]:
    """Nothing else traced: the growth measured is the connection's alone."""
    yield
    if tracemalloc.is_tracing():
        tracemalloc.stop()


# ---- the buffer -------------------------------------------------------------------------


def test_a_buffer_gives_back_what_was_appended_and_starts_empty() -> None:
    buf = assembly.new_buffer()
    for piece in (b"whale", bytearray(b" "), memoryview(b"sighted")):
        buf.append(piece)
    assert len(buf) == 13
    assert buf.take() == b"whale sighted"
    assert len(buf) == 0 and buf.take() == b""
    buf.append("déjà vu".encode())
    assert buf.take_text() == "déjà vu"
    assert buf.take_text() == ""


def test_invalid_utf8_raises_on_take_text_and_empties_the_buffer() -> None:
    buf = assembly.new_buffer()
    buf.append(b"\xc3")
    with pytest.raises(UnicodeDecodeError):
        buf.take_text()
    assert len(buf) == 0


def test_the_c_buffer_hands_over_the_message_without_copying_it(impl: str) -> None:
    buf = assembly.new_buffer()
    tracemalloc.start()
    for i in range(0, SIZE, READ):
        buf.append(memoryview(BINARY)[i : i + READ])
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    data = buf.take()
    growth = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    assert data == BINARY
    if impl == "c":
        assert growth < READ
    else:
        assert growth >= SIZE  # the reference copies once: bytes cannot be built in place


# ---- the message path -------------------------------------------------------------------


@ROLES
@SHAPES
def test_completing_a_large_binary_message_allocates_no_second_copy(
    impl: str, role: Role, shape: str
) -> None:
    events, growth = completion_growth(connection(role, shape), wire(role, 2, BINARY, shape))
    assert events == [BinaryMessage(BINARY)]
    # joining the parts (or unmasking a whole frame) at the end would allocate SIZE more
    limit = READ * 4 if impl == "c" else SIZE + READ * 4
    assert growth < limit, f"{growth >> 20} MiB allocated while the message completed"


@ROLES
@SHAPES
def test_completing_a_large_text_message_allocates_only_its_str(role: Role, shape: str) -> None:
    events, growth = completion_growth(connection(role, shape), wire(role, 1, TEXT, shape))
    assert events == [TextMessage(TEXT.decode())]
    # the str is made once, from the buffer: joining the parts first would double it
    assert growth < SIZE + READ * 4, f"{growth >> 20} MiB allocated while the message completed"


# ---- the frame path ---------------------------------------------------------------------


@ROLES
@SHAPES
def test_the_frame_path_hands_a_large_message_on_as_it_arrives(role: Role, shape: str) -> None:
    got: list[tuple[int, bytes, bool]] = []
    conn = connection(role, shape, on_frame=lambda o, p, f: got.append((o, bytes(p), f)))
    for chunk in reads(wire(role, 2, BINARY, shape)):
        conn.receive_data(chunk)
        while conn.work_pending():
            conn.resume()
    assert conn.error is None
    assert merged(got) == [(2, BINARY)]
    # never a whole frame of megabytes at once: one read's bytes or one call's inflating
    assert max(len(payload) for _, payload, _ in got) <= max(READ, BUDGET)


# ---- text decoded over calls ------------------------------------------------------------

#: 2-, 3- and 4-byte characters between ASCII: the str is of the widest kind
WIDE = ("a é € 😀 " * (SIZE // 16)).encode()


@pytest.mark.parametrize(
    "text", ["", "whale", "déjà vu", "€" * 5000, "😀x" * 3000, "a" * 100_000 + "é"]
)
@pytest.mark.parametrize("budget", [1, 7, 4096, 1 << 40])
def test_decode_step_gives_the_decoded_text_whatever_the_pieces_and_budget(
    text: str, budget: int
) -> None:
    buf = assembly.new_buffer()
    data = text.encode()
    for i in range(0, len(data), 13):  # pieces that end inside code points
        buf.append_text(data[i : i + 13])
    out = None
    while out is None:
        out = buf.decode_step(budget)
    assert out == text and hash(out) == hash(text)
    assert len(buf) == 0


def test_decode_step_refuses_bytes_that_are_not_utf8() -> None:
    buf = assembly.new_buffer()
    buf.append_text(b"\xff\xfe")
    with pytest.raises(ValueError, match="UTF-8"):
        while buf.decode_step(1) is None:
            pass
    assert len(buf) == 0


@ROLES
@SHAPES
def test_a_large_text_message_is_decoded_over_calls_of_one_budget(
    impl: str, role: Role, shape: str
) -> None:
    conn = connection(role, shape)
    chunks = list(reads(wire(role, 1, WIDE, shape)))
    for chunk in chunks[:-1]:
        conn.receive_data(chunk)
        while conn.work_pending():
            conn.resume()
    conn.receive_data(chunks[-1])
    calls = 0
    events = conn.events_received()
    while not events:
        assert conn.work_pending()
        calls += 1
        conn.resume()
        events = conn.events_received()
    assert events == [TextMessage(WIDE.decode())]
    if impl == "c":  # the reference decodes in one call (it has no str to fill in steps)
        assert calls >= len(WIDE) // BUDGET - 2


@pytest.mark.parametrize("speedups_on", [True, False], ids=["c", "python"])
def test_an_empty_piece_first_appends_nothing(speedups_on: bool) -> None:
    # a zero-length first piece (an empty frame of a fragmented message) once reached
    # memcpy through a buffer that had no bytes object yet: UB the sanitizer run caught
    old = speedups.use(speedups_on)
    try:
        buffer = assembly.new_buffer()
        buffer.append(b"")
        buffer.append(memoryview(b""))
        buffer.append(b"ab")
        assert buffer.take() == b"ab"
        empty = assembly.new_buffer()
        empty.append(b"")
        assert empty.take() == b""
    finally:
        speedups.use(old)

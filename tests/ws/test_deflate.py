"""permessage-deflate, RFC 7692: the §7.2.3 examples byte for byte, size limits, and §7.1
negotiation (offer, the server's choice, the client's check of the answer)."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whalewire.ws.deflate import (
    DeflateParams,
    PerMessageDeflate,
    ServerDeflateConfig,
    accept_response,
    client_offer,
    select_offer,
)
from whalewire.ws.exceptions import NegotiationError, PayloadTooBig, ProtocolError

BIG = 1 << 30


def server(params: DeflateParams | None = None) -> PerMessageDeflate:
    return PerMessageDeflate(params or DeflateParams(), is_client=False)


def client(params: DeflateParams | None = None) -> PerMessageDeflate:
    return PerMessageDeflate(params or DeflateParams(), is_client=True)


def inflate_frames(codec: PerMessageDeflate, *frames: bytes, max_size: int = BIG) -> bytes:
    out = b""
    for i, frame in enumerate(frames):
        out += codec.decompress(frame, fin=i == len(frames) - 1, max_size=max_size - len(out))
    return out


# RFC 7692 §7.2.3.1-§7.2.3.6, payloads of the example frames (the 2-byte headers dropped).
HELLO = bytes.fromhex("f248cdc9c90700")
HELLO_AGAIN_SHARED_WINDOW = bytes.fromhex("f200110000")  # §7.2.3.2
HELLO_STORED = bytes.fromhex("000500faff48656c6c6f00")  # §7.2.3.3
HELLO_BFINAL = bytes.fromhex("f348cdc9c9070000")  # §7.2.3.4
HELLO_TWO_BLOCKS = bytes.fromhex("f24805000000ffffcac9c90700")  # §7.2.3.5


def test_compress_hello_gives_rfc7692_7_2_3_1_bytes() -> None:
    assert server().compress(b"Hello") == HELLO


def test_decompress_rfc7692_7_2_3_1_unfragmented_and_fragmented() -> None:
    assert inflate_frames(client(), HELLO) == b"Hello"
    # §7.2.3.1: the same message split into two frames "f2 48 cd" + "c9 c9 07 00"
    assert inflate_frames(client(), HELLO[:3], HELLO[3:]) == b"Hello"


def test_second_hello_shares_window_as_rfc7692_7_2_3_2() -> None:
    codec = server()
    assert codec.compress(b"Hello") == HELLO
    assert codec.compress(b"Hello") == HELLO_AGAIN_SHARED_WINDOW
    peer = client()
    assert inflate_frames(peer, HELLO) == b"Hello"
    assert inflate_frames(peer, HELLO_AGAIN_SHARED_WINDOW) == b"Hello"


def test_no_context_takeover_compresses_each_message_afresh() -> None:
    codec = server(DeflateParams(server_no_context_takeover=True))
    assert codec.compress(b"Hello") == HELLO
    assert codec.compress(b"Hello") == HELLO
    peer = client(DeflateParams(server_no_context_takeover=True))
    assert inflate_frames(peer, HELLO) == inflate_frames(peer, HELLO) == b"Hello"


@pytest.mark.parametrize("is_client", [False, True])
def test_no_context_takeover_messages_inflate_alone(is_client: bool) -> None:
    # RFC 7692 §7.1.1: each message starts with an empty window, so a fresh inflater
    # (zlib's, not ours) must decode every one of them on its own.
    params = DeflateParams(server_no_context_takeover=True, client_no_context_takeover=True)
    codec = PerMessageDeflate(params, is_client=is_client)
    text = b"whale deposit to exchange " * 40
    for _ in range(3):
        wire = codec.compress(text)
        assert zlib.decompressobj(-15).decompress(wire + b"\x00\x00\xff\xff") == text


def test_decompress_stored_block_rfc7692_7_2_3_3() -> None:
    assert inflate_frames(client(), HELLO_STORED) == b"Hello"


def test_decompress_bfinal_block_then_next_message_rfc7692_7_2_3_4() -> None:
    peer = client()
    assert inflate_frames(peer, HELLO_BFINAL) == b"Hello"
    assert inflate_frames(peer, HELLO) == b"Hello"


def test_decompress_two_blocks_rfc7692_7_2_3_5() -> None:
    assert inflate_frames(client(), HELLO_TWO_BLOCKS) == b"Hello"


def test_empty_message_is_one_zero_byte_rfc7692_7_2_3_6() -> None:
    assert server().compress(b"") == b"\x00"
    assert inflate_frames(client(), b"\x00") == b""


def test_decompress_output_above_limit_raises_payload_too_big_1009() -> None:
    bomb = server().compress(b"\0" * 1_000_000)
    assert len(bomb) < 2000
    with pytest.raises(PayloadTooBig) as exc:
        inflate_frames(client(), bomb, max_size=10_000)
    assert exc.value.code == 1009


def test_decompress_output_exactly_at_limit_passes_and_one_below_fails() -> None:
    data = bytes(range(256)) * 4
    wire = server().compress(data)
    assert inflate_frames(client(), wire, max_size=len(data)) == data
    with pytest.raises(PayloadTooBig):
        inflate_frames(client(), wire, max_size=len(data) - 1)


def test_decompress_corrupt_data_raises_protocol_error() -> None:
    with pytest.raises(ProtocolError) as exc:
        inflate_frames(client(), b"\xff\xff\xff\xff")
    assert exc.value.code == 1002


@pytest.mark.parametrize("bits", [8, 9, 12, 15])
def test_window_bits_are_honoured_for_a_peer_with_that_window(bits: int) -> None:
    params = DeflateParams(server_max_window_bits=bits)
    codec = server(params)
    # Inflate with exactly the negotiated window (zlib itself, not our decoder): any
    # back-reference further than 2**bits would raise "invalid distance too far back".
    reference = zlib.decompressobj(-bits)
    text = b"".join(b"%d whale %d deposit " % (i, i * 7919 % 1000) for i in range(3000))
    for chunk in (text[:40000], text[40000:], text[:5000]):
        assert reference.decompress(codec.compress(chunk) + b"\x00\x00\xff\xff") == chunk


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(st.binary(max_size=3000), min_size=1, max_size=6),
    split=st.integers(min_value=1, max_value=500),
    params=st.builds(
        DeflateParams,
        st.booleans(),
        st.booleans(),
        st.integers(min_value=8, max_value=15),
        st.integers(min_value=8, max_value=15),
    ),
)
def test_client_messages_round_trip_through_server_in_any_frame_split(
    messages: list[bytes], split: int, params: DeflateParams
) -> None:
    ours, theirs = client(params), server(params)
    for message in messages:
        wire = ours.compress(message)
        frames = [wire[i : i + split] for i in range(0, len(wire), split)] or [b""]
        assert inflate_frames(theirs, *frames) == message


# RFC 7692 §7.1 negotiation.


def p(text: str) -> list[tuple[str, str | None]]:
    """Parse ``a; b=1`` style parameters (test helper, no quoting)."""
    out: list[tuple[str, str | None]] = []
    for item in filter(None, (s.strip() for s in text.split(";"))):
        name, eq, value = item.partition("=")
        out.append((name, value if eq else None))
    return out


def test_default_client_offer_announces_client_max_window_bits() -> None:
    assert client_offer() == "permessage-deflate; client_max_window_bits"


def test_client_offer_lists_requested_parameters() -> None:
    offer = client_offer(DeflateParams(True, True, 10, 12))
    assert offer == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10; client_max_window_bits=12"
    )


@pytest.mark.parametrize(
    ("offer", "agreed", "answer"),
    [
        ("", DeflateParams(), "permessage-deflate"),
        ("client_max_window_bits", DeflateParams(), "permessage-deflate"),
        (
            "client_max_window_bits=10",
            DeflateParams(client_max_window_bits=10),
            "permessage-deflate; client_max_window_bits=10",
        ),
        (
            "server_no_context_takeover",
            DeflateParams(server_no_context_takeover=True),
            "permessage-deflate; server_no_context_takeover",
        ),
        (
            "client_no_context_takeover",
            DeflateParams(client_no_context_takeover=True),
            "permessage-deflate; client_no_context_takeover",
        ),
        (
            "server_max_window_bits=8",
            DeflateParams(server_max_window_bits=8),
            "permessage-deflate; server_max_window_bits=8",
        ),
        (
            'server_max_window_bits="9"',
            DeflateParams(server_max_window_bits=9),
            "permessage-deflate; server_max_window_bits=9",
        ),
    ],
)
def test_server_accepts_valid_offer(offer: str, agreed: DeflateParams, answer: str) -> None:
    assert select_offer([p(offer)]) == (agreed, answer)


@pytest.mark.parametrize(
    "offer",
    [
        "unknown_param",
        "server_max_window_bits",  # needs a value in an offer, §7.1.2.1
        "server_max_window_bits=7",
        "server_max_window_bits=16",
        "server_max_window_bits=010",
        "client_max_window_bits=abc",
        "server_no_context_takeover=1",
        "server_no_context_takeover; server_no_context_takeover",
    ],
)
def test_server_declines_invalid_offer(offer: str) -> None:
    assert select_offer([p(offer)]) is None


def test_server_takes_first_acceptable_of_several_offers() -> None:
    chosen = select_offer([p("bogus"), p("server_max_window_bits=12"), p("")])
    assert chosen == (
        DeflateParams(server_max_window_bits=12),
        "permessage-deflate; server_max_window_bits=12",
    )


def test_server_config_limits_client_window_only_when_offered() -> None:
    cfg = ServerDeflateConfig(client_max_window_bits=10, client_no_context_takeover=True)
    assert select_offer([p("client_max_window_bits")], cfg) == (
        DeflateParams(client_no_context_takeover=True, client_max_window_bits=10),
        "permessage-deflate; client_no_context_takeover; client_max_window_bits=10",
    )
    assert select_offer([p("")], cfg) is None


@pytest.mark.parametrize(
    ("answer", "agreed"),
    [
        ("", DeflateParams()),
        # Parameters a server may add without an offer, RFC 7692 §7.1.1.1, §7.1.1.2, §7.1.2.1
        ("server_no_context_takeover", DeflateParams(server_no_context_takeover=True)),
        ("client_no_context_takeover", DeflateParams(client_no_context_takeover=True)),
        ("server_max_window_bits=10", DeflateParams(server_max_window_bits=10)),
        ("client_max_window_bits=9", DeflateParams(client_max_window_bits=9)),
    ],
)
def test_client_accepts_answer_to_default_offer(answer: str, agreed: DeflateParams) -> None:
    assert accept_response(p(answer)) == agreed


@pytest.mark.parametrize(
    "answer",
    [
        "unknown=1",
        "client_max_window_bits",  # a response must carry a value, §7.1.2.2
        "server_max_window_bits=20",
        "client_no_context_takeover=yes",
        "server_no_context_takeover; server_no_context_takeover",
        "server_max_window_bits=\u0661\u0660",  # digits int() reads, not ASCII
        "server_max_window_bits=\xb9\xb2",
        "server_max_window_bits=" + "1" * 5000,  # int() raises past 4,300 digits
        "server_max_window_bits=010",
    ],
)
def test_client_rejects_invalid_answer(answer: str) -> None:
    with pytest.raises(NegotiationError):
        accept_response(p(answer))


def test_client_rejects_answer_beyond_what_it_asked() -> None:
    asked = DeflateParams(server_no_context_takeover=True, server_max_window_bits=10)
    with pytest.raises(NegotiationError):
        accept_response(p("server_max_window_bits=10"), asked)  # dropped the no-context ask
    with pytest.raises(NegotiationError):
        accept_response(p("server_no_context_takeover; server_max_window_bits=12"), asked)
    with pytest.raises(NegotiationError):
        accept_response(p("client_max_window_bits=12"), DeflateParams(client_max_window_bits=10))
    with pytest.raises(NegotiationError):
        accept_response(p("client_max_window_bits=12"), offered_client_max_window_bits=False)

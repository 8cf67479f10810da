"""The opening handshake, RFC 6455 §4: the §1.3 example, the client's checks of the answer,
the server's checks of the request with its HTTP error answers, limits, and every split."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whalewire.ws.deflate import DeflateParams
from whalewire.ws.exceptions import InvalidHandshake, InvalidHeader, InvalidStatus, NegotiationError
from whalewire.ws.handshake import (
    Accepted,
    ClientHandshake,
    Established,
    HeadersTooLarge,
    Rejected,
    ServerHandshake,
    accept_key,
    generate_key,
    parse_extensions,
)

# RFC 6455 §1.2/§1.3: the sample handshake.
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
# The issue text quoted "s3pPLMBiTxaQ9kYGJzzPy1k5RlBGHTQgI6Q=": 36 characters cannot be the
# base64 of a 20-byte SHA-1. RFC 6455 §1.3 itself gives this value:
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
RFC_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
RFC_RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"Sec-WebSocket-Protocol: chat\r\n\r\n"
)


def splits(data: bytes) -> list[list[bytes]]:
    """The data whole, byte by byte, and cut in two at every offset."""
    out = [[data], [data[i : i + 1] for i in range(len(data))]]
    out += [[data[:i], data[i:]] for i in range(1, len(data))]
    return out


def feed_client(hs: ClientHandshake, chunks: list[bytes]) -> tuple[Established | None, bytes]:
    """Feed chunks until a result; return it with the bytes that came after (the caller's)."""
    for i, chunk in enumerate(chunks):
        result = hs.receive_data(chunk)
        if result is not None:
            return result, b"".join(chunks[i + 1 :])
    return None, b""


def feed_server(
    hs: ServerHandshake, chunks: list[bytes]
) -> tuple[Accepted | Rejected | None, bytes]:
    for i, chunk in enumerate(chunks):
        result = hs.receive_data(chunk)
        if result is not None:
            return result, b"".join(chunks[i + 1 :])
    return None, b""


def rfc_client(subprotocols: list[str] | None = None, deflate: bool = False) -> ClientHandshake:
    return ClientHandshake(
        "server.example.com", "/chat", key=RFC_KEY, subprotocols=subprotocols or (), deflate=deflate
    )


def response_with(*lines: str, status: str = "101 Switching Protocols") -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{line}\r\n" for line in lines) + "\r\n").encode()


OK_HEADERS = ("Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Accept: {RFC_ACCEPT}")


def test_accept_key_matches_rfc6455_1_3_example() -> None:
    assert accept_key(RFC_KEY) == RFC_ACCEPT


def test_generated_keys_are_fresh_16_byte_base64() -> None:
    keys = {generate_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(len(base64.b64decode(k, validate=True)) == 16 for k in keys)


def test_client_request_carries_required_fields() -> None:
    hs = ClientHandshake(
        "example.com:8080",
        "/feed?x=1",
        origin="http://example.com",
        subprotocols=["chat", "superchat"],
        deflate=True,
        extra_headers=[("X-Api-Key", "abc")],
    )
    lines = hs.request().decode().split("\r\n")
    assert lines[0] == "GET /feed?x=1 HTTP/1.1"
    assert lines[-2:] == ["", ""]
    fields = dict(line.split(": ", 1) for line in lines[1:-2])
    assert fields["Host"] == "example.com:8080"
    assert fields["Upgrade"] == "websocket"
    assert fields["Connection"] == "Upgrade"
    assert fields["Sec-WebSocket-Version"] == "13"
    assert len(base64.b64decode(fields["Sec-WebSocket-Key"], validate=True)) == 16
    assert fields["Origin"] == "http://example.com"
    assert fields["Sec-WebSocket-Protocol"] == "chat, superchat"
    assert fields["Sec-WebSocket-Extensions"] == "permessage-deflate; client_max_window_bits"
    assert fields["X-Api-Key"] == "abc"


def test_two_clients_use_different_keys() -> None:
    assert ClientHandshake("h").key != ClientHandshake("h").key


def test_client_rejects_extra_header_with_crlf() -> None:
    with pytest.raises(ValueError):
        ClientHandshake("h", extra_headers=[("X-A", "1\r\nEvil: 2")])


@pytest.mark.parametrize("chunks", splits(RFC_RESPONSE + b"\x81\x02hi"))
def test_client_accepts_rfc_response_in_any_split(chunks: list[bytes]) -> None:
    result, later = feed_client(rfc_client(subprotocols=["chat", "superchat"]), chunks)
    assert isinstance(result, Established)
    assert result.subprotocol == "chat"
    assert result.deflate is None
    assert result.response.status == 101
    assert result.trailing_data + later == b"\x81\x02hi"


@pytest.mark.parametrize(
    ("lines", "header"),
    [
        (OK_HEADERS[1:], "Upgrade"),
        (("Upgrade: h2c", *OK_HEADERS[1:]), "Upgrade"),
        ((OK_HEADERS[0], *OK_HEADERS[2:]), "Connection"),
        (OK_HEADERS[:2], "Sec-WebSocket-Accept"),
        (
            (*OK_HEADERS[:2], "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            "Sec-WebSocket-Accept",
        ),
    ],
)
def test_client_rejects_response_with_bad_header(lines: tuple[str, ...], header: str) -> None:
    with pytest.raises(InvalidHeader) as exc:
        rfc_client().receive_data(response_with(*lines))
    assert exc.value.name == header


def test_client_accepts_token_lists_in_any_case() -> None:
    raw = response_with(
        "upgrade: WebSocket",
        "connection: keep-alive, UPGRADE",
        f"sec-websocket-accept: {RFC_ACCEPT}",
    )
    assert isinstance(rfc_client().receive_data(raw), Established)


def test_client_rejects_subprotocol_it_did_not_offer() -> None:
    with pytest.raises(NegotiationError):
        rfc_client(subprotocols=["a"]).receive_data(
            response_with(*OK_HEADERS, "Sec-WebSocket-Protocol: chat")
        )


def test_client_negotiates_deflate_from_answer() -> None:
    raw = response_with(
        *OK_HEADERS,
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
        "client_max_window_bits=10",
    )
    result = rfc_client(deflate=True).receive_data(raw)
    assert isinstance(result, Established)
    assert result.deflate == DeflateParams(
        server_no_context_takeover=True, client_max_window_bits=10
    )


@pytest.mark.parametrize(
    "extensions",
    [
        "x-webkit-deflate-frame",
        "permessage-deflate, permessage-deflate",
        "permessage-deflate; bogus",
    ],
)
def test_client_rejects_extensions_it_cannot_accept(extensions: str) -> None:
    raw = response_with(*OK_HEADERS, f"Sec-WebSocket-Extensions: {extensions}")
    with pytest.raises(NegotiationError):
        rfc_client(deflate=True).receive_data(raw)


def test_client_rejects_deflate_answer_when_not_offered() -> None:
    raw = response_with(*OK_HEADERS, "Sec-WebSocket-Extensions: permessage-deflate")
    with pytest.raises(NegotiationError):
        rfc_client().receive_data(raw)


@pytest.mark.parametrize(
    "chunks", splits(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\n\r\nno way!")[:40]
)
def test_client_reports_error_status_with_body(chunks: list[bytes]) -> None:
    with pytest.raises(InvalidStatus) as exc:
        feed_client(rfc_client(), chunks)
    assert (exc.value.status, exc.value.reason, exc.value.body) == (403, "Forbidden", b"no way!")


def test_client_reads_error_body_until_eof_without_content_length() -> None:
    hs = rfc_client()
    assert hs.receive_data(b"HTTP/1.1 500 Internal Server Error\r\n\r\nbro") is None
    assert hs.receive_data(b"ken") is None
    with pytest.raises(InvalidStatus) as exc:
        hs.receive_eof()
    assert (exc.value.status, exc.value.body) == (500, b"broken")


@pytest.mark.parametrize(
    "value",
    [b"\xb2", b"1\xb2", b"1" * 5000, b"9" * 19, b"-1", b"+7", b"0x10", b"7, 8", b"", b"7 7"],
)
def test_client_reports_status_when_error_content_length_is_invalid(value: bytes) -> None:
    # RFC 9112 §6.3: invalid framing: the status is reported, the body discarded
    raw = b"HTTP/1.1 400 Bad Request\r\nContent-Length: " + value + b"\r\n\r\nbody"
    with pytest.raises(InvalidStatus) as exc:
        ClientHandshake("h", max_head_bytes=16384).receive_data(raw)
    assert (exc.value.status, exc.value.reason, exc.value.body) == (400, "Bad Request", b"")
    cause = exc.value.__cause__
    assert isinstance(cause, InvalidHeader) and cause.name == "Content-Length"
    assert len(str(cause)) < 200  # a 5,000-digit value is shown by its start


@pytest.mark.parametrize("value", [b"4", b"4, 4", b"4,4"])
def test_client_accepts_one_content_length_repeated(value: bytes) -> None:
    # RFC 9110 §8.6: a list of identical values is one length
    raw = b"HTTP/1.1 400 Bad Request\r\nContent-Length: " + value + b"\r\n\r\nbodyMORE"
    with pytest.raises(InvalidStatus) as exc:
        rfc_client().receive_data(raw)
    assert exc.value.body == b"body"


@pytest.mark.parametrize("status", ["4\u0661\u0660", "+10", "1_0", " 40"])
def test_client_rejects_status_code_not_three_ascii_digits(status: str) -> None:
    # RFC 9112 §4: status-code = 3DIGIT
    with pytest.raises(InvalidHandshake):
        rfc_client().receive_data(f"HTTP/1.1 {status} X\r\n\r\n".encode())


def test_client_eof_before_response_raises() -> None:
    hs = rfc_client()
    hs.receive_data(b"HTTP/1.1 101 Swi")
    with pytest.raises(InvalidHandshake):
        hs.receive_eof()


@pytest.mark.parametrize(
    "raw", [b"HTTP/1.1 10 X\r\n\r\n", b"ICY 200 OK\r\n\r\n", b"HTTP/1.1 101 OK\r\nBad Line\r\n\r\n"]
)
def test_client_rejects_malformed_response(raw: bytes) -> None:
    with pytest.raises(InvalidHandshake):
        rfc_client().receive_data(raw)


def test_client_rejects_response_head_over_limit() -> None:
    hs = ClientHandshake("h", max_head_bytes=256)
    assert hs.receive_data(b"HTTP/1.1 101 Switching Protocols\r\n") is None
    with pytest.raises(HeadersTooLarge):
        hs.receive_data(b"X-Pad: " + b"a" * 300 + b"\r\n")


# Server side.


@pytest.mark.parametrize("chunks", splits(RFC_REQUEST + b"\x81\x82")[::7])
def test_server_answers_rfc_request_in_any_split(chunks: list[bytes]) -> None:
    result, later = feed_server(ServerHandshake(subprotocols=["chat"]), chunks)
    assert isinstance(result, Accepted)
    assert result.response == RFC_RESPONSE
    assert result.request.target == "/chat"
    assert result.subprotocol == "chat"
    assert result.trailing_data + later == b"\x81\x82"


def test_server_and_client_agree_on_deflate() -> None:
    client = ClientHandshake("h", deflate=DeflateParams(server_no_context_takeover=True))
    accepted = ServerHandshake().receive_data(client.request())
    assert isinstance(accepted, Accepted)
    established = client.receive_data(accepted.response)
    assert isinstance(established, Established)
    assert accepted.deflate == established.deflate == DeflateParams(server_no_context_takeover=True)


def test_server_without_deflate_ignores_offer() -> None:
    client = ClientHandshake("h", deflate=True)
    accepted = ServerHandshake(deflate=False).receive_data(client.request())
    assert isinstance(accepted, Accepted)
    assert b"Sec-WebSocket-Extensions" not in accepted.response
    established = client.receive_data(accepted.response)
    assert isinstance(established, Established)
    assert established.deflate is None


def request_with(*lines: str, start: str = "GET / HTTP/1.1") -> bytes:
    return (start + "\r\n" + "".join(f"{line}\r\n" for line in lines) + "\r\n").encode()


GOOD = (
    "Host: h",
    "Upgrade: websocket",
    "Connection: Upgrade",
    f"Sec-WebSocket-Key: {RFC_KEY}",
    "Sec-WebSocket-Version: 13",
)


def without(prefix: str) -> tuple[str, ...]:
    return tuple(line for line in GOOD if not line.startswith(prefix))


def replaced(prefix: str, line: str) -> tuple[str, ...]:
    return (*without(prefix), line)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (request_with(*GOOD, start="POST / HTTP/1.1"), 405),
        (request_with(*GOOD, start="GET / HTTP/1.0"), 400),
        (request_with(*GOOD, start="GET HTTP/1.1"), 400),
        (request_with(*without("Host")), 400),
        (request_with(*without("Upgrade")), 426),
        (request_with(*replaced("Upgrade", "Upgrade: h2c")), 426),
        (request_with(*without("Connection")), 400),
        (request_with(*replaced("Connection", "Connection: keep-alive")), 400),
        (request_with(*without("Sec-WebSocket-Version")), 426),
        (request_with(*replaced("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8")), 426),
        (request_with(*without("Sec-WebSocket-Key")), 400),
        (request_with(*replaced("Sec-WebSocket-Key", "Sec-WebSocket-Key: c2hvcnQ=")), 400),
        (request_with(*replaced("Sec-WebSocket-Key", "Sec-WebSocket-Key: !!!")), 400),
        (request_with(*GOOD, f"Sec-WebSocket-Key: {RFC_KEY}"), 400),
        (request_with(*GOOD, "Bad Header: x"), 400),
        (request_with(*GOOD, "Sec-WebSocket-Extensions: permessage-deflate;;"), 400),
    ],
)
def test_server_rejects_bad_request_with_http_error(raw: bytes, status: int) -> None:
    result = ServerHandshake().receive_data(raw)
    assert isinstance(result, Rejected)
    assert result.status == status
    head, _, body = result.response.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert f"Content-Length: {len(body)}".encode() in head
    assert body


def test_server_426_names_version_13() -> None:
    raw = request_with(*replaced("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"))
    result = ServerHandshake().receive_data(raw)
    assert isinstance(result, Rejected)
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in result.response


def test_server_accepts_connection_token_list_any_case() -> None:
    raw = request_with(*replaced("Connection", "Connection: keep-alive, UPGRADE"))
    assert isinstance(ServerHandshake().receive_data(raw), Accepted)


def test_server_rejects_head_over_byte_limit_with_431() -> None:
    hs = ServerHandshake(max_head_bytes=512)
    assert hs.receive_data(b"GET / HTTP/1.1\r\n") is None
    result = hs.receive_data(b"X-Pad: " + b"a" * 600)
    assert isinstance(result, Rejected)
    assert result.status == 431


def test_server_rejects_too_many_headers_with_431() -> None:
    raw = request_with(*GOOD, *(f"X-{i}: {i}" for i in range(10)))
    result = ServerHandshake(max_headers=8).receive_data(raw)
    assert isinstance(result, Rejected)
    assert result.status == 431


def test_server_process_request_can_answer_itself() -> None:
    hs = ServerHandshake(
        process_request=lambda req: (404, [], b"nothing at " + req.target.encode())
    )
    result = hs.receive_data(request_with(*GOOD, start="GET /nope HTTP/1.1"))
    assert isinstance(result, Rejected)
    assert result.status == 404
    assert result.response.endswith(b"nothing at /nope")


def test_parse_extensions_handles_params_quotes_and_lists() -> None:
    parsed = parse_extensions(
        ['permessage-deflate; client_max_window_bits="10" ; server_no_context_takeover, foo', "bar"]
    )
    assert parsed == [
        (
            "permessage-deflate",
            [("client_max_window_bits", "10"), ("server_no_context_takeover", None)],
        ),
        ("foo", []),
        ("bar", []),
    ]


@pytest.mark.parametrize("value", ["a;", "a; =1", 'a; b="1', 'a; b="x y"', "a b"])
def test_parse_extensions_rejects_malformed(value: str) -> None:
    with pytest.raises(InvalidHeader):
        parse_extensions([value])


# Only documented outcomes escape, whatever the bytes (the websockets fuzzing habit).
HEAD_BYTES = st.one_of(
    st.binary(max_size=600),
    st.lists(
        st.sampled_from(
            [
                b"GET / HTTP/1.1\r\n",
                b"HTTP/1.1 101 Switching Protocols\r\n",
                b"Host: h\r\n",
                b"Upgrade: websocket\r\n",
                b"Connection: Upgrade\r\n",
                f"Sec-WebSocket-Key: {RFC_KEY}\r\n".encode(),
                f"Sec-WebSocket-Accept: {RFC_ACCEPT}\r\n".encode(),
                b"Sec-WebSocket-Version: 13\r\n",
                b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
                b'Sec-WebSocket-Extensions: permessage-deflate; x="\r\n',
                b"Content-Length: 3\r\n",
                b"Content-Length: \xb2\r\n",
                b"Content-Length: 99999999999999999999999\r\n",
                b"HTTP/1.1 403 Forbidden\r\n",
                b"\xff\xfe: \x00\r\n",
                b"\r\n",
                b"abc",
            ]
        ),
        max_size=12,
    ).map(b"".join),
)


@settings(max_examples=300, deadline=None)
@given(data=HEAD_BYTES, cut=st.integers(min_value=0, max_value=600))
def test_server_handshake_only_answers_or_waits(data: bytes, cut: int) -> None:
    hs = ServerHandshake(max_head_bytes=512, max_headers=8)
    first = hs.receive_data(data[:cut])
    result = first if first is not None else hs.receive_data(data[cut:])
    assert result is None or isinstance(result, Accepted | Rejected)
    if isinstance(result, Rejected):
        assert result.response.startswith(f"HTTP/1.1 {result.status} ".encode())


@settings(max_examples=300, deadline=None)
@given(data=HEAD_BYTES, cut=st.integers(min_value=0, max_value=600))
def test_client_handshake_raises_only_invalid_handshake(data: bytes, cut: int) -> None:
    hs = rfc_client(deflate=True)
    try:
        if hs.receive_data(data[:cut]) is None:
            hs.receive_data(data[cut:])
        hs.receive_eof()
    except InvalidHandshake:
        pass

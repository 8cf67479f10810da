#!/usr/bin/env python3
"""Fuzz the opening handshake's parsers (ws/handshake.py, RFC 6455 §4): both roles.

Input: one byte of choices (role; for the client, whether it offered permessage-deflate
and a subprotocol), five bytes of cut points, then the peer's bytes. The client may raise
only ``InvalidHandshake`` and its subclasses (``receive_eof`` always raises one); the
server never raises, it answers ``Accepted`` or ``Rejected`` with the bytes to send. Cut
anywhere, the bytes give the same outcome as whole.
"""

from __future__ import annotations

from dataclasses import replace

from fuzz._fuzz import Data, main
from whalewire.ws.exceptions import InvalidHandshake
from whalewire.ws.handshake import Accepted, ClientHandshake, Rejected, ServerHandshake

#: RFC 6455 §1.3's key and the answer it must get
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def _client(flags: int, chunks: list[bytes]) -> object:
    client = ClientHandshake(
        "server.example.com",
        "/chat",
        key=KEY,
        deflate=bool(flags & 2),
        subprotocols=("chat",) if flags & 4 else (),
    )
    try:
        for i, chunk in enumerate(chunks):
            done = client.receive_data(chunk)
            if done is not None:
                # the bytes after the head are the frames' (the later reads' too)
                later = b"".join(chunks[i + 1 :])
                return replace(done, trailing_data=done.trailing_data + later)
        client.receive_eof()
    except InvalidHandshake as exc:  # documented: the handshake failed, and why
        return (type(exc), str(exc))
    raise AssertionError("receive_eof returned")


def _server(flags: int, chunks: list[bytes]) -> object:
    server = ServerHandshake(subprotocols=("chat", "superchat"), deflate=bool(flags & 2))
    for i, chunk in enumerate(chunks):
        done = server.receive_data(chunk)
        if isinstance(done, Rejected):
            assert done.response.startswith(b"HTTP/1.1 4"), done.response[:40]
            return (done.status, done.response, type(done.error), str(done.error))
        if isinstance(done, Accepted):
            assert done.response.startswith(b"HTTP/1.1 101 "), done.response[:40]
            later = b"".join(chunks[i + 1 :])
            return replace(done, trailing_data=done.trailing_data + later)
    return None


def test_one_input(data: bytes) -> None:
    """Parse the peer's head whole and cut; same outcome, only documented errors."""
    d = Data(data)
    flags = d.byte()
    cuts = Data(d.take(5))
    head = d.rest()
    chunks = [head[a:b] for a, b in cuts.cuts(len(head))]
    run = _server if flags & 1 else _client
    # Headers compare by identity: compare what each outcome says
    assert repr(run(flags, [head])) == repr(run(flags, chunks))


def seeds() -> dict[str, bytes]:
    """RFC 6455 §1.3's request and response, with and without permessage-deflate."""
    request = (
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n"
        "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
        "Sec-WebSocket-Version: 13\r\n"
    )
    response = (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {ACCEPT}\r\n"
    )
    deflate = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    answer = "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n"
    whole, halves = bytes(5), bytes([1, 128, 0, 0, 0])
    vectors = {
        "rfc6455-request": b"\x01" + (request + "\r\n").encode(),
        "rfc7692-request": b"\x03" + (request + deflate + "\r\n").encode(),
        "rfc6455-response": b"\x00" + (response + "\r\n").encode() + b"\x81\x02hi",
        "rfc6455-response-chat": b"\x04"
        + (response + "Sec-WebSocket-Protocol: chat\r\n\r\n").encode(),
        "rfc7692-response": b"\x02" + (response + answer + "\r\n").encode(),
        "response-403-with-body": b"\x00"
        + b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!",
        "response-503-until-eof": b"\x00" + b"HTTP/1.0 503 Busy\r\n\r\nlater",
    }
    out = {name: v[:1] + whole + v[1:] for name, v in vectors.items()}
    out |= {f"{name}-halves": v[:1] + halves + v[1:] for name, v in vectors.items()}
    return out


if __name__ == "__main__":
    main(test_one_input)

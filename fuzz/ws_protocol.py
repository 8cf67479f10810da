#!/usr/bin/env python3
"""Fuzz the WebSocket core (ws/protocol.py): both roles, with and without permessage-deflate.

Input: one byte of choices (role, deflate, frame or message path, size limit), five bytes
of cut points, then the bytes the peer sends. The stream is fed cut at those points, with the C
scanners on and then with the Python reader alone; both must give the same events, frames,
answers, close code and state, and then send the same echo and close (frames built and
masked in C, then in Python). ``receive_data`` never raises (RFC 6455 §7.1.7: a violation
fails the connection with 1002, 1007 or 1009, answered by one close frame), and after the
input the connection still sends, closes and takes EOF as documented.
"""

from __future__ import annotations

from typing import Any

from tests.ws.support import FixedKeys, parse_sent, peer

from fuzz._fuzz import Data, main
from whalewire import speedups
from whalewire.ws.deflate import DeflateParams, PerMessageDeflate
from whalewire.ws.exceptions import InvalidState
from whalewire.ws.protocol import BinaryMessage, Connection, Role, State, TextMessage

#: the close codes a receive failure may send (RFC 6455 §7.4.1)
FAILURE_CODES = (1002, 1007, 1009)
LIMITS = (125, 200, 1 << 16, 1 << 20)


def _run(data: bytes, *, use_c: bool) -> tuple[Any, ...]:
    """Read the peer's bytes, echo each message as a server would, close, take EOF."""
    d = Data(data)
    flags = d.byte()
    role = Role.SERVER if flags & 1 else Role.CLIENT
    deflate = bool(flags & 2)
    frame_path = bool(flags & 4)
    limit = LIMITS[(flags >> 3) & 3]
    cut_data = d.take(5)
    stream = d.rest()
    chunks = Data(cut_data).cuts(len(stream))
    frames: list[tuple[int, bytes, bool]] = []
    codec = PerMessageDeflate(DeflateParams(), is_client=role is Role.CLIENT) if deflate else None
    old = speedups.use(use_c)
    try:
        conn = Connection(
            role,
            deflate=codec,
            max_message_size=limit,
            on_frame=(lambda o, p, f: frames.append((o, bytes(p), f))) if frame_path else None,
            mask_keys=FixedKeys(),
        )
        for start, end in chunks:
            conn.receive_data(bytearray(stream[start:end]))
        events = conn.events_received()
        received = conn.data_to_send()
        code = None if conn.error is None else conn.error.code
        state = conn.state
        # the connection stays usable as documented: sends work while OPEN (echo, then
        # close), and raise InvalidState once it is not
        refused = False
        try:
            for event in events:
                if isinstance(event, TextMessage):
                    conn.send_text(event.data)
                elif isinstance(event, BinaryMessage):
                    conn.send_binary(event.data)
            for opcode, payload, _ in frames:
                conn.send_frame(opcode or 0x2, payload)
            conn.send_close(1000, "bye")
        except InvalidState:
            refused = True
        answered = conn.data_to_send()
        conn.receive_eof()
    finally:
        speedups.use(old)
    return (events, frames, received, code, state, refused, answered, conn.state)


def test_one_input(data: bytes) -> None:
    """Feed the peer's bytes through C and Python; they agree and fail only as documented."""
    with_c = _run(data, use_c=True)
    reference = _run(data, use_c=False)
    assert with_c == reference, (with_c, reference)
    _, _, received, code, state, refused, _, final = with_c
    role = Role.SERVER if data[:1] and data[0] & 1 else Role.CLIENT
    if code is not None:
        assert code in FAILURE_CODES, code
        assert state is State.CLOSING
        closing = parse_sent(role, received)[-1]
        assert closing[0] == 0x8 and int.from_bytes(closing[2][:2], "big") == code
    assert refused == (state is not State.OPEN)
    assert final is State.CLOSED


def seeds() -> dict[str, bytes]:
    """RFC 6455 §5.7's frames and RFC 7692 §7.2.3's compressed ones, in both roles."""
    client, server = 0x00, 0x01  # we are the client (the peer is a server), or the server
    whole, halves = bytes(5), bytes([1, 128, 0, 0, 0])
    vectors = {
        "rfc6455-hello-unmasked": bytes([client]) + bytes.fromhex("810548656c6c6f"),
        "rfc6455-hello-masked": bytes([server]) + bytes.fromhex("818537fa213d7f9f4d5158"),
        "rfc6455-fragmented": bytes([client]) + bytes.fromhex("010348656c80026c6f"),
        "rfc6455-ping": bytes([client]) + bytes.fromhex("890548656c6c6f"),
        "rfc6455-pong-masked": bytes([server]) + bytes.fromhex("8a8537fa213d7f9f4d5158"),
        "rfc6455-256-binary": bytes([client]) + bytes.fromhex("827e0100") + bytes(256),
        "rfc6455-64k-binary": bytes([client | 0x10]) + bytes.fromhex("827f0000000000010000"),
        "rfc7692-hello-compressed": bytes([client | 2]) + bytes.fromhex("c107f248cdc9c90700"),
        "rfc7692-hello-compressed-masked": bytes([server | 2])
        + peer(Role.SERVER, 0x1, bytes.fromhex("f248cdc9c90700"), rsv=0x40),
        "rfc7692-fragments": bytes([client | 2]) + bytes.fromhex("4103f248cd8004c9c90700"),
        "frame-path-texts": bytes([server | 4])
        + peer(Role.SERVER, 0x1, b"Hello") * 3
        + peer(Role.SERVER, 0x2, bytes(range(40))),
        "close-with-reason": bytes([server]) + peer(Role.SERVER, 0x8, b"\x03\xe8bye"),
        "invalid-utf8": bytes([client]) + bytes.fromhex("8104cebae1bd"),
    }
    out = {name: v[:1] + whole + v[1:] for name, v in vectors.items()}
    out |= {f"{name}-halves": v[:1] + halves + v[1:] for name, v in vectors.items()}
    return out


if __name__ == "__main__":
    main(test_one_input)

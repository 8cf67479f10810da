#!/usr/bin/env python3
"""Fuzz the live transport's C frame reader (``net._io.PlainReader``) fed in-process.

The reader is driven exactly as the transport drives it (``tests/net/support.py``'s
``Transport``: fallback, rest, re-arming, an incomplete frame kept at the buffer's start),
over a read buffer of a fuzzer-chosen size, with the peer's bytes cut at fuzzer-chosen
points. It must give the frames, events, answers, close code and state the Python reader
gives for the same bytes, and raise nothing. Skipped (no-op) when the C extension is absent.
"""

from __future__ import annotations

from typing import Any

from fuzz._fuzz import Data, main
from whalewire import speedups
from whalewire.ws.protocol import Connection, Role

try:
    from whalewire.net import _io  # noqa: F401 - the reader under test
except ImportError:  # not built: nothing in C to fuzz
    READER = False
else:
    from tests.net.support import Transport, outcome
    from tests.ws.support import FixedKeys

    READER = True

SIZES = (64, 256, 4096, 65536)


def _reference(role: Role, chunks: list[bytes], limit: int) -> tuple[Any, ...]:
    got: list[tuple[int, bytes, bool]] = []
    old = speedups.use(False)
    try:
        ref = Connection(
            role,
            max_message_size=limit,
            on_frame=lambda o, p, f: got.append((o, bytes(p), f)),
            mask_keys=FixedKeys(),
        )
        for chunk in chunks:
            ref.receive_data(bytearray(chunk))
    finally:
        speedups.use(old)
    return got, outcome(ref)


def test_one_input(data: bytes) -> None:
    """Read the peer's bytes with the C reader and with Python; they must agree."""
    if not READER:
        return
    d = Data(data)
    flags = d.byte()
    role = Role.SERVER if flags & 1 else Role.CLIENT
    size = SIZES[(flags >> 1) & 3]
    limit = 200 if flags & 8 else 1 << 20
    cuts = Data(d.take(5))
    stream = d.rest()
    chunks = [stream[a:b] for a, b in cuts.cuts(len(stream))]
    got: list[tuple[int, bytes, bool]] = []
    old = speedups.use(True)
    try:
        conn = Connection(
            role,
            max_message_size=limit,
            on_frame=lambda o, p, f: got.append((o, bytes(p), f)),
            mask_keys=FixedKeys(),
        )
        host = Transport(conn, size, lambda o, p, f: got.append((o, bytes(p), f)), None)
        for chunk in chunks:
            host.feed(chunk)
    finally:
        speedups.use(old)
    assert host.errors == [], host.errors
    ref_frames, ref_outcome = _reference(role, chunks, limit)
    assert outcome(conn) == ref_outcome
    done, partial = _messages(got)
    ref_done, ref_partial = _messages(ref_frames)
    assert done == ref_done
    # a frame of 64 KiB or more is handed over piece by piece as its bytes are read, so
    # how much of a message left unfinished was handed over depends on the read sizes
    # (the C reader reads into a buffer of ``size``): one side's part is the other's prefix
    short, long = sorted((partial, ref_partial), key=len)
    assert long.startswith(short), (partial[:64], ref_partial[:64])


def _messages(frames: list[tuple[int, bytes, bool]]) -> tuple[list[tuple[int, bytes]], bytes]:
    """Join the frames' payloads per message: the finished ones (first opcode, payload),
    and what was handed over of an unfinished last one."""
    done: list[tuple[int, bytes]] = []
    opcode, parts = -1, bytearray()
    for op, payload, fin in frames:
        if opcode < 0:
            opcode = op
        parts += payload
        if fin:
            done.append((opcode, bytes(parts)))
            opcode, parts = -1, bytearray()
    return done, bytes(parts)


def seeds() -> dict[str, bytes]:
    """RFC 6455 §5.7's frames as a server and a client read them, whole and streamed."""
    masked = bytes.fromhex("818537fa213d7f9f4d5158")  # "Hello" from a client
    plain = bytes.fromhex("810548656c6c6f")  # "Hello" from a server
    binary = bytes.fromhex("827e0100") + bytes(range(256))
    whole, thirds = bytes(5), bytes([2, 85, 170, 0, 0])
    vectors = {
        "server-hello": b"\x01" + masked * 4,
        "client-hello": b"\x00" + plain * 4,
        "client-binary-small-buffer": b"\x00" + binary + plain,
        "client-binary-4k": b"\x04" + binary * 3,
        "server-ping-between": b"\x05" + masked + bytes.fromhex("898037fa213d") + masked,
        "client-too-big": b"\x08" + binary,
    }
    out = {name: v[:1] + whole + v[1:] for name, v in vectors.items()}
    out |= {f"{name}-thirds": v[:1] + thirds + v[1:] for name, v in vectors.items()}
    return out


if __name__ == "__main__":
    main(test_one_input)

"""Helpers shared by the WebSocket tests, the transport tests and the fuzz harnesses.

Frames are encoded here independently of ``ws.frames`` (``raw``) and decoded independently of
``ws.protocol`` (``parse_sent``), so that a test never checks the code with itself. The fork
check serves every mask key pool (Python's and each C extension's own).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from whalewire.ws.mask import MaskKeyPool
from whalewire.ws.protocol import Connection, Role

CLIENT, SERVER = Role.CLIENT, Role.SERVER
#: the masking key of RFC 6455 §5.7's examples
KEY = bytes.fromhex("37fa213d")


def xor(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def raw(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    key: bytes | None = None,
) -> bytes:
    """Encode a frame (minimal length) independently of ws.frames."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv | opcode
    m = 0x80 if key is not None else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, m | 127]) + n.to_bytes(8, "big")
    return head + key + xor(payload, key) if key is not None else head + payload


def peer(role: Role, opcode: int, payload: bytes = b"", **kw: Any) -> bytes:
    """A frame as the peer of ``role`` sends it: masked when we are the server."""
    return raw(opcode, payload, key=KEY if role is SERVER else None, **kw)


class FixedKeys(MaskKeyPool):
    """Always RFC 6455 §5.7's key, so that what a client sends is predictable."""

    def next_key(self) -> bytes:
        return KEY


def make(role: Role, **kw: Any) -> Connection:
    """A connection with predictable mask keys; ``deflate=ZlibCodec`` gets a fresh codec."""
    if isinstance(kw.get("deflate"), type):
        kw["deflate"] = kw["deflate"]()
    return Connection(role, mask_keys=FixedKeys(), **kw)


def merged(frames: list[tuple[int, bytes, bool]]) -> list[tuple[int, bytes]]:
    """The messages frame-path callbacks make: (first opcode, payloads joined up to FIN).

    A frame of ``STREAM_FROM`` bytes or more (or one inflating past a work budget) reaches
    ``on_frame`` in pieces, as if fragmented; messages are what stays the same.
    """
    out: list[tuple[int, bytes]] = []
    opcode, parts = 0, []
    for op, payload, fin in frames:
        opcode = op or opcode
        parts.append(payload)
        if fin:
            out.append((opcode, b"".join(parts)))
            parts = []
    return out


def parse_sent(role: Role, data: bytes) -> list[tuple[int, bool, bytes]]:
    """Decode what ``role`` sent: (opcode, fin, unmasked payload) per frame."""
    frames, i = [], 0
    while i < len(data):
        b0, b1 = data[i], data[i + 1]
        n, i = b1 & 0x7F, i + 2
        if n == 126:
            n, i = int.from_bytes(data[i : i + 2], "big"), i + 2
        elif n == 127:
            n, i = int.from_bytes(data[i : i + 8], "big"), i + 8
        assert bool(b1 & 0x80) == (role is CLIENT), "masking direction (RFC 6455 §5.1)"
        if b1 & 0x80:
            key, i = data[i : i + 4], i + 4
            payload = xor(data[i : i + n], key)
        else:
            payload = data[i : i + n]
        frames.append((b0 & 0x0F, bool(b0 & 0x80), payload))
        i += n
    return frames


#: arbitrary bytes, or frames with arbitrary first bytes, mask bits and payloads
FRAME_SOUP = st.binary(max_size=300) | st.lists(
    st.builds(
        lambda b0, masked, payload: raw(
            b0 & 0x0F, payload, fin=bool(b0 & 0x80), rsv=b0 & 0x70, key=KEY if masked else None
        ),
        st.integers(0, 255)
        | st.sampled_from([0x81, 0x82, 0x01, 0x80, 0x00, 0x88, 0x89, 0x8A, 0xC1]),
        st.booleans(),
        st.binary(max_size=130) | st.text(max_size=40).map(str.encode),
    ),
    max_size=6,
).map(b"".join)


def keys_in_parent_and_forked_child(
    draw: Callable[[], bytes], n: int = 8
) -> tuple[list[bytes], list[bytes]]:
    """Draw a key, fork, and return the next ``n`` keys the parent and the child each draw.

    A pool the child kept would give both the same keys, and RFC 6455 §5.3 wants every key
    unpredictable: two processes must never send the same ones. Used for each pool (Python,
    and each C extension's own).
    """
    draw()  # the pool holds a chunk when the process forks
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its keys, then leave without running pytest's atexit
        try:
            os.write(w, b"".join(draw() for _ in range(n)))
        finally:
            os._exit(0)
    os.close(w)
    got = b""
    while chunk := os.read(r, 4 * n):
        got += chunk
    os.close(r)
    os.waitpid(pid, 0)
    child = [got[i : i + 4] for i in range(0, len(got), 4)]
    return [draw() for _ in range(n)], child


def assert_fork_draws_fresh_keys(draw: Callable[[], bytes]) -> None:
    parent, child = keys_in_parent_and_forked_child(draw)
    assert len(child) == len(parent)
    assert set(child).isdisjoint(parent)

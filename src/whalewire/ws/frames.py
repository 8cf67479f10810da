"""WebSocket frame format (RFC 6455 §5.2): opcodes, limits, close payloads and frame building.

Holds the opcode enum, the close-code rule, and the frame writers: ``build_frame`` returns
header and (masked) payload as one ``bytes``, ``frame_in_place`` writes the header in front
of a payload the caller already placed at ``HEADROOM`` and masks it there (zero copy). The
C accelerator does both when built and ``whalewire.speedups`` says so; ``SPEEDUPS`` says
which path is live.
Parsing lives in ``ws.protocol``, whose receive loop is the one frame reader. This module
knows nothing of connection state, sockets or extensions.

Frame layout (RFC 6455 §5.2)::

     0                   1                   2                   3
    +-+-+-+-+-------+-+-------------+-------------------------------+
    |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
    |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
    |N|V|V|V|       |S|             |   (if payload len==126/127)   |
    | |1|2|3|       |K|             |                               |
    +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
    |     Extended payload length continued, if payload len == 127  |
    + - - - - - - - - - - - - - - - +-------------------------------+
    |                               | Masking-key, if MASK set to 1 |
    +-------------------------------+-------------------------------+
    | Masking-key (continued)       |          Payload Data         |
    +-------------------------------- - - - - - - - - - - - - - - - +
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from enum import IntEnum
from typing import Final

from whalewire import speedups
from whalewire.ws import mask as _mask
from whalewire.ws.exceptions import InvalidUTF8, ProtocolError

# None when not built (no compiler at install time): the pure-Python path below is complete
_speedups = speedups.load("whalewire.ws._speedups")

__all__ = [
    "HEADROOM",
    "MAX_CONTROL_PAYLOAD",
    "BytesLike",
    "Opcode",
    "build_close_payload",
    "build_frame",
    "frame_in_place",
    "header_length",
    "is_valid_close_code",
    "pack_frame",
    "pack_in_place",
    "parse_close_payload",
    "py_pack_frame",
    "py_pack_in_place",
    "write_header",
]

BytesLike = bytes | bytearray | memoryview


class Opcode(IntEnum):
    """Frame opcodes, RFC 6455 §5.2 and §11.8; 3–7 and 0xB–0xF are reserved."""

    CONTINUATION = 0x0  #: a later fragment of a message (§5.4)
    TEXT = 0x1  #: first frame of a UTF-8 text message
    BINARY = 0x2  #: first frame of a binary message
    CLOSE = 0x8  #: close handshake (§5.5.1)
    PING = 0x9  #: heartbeat; answered by a pong with the same payload (§5.5.2)
    PONG = 0xA  #: answer to a ping, or unsolicited heartbeat (§5.5.3)


#: RFC 6455 §5.5: control frames carry at most 125 bytes and are never fragmented
MAX_CONTROL_PAYLOAD: Final = 125
#: the largest header: 2 bytes + 8-byte length + 4-byte mask key (RFC 6455 §5.2)
HEADROOM: Final = 14

_HDR16 = struct.Struct("!BBH")
_HDR64 = struct.Struct("!BBQ")
_CODE = struct.Struct("!H")


def header_length(payload_length: int, masked: bool) -> int:
    """Return the size of the header for a payload of ``payload_length`` bytes."""
    size = 2 if payload_length < 126 else 4 if payload_length < 65536 else 10
    return size + 4 if masked else size


def write_header(
    buf: bytearray | memoryview,
    end: int,
    opcode: int,
    payload_length: int,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask_key: BytesLike | None = None,
) -> int:
    """Write a frame header that ends at ``buf[end]`` (the payload's first byte).

    The length uses the minimal encoding (RFC 6455 §5.2). The payload is not touched:
    masking it is the caller's job (``build_frame`` and ``frame_in_place`` do it).

    Returns:
        The offset of the header's first byte, ``end - header_length(...)``.

    Raises:
        ValueError: there is no room for the header before ``end``.
    """
    b0 = opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    if mask_key is not None:
        end -= 4
        buf[end : end + 4] = mask_key
        b1 = 0x80
    else:
        b1 = 0
    if payload_length < 126:
        start = end - 2
        if start < 0:
            raise ValueError("no headroom for the frame header")
        buf[start] = b0
        buf[start + 1] = b1 | payload_length
    elif payload_length < 65536:
        start = end - 4
        if start < 0:
            raise ValueError("no headroom for the frame header")
        _HDR16.pack_into(buf, start, b0, b1 | 126, payload_length)
    else:
        start = end - 10
        if start < 0:
            raise ValueError("no headroom for the frame header")
        _HDR64.pack_into(buf, start, b0, b1 | 127, payload_length)
    return start


def _header(b0: int, n: int, mask_bit: int) -> bytes:
    if n < 126:
        return bytes((b0, mask_bit | n))
    if n < 65536:
        return _HDR16.pack(b0, mask_bit | 126, n)
    return _HDR64.pack(b0, mask_bit | 127, n)


def py_pack_frame(first_byte: int, payload: BytesLike, mask_key: BytesLike | None) -> bytes:
    """Return one frame whose first header byte is ``first_byte`` (pure Python).

    The low-level builder under ``build_frame``: FIN, RSV and opcode are already in
    ``first_byte``; the length is minimal; the payload is masked when a key is given.
    """
    if mask_key is None:
        return _header(first_byte, len(payload), 0) + payload
    return _header(first_byte, len(payload), 0x80) + mask_key + _mask.apply_mask(payload, mask_key)


def py_pack_in_place(
    buf: bytearray, offset: int, length: int, first_byte: int, mask_key: BytesLike | None
) -> int:
    """Write the header in front of ``buf[offset:offset + length]``, mask it; return the start.

    The low-level writer under ``frame_in_place`` (pure Python); ``first_byte`` as for
    ``py_pack_frame``.
    """
    if offset + length > len(buf):
        raise ValueError("payload extends past the end of the buffer")
    fin, rsv1 = bool(first_byte & 0x80), bool(first_byte & 0x40)
    start = write_header(
        buf, offset, first_byte & 0x0F, length, fin=fin, rsv1=rsv1, mask_key=mask_key
    )
    if mask_key is not None and length:
        with memoryview(buf) as view:
            _mask.apply_mask_inplace(view[offset : offset + length], mask_key)
    return start


PackFrame = Callable[[int, BytesLike, BytesLike | None], bytes]
FrameInPlace = Callable[[bytearray, int, int, int, BytesLike | None], int]
pack_frame: PackFrame = py_pack_frame
pack_in_place: FrameInPlace = py_pack_in_place
#: True when frames are built in C (``whalewire.ws._speedups``)
SPEEDUPS = False


def _switch(enabled: bool) -> bool:
    # whalewire.speedups calls this
    global pack_frame, pack_in_place, SPEEDUPS
    if enabled and _speedups is not None:
        pack_frame, pack_in_place = _speedups.build_frame, _speedups.frame_in_place
        SPEEDUPS = True
    else:
        pack_frame, pack_in_place, SPEEDUPS = py_pack_frame, py_pack_in_place, False
    return SPEEDUPS


speedups.register(__name__, _switch)


def build_frame(
    opcode: int,
    payload: BytesLike,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask_key: BytesLike | None = None,
) -> bytes:
    """Return one frame (header, then the payload, masked when ``mask_key`` is given).

    In C, one allocation: the payload is copied once into the result, masked on the way.
    """
    first_byte = opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    return pack_frame(first_byte, payload, mask_key)


def frame_in_place(
    buf: bytearray,
    payload_length: int,
    opcode: int = Opcode.TEXT,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask_key: BytesLike | None = None,
    offset: int = HEADROOM,
) -> memoryview:
    """Frame a payload the caller already wrote at ``buf[offset:offset + payload_length]``.

    The header goes into the headroom in front of the payload, and the payload is masked
    where it lies: no copy. Reserve ``HEADROOM`` bytes in front to fit any header.

    Returns:
        A view of the whole frame inside ``buf``, ready for ``socket.send``.

    Raises:
        ValueError: too little headroom, or the payload runs past the end of ``buf``.
    """
    first_byte = opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    start = pack_in_place(buf, offset, payload_length, first_byte, mask_key)
    return memoryview(buf)[start : offset + payload_length]


def is_valid_close_code(code: int) -> bool:
    """Return whether ``code`` may appear in a close frame (RFC 6455 §7.4).

    Valid: 1000–1003 and 1007–1011 (§7.4.1), 1012–1014 (registered with IANA since: service
    restart, try again later, bad gateway; servers do send them), 3000–4999 (§7.4.2).
    Invalid: below 1000, 1004–1006 and 1015 (reserved, never on the wire), 1016–2999
    (unassigned protocol range), 5000 and above.
    """
    if 1000 <= code <= 1014:
        return code not in (1004, 1005, 1006)
    return 3000 <= code <= 4999


def parse_close_payload(payload: BytesLike) -> tuple[int, str]:
    """Return ``(code, reason)`` from a close frame's payload (RFC 6455 §5.5.1, §7.1.5).

    An empty payload means no status code: 1005 with an empty reason.

    Raises:
        ProtocolError: a 1-byte payload or an invalid close code (1002).
        InvalidUTF8: the reason is not UTF-8 (1007).
    """
    n = len(payload)
    if n == 0:
        return 1005, ""
    if n == 1:
        raise ProtocolError("close frame with a 1-byte payload")
    code = (payload[0] << 8) | payload[1]
    if not is_valid_close_code(code):
        raise ProtocolError(f"invalid close code {code}")
    try:
        reason = bytes(payload[2:]).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUTF8("close reason is not valid UTF-8") from None
    return code, reason


def build_close_payload(code: int | None = 1000, reason: str = "") -> bytes:
    """Return a close frame's payload for ``code`` and ``reason``.

    ``code=None`` gives an empty payload (allowed only with no reason, RFC 6455 §5.5.1).

    Raises:
        ValueError: the code may not be sent, or the encoded reason exceeds 123 bytes.
    """
    if code is None:
        if reason:
            raise ValueError("a close reason needs a close code")
        return b""
    if not is_valid_close_code(code):
        raise ValueError(f"close code {code} may not be sent")
    data = _CODE.pack(code) + reason.encode("utf-8")
    if len(data) > MAX_CONTROL_PAYLOAD:
        raise ValueError("close reason longer than 123 bytes")
    return data

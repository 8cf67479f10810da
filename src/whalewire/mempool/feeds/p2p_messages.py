"""Bitcoin P2P wire messages, sans-IO: framing, checksum, and the few payloads a tx feed needs.

Bytes in, ``(command, payload)`` out through :class:`MessageReader`; ``encode_*`` functions
build what we send. Layout per the Bitcoin protocol (Bitcoin Core ``protocol.h``/``net.h``):
a 24-byte header of network magic (4), NUL-padded ASCII command (12), payload length (u32 LE)
and checksum (first 4 bytes of double SHA-256 of the payload), then the payload. This module
does no I/O and knows nothing of asyncio, of feeds' events or of watch lists.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import struct
import time
from dataclasses import dataclass

from whalewire.mempool.tx import compact_size

__all__ = [
    "DEFAULT_PORTS",
    "MAGIC",
    "MAX_PAYLOAD",
    "MSG_BLOCK",
    "MSG_TX",
    "MSG_WITNESS_FLAG",
    "MSG_WITNESS_TX",
    "MSG_WTX",
    "PROTOCOL_VERSION",
    "InvItem",
    "MessageReader",
    "P2PError",
    "P2PProtocolError",
    "Version",
    "checksum",
    "decode_headers",
    "decode_inv",
    "decode_version",
    "encode_getdata",
    "encode_message",
    "encode_version",
    "read_compact_size",
]

#: network magic ("pchMessageStart"), Bitcoin Core chainparams.cpp; Litecoin Core's regtest
#: reuses Bitcoin's fabfb5da.
MAGIC: dict[str, bytes] = {
    "mainnet": bytes.fromhex("f9beb4d9"),
    "testnet": bytes.fromhex("0b110907"),
    "signet": bytes.fromhex("0a03cf40"),
    "regtest": bytes.fromhex("fabfb5da"),
}
DEFAULT_PORTS = {"mainnet": 8333, "testnet": 18333, "signet": 38333, "regtest": 18444}

#: 70016 is the version that introduced wtxidrelay (BIP 339); Bitcoin Core 0.21 speaks it.
PROTOCOL_VERSION = 70016
#: Bitcoin Core net.h MAX_PROTOCOL_MESSAGE_LENGTH (4 MB): a larger length is a peer fault.
MAX_PAYLOAD = 4_000_000

#: inventory types (Bitcoin Core protocol.h GetDataMsg; BIP 144 witness flag; BIP 339 wtx)
MSG_TX = 1
MSG_BLOCK = 2
MSG_WTX = 5
MSG_WITNESS_FLAG = 1 << 30
MSG_WITNESS_TX = MSG_TX | MSG_WITNESS_FLAG

_HEADER = struct.Struct("<4s12sI4s")
HEADER_SIZE = _HEADER.size  # 24
_INV = struct.Struct("<I32s")
#: getdata/inv hold at most 50,000 entries (Bitcoin Core net_processing MAX_INV_SZ)
MAX_INV = 50_000


class P2PError(Exception):
    """Base of the P2P feed's errors."""


class P2PProtocolError(P2PError):
    """The peer broke the protocol (bad magic, checksum, size or payload); close the link."""

    def __init__(self, reason: str, command: str = "") -> None:
        super().__init__(reason, command)
        self.reason = reason
        self.command = command

    def __str__(self) -> str:
        where = f" in {self.command!r}" if self.command else ""
        return f"P2P protocol error{where}: {self.reason}"


def checksum(payload: bytes | memoryview) -> bytes:
    """Return the message checksum: the first 4 bytes of double SHA-256 of ``payload``."""
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def encode_message(magic: bytes, command: str, payload: bytes = b"") -> bytes:
    """Frame ``payload`` as one P2P message for the network whose magic is ``magic``."""
    name = command.encode("ascii")
    if len(name) > 12:
        raise ValueError(f"command {command!r} longer than 12 bytes")
    return _HEADER.pack(magic, name, len(payload), checksum(payload)) + payload


class MessageReader:
    """Split a byte stream into ``(command, payload)`` messages, validating each header.

    Args:
        magic: the network magic every message must start with.
        max_payload: the largest payload accepted; a larger announced length is a peer fault
            raised before any of the payload is buffered.
    """

    def __init__(self, magic: bytes, max_payload: int = MAX_PAYLOAD) -> None:
        self.magic = magic
        self.max_payload = max_payload
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        """Add received bytes; return every message now complete, in order.

        Raises:
            P2PProtocolError: wrong magic, malformed command, oversized length or bad checksum.
        """
        buf = self._buf
        buf += data
        out: list[tuple[str, bytes]] = []
        pos = 0
        while len(buf) - pos >= HEADER_SIZE:
            magic, raw_cmd, length, check = _HEADER.unpack_from(buf, pos)
            if magic != self.magic:
                raise P2PProtocolError(f"network magic {magic.hex()}, expected {self.magic.hex()}")
            command = _command(raw_cmd)
            if length > self.max_payload:
                raise P2PProtocolError(f"payload of {length} bytes > {self.max_payload}", command)
            end = pos + HEADER_SIZE + length
            if len(buf) < end:
                break
            payload = bytes(buf[pos + HEADER_SIZE : end])
            if checksum(payload) != check:
                raise P2PProtocolError(f"checksum {check.hex()} does not match payload", command)
            out.append((command, payload))
            pos = end
        if pos:
            del buf[:pos]
        return out


def _command(raw: bytes) -> str:
    name, _, pad = raw.partition(b"\x00")
    # Bitcoin Core CMessageHeader::IsCommandValid: printable ASCII, then only NUL padding.
    if pad.strip(b"\x00") or not name or not all(0x20 < c < 0x7F for c in name):
        raise P2PProtocolError(f"malformed command field {raw!r}")
    return name.decode("ascii")


def read_compact_size(b: bytes, i: int, command: str) -> tuple[int, int]:
    """Read the CompactSize at ``b[i]``; return (value, index after it).

    Raises:
        P2PProtocolError: the count is cut short (``command`` names the message).
    """
    if i >= len(b):
        raise P2PProtocolError("truncated count", command)
    first = b[i]
    if first < 0xFD:
        return first, i + 1
    width = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
    if i + 1 + width > len(b):
        raise P2PProtocolError("truncated count", command)
    return int.from_bytes(b[i + 1 : i + 1 + width], "little"), i + 1 + width


def _net_addr(host: str, port: int, services: int) -> bytes:
    ip = ipaddress.ip_address(host)
    packed = ip.packed if ip.version == 6 else b"\x00" * 10 + b"\xff\xff" + ip.packed
    return struct.pack("<Q", services) + packed + struct.pack(">H", port)


@dataclass(frozen=True, slots=True)
class Version:
    """The fields of a peer's ``version`` message that a feed cares about."""

    version: int
    services: int
    timestamp: int
    nonce: int
    user_agent: str
    start_height: int
    relay: bool


def encode_version(
    *,
    peer: tuple[str, int],
    version: int = PROTOCOL_VERSION,
    services: int = 0,
    user_agent: str = "/whalewire:0.1.0/",
    start_height: int = 0,
    relay: bool = True,
    nonce: int | None = None,
    timestamp: int | None = None,
) -> bytes:
    """Build a ``version`` payload (we announce no services: we serve nothing, we listen)."""
    ua = user_agent.encode("ascii")
    return (
        struct.pack("<iQq", version, services, int(time.time()) if timestamp is None else timestamp)
        + _net_addr(peer[0], peer[1], 0)
        + _net_addr("0.0.0.0", 0, services)
        + struct.pack("<Q", int.from_bytes(os.urandom(8)) if nonce is None else nonce)
        + compact_size(len(ua))
        + ua
        + struct.pack("<i?", start_height, relay)
    )


def decode_version(payload: bytes) -> Version:
    """Parse a ``version`` payload; ``relay`` defaults to True when absent (pre-BIP 37)."""
    cmd = "version"
    if len(payload) < 80 + 1:
        raise P2PProtocolError(f"{len(payload)} bytes is too short", cmd)
    version, services, timestamp = struct.unpack_from("<iQq", payload, 0)
    (nonce,) = struct.unpack_from("<Q", payload, 72)
    ua_len, i = read_compact_size(payload, 80, cmd)
    if ua_len > 256 or i + ua_len + 4 > len(payload):
        raise P2PProtocolError(f"user agent of {ua_len} bytes does not fit", cmd)
    user_agent = payload[i : i + ua_len].decode("ascii", "replace")
    i += ua_len
    (start_height,) = struct.unpack_from("<i", payload, i)
    relay = payload[i + 4] != 0 if len(payload) > i + 4 else True
    return Version(version, services, timestamp, nonce, user_agent, start_height, relay)


@dataclass(frozen=True, slots=True)
class InvItem:
    """One inventory vector: its type and its hash in wire (internal) byte order."""

    type: int
    hash: bytes

    @property
    def hex(self) -> str:
        """Return the hash in display order, as RPC and explorers show it."""
        return self.hash[::-1].hex()


def decode_inv(payload: bytes, command: str = "inv") -> list[InvItem]:
    """Parse an ``inv`` (or ``notfound``/``getdata``) payload into inventory vectors."""
    count, i = read_compact_size(payload, 0, command)
    if count > MAX_INV:
        raise P2PProtocolError(f"{count} entries > {MAX_INV}", command)
    if len(payload) != i + count * _INV.size:
        raise P2PProtocolError(f"{len(payload)} bytes for {count} entries", command)
    return [InvItem(*_INV.unpack_from(payload, i + k * _INV.size)) for k in range(count)]


def encode_getdata(items: list[InvItem]) -> bytes:
    """Build a ``getdata`` payload asking for ``items``."""
    return compact_size(len(items)) + b"".join(_INV.pack(it.type, it.hash) for it in items)


def decode_headers(payload: bytes) -> list[str]:
    """Return the display-order hashes of the block headers in a ``headers`` payload."""
    cmd = "headers"
    count, i = read_compact_size(payload, 0, cmd)
    if count > 2000 or len(payload) < i + count * 81:
        raise P2PProtocolError(f"{count} headers do not fit {len(payload)} bytes", cmd)
    hashes = []
    for _ in range(count):
        header = payload[i : i + 80]
        hashes.append(hashlib.sha256(hashlib.sha256(header).digest()).digest()[::-1].hex())
        _, i = read_compact_size(payload, i + 80, cmd)
    return hashes

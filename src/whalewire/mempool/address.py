"""Bitcoin address codecs: base58check (P2PKH, P2SH) and bech32/bech32m segwit addresses.

Holds the conversions between scriptPubKeys and address strings for mainnet, testnet
(testnet3 and testnet4), signet and regtest, and the ``AddressError`` they raise. It knows
nothing of transactions, exchanges or feeds; it runs only when a watch list is loaded and
when an alert is built, never per transaction on the hot path.

Rules: base58check is Bitcoin Core ``base58.cpp`` (version byte, payload, 4-byte dSHA256
checksum); bech32 is BIP 173, bech32m and the version-dependent choice between them BIP 350;
the witness program rules are BIP 141 (2 to 40 bytes, 20 or 32 for version 0).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

__all__ = [
    "NETWORKS",
    "AddressError",
    "Network",
    "address_to_script",
    "b58check_decode",
    "b58check_encode",
    "bech32_decode",
    "bech32_encode",
    "decode_address",
    "script_to_address",
    "segwit_decode",
    "segwit_encode",
]


class AddressError(ValueError):
    """An address string is not valid (for the network asked for).

    Attributes:
        address: the string that was refused.
        reason: what is wrong with it, e.g. ``"invalid checksum"``.
    """

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(address, reason)
        self.address = address
        self.reason = reason

    def __str__(self) -> str:
        return f"invalid address {self.address!r}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Network:
    """Address parameters of one Bitcoin network (Bitcoin Core ``kernel/chainparams.cpp``)."""

    name: str
    #: bech32 human-readable part
    hrp: str
    #: base58 version byte of P2PKH addresses
    p2pkh: int
    #: base58 version byte of P2SH addresses
    p2sh: int


NETWORKS: Final[dict[str, Network]] = {
    "mainnet": Network("mainnet", "bc", 0x00, 0x05),
    "testnet": Network("testnet", "tb", 0x6F, 0xC4),
    "signet": Network("signet", "tb", 0x6F, 0xC4),
    "regtest": Network("regtest", "bcrt", 0x6F, 0xC4),
}

# --- base58check ---------------------------------------------------------------------------

_B58: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX: Final = {c: i for i, c in enumerate(_B58)}


def _dsha256(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def b58encode(data: bytes) -> str:
    """Encode bytes as base58 (each leading zero byte becomes a leading ``1``)."""
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Decode base58; raise ``AddressError`` on a character outside the alphabet."""
    n = 0
    for i, c in enumerate(text):
        d = _B58_INDEX.get(c)
        if d is None:
            raise AddressError(text, f"invalid base58 character {c!r} at position {i}")
        n = n * 58 + d
    pad = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * pad + body


def b58check_encode(payload: bytes) -> str:
    """Encode ``payload`` (version byte included) with its 4-byte dSHA256 checksum."""
    return b58encode(payload + _dsha256(payload)[:4])


def b58check_decode(text: str) -> bytes:
    """Decode base58check; return the payload (version byte included) without checksum."""
    raw = b58decode(text)
    if len(raw) < 5:
        raise AddressError(text, "too short for base58check")
    payload, check = raw[:-4], raw[-4:]
    if _dsha256(payload)[:4] != check:
        raise AddressError(text, "invalid base58check checksum")
    return payload


# --- bech32 / bech32m (BIP 173, BIP 350) ---------------------------------------------------

_CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX: Final = {c: i for i, c in enumerate(_CHARSET)}
_GEN: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
#: checksum constants: BIP 173 (bech32) and BIP 350 (bech32m)
BECH32: Final = 1
BECH32M: Final = 0x2BC830A3


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GEN[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_encode(hrp: str, data: list[int], const: int) -> str:
    """Encode ``hrp`` and 5-bit ``data`` with the checksum for ``const`` (BECH32/BECH32M)."""
    values = _hrp_expand(hrp) + data
    pm = _polymod([*values, 0, 0, 0, 0, 0, 0]) ^ const
    checksum = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + checksum)


def bech32_decode(text: str) -> tuple[str, list[int], int]:
    """Decode a bech32 or bech32m string (BIP 173 §Bech32, BIP 350).

    Returns:
        ``(hrp, data, const)``: the lower-case hrp, the 5-bit data without the checksum,
        and which checksum matched (``BECH32`` or ``BECH32M``).

    Raises:
        AddressError: with the reason the BIPs' test vectors give.
    """
    if len(text) > 90:
        raise AddressError(text, "overall max length (90) exceeded")
    for i, c in enumerate(text):
        if not 33 <= ord(c) <= 126:
            raise AddressError(text, f"character out of range at position {i}")
    if text.lower() != text and text.upper() != text:
        raise AddressError(text, "mixed case")
    text_l = text.lower()
    sep = text_l.rfind("1")
    if sep == -1:
        raise AddressError(text, "no separator character")
    if sep == 0:
        raise AddressError(text, "empty human-readable part")
    if sep + 7 > len(text_l):
        raise AddressError(text, "too short checksum")
    hrp = text_l[:sep]
    data = []
    for i, c in enumerate(text_l[sep + 1 :], sep + 1):
        d = _CHARSET_INDEX.get(c)
        if d is None:
            raise AddressError(text, f"invalid data character {c!r} at position {i}")
        data.append(d)
    const = _polymod(_hrp_expand(hrp) + data)
    if const not in (BECH32, BECH32M):
        raise AddressError(text, "invalid checksum")
    return hrp, data[:-6], const


def _convertbits(
    data: list[int] | bytes, frombits: int, tobits: int, pad: bool
) -> list[int] | None:
    acc = 0
    bits = 0
    out = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return out


def segwit_encode(hrp: str, version: int, program: bytes) -> str:
    """Encode a witness program as a segwit address (bech32 for v0, bech32m for v1+)."""
    if not 0 <= version <= 16:
        raise ValueError(f"witness version {version} outside 0..16")
    if not 2 <= len(program) <= 40 or (version == 0 and len(program) not in (20, 32)):
        raise ValueError(f"invalid witness program length {len(program)} for version {version}")
    five = _convertbits(program, 8, 5, True)
    assert five is not None  # padding is allowed when encoding
    return bech32_encode(hrp, [version, *five], BECH32 if version == 0 else BECH32M)


def segwit_decode(text: str, hrp: str | None = None) -> tuple[str, int, bytes]:
    """Decode a segwit address (BIP 173 + BIP 350 rules).

    Args:
        text: the address.
        hrp: the human-readable part required (e.g. ``"bc"``); any when ``None``.

    Returns:
        ``(hrp, witness version, witness program)``.

    Raises:
        AddressError: naming the rule broken.
    """
    got_hrp, data, const = bech32_decode(text)
    if hrp is not None and got_hrp != hrp:
        raise AddressError(text, f"invalid human-readable part {got_hrp!r} (expected {hrp!r})")
    if not data:
        raise AddressError(text, "empty data section")
    version = data[0]
    if version > 16:
        raise AddressError(text, f"invalid witness version {version}")
    program = _convertbits(data[1:], 5, 8, False)
    if program is None:
        raise AddressError(text, "invalid padding in 8-to-5 conversion")
    if not 2 <= len(program) <= 40:
        raise AddressError(text, f"invalid witness program length ({len(program)} bytes)")
    if version == 0 and len(program) not in (20, 32):
        raise AddressError(
            text, f"invalid program length for witness version 0 ({len(program)} bytes, BIP 141)"
        )
    if version == 0 and const != BECH32:
        raise AddressError(text, "invalid checksum: bech32m used for witness version 0")
    if version != 0 and const != BECH32M:
        raise AddressError(text, f"invalid checksum: bech32 used for witness version {version}")
    return got_hrp, version, bytes(program)


# --- scriptPubKey <-> address --------------------------------------------------------------


def _witness_program(spk: bytes) -> tuple[int, bytes] | None:
    # BIP 141: a version opcode (OP_0 or OP_1..OP_16) then one direct push of 2..40 bytes.
    n = len(spk)
    if not 4 <= n <= 42 or spk[1] != n - 2:
        return None
    op = spk[0]
    if op == 0:
        return 0, spk[2:]
    if 0x51 <= op <= 0x60:
        return op - 0x50, spk[2:]
    return None


def script_to_address(spk: bytes, network: str = "mainnet") -> str | None:
    """Return the address paying to ``spk`` on ``network``, or None when it has none.

    P2PKH and P2SH give base58check addresses; witness programs (any version 0..16) give
    bech32/bech32m ones. P2PK, bare multisig, OP_RETURN and non-standard scripts give None,
    as does a version 0 program that is neither 20 nor 32 bytes (unspendable, BIP 141).

    Raises:
        KeyError: ``network`` is not one of ``NETWORKS``.
    """
    net = NETWORKS[network]
    n = len(spk)
    if n == 25 and spk[:3] == b"\x76\xa9\x14" and spk[23:] == b"\x88\xac":
        return b58check_encode(bytes([net.p2pkh]) + spk[3:23])
    if n == 23 and spk[:2] == b"\xa9\x14" and spk[22] == 0x87:
        return b58check_encode(bytes([net.p2sh]) + spk[2:22])
    wp = _witness_program(spk)
    if wp is None:
        return None
    version, program = wp
    if version == 0 and len(program) not in (20, 32):
        return None
    return segwit_encode(net.hrp, version, program)


def decode_address(address: str, network: str | None = None) -> tuple[bytes, tuple[str, ...]]:
    """Decode an address to its scriptPubKey and the networks it is valid on.

    Args:
        address: a base58check or bech32/bech32m address.
        network: when given, the address must belong to this network.

    Returns:
        ``(script_pubkey, network names)``; testnet and signet share their encodings, so a
        ``tb1``/``m``/``n``/``2`` address names both.

    Raises:
        AddressError: the address is malformed or not for ``network``.
    """
    if network is not None and network not in NETWORKS:
        raise AddressError(address, f"unknown network {network!r}")
    candidates = [NETWORKS[network]] if network else list(NETWORKS.values())
    sep = address.rfind("1")
    hrp = address[:sep].lower() if sep > 0 else ""
    if hrp in {net.hrp for net in NETWORKS.values()}:
        _, version, program = segwit_decode(address)
        nets = tuple(net.name for net in candidates if net.hrp == hrp)
        if not nets:
            raise AddressError(address, f"human-readable part {hrp!r} is not {network}'s")
        op = 0 if version == 0 else 0x50 + version
        return bytes([op, len(program)]) + program, nets
    try:
        payload = b58check_decode(address)
    except AddressError as b58_error:
        if sep > 0:
            # Looks like bech32 with an hrp we do not serve: say so rather than "base58".
            try:
                bech32_decode(address)
            except AddressError:
                raise b58_error from None
            raise AddressError(address, f"invalid human-readable part {hrp!r}") from None
        raise
    if len(payload) != 21:
        raise AddressError(address, f"base58 payload is {len(payload) - 1} bytes, not 20")
    version_byte, h = payload[0], payload[1:]
    nets = tuple(net.name for net in candidates if net.p2pkh == version_byte)
    if nets:
        return b"\x76\xa9\x14" + h + b"\x88\xac", nets
    nets = tuple(net.name for net in candidates if net.p2sh == version_byte)
    if nets:
        return b"\xa9\x14" + h + b"\x87", nets
    where = f"on {network}" if network else "on any known network"
    raise AddressError(
        address, f"base58 version byte {version_byte:#04x} is not an address {where}"
    )


def address_to_script(address: str, network: str | None = None) -> bytes:
    """Return the scriptPubKey that ``address`` pays to.

    Args:
        address: a P2PKH/P2SH base58check address or a segwit bech32/bech32m address.
        network: when given (``"mainnet"``, ``"testnet"``, ``"signet"``, ``"regtest"``), the
            address must belong to it; otherwise any of them is accepted.

    Raises:
        AddressError: naming what is wrong.
    """
    return decode_address(address, network)[0]

"""permessage-deflate (RFC 7692): negotiation of its parameters and the per-message codec.

This module holds the four negotiation parameters (``DeflateParams``), the client's offer,
the server's choice among offers, the client's check of the server's answer, and
``PerMessageDeflate``, which compresses whole messages and decompresses frame by frame.
It knows nothing of frames, RSV bits or sockets: ``ws.protocol`` decides when a message is
compressed and hands payloads here; ``ws.handshake`` parses the header text and passes the
parsed parameters in.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from whalewire.ws.exceptions import NegotiationError, PayloadTooBig, ProtocolError
from whalewire.ws.numbers import parse_decimal

__all__ = [
    "EXTENSION_NAME",
    "DeflateParams",
    "ExtensionParams",
    "PerMessageDeflate",
    "ServerDeflateConfig",
    "accept_response",
    "client_offer",
    "format_params",
    "select_offer",
]

#: the extension token, RFC 7692 §7
EXTENSION_NAME = "permessage-deflate"

#: RFC 7692 §7.2.1: a sync flush ends with an empty stored block, stripped on the wire
_TAIL = b"\x00\x00\xff\xff"

#: one extension's parameters as they appear in a header: (name, value or None), in order
ExtensionParams = Sequence[tuple[str, str | None]]

_SERVER_NCT = "server_no_context_takeover"
_CLIENT_NCT = "client_no_context_takeover"
_SERVER_MWB = "server_max_window_bits"
_CLIENT_MWB = "client_max_window_bits"
_KNOWN = frozenset({_SERVER_NCT, _CLIENT_NCT, _SERVER_MWB, _CLIENT_MWB})


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """The agreed parameters of one permessage-deflate connection (RFC 7692 §7.1)."""

    #: the server resets its compression context after each message (§7.1.1.1)
    server_no_context_takeover: bool = False
    #: the client resets its compression context after each message (§7.1.1.2)
    client_no_context_takeover: bool = False
    #: LZ77 window the server compresses with, 8..15 (§7.1.2.1)
    server_max_window_bits: int = 15
    #: LZ77 window the client compresses with, 8..15 (§7.1.2.2)
    client_max_window_bits: int = 15


@dataclass(frozen=True, slots=True)
class ServerDeflateConfig:
    """What a server is willing to agree to; defaults accept any valid offer as asked."""

    #: also ask the client to reset its context per message (saves our memory, costs ratio)
    client_no_context_takeover: bool = False
    #: reset our own context per message even if the client did not ask for it
    server_no_context_takeover: bool = False
    #: the largest window we compress with (we answer with min(this, the client's limit))
    server_max_window_bits: int = 15
    #: the window we ask the client to use, when its offer says it can limit it
    client_max_window_bits: int = 15


def _window_bits(name: str, value: str | None) -> int:
    # RFC 7692 §7.1.2: the value is a decimal integer 8..15 with no leading zeros; a
    # quoted-string form (RFC 6455 §9.1) carries the same token inside quotes.
    if value is None:
        raise NegotiationError(f"{name} needs a value")
    text = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    bits = parse_decimal(text, 2)
    if bits is None or text[0] == "0" or not 8 <= bits <= 15:
        raise NegotiationError(f"{name}={value[:20]!r} is not an integer from 8 to 15")
    return bits


def _as_dict(params: ExtensionParams) -> dict[str, str | None]:
    seen: dict[str, str | None] = {}
    for name, value in params:
        key = name.lower()
        if key not in _KNOWN:
            raise NegotiationError(f"unknown permessage-deflate parameter {name!r}")
        if key in seen:
            raise NegotiationError(f"duplicate permessage-deflate parameter {name!r}")
        if key in (_SERVER_NCT, _CLIENT_NCT) and value is not None:
            raise NegotiationError(f"{name} takes no value")
        seen[key] = value
    return seen


def format_params(params: ExtensionParams) -> str:
    """Format ``permessage-deflate`` with ``params`` as one Sec-WebSocket-Extensions element."""
    parts = [EXTENSION_NAME]
    parts.extend(name if value is None else f"{name}={value}" for name, value in params)
    return "; ".join(parts)


def client_offer(
    params: DeflateParams | None = None, *, client_max_window_bits: int | None = None
) -> str:
    """Return the client's offer as a Sec-WebSocket-Extensions value (RFC 7692 §7.1).

    With no ``params`` the offer is ``permessage-deflate; client_max_window_bits``: we
    accept the server's defaults and tell it we can limit our window if it asks.

    Args:
        params: ask for these (``*_no_context_takeover``, ``server_max_window_bits`` < 15);
            defaults are left out of the offer.
        client_max_window_bits: announce our own limit; None offers the bare parameter.
    """
    p = params or DeflateParams()
    items: list[tuple[str, str | None]] = []
    if p.server_no_context_takeover:
        items.append((_SERVER_NCT, None))
    if p.client_no_context_takeover:
        items.append((_CLIENT_NCT, None))
    if p.server_max_window_bits != 15:
        items.append((_SERVER_MWB, str(p.server_max_window_bits)))
    limit = client_max_window_bits
    if limit is None and p.client_max_window_bits != 15:
        limit = p.client_max_window_bits
    items.append((_CLIENT_MWB, None if limit is None else str(limit)))
    return format_params(items)


def select_offer(
    offers: Sequence[ExtensionParams], config: ServerDeflateConfig | None = None
) -> tuple[DeflateParams, str] | None:
    """Choose the first acceptable client offer and build the server's answer.

    RFC 7692 §5 says a server declines (leaves out) an offer with unknown, duplicate or
    invalid parameters; declining all offers means no compression, not a failed handshake.

    Args:
        offers: the parameters of each ``permessage-deflate`` element, in header order.
        config: our own preferences; the default accepts every valid offer.

    Returns:
        The agreed parameters and the response's Sec-WebSocket-Extensions element, or
        None when no offer is acceptable.
    """
    cfg = config or ServerDeflateConfig()
    for offer in offers:
        try:
            asked = _as_dict(offer)
            # §7.1.2.1: the client caps our window; our answer must not exceed its value.
            server_bits = cfg.server_max_window_bits
            if _SERVER_MWB in asked:
                server_bits = min(server_bits, _window_bits(_SERVER_MWB, asked[_SERVER_MWB]))
            # §7.1.2.2: without a value the client only says it *can* limit its window.
            client_cap = 15
            if _CLIENT_MWB in asked and asked[_CLIENT_MWB] is not None:
                client_cap = _window_bits(_CLIENT_MWB, asked[_CLIENT_MWB])
        except NegotiationError:
            continue
        client_bits = min(client_cap, cfg.client_max_window_bits)
        if _CLIENT_MWB not in asked:
            # §7.1.2.2: a client that did not offer the parameter may not be limited.
            if cfg.client_max_window_bits < 15:
                continue
            client_bits = 15
        agreed = DeflateParams(
            server_no_context_takeover=_SERVER_NCT in asked or cfg.server_no_context_takeover,
            client_no_context_takeover=_CLIENT_NCT in asked or cfg.client_no_context_takeover,
            server_max_window_bits=server_bits,
            client_max_window_bits=client_bits,
        )
        answer: list[tuple[str, str | None]] = []
        if agreed.server_no_context_takeover:
            answer.append((_SERVER_NCT, None))
        if agreed.client_no_context_takeover:
            answer.append((_CLIENT_NCT, None))
        if _SERVER_MWB in asked or server_bits != 15:
            answer.append((_SERVER_MWB, str(server_bits)))
        if _CLIENT_MWB in asked and (asked[_CLIENT_MWB] is not None or client_bits != 15):
            answer.append((_CLIENT_MWB, str(client_bits)))
        return agreed, format_params(answer)
    return None


def accept_response(
    response: ExtensionParams,
    offered: DeflateParams | None = None,
    *,
    offered_client_max_window_bits: bool = True,
) -> DeflateParams:
    """Check the server's permessage-deflate answer against our offer (RFC 7692 §7.1).

    Tolerated though not offered, as §7.1 allows: ``server_no_context_takeover``,
    ``client_no_context_takeover`` and ``server_max_window_bits``. Rejected: unknown or
    duplicate parameters, bad values, a server window larger than we asked for, and
    ``client_max_window_bits`` without a value, above our limit, or when we did not offer it.

    Args:
        response: the parameters of the server's ``permessage-deflate`` element.
        offered: what ``client_offer`` was built from (None: the default offer, which
            includes a bare ``client_max_window_bits``).
        offered_client_max_window_bits: whether our offer carried ``client_max_window_bits``
            (``client_offer`` always includes it).

    Raises:
        NegotiationError: the answer breaks one of the rules above.
    """
    ours = offered or DeflateParams()
    got = _as_dict(response)
    if ours.server_no_context_takeover and _SERVER_NCT not in got:
        raise NegotiationError("server ignored our server_no_context_takeover request")
    server_bits = 15
    if _SERVER_MWB in got:
        server_bits = _window_bits(_SERVER_MWB, got[_SERVER_MWB])
        if server_bits > ours.server_max_window_bits:
            raise NegotiationError(
                f"server_max_window_bits={server_bits} exceeds our offer of "
                f"{ours.server_max_window_bits}"
            )
    elif ours.server_max_window_bits != 15:
        raise NegotiationError("server ignored our server_max_window_bits request")
    client_bits = ours.client_max_window_bits
    if _CLIENT_MWB in got:
        if not offered_client_max_window_bits:
            raise NegotiationError("server sent client_max_window_bits we did not offer")
        client_bits = _window_bits(_CLIENT_MWB, got[_CLIENT_MWB])
        if client_bits > ours.client_max_window_bits:
            raise NegotiationError(
                f"client_max_window_bits={client_bits} exceeds our limit of "
                f"{ours.client_max_window_bits}"
            )
    return DeflateParams(
        server_no_context_takeover=_SERVER_NCT in got,
        client_no_context_takeover=_CLIENT_NCT in got or ours.client_no_context_takeover,
        server_max_window_bits=server_bits,
        client_max_window_bits=client_bits,
    )


class PerMessageDeflate:
    """Compress whole messages and decompress them frame by frame for one connection.

    Our side compresses with its own window and context-takeover settings and inflates
    with the peer's. A window of 8 bits is honoured although zlib cannot deflate with a
    256-byte window: we then deflate with zlib's RLE strategy, whose matches reach back one
    byte only, so the output is valid for any window the peer keeps.
    """

    __slots__ = (
        "_compressor",
        "_decompressor",
        "_in_bits",
        "_in_reset",
        "_level",
        "_mem_level",
        "_out_bits",
        "_out_reset",
        "params",
    )

    def __init__(
        self,
        params: DeflateParams,
        *,
        is_client: bool,
        compress_level: int = 6,
        mem_level: int = 8,
    ) -> None:
        """Set up the codec for one side of a connection.

        Args:
            params: the agreed parameters.
            is_client: True on the client side (it compresses with the client_* settings).
            compress_level: zlib level 0..9 for outgoing messages.
            mem_level: zlib memLevel 1..9 (memory per connection against speed).
        """
        self.params = params
        if is_client:
            self._out_bits = params.client_max_window_bits
            self._out_reset = params.client_no_context_takeover
            self._in_bits = params.server_max_window_bits
            self._in_reset = params.server_no_context_takeover
        else:
            self._out_bits = params.server_max_window_bits
            self._out_reset = params.server_no_context_takeover
            self._in_bits = params.client_max_window_bits
            self._in_reset = params.client_no_context_takeover
        self._level = compress_level
        self._mem_level = mem_level
        self._compressor = self._new_compressor()
        self._decompressor = self._new_decompressor()

    def _new_compressor(self) -> zlib._Compress:
        if self._out_bits < 9:
            return zlib.compressobj(self._level, zlib.DEFLATED, -9, self._mem_level, zlib.Z_RLE)
        return zlib.compressobj(self._level, zlib.DEFLATED, -self._out_bits, self._mem_level)

    def _new_decompressor(self) -> zlib._Decompress:
        # A window at least as large as the peer's accepts every distance it may use.
        return zlib.decompressobj(-max(9, self._in_bits))

    def compress(self, payload: bytes | bytearray | memoryview) -> bytes:
        """Compress one whole message; return the payload to send with RSV1 set.

        The trailing ``00 00 ff ff`` of the sync flush is removed (RFC 7692 §7.2.1); an
        empty message becomes the single byte ``00`` (§7.2.3.6).
        """
        return self.compress_step(payload, fin=True)

    def compress_step(self, chunk: bytes | bytearray | memoryview, *, fin: bool) -> bytes:
        """Compress the next part of a message sent as fragments; ``fin`` ends the message.

        RFC 7692 §6.1: a compressed message may be split over frames at any byte; the
        first goes with RSV1, the rest as continuations. What ``fin`` returns ends with the
        flush, its ``00 00 ff ff`` removed (§7.2.1), as ``compress`` does for a whole one.
        """
        comp = self._compressor
        if not fin:
            return comp.compress(chunk)
        # Without context takeover a full flush empties the LZ77 window (zlib's
        # Z_FULL_FLUSH), which is what §7.1.1 asks for, at a tenth of the cost of a new
        # compressor; either flush ends with the same empty stored block.
        mode = zlib.Z_FULL_FLUSH if self._out_reset else zlib.Z_SYNC_FLUSH
        data = comp.compress(chunk) + comp.flush(mode)
        return data[:-4] if data.endswith(_TAIL) else data

    def decompress(
        self, fragment: bytes | bytearray | memoryview, *, fin: bool, max_size: int
    ) -> bytes:
        """Inflate one frame's payload of a compressed message.

        Args:
            fragment: the frame payload (already unmasked).
            fin: this frame ends the message; the stripped tail is fed back (§7.2.2).
            max_size: the most bytes this call may return (what is left of the caller's
                message budget); zlib's ``max_length`` bounds the work, so a small
                compressed frame cannot inflate into a huge buffer.

        Raises:
            PayloadTooBig: the output would exceed ``max_size`` (close 1009).
            ProtocolError: the data is not a valid DEFLATE stream (close 1002).
        """
        out, _ = self.decompress_step(fragment, fin=fin, max_size=max_size, budget=max_size + 1)
        return out

    def decompress_step(
        self,
        fragment: bytes | bytearray | memoryview | None,
        *,
        fin: bool,
        max_size: int,
        budget: int,
    ) -> tuple[bytes, bool]:
        """Inflate at most ``budget`` bytes of one frame's payload; return them and whether done.

        A greedy peer's small frame may inflate to megabytes: a caller that must stay
        fair to other connections inflates a frame over several turns. Give the payload
        on the first call and None on the calls that go on with it (zlib keeps the rest
        of the input); the frame is done, and with ``fin`` the message's tail fed back,
        when the second value is True. ``max_size`` and the errors are ``decompress``'s,
        counted per call.
        """
        dec = self._decompressor
        try:
            data = dec.unconsumed_tail if fragment is None else fragment
            want = max(1, min(max_size + 1, budget))
            # on a later call, an empty tail may still leave output inside zlib
            out = dec.decompress(data, want) if data or fragment is None else b""
            if len(out) > max_size:
                raise PayloadTooBig(len(out), max_size)
            if dec.unconsumed_tail or len(out) == want:
                return out, False
            if fin:
                if not dec.eof:
                    left = max_size - len(out)
                    tail = dec.decompress(_TAIL, left + 1)
                    if len(tail) > left:
                        raise PayloadTooBig(len(out) + len(tail), max_size)
                    out += tail
                if self._in_reset or dec.eof:
                    # A BFINAL block (§7.2.3.4) ends the DEFLATE stream: start a new one.
                    self._decompressor = self._new_decompressor()
        except zlib.error as exc:
            self._decompressor = self._new_decompressor()
            raise ProtocolError(f"invalid compressed data: {exc}") from None
        return out, True

"""Pre-serialised order requests: fill the slots, sign, frame and mask, in one call.

A template is built once per venue and order shape (symbol, side, type, time in force,
account): every byte that does not change between orders is laid out in advance, and each
order only supplies its slots (timestamp, client order id, quantity, price). Slots are
length-tracked: the request is one ``bytes.join`` of constant segments and slot values.

Signing keeps the HMAC keyed once: the inner and outer SHA-256 states of RFC 2104
(``H(K ^ opad, H(K ^ ipad, m))``) are computed at build time and copied per order, which is
the same computation as ``hmac.new(key, m, sha256)`` without re-keying and without the
``hmac.HMAC`` wrapper's per-copy cost.

The Binance inner state has also absorbed the payload's constant prefix: the WebSocket API
signs the params sorted by name, so ``apiKey=<key>&newClientOrderId=`` (90 bytes with a
64-character key) opens every payload; each order hashes only what follows it, one SHA-256
block fewer than signing the whole payload (the signature is the same).

For WebSocket venues the result is a complete masked client text frame (RFC 6455 §5.2,
§5.3) ready for ``socket.send``, with the mask key drawn from ``ws.mask``'s pool; masking
uses the C accelerator when ``ws.mask.SPEEDUPS`` is on. Binance's ``frame`` runs in C
(``_hotpath``: check, fill, sign, frame and mask in one call and one allocation, keys from
its own ``getrandom`` pool) when that optional extension is built, and so does Kraken's
(no signature); ``whalewire.speedups`` picks the path for templates built afterwards.
Binance's ``send`` is the order call: the same frame built on the stack and written, in the
same C call, to a native TLS session (``SSL_write``) or a socket fd (``write(2)``). For
Coinbase Exchange it is a full HTTP/1.1 request for a kept-alive connection.

The hot-path methods trust their inputs' *types* (bytes, int) and check only what a caller
could plausibly get wrong cheaply: quantities and prices must be plain decimal ASCII, and a
client order id must have the template's width. Everything else (the slow path the
templates must equal) is ``signing.binance_ws_payload`` and friends; the tests compare them
for many random orders. Knows nothing of strategy or risk; of sockets, only the fd or the
TLS session ``send`` writes to.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import struct
from collections.abc import Mapping
from decimal import Decimal
from types import ModuleType
from typing import TYPE_CHECKING, Final, Protocol

from whalewire import speedups
from whalewire.venues.signing import binance_param
from whalewire.ws import frames
from whalewire.ws import mask as ws_mask

if TYPE_CHECKING:
    from whalewire.net._tls import Session

__all__ = [
    "BinanceOrderTemplate",
    "CoinbaseOrderTemplate",
    "HmacSha256",
    "KrakenOrderTemplate",
    "empty_pong_frame",
    "mask_text_frame",
]

# None when not built: the pure-Python path below does the same work
_hotpath: ModuleType | None = speedups.load("whalewire.venues._hotpath")
#: whether templates built from now on frame in C (``whalewire.speedups``)
SPEEDUPS = False


def _switch(enabled: bool) -> bool:
    # whalewire.speedups calls this; templates already built keep their path
    global SPEEDUPS
    SPEEDUPS = enabled and _hotpath is not None
    return SPEEDUPS


speedups.register(__name__, _switch)


class SendFn(Protocol):
    """``BinanceOrderTemplate.send``: build the frame and write it, in one call."""

    def __call__(
        self,
        target: int | Session,
        timestamp_ms: int,
        client_order_id: bytes,
        quantity: bytes,
        price: bytes = ...,
        /,
    ) -> bytes | None: ...


class FrameFn(Protocol):
    """``BinanceOrderTemplate.frame``: the signed request as one masked text frame."""

    def __call__(
        self, timestamp_ms: int, client_order_id: bytes, quantity: bytes, price: bytes = ..., /
    ) -> bytes | bytearray: ...


_DIGITS: Final = b"0123456789"
_NO_OR_ONE_DOT: Final = (b"", b".")
#: digits with at most one inner dot: valid as a Binance DECIMAL and as a JSON number
_NUMBER: Final = rb"[0-9]+(?:\.[0-9]+)?"
#: Binance's newClientOrderId alphabet (``^[\.A-Z\:/a-z0-9_-]{1,36}$``)
_BINANCE_ID_CHARS: Final = rb"[-._:/A-Za-z0-9]"
_BINANCE_ID: Final = re.compile(_BINANCE_ID_CHARS + b"{1,36}")
_HDR16: Final = struct.Struct("!BBH4s")
_TEXT_FIN: Final = 0x80 | frames.Opcode.TEXT
#: RFC 6455 §5.2: FIN + opcode 0xA (Pong); MASK bit + payload length 0 (a client masks
#: every frame, §5.3, so the 4-byte key follows even with nothing to mask)
_EMPTY_PONG_HEAD: Final = bytes((0x80 | frames.Opcode.PONG, 0x80))
_MASKED_LEN16: Final = 0x80 | 126
# repunits in base 2**32: key * _REPUNITS[q] repeats the 4-byte key q times (no carries)
_REPUNITS: dict[int, int] = {}
_from_bytes = int.from_bytes
_hexlify = binascii.hexlify


class HmacSha256:
    """HMAC-SHA256 keyed once: the RFC 2104 inner/outer states, copied per message."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:  # RFC 2104 §2: longer keys are hashed first
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def inner_state(self) -> hashlib._Hash:
        """Return the keyed inner hash state (copy it, then feed it the message)."""
        return self._inner

    def outer_state(self) -> hashlib._Hash:
        """Return the keyed outer hash state (copy it, then feed it the inner digest)."""
        return self._outer

    def digest(self, message: bytes) -> bytes:
        """Return the 32-byte MAC of ``message``."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def hexdigest(self, message: bytes) -> bytes:
        """Return the MAC as lower-case hex ASCII bytes."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return _hexlify(outer.digest())


def _repunit(quads: int) -> int:
    unit = _REPUNITS.get(quads)
    if unit is None:
        unit = _REPUNITS[quads] = _from_bytes(b"\x01\x00\x00\x00" * quads, "little")
    return unit


def mask_text_frame(payload: bytes, key: bytes) -> bytes | bytearray:
    """Return ``payload`` as one masked, final text frame with mask ``key`` (RFC 6455 §5.2).

    Uses ``ws.mask``'s C path when it is live; otherwise one big-integer XOR, with the key
    stream made by a single multiplication instead of repeating bytes.
    """
    n = len(payload)
    if not 126 <= n < 65536:
        return frames.build_frame(frames.Opcode.TEXT, payload, mask_key=key)
    if ws_mask.SPEEDUPS:
        # header + masked copy: cheaper than masking a bytearray through a memoryview
        return _HDR16.pack(_TEXT_FIN, _MASKED_LEN16, n, key) + ws_mask.apply_mask(payload, key)
    quads = (n + 3) >> 2
    masked = _from_bytes(payload, "little") ^ (_from_bytes(key, "little") * _repunit(quads))
    return _HDR16.pack(_TEXT_FIN, _MASKED_LEN16, n, key) + masked.to_bytes(quads << 2, "little")[:n]


def empty_pong_frame(key: bytes) -> bytes:
    """Return an unsolicited, empty Pong as a client sends it, masked with ``key``.

    RFC 6455 §5.5.3: "A Pong frame MAY be sent unsolicited. This serves as a
    unidirectional heartbeat. A response to an unsolicited Pong frame is not expected."
    The venue rehearsals write one through the order path to keep it warm; Binance
    recommends the payload of unsolicited pongs be empty (WebSocket API, "General API
    Information"). ``key`` must be fresh per frame (§5.3): take it from ``ws.mask``'s pool.
    """
    return _EMPTY_PONG_HEAD + key


def _decimal_ok(value: bytes) -> bool:
    # digits with at most one inner dot: valid as a Binance DECIMAL and as a JSON number
    return (
        value.translate(None, _DIGITS) in _NO_OR_ONE_DOT
        and value[:1].isdigit()
        and value[-1:].isdigit()
    )


def _check_decimal(name: str, value: bytes) -> None:
    if not _decimal_ok(value):
        raise ValueError(f"{name} must be plain decimal ASCII like b'0.0100', got {value!r}")


def _json_value(value: object) -> bytes:
    """Spell a constant param in JSON so that it decodes to what the payload signs."""
    if isinstance(value, bool | int):
        return json.dumps(value).encode()
    if isinstance(value, str | Decimal | float):
        return json.dumps(binance_param(value), ensure_ascii=False).encode()
    raise TypeError(f"unsupported constant param type {type(value).__name__}")


# --------------------------------------------------------------------------- Binance

# Slot params, in the sorted order they take in every Binance order.place payload.
_CID, _PRICE, _TS = "newClientOrderId", "price", "timestamp"
_QTY_NAMES = ("quantity", "quoteOrderQty")


class BinanceOrderTemplate:
    """Binance WebSocket API ``order.place`` for one order shape.

    ``frame(timestamp_ms, client_order_id, quantity, price=b"")`` is the hot path (see
    ``_frame_py`` for its arguments): the C framer's bound method when ``SPEEDUPS`` was on
    at construction, else the pure-Python reference.

    Two modes (``web-socket-api.md``): per-request HMAC signing (``apiKey`` and
    ``signature`` in every request; pass ``api_key`` and ``secret``), or a session
    authenticated by ``session.logon`` (Ed25519), after which requests carry neither
    (pass neither). The request ``id`` is the client order id, so responses correlate by it.

    Args:
        symbol, side, order_type: the shape (``"BTCUSDT"``, ``"BUY"``, ``"LIMIT"``).
        recv_window_ms: the ``recvWindow`` to send.
        time_in_force: required for LIMIT (``"IOC"`` on the hot path).
        quantity_param: ``"quantity"`` or, for MARKET, ``"quoteOrderQty"``.
        extra: further constant params (e.g. ``selfTradePreventionMode``).
        cid_width: the fixed length of client order ids (``ClientOrderIds.binance_width``).
    """

    def __init__(
        self,
        *,
        symbol: str,
        side: str,
        order_type: str,
        cid_width: int,
        recv_window_ms: int,
        time_in_force: str | None = None,
        quantity_param: str = "quantity",
        api_key: str | None = None,
        secret: str | None = None,
        new_order_resp_type: str = "ACK",
        extra: Mapping[str, object] | None = None,
    ) -> None:
        if (api_key is None) != (secret is None):
            raise ValueError("pass api_key and secret together (HMAC), or neither (session)")
        if quantity_param not in _QTY_NAMES:
            raise ValueError(f"quantity_param must be one of {_QTY_NAMES}")
        self.has_price = order_type.upper() != "MARKET"
        self.quantity_param = quantity_param
        self.cid_width = cid_width
        self.signed = secret is not None
        constants: dict[str, object] = {
            "symbol": symbol,
            "side": side,
            "type": order_type,
            "newOrderRespType": new_order_resp_type,
            "recvWindow": recv_window_ms,
            **(extra or {}),
        }
        if time_in_force is not None:
            constants["timeInForce"] = time_in_force
        if api_key is not None:
            constants["apiKey"] = api_key
        slots = [_CID, quantity_param, _TS] + ([_PRICE] if self.has_price else [])
        clash = set(slots) & set(constants) | ({"signature", "id"} & set(constants))
        if clash:
            raise ValueError(f"params {sorted(clash)} are slots or reserved, not constants")
        self.constants: Final = dict(constants)
        self._hmac = HmacSha256(secret.encode()) if secret is not None else None
        # id, quantity and price in one match; for MARKET the price part must be empty
        self._slots_ok = re.compile(
            b"%s{%d} %s %s"
            % (_BINANCE_ID_CHARS, cid_width, _NUMBER, _NUMBER if self.has_price else b"")
        ).fullmatch
        self._next_key = ws_mask.default_key_pool().next_key
        self._build(constants, slots)
        self._keyed: tuple[hashlib._Hash, hashlib._Hash] | None = None
        if self._hmac is not None:
            # the constant prefix of every payload, absorbed once (module docstring)
            inner = self._hmac.inner_state().copy()
            inner.update(self._pay[0])
            self._keyed = (inner, self._hmac.outer_state())
        self.frame: FrameFn = self._frame_py
        self.send: SendFn = self._send_py
        if SPEEDUPS and _hotpath is not None:
            framer = _hotpath.BinanceFramer(
                pay=self._pay,
                js=self._js,
                secret=None if secret is None else secret.encode(),
                cid_width=cid_width,
                has_price=self.has_price,
                refuse=self._refuse,
            )
            self.frame = framer.frame
            self.send = framer.send

    def _build(self, constants: dict[str, object], slots: list[str]) -> None:
        # Walk the params in sorted order, cutting constant text at each slot. A missing
        # price becomes an empty slot between empty segments, so one join serves all shapes.
        names = sorted([*constants, *slots])
        pay: list[bytes] = [b""]
        js: list[bytes] = [b'{"id":"', b'","method":"order.place","params":{']
        order: list[str] = []
        first = True
        for name in names:
            amp = b"" if first else b"&"
            comma = b"" if first else b","
            first = False
            key = name.encode()
            if name in constants:
                pay[-1] += amp + key + b"=" + binance_param(constants[name]).encode()
                js[-1] += comma + json.dumps(name).encode() + b":" + _json_value(constants[name])
                continue
            quote = b"" if name == _TS else b'"'
            pay[-1] += amp + key + b"="
            js[-1] += comma + json.dumps(name).encode() + b":" + quote
            order.append(name)
            pay.append(b"")
            js.append(quote)
        if not self.has_price:  # an empty price slot right after the client order id
            i = order.index(_CID) + 1
            order.insert(i, _PRICE)
            pay.insert(i + 1, b"")
            js.insert(i + 2, b"")
        assert order == [_CID, _PRICE, self.quantity_param, _TS], order
        if self.signed:
            js[-1] += b',"signature":"'
            js.append(b'"}}')
        else:
            js[-1] += b"}}"
            js.append(b"")
        self._pay = tuple(pay)  # c0 CID c1 PRICE c2 QTY c3 TS c4
        self._js = tuple(js)  # j0 CID j1 CID j2 PRICE j3 QTY j4 TS j5 SIG j6

    def signature_payload(
        self, timestamp_ms: int, client_order_id: bytes, quantity: bytes, price: bytes = b""
    ) -> bytes:
        """Return the bytes the signature covers (the WebSocket API payload)."""
        c0, c1, c2, c3, c4 = self._pay
        ts = b"%d" % timestamp_ms
        return b"".join((c0, client_order_id, c1, price, c2, quantity, c3, ts, c4))

    def request(
        self, timestamp_ms: int, client_order_id: bytes, quantity: bytes, price: bytes = b""
    ) -> bytes:
        """Return the request JSON (unframed): fill, sign, serialise."""
        cid = client_order_id
        # one regex over id, quantity and price: the cheapest full check (_refuse explains)
        if not self._slots_ok(b" ".join((cid, quantity, price))):
            self._refuse(cid, quantity, price)
        c0, c1, c2, c3, c4 = self._pay
        ts = b"%d" % timestamp_ms
        sig = b""
        hmac_ = self._hmac
        if hmac_ is not None:
            sig = hmac_.hexdigest(b"".join((c0, cid, c1, price, c2, quantity, c3, ts, c4)))
        j0, j1, j2, j3, j4, j5, j6 = self._js
        return b"".join((j0, cid, j1, cid, j2, price, j3, quantity, j4, ts, j5, sig, j6))

    def _frame_py(
        self, timestamp_ms: int, client_order_id: bytes, quantity: bytes, price: bytes = b""
    ) -> bytes | bytearray:
        """Return the signed request as one masked text frame, ready for ``socket.send``.

        Args:
            timestamp_ms: venue time (``ClockSync.timestamp_ms()``).
            client_order_id: ASCII, exactly ``cid_width`` long (``ids.py``); also the
                request ``id``.
            quantity: the order's quantity as plain decimal ASCII (``b"0.01000000"``).
            price: likewise; empty for MARKET shapes.
        """
        # ``request`` and ``mask_text_frame``, inlined: on this path every call and attribute
        # lookup shows; the tests hold this copy equal to ``request`` and the slow path.
        cid = client_order_id
        if not self._slots_ok(b" ".join((cid, quantity, price))):
            self._refuse(cid, quantity, price)
        ts = b"%d" % timestamp_ms
        sig = b""
        keyed = self._keyed
        if keyed is not None:
            _, c1, c2, c3, c4 = self._pay
            inner = keyed[0].copy()  # has absorbed c0 already
            inner.update(b"".join((cid, c1, price, c2, quantity, c3, ts, c4)))
            outer = keyed[1].copy()
            outer.update(inner.digest())
            sig = _hexlify(outer.digest())
        j0, j1, j2, j3, j4, j5, j6 = self._js
        body = b"".join((j0, cid, j1, cid, j2, price, j3, quantity, j4, ts, j5, sig, j6))
        key = self._next_key()
        n = len(body)
        if 126 <= n < 65536 and ws_mask.SPEEDUPS:
            return _HDR16.pack(_TEXT_FIN, _MASKED_LEN16, n, key) + ws_mask.apply_mask(body, key)
        return mask_text_frame(body, key)

    def _send_py(
        self,
        target: int | Session,
        timestamp_ms: int,
        client_order_id: bytes,
        quantity: bytes,
        price: bytes = b"",
    ) -> bytes | None:
        """Write ``frame``'s frame to ``target`` (the order call; C: one call, no Python).

        Args:
            target: a ``net._tls.Session`` (its ``send``: encrypt + one ``write(2)``, the
                rest to its ``overflow``) or a connected non-blocking socket's fd (one
                ``write(2)``).

        Returns:
            None, or the part ``write(2)`` did not take, for the caller's transport.
        """
        frame = self._frame_py(timestamp_ms, client_order_id, quantity, price)
        if not isinstance(target, int):
            target.send(frame)
            return None
        try:
            done = os.write(target, frame)
        except (BlockingIOError, InterruptedError):
            done = 0
        return None if done == len(frame) else bytes(frame[done:])

    def _refuse(self, cid: bytes, quantity: bytes, price: bytes) -> None:
        if len(cid) != self.cid_width or not _BINANCE_ID.fullmatch(cid):
            raise ValueError(
                f"client order id must be {self.cid_width} bytes of Binance's alphabet, got {cid!r}"
            )
        _check_decimal(self.quantity_param, quantity)
        if not self.has_price:
            raise ValueError("a MARKET order takes no price")
        _check_decimal("price", price)
        raise AssertionError("unreachable: _refuse called for valid slots")  # pragma: no cover

    def params(
        self, timestamp_ms: int, client_order_id: str, quantity: str, price: str = ""
    ) -> dict[str, object]:
        """Return the same request as a params dict (for the slow path and the tests)."""
        out: dict[str, object] = {
            **self.constants,
            _CID: client_order_id,
            self.quantity_param: quantity,
            _TS: timestamp_ms,
        }
        if self.has_price:
            out[_PRICE] = price
        return out


# --------------------------------------------------------------------------- Kraken


class KrakenOrderTemplate:
    """Kraken WebSocket v2 ``add_order`` for one order shape (token auth, no signature).

    Kraken v2 takes ``order_qty`` and ``limit_price`` as JSON numbers and authenticates with
    the session ``token`` from REST ``GetWebSocketsToken`` (Kraken "Spot WebSocket"
    ``add_order``). Slots: ``cl_ord_id`` (a UUID from ``ids.py``), quantity, price, and the
    integer ``req_id`` that correlates the response.

    ``frame(req_id, cl_ord_id, quantity, price=b"")`` returns the request as one masked
    text frame: the C framer's bound method when ``SPEEDUPS`` was on at construction, else
    ``_frame_py``.
    """

    def __init__(
        self,
        *,
        symbol: str,
        side: str,
        order_type: str,
        token: str,
        time_in_force: str | None = None,
        cid_width: int = 36,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        self.has_price = order_type.lower() != "market"
        self.cid_width = cid_width
        constants: dict[str, object] = {"order_type": order_type, "side": side, "symbol": symbol}
        if time_in_force is not None:
            constants["time_in_force"] = time_in_force
        constants.update(extra or {})
        head = b'{"method":"add_order","params":{' + b",".join(
            json.dumps(k).encode() + b":" + _json_value(v) for k, v in constants.items()
        )
        token_json = json.dumps(token).encode()
        self._segments = (
            head + b',"cl_ord_id":"',
            b'","order_qty":',
            b',"limit_price":' if self.has_price else b"",
            b',"token":' + token_json + b'},"req_id":',
            b"}",
        )
        self.constants: Final = constants
        self._pool = ws_mask.default_key_pool()
        self.frame: FrameFn = self._frame_py
        if SPEEDUPS and _hotpath is not None:
            framer = _hotpath.KrakenFramer(
                segments=self._segments,
                cid_width=cid_width,
                has_price=self.has_price,
                refuse=self._check,
            )
            self.frame = framer.frame

    def _check(self, cl_ord_id: bytes, quantity: bytes, price: bytes) -> None:
        if len(cl_ord_id) != self.cid_width:
            raise ValueError(f"cl_ord_id must be {self.cid_width} bytes, got {cl_ord_id!r}")
        _check_decimal("order_qty", quantity)
        if self.has_price:
            _check_decimal("limit_price", price)
        elif price:
            raise ValueError("a market order takes no price")

    def request(self, req_id: int, cl_ord_id: bytes, quantity: bytes, price: bytes = b"") -> bytes:
        """Return the request JSON (unframed)."""
        self._check(cl_ord_id, quantity, price)
        s0, s1, s2, s3, s4 = self._segments
        return b"".join((s0, cl_ord_id, s1, quantity, s2, price, s3, b"%d" % req_id, s4))

    def _frame_py(
        self, req_id: int, cl_ord_id: bytes, quantity: bytes, price: bytes = b""
    ) -> bytes | bytearray:
        """Return the request as one masked text frame, ready for ``socket.send``."""
        return mask_text_frame(
            self.request(req_id, cl_ord_id, quantity, price), self._pool.next_key()
        )


# --------------------------------------------------------------------------- Coinbase


class CoinbaseOrderTemplate:
    """Coinbase Exchange ``POST /orders`` as a complete HTTP/1.1 request, signed per order.

    For a kept-alive HTTPS connection: no new TCP/TLS per order. ``CB-ACCESS-SIGN`` is
    base64(HMAC-SHA256(base64decode(secret), timestamp + "POST" + path + body)), keyed once
    here (Coinbase Exchange REST "Authentication"). Slots: ``client_oid`` (UUID), ``size``,
    ``price`` and the timestamp (seconds, decimal string).
    """

    def __init__(
        self,
        *,
        host: str,
        product_id: str,
        side: str,
        order_type: str,
        api_key: str,
        secret_b64: str,
        passphrase: str,
        time_in_force: str | None = None,
        path: str = "/orders",
    ) -> None:
        self.has_price = order_type != "market"
        constants: dict[str, object] = {"product_id": product_id, "side": side, "type": order_type}
        if time_in_force is not None:
            constants["time_in_force"] = time_in_force
        head = b"{" + b",".join(
            json.dumps(k).encode() + b":" + _json_value(v) for k, v in constants.items()
        )
        self._body = (
            head + b',"client_oid":"',
            b'","size":"',
            b'","price":"' if self.has_price else b"",
            b'"}',
        )
        self._prehash_mid = b"POST" + path.encode()
        self._http = (
            b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode()
            + b"\r\nContent-Type: application/json\r\nCB-ACCESS-KEY: " + api_key.encode()
            + b"\r\nCB-ACCESS-PASSPHRASE: " + passphrase.encode()
            + b"\r\nCB-ACCESS-TIMESTAMP: ",
            b"\r\nCB-ACCESS-SIGN: ",
            b"\r\nContent-Length: ",
            b"\r\n\r\n",
        )  # fmt: skip
        self._hmac = HmacSha256(base64.b64decode(secret_b64))

    def body(self, client_oid: bytes, size: bytes, price: bytes = b"") -> bytes:
        """Return the JSON body."""
        _check_decimal("size", size)
        if self.has_price:
            _check_decimal("price", price)
        elif price:
            raise ValueError("a market order takes no price")
        b0, b1, b2, b3 = self._body
        return b"".join((b0, client_oid, b1, size, b2, price, b3))

    def request(
        self, timestamp: bytes, client_oid: bytes, size: bytes, price: bytes = b""
    ) -> bytes:
        """Return the whole HTTP request; ``timestamp`` is Unix seconds as ASCII."""
        body = self.body(client_oid, size, price)
        mac = self._hmac.digest(b"".join((timestamp, self._prehash_mid, body)))
        h0, h1, h2, h3 = self._http
        sig = binascii.b2a_base64(mac, newline=False)
        length = b"%d" % len(body)
        return b"".join((h0, timestamp, h1, sig, h2, length, h3, body))

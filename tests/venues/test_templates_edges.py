"""Order templates (venues/templates.py): edges the mutation run found unpinned.

``python -m mutation templates`` runs this file beside ``test_templates.py``. Expected bytes
are written out from RFC 6455 §5.2 and the venues' request formats, never taken from the
templates themselves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from whalewire import speedups
from whalewire.venues import templates
from whalewire.venues.templates import (
    BinanceOrderTemplate,
    CoinbaseOrderTemplate,
    empty_pong_frame,
    mask_text_frame,
)

KEY = bytes.fromhex("37fa213d")  # RFC 6455 §5.7
CB_SECRET = base64.b64encode(bytes(range(64))).decode()


def masked(payload: bytes, key: bytes) -> bytes:
    return bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def test_the_c_hot_path_is_the_default_when_built() -> None:
    assert templates.SPEEDUPS is (templates._hotpath is not None)


@pytest.mark.parametrize("size", [63, 64, 65, 131])
def test_keyed_once_hmac_around_the_block_size_equals_stdlib(size: int) -> None:
    # RFC 2104 §2: a key longer than the 64-byte block is hashed first, one of 64 is not
    key = bytes(range(size))
    want = hmac.new(key, b"order", hashlib.sha256).digest()
    assert templates.HmacSha256(key).digest(b"order") == want


def test_empty_pong_is_fin_pong_with_the_mask_bit_and_no_payload() -> None:
    # RFC 6455 §5.2: 0x8A = FIN + opcode 0xA; 0x80 = MASK bit, length 0; then the key (§5.3)
    assert empty_pong_frame(KEY) == bytes.fromhex("8a80") + KEY


@pytest.mark.parametrize("size", [0, 125, 126, 127, 65535, 65536])
def test_mask_text_frame_at_each_length_boundary(size: int) -> None:
    payload = bytes((i * 5 + 1) & 0x7F for i in range(size))
    if size < 126:
        header = bytes([0x81, 0x80 | size])
    elif size < 65536:
        header = bytes([0x81, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big")
    assert bytes(mask_text_frame(payload, KEY)) == header + KEY + masked(payload, KEY)


def test_binance_template_refuses_signature_or_id_as_a_constant() -> None:
    # the WebSocket API's signature and the request id are computed per request
    for reserved in ("signature", "id"):
        with pytest.raises(ValueError, match="reserved"):
            BinanceOrderTemplate(
                symbol="BTCUSDT",
                side="SELL",
                order_type="MARKET",
                cid_width=4,
                recv_window_ms=100,
                extra={reserved: "x"},
            )


def coinbase(order_type: str) -> CoinbaseOrderTemplate:
    return CoinbaseOrderTemplate(
        host="127.0.0.1:8765",
        product_id="BTC-USD",
        side="sell",
        order_type=order_type,
        api_key="cb-key",
        secret_b64=CB_SECRET,
        passphrase="cb-pass",
    )


def test_coinbase_market_order_body_has_no_price() -> None:
    # Coinbase Exchange POST /orders: a market order carries size and no price
    body = coinbase("market").body(b"cid-1", b"0.01")
    assert json.loads(body) == {
        "product_id": "BTC-USD",
        "side": "sell",
        "type": "market",
        "client_oid": "cid-1",
        "size": "0.01",
    }
    assert body == (
        b'{"product_id":"BTC-USD","side":"sell","type":"market","client_oid":"cid-1","size":"0.01"}'
    )


def test_coinbase_market_order_request_is_signed_over_its_body() -> None:
    request = coinbase("market").request(b"1700000000", b"cid-1", b"0.01")
    head, body = request.split(b"\r\n\r\n")
    assert body == coinbase("market").body(b"cid-1", b"0.01")
    prehash = b"1700000000" + b"POST" + b"/orders" + body
    sign = base64.b64encode(hmac.new(bytes(range(64)), prehash, hashlib.sha256).digest())
    assert b"\r\nCB-ACCESS-SIGN: " + sign + b"\r\n" in head
    assert b"\r\nContent-Length: %d" % len(body) in head


def test_coinbase_market_order_refuses_a_price() -> None:
    with pytest.raises(ValueError, match="no price"):
        coinbase("market").body(b"cid-1", b"0.01", b"100")


# --- the C framers (venues/_hotpath.c) at the frame length boundaries ----------------------
# An order body is a few hundred bytes; a padding constant stretches it to exactly 65535 and
# 65536 bytes, where the header changes from the 16-bit to the 64-bit length (RFC 6455
# §5.2). The C frame must carry, unmasked, the bytes the pure-Python path builds.

needs_c = pytest.mark.skipif(templates._hotpath is None, reason="venues._hotpath not built")


def unmask(frame: bytes | bytearray) -> tuple[bytes, bytes]:
    """Return (header without the key, unmasked payload) of one masked client frame."""
    second = frame[1] & 0x7F
    pos = 2 if second < 126 else 4 if second == 126 else 10
    key = bytes(frame[pos : pos + 4])
    return bytes(frame[:pos]), masked(bytes(frame[pos + 4 :]), key)


def header_for(size: int) -> bytes:
    if size < 126:
        return bytes([0x81, 0x80 | size])
    if size < 65536:
        return bytes([0x81, 0x80 | 126]) + size.to_bytes(2, "big")
    return bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big")


def binance(impl: str, pad: int) -> BinanceOrderTemplate:
    old = speedups.use(impl == "c")
    try:
        return BinanceOrderTemplate(
            symbol="BTCUSDT",
            side="SELL",
            order_type="LIMIT",
            time_in_force="IOC",
            cid_width=4,
            recv_window_ms=100,
            api_key="k" * 64,
            secret="s" * 64,
            extra={"pad": "x" * pad},
        )
    finally:
        speedups.use(old)


def kraken(impl: str, pad: int) -> templates.KrakenOrderTemplate:
    old = speedups.use(impl == "c")
    try:
        return templates.KrakenOrderTemplate(
            symbol="BTC/USD",
            side="buy",
            order_type="limit",
            token="tok-123",
            time_in_force="ioc",
            extra={"pad": "x" * pad},
        )
    finally:
        speedups.use(old)


@needs_c
@pytest.mark.parametrize("size", [65535, 65536])
def test_c_binance_frame_at_the_64_bit_length_boundary(size: int) -> None:
    def body(t: BinanceOrderTemplate) -> bytes:
        return unmask(t.frame(1_700_000_000_000, b"ab:1", b"0.5", b"100.25"))[1]

    pad = size - len(body(binance("python", 0)))
    want = body(binance("python", pad))
    assert len(want) == size
    header, got = unmask(binance("c", pad).frame(1_700_000_000_000, b"ab:1", b"0.5", b"100.25"))
    assert (header, got) == (header_for(size), want)


@needs_c
@pytest.mark.parametrize("size", [65535, 65536])
def test_c_kraken_frame_at_the_64_bit_length_boundary(size: int) -> None:
    def frame(t: templates.KrakenOrderTemplate) -> bytes | bytearray:
        return t.frame(7, b"0123456789abcdef0123456789abcdef0123", b"0.5", b"100.25")

    pad = size - len(unmask(frame(kraken("python", 0)))[1])
    want = unmask(frame(kraken("python", pad)))[1]
    assert len(want) == size
    assert unmask(frame(kraken("c", pad))) == (header_for(size), want)


@needs_c
def test_c_binance_frame_takes_timestamp_zero() -> None:
    def body(impl: str) -> bytes:
        return unmask(binance(impl, 0).frame(0, b"ab:1", b"0.5", b"100.25"))[1]

    assert body("c") == body("python")
    assert b'"timestamp":0' in body("c")

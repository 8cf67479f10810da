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

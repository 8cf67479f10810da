"""Our own Binance order templates (``whalewire.venues.templates``) against the emulator.

Two independent implementations of ``web-socket-api.md``: the client's pre-serialised,
pre-signed ``order.place`` frames and the emulator's verifier must agree byte for byte.
"""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.emulator.support import DOC_API_KEY, DOC_SECRET, call, ed25519_sign, make

from whalewire.venues.templates import BinanceOrderTemplate


def test_hmac_templates_are_accepted_and_matched():
    clock, _, session = make()
    market = BinanceOrderTemplate(
        symbol="BTCUSDT", side="BUY", order_type="MARKET", cid_width=16,
        recv_window_ms=1000, api_key=DOC_API_KEY, secret=DOC_SECRET,
    )  # fmt: skip
    (raw, *_) = session.handle(
        market.request(clock.now, b"whalewire-000001", b"0.01000000").decode()
    )
    response = json.loads(raw)
    assert response["status"] == 200, response
    assert response["id"] == "whalewire-000001"
    assert response["result"]["clientOrderId"] == "whalewire-000001"
    ioc = BinanceOrderTemplate(
        symbol="BTCUSDT", side="SELL", order_type="LIMIT", time_in_force="IOC", cid_width=16,
        recv_window_ms=1000, api_key=DOC_API_KEY, secret=DOC_SECRET,
        new_order_resp_type="RESULT",
    )  # fmt: skip
    text = ioc.request(clock.now, b"whalewire-000002", b"0.02000", b"59000.00").decode()
    response = json.loads(session.handle(text)[0])
    assert response["status"] == 200, response
    assert response["result"]["status"] == "FILLED"


def test_session_template_after_ed25519_logon():
    clock, exchange, session = make()
    private = Ed25519PrivateKey.generate()
    key = exchange.registry.add_ed25519_key("doc", private.public_key()).api_key
    logon = ed25519_sign({"apiKey": key, "timestamp": clock.now}, private)
    assert call(session, {"id": 1, "method": "session.logon", "params": logon})[0]["status"] == 200
    template = BinanceOrderTemplate(
        symbol="BTCUSDT", side="BUY", order_type="MARKET", cid_width=16, recv_window_ms=1000,
    )  # fmt: skip
    text = template.request(clock.now, b"whalewire-000003", b"0.01000000").decode()
    response = json.loads(session.handle(text)[0])
    assert response["status"] == 200, response

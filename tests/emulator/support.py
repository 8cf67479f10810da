"""Shared helpers for the emulator tests: a settable clock, the doc's key, signing, calls.

The HMAC key and secret are the example pair of Binance ``web-socket-api.md`` ("SIGNED
request example (HMAC)"); every signed request example in that document verifies with it.
Signing here is written independently of the emulator's verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from whalewire.emulator.binance.exchange import BinanceConfig, BinanceExchange, BinanceSession

# web-socket-api.md, "SIGNED request example (HMAC)"
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def make(now: int = 1_660_801_715_431, config: BinanceConfig | None = None):
    clock = Clock(now)
    exchange = BinanceExchange(clock, config)
    exchange.registry.open_account("doc", {"BTC": Decimal(10), "USDT": Decimal(1_000_000)})
    exchange.registry.add_hmac_key("doc", DOC_API_KEY, DOC_SECRET)
    return clock, exchange, exchange.connect()


def call(session: BinanceSession, request: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    response, *events = session.handle(json.dumps(request))
    return json.loads(response), [json.loads(e) for e in events]


def hmac_sign(params: dict[str, Any], secret: str = DOC_SECRET) -> dict[str, Any]:
    # written independently of the emulator: sorted k=v joined by &, HMAC-SHA256 hex
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    sig = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return {**params, "signature": sig}


def ed25519_sign(params: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return {**params, "signature": base64.b64encode(key.sign(payload.encode())).decode()}


def doc_order(ts: int, **extra: Any) -> dict[str, Any]:
    params = {"symbol": "BTCUSDT", "apiKey": DOC_API_KEY, "timestamp": ts, **extra}
    return {"id": f"req-{ts}", "method": "order.place", "params": hmac_sign(params)}


def resting_buy(ts: int, client_id: str) -> dict[str, Any]:
    return doc_order(
        ts,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        price="20000.00",
        quantity="0.01000",
        newClientOrderId=client_id,
    )

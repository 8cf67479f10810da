#!/usr/bin/env python3
"""Fuzz the Binance emulator's request handling (``BinanceSession.handle``, one WebSocket frame).

Input: one byte choosing raw or structured. Raw: the rest is the frame's text. Structured:
a documented request (``web-socket-api.md``), signed with the docs' HMAC key when it is a
SIGNED method, with one field made hostile and the request signed again over it, so the
hostile value reaches the method's own validation. Every answer is the documented envelope
(``status`` and ``result``, or ``error`` {``code``, ``msg``}); nothing raises; no request
takes more than a second of CPU.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from tests.emulator.support import DOC_API_KEY, DOC_SECRET, make

from fuzz._emulator import make_hostile, within_budget
from fuzz._fuzz import Data, main, text
from whalewire.emulator.binance import BinanceConfig
from whalewire.venues.signing import binance_hmac_signature, binance_ws_payload

SMALL_BOOK = BinanceConfig(book_levels=3)
ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "price": "20000.00",
    "quantity": "0.00100",
    "newClientOrderId": "fuzz-1",
}
#: (method, params, signed): one documented request per method family
REQUESTS: tuple[tuple[str, dict[str, Any], bool], ...] = (
    ("ping", {}, False),
    ("time", {}, False),
    ("depth", {"symbol": "BTCUSDT", "limit": 5}, False),
    ("exchangeInfo", {"symbol": "BTCUSDT"}, False),
    ("order.place", ORDER, True),
    ("order.test", ORDER, True),
    ("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "fuzz-0"}, True),
    ("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "fuzz-0"}, True),
    (
        "order.cancelReplace",
        {**ORDER, "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrigClientOrderId": "fuzz-0"},
        True,
    ),
    ("openOrders.status", {"symbol": "BTCUSDT"}, True),
    ("openOrders.cancelAll", {"symbol": "BTCUSDT"}, True),
    ("allOrders", {"symbol": "BTCUSDT", "limit": 10}, True),
    ("myTrades", {"symbol": "BTCUSDT", "limit": 10}, True),
    ("account.status", {"omitZeroBalances": "true"}, True),
    ("userDataStream.subscribe.signature", {}, True),
)
SIGNED_KEYS = ("apiKey", "timestamp", "recvWindow", "signature")


def check(raw: str) -> None:
    """Assert ``raw`` is the documented response envelope."""
    response = json.loads(raw)
    assert isinstance(response["status"], int), response
    if response["status"] == 200:
        assert "result" in response, response
    else:
        assert isinstance(response["error"]["code"], int), response
        assert isinstance(response["error"]["msg"], str), response


def _sign(params: dict[str, Any]) -> None:
    # a value with no spelling in the payload (a surrogate...) goes unsigned
    with contextlib.suppress(TypeError, ValueError):
        params["signature"] = binance_hmac_signature(binance_ws_payload(params), DOC_SECRET)


def _structured(d: Data, now: int) -> str:
    method, template, signed = d.pick(REQUESTS)
    params = dict(template)
    if signed:
        params |= {"apiKey": DOC_API_KEY, "timestamp": now, "recvWindow": 5000}
    key = make_hostile(params, d, SIGNED_KEYS)
    if signed and key != "signature":
        params.pop("signature", None)
        _sign(params)
    request: dict[str, Any] = {"id": "fuzz", "method": method, "params": params}
    if d.byte() == 0xFF:  # the envelope itself made hostile
        make_hostile(request, d)
    return json.dumps(request)


def test_one_input(data: bytes) -> None:
    """Answer one frame after a resting order exists; a documented envelope, in budget."""
    d = Data(data)
    clock, _, session = make(config=SMALL_BOOK)
    resting = {**ORDER, "newClientOrderId": "fuzz-0", "apiKey": DOC_API_KEY}
    resting["timestamp"] = clock.now
    _sign(resting)
    check(session.handle(json.dumps({"id": 0, "method": "order.place", "params": resting}))[0])
    frame = _structured(d, clock.now) if d.flag() else text(d.rest())
    raw, *events = within_budget(lambda: session.handle(frame))
    check(raw)
    for event in events:
        assert "event" in json.loads(event)


def seeds() -> dict[str, bytes]:
    """Each documented request as is, and with a hostile value in each of its fields."""
    out = {"raw-ping": b'\x00{"id": 1, "method": "ping"}'}
    for i, (method, template, signed) in enumerate(REQUESTS):
        fields = len(template) + (3 if signed else 0) + len(SIGNED_KEYS)
        # structured, this request, key choice (non-zero: a known key), the key, palette pick
        for k in range(fields):
            out[f"{method}-field{k}"] = bytes([1, i, 1, k, 0, (i * 7 + k) % 64, 0])
    return out


if __name__ == "__main__":
    main(test_one_input)

#!/usr/bin/env python3
"""Fuzz the Kraken emulator's request handling: WebSocket v2 frames and the REST API.

Input: one byte choosing the surface and raw or structured. WebSocket
(``KrakenSession.handle``): the frame's text, or a documented request (``add_order``,
``cancel_order``, ``cancel_all``, ``cancel_all_orders_after``, ``subscribe``, ``ping``)
carrying the session's token with one field made hostile; every answer is the documented
envelope (``success`` with ``result``, or ``error``). REST (``KrakenExchange.rest``): a
path, headers and body, or a documented private call signed with the docs' key (API-Sign
over the hostile body too, so the hostile field reaches the nonce check and the handler);
every answer is 200 with ``error`` (a list) or 404. Nothing raises; no request takes more
than a second of CPU.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from tests.emulator.support import KRAKEN_KEY as DOC_KEY
from tests.emulator.support import KRAKEN_TOKEN as DOC_TOKEN
from tests.emulator.support import kraken_make as make
from tests.emulator.support import kraken_order as order
from tests.emulator.support import kraken_rest_call as rest_call

from fuzz._emulator import make_hostile, within_budget
from fuzz._fuzz import Data, main, text
from whalewire.emulator.kraken import KrakenConfig
from whalewire.emulator.kraken.exchange import CLOSED_ORDERS_PATH, OPEN_ORDERS_PATH, TOKEN_PATH

SMALL_BOOK = KrakenConfig(book_levels=3)
#: one documented request per WebSocket v2 method ("Spot WebSocket API v2")
REQUESTS: tuple[dict[str, Any], ...] = (
    order(order_type="limit", limit_price=30000, order_qty=0.01, cl_ord_id="fuzz-1"),
    order(),
    {"method": "cancel_order", "params": {"token": DOC_TOKEN, "cl_ord_id": ["fuzz-0"]}},
    {"method": "cancel_all", "params": {"token": DOC_TOKEN}, "req_id": 3},
    {"method": "cancel_all_orders_after", "params": {"token": DOC_TOKEN, "timeout": 60}},
    {"method": "subscribe", "params": {"channel": "executions", "token": DOC_TOKEN}},
    {"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": 10}},
    {"method": "ping", "req_id": 7},
)
PATHS = (TOKEN_PATH, OPEN_ORDERS_PATH, CLOSED_ORDERS_PATH)
#: documented REST bodies ("Spot REST API": nonce first, then the call's own fields)
BODIES: tuple[dict[str, object], ...] = (
    {"nonce": 1},
    {"nonce": 1, "trades": "true", "cl_ord_id": "fuzz-0"},
    {"nonce": 1, "start": 0, "end": 1, "ofs": 0, "closetime": "both"},
)


def check_ws(raw: str) -> None:
    """Assert ``raw`` is a documented WebSocket v2 answer."""
    answer = json.loads(raw)
    assert isinstance(answer, dict), answer
    if answer.get("method") == "pong" or "channel" in answer:
        return
    assert isinstance(answer.get("success"), bool), answer
    assert ("result" in answer) if answer["success"] else isinstance(answer["error"], str)


def _websocket(d: Data) -> None:
    _, _, session = make(SMALL_BOOK)
    # a resting order for the cancels to find
    resting = order(order_type="limit", limit_price=30000, order_qty=0.01, cl_ord_id="fuzz-0")
    check_ws(session.handle(json.dumps(resting))[0])
    if d.flag():
        request = json.loads(json.dumps(d.pick(REQUESTS)))
        if d.flag():
            make_hostile(request.setdefault("params", {}), d, ("token", "req_id", "symbol"))
        else:
            make_hostile(request, d, ("params",))
        frame = json.dumps(request)
    else:
        frame = text(d.rest())
    for raw in within_budget(lambda: session.handle(frame)):
        check_ws(raw)


def _rest(d: Data) -> None:
    _, exchange, _ = make(SMALL_BOOK)
    if d.flag():
        at = d.below(len(PATHS))
        fields = dict(BODIES[at])
        make_hostile(fields, d)
        as_text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        body = urlencode(as_text, errors="surrogatepass")  # a lone surrogate: %ED%A0%80
        if "nonce=" not in body:
            body = "nonce=1&" + body
        status, answer = within_budget(lambda: rest_call(exchange, PATHS[at], body))
    else:
        method = d.pick(("POST", "GET", "DELETE", "post"))
        path = d.pick((*PATHS, "/0/public/Time", "/kraken/0/private/OpenOrders?x=1", ""))
        headers = {"api-key": d.pick((DOC_KEY, "", "x")), "api-sign": text(d.sized())}
        body_bytes = d.rest()
        reply = within_budget(lambda: exchange.rest(method, path, headers, body_bytes))
        status, answer = reply.status, json.loads(reply.body)
    assert status in (200, 404), status
    assert isinstance(answer["error"], list), answer


def test_one_input(data: bytes) -> None:
    """Answer one WebSocket frame or REST request; documented answers only, in budget."""
    d = Data(data)
    (_rest if d.flag() else _websocket)(d)


def seeds() -> dict[str, bytes]:
    """Each documented request as is and with a hostile field; REST calls likewise."""
    out = {
        "ws-raw-ping": b'\x00\x00{"method": "ping", "req_id": 1}',
        "rest-raw-token": b"\x01\x00\x00\x00\x00\x00nonce=1",
    }
    for i in range(len(REQUESTS)):
        for k in range(5):
            # websocket, structured, this request, params, key (known), palette pick
            out[f"ws-{i}-field{k}"] = bytes([0, 1, i, 1, 1, k, 0, (i * 11 + k) % 64])
    for i in range(len(PATHS)):
        for k in range(4):
            out[f"rest-{i}-field{k}"] = bytes([1, 1, i, 1, k, 0, (i * 13 + k * 5) % 64])
    return out


if __name__ == "__main__":
    main(test_one_input)

#!/usr/bin/env python3
"""Fuzz the Coinbase Exchange emulator's request handling: REST requests and feed subscribes.

Input: one byte choosing the surface and raw or structured. REST
(``CoinbaseExchange.handle``): method, target, headers and body from the fuzzer, or a
documented request (``POST /orders``, ``GET /orders``, ``DELETE /orders``, ``GET /fills``,
``GET /accounts``, public ``/products``, ``/time``) signed with a test key ("Signing a
message") with one field of its body, query or ``CB-ACCESS-*`` headers made hostile and
signed again over it; every answer is an HTTP status with a JSON body, a 4xx carrying
``message``. Feed (``CoinbaseFeedSession.handle``): a frame's text, or the documented
authenticated ``subscribe`` with one field made hostile; every answer is JSON with a
``type``. Nothing raises; no request takes more than a second of CPU.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import urlencode

from tests.emulator.support import CB_KEY as KEY
from tests.emulator.support import CB_PASSPHRASE as PASSPHRASE
from tests.emulator.support import coinbase_make as make
from tests.emulator.support import coinbase_request as request
from tests.emulator.support import coinbase_sign as sign

from fuzz._emulator import make_hostile, within_budget
from fuzz._fuzz import Data, main, text
from whalewire.emulator.coinbase import CoinbaseConfig

SMALL_BOOK = CoinbaseConfig(book_levels=3)
ORDER = {
    "product_id": "BTC-USD",
    "side": "buy",
    "type": "limit",
    "price": "30000.00",
    "size": "0.01",
    "time_in_force": "GTC",
    "client_oid": "a1b2c3d4-0000-4000-8000-000000000001",
}
#: (method, path, query, body): one documented request per route
REQUESTS: tuple[tuple[str, str, dict[str, Any], dict[str, Any] | None], ...] = (
    ("POST", "/orders", {}, ORDER),
    ("POST", "/orders", {}, {"product_id": "BTC-USD", "side": "sell", "type": "market",
                             "funds": "100"}),
    ("GET", "/orders", {"product_id": "BTC-USD"}, None),
    ("DELETE", "/orders", {"product_id": "BTC-USD"}, None),
    ("GET", "/orders/client:" + ORDER["client_oid"], {}, None),
    ("GET", "/fills", {"product_id": "BTC-USD", "order_id": "x"}, None),
    ("GET", "/accounts", {}, None),
    ("GET", "/products/BTC-USD/book", {"level": 2}, None),
    ("GET", "/time", {}, None),
)  # fmt: skip
HEADERS = ("cb-access-key", "cb-access-timestamp", "cb-access-passphrase", "cb-access-sign")


def check_rest(status: int, body: bytes) -> None:
    """Assert a REST answer is a status with a JSON body, errors carrying ``message``."""
    assert 200 <= status < 600, status
    answer = json.loads(body)
    if status >= 400:
        assert isinstance(answer["message"], str), answer


def _rest(d: Data, exchange: Any) -> None:
    if not d.flag():
        method = d.pick(("GET", "POST", "DELETE", "PUT", "get"))
        target = text(d.sized())
        headers = {name: text(d.sized()) for name in HEADERS if d.flag()}
        raw = d.rest()
        reply = within_budget(lambda: exchange.handle(method, target, headers, raw))
        check_rest(reply.status, reply.body)
        return
    method, path, query, body_fields = d.pick(REQUESTS)
    query, body = dict(query), dict(body_fields or {})
    where = d.byte() % 3
    headers = {
        "cb-access-key": KEY,
        "cb-access-passphrase": PASSPHRASE,
        "cb-access-timestamp": "%.3f" % (exchange.clock() / 1000),
    }
    if where == 0 and body_fields is not None:
        make_hostile(body, d)
    elif where == 1:
        make_hostile(query, d)
    else:
        make_hostile(headers, d)
        headers = {k: v if isinstance(v, str) else json.dumps(v) for k, v in headers.items()}
    target = path + ("?" + urlencode(query, errors="surrogatepass") if query else "")
    text_body = json.dumps(body) if body_fields is not None else ""
    with contextlib.suppress(ValueError):  # a surrogate cannot be signed: sent unsigned
        headers.setdefault(
            "cb-access-sign",
            sign(str(headers.get("cb-access-timestamp")), method, target, text_body),
        )
    reply = within_budget(
        lambda: exchange.handle(method, target, headers, text_body.encode("utf-8", "surrogatepass"))
    )
    check_rest(reply.status, reply.body)


def _feed(d: Data, exchange: Any) -> None:
    session = exchange.connect()
    if d.flag():
        ts = "%.3f" % (exchange.clock() / 1000)
        msg: dict[str, Any] = {
            "type": "subscribe",
            "product_ids": ["BTC-USD"],
            "channels": ["user", {"name": "heartbeat", "product_ids": ["BTC-USD"]}],
            "key": KEY,
            "passphrase": PASSPHRASE,
            "timestamp": ts,
            "signature": sign(ts, "GET", "/users/self/verify", ""),
        }
        make_hostile(msg, d)
        frame = json.dumps(msg)
    else:
        frame = text(d.rest())
    for raw in within_budget(lambda: session.handle(frame)):
        assert isinstance(json.loads(raw)["type"], str), raw


def test_one_input(data: bytes) -> None:
    """Answer one REST request or feed frame; documented answers only, in budget."""
    d = Data(data)
    _, exchange = make(SMALL_BOOK)
    resting = request(exchange, "POST", "/orders", ORDER)
    assert resting.status == 200, resting.body
    (_feed if d.flag() else _rest)(d, exchange)


def seeds() -> dict[str, bytes]:
    """Each documented request with a hostile field in body, query and headers; a subscribe."""
    out = {"rest-raw-time": b"\x00\x00\x00\x05/time", "feed-raw": b'\x01\x00{"type":"subscribe"}'}
    for i in range(len(REQUESTS)):
        for where in range(3):
            for k in range(3):
                # rest, structured, request, where, key (known), palette pick
                pick = (i * 17 + where * 5 + k) % 64
                out[f"rest-{i}-{where}-{k}"] = bytes([0, 1, i, where, 1, k, 0, pick])
    for k in range(7):
        out[f"feed-subscribe-{k}"] = bytes([1, 1, 1, k, 0, (k * 9) % 64])
    return out


if __name__ == "__main__":
    main(test_one_input)

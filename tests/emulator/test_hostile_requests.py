"""Hostile request shapes the fuzzer found (fuzz/corpus/emulator_*/new-*): the venue's error.

JSON nested thousands deep (``decoding.py``, shared by every venue), lone surrogates in a
credential, a Coinbase subscribe whose ``product_ids`` or ``channels`` is no list, and a
Kraken price of 26 digits. Each was an exception in the handler (RecursionError,
UnicodeEncodeError, TypeError, DivisionImpossible); each must be answered with the venue's
documented error on a connection that stays usable. The unit half checks ``decoding.py``;
the loopback half sends the inputs to running emulators over real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import pytest
import websockets
from tests.emulator.support import WS_TIMEOUT as TIMEOUT
from tests.emulator.support import ask, coinbase_headers, hmac_sign, now_ms

from whalewire.emulator import decoding
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.coinbase.server import CoinbaseEmulator
from whalewire.emulator.kraken.server import KrakenEmulator

_E = TypeVar("_E", BinanceEmulator, KrakenEmulator, CoinbaseEmulator)


@contextlib.asynccontextmanager
async def running(emulator: _E) -> AsyncIterator[_E]:
    """Start ``emulator`` on a loopback port; close it after the test's block."""
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.close()


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


#: frames that nest past the limit: arrays, objects, deep inside a valid request, unbalanced
DEEP = [
    nested(5_000),
    '{"a":' * 5_000 + "1" + "}" * 5_000,
    '{"id":"x","method":"ping","params":{"a":' + nested(5_000) + "}}",
    "[" * 100_000,
    "[" * 5_000 + "}",
]

# ------------------------------------------------------------------ decoding.py


def test_decoding_takes_the_deepest_allowed_nesting_and_refuses_one_more() -> None:
    limit = decoding.MAX_DEPTH
    assert limit == 32
    decoded = decoding.loads(nested(32))
    for _ in range(32):
        assert isinstance(decoded, list) and len(decoded) == 1
        decoded = decoded[0]
    assert decoded == 1
    with pytest.raises(decoding.TooDeep):
        decoding.loads(nested(33))
    with pytest.raises(ValueError, match="deeper than 32"):
        decoding.loads('{"a":' * 33 + "1" + "}" * 33)


@pytest.mark.parametrize("text", DEEP)
def test_decoding_refuses_deep_nesting_with_value_error(text: str) -> None:
    # (its cost is the fuzz harness's per-request CPU budget, not a timed unit test here)
    with pytest.raises(ValueError):
        decoding.loads(text)


def test_decoding_counts_no_bracket_inside_a_string() -> None:
    brackets = "[{" * 3_000 + '\\"' + "]}" * 10
    text = '{"a":"' + brackets + '","b":[[1]]}'
    assert decoding.loads(text) == {"a": brackets.replace('\\"', '"'), "b": [[1]]}


def test_decoding_of_an_unterminated_string_of_escaped_quotes_is_linear() -> None:
    text = "[" * 40 + '"' + '\\"' * 300_000
    started = time.perf_counter()
    with pytest.raises(ValueError):
        decoding.loads(text)
    assert (
        time.perf_counter() - started < 1.0
    )  # a stall guard (quadratic: seconds), not a benchmark


def test_decoding_reads_bytes_as_json_does() -> None:
    assert decoding.loads('{"a":[1]}'.encode("utf-16")) == {"a": [1]}
    with pytest.raises(ValueError):
        decoding.loads(nested(5_000).encode())
    with pytest.raises(ValueError):
        decoding.loads(b'{"a":"\xff"}')


# ------------------------------------------------------------------ Binance over loopback

PING = '{"id":"p","method":"ping"}'


@pytest.mark.parametrize("text", DEEP)
async def test_binance_deeply_nested_request_is_invalid_json_and_connection_stays(
    text: str,
) -> None:
    async with (
        running(BinanceEmulator(ping_interval=3600)) as emulator,
        websockets.connect(emulator.url) as ws,
    ):
        answer = await ask(ws, text)
        assert answer["status"] == 400 and answer["error"]["code"] == -1135, answer
        assert (await ask(ws, PING))["status"] == 200


@pytest.mark.parametrize("field", ["signature", "symbol"])
async def test_binance_lone_surrogate_in_a_signed_request_is_invalid_signature(
    field: str,
) -> None:
    emulator = BinanceEmulator(ping_interval=3600)
    creds = emulator.exchange.open_default_account()
    async with running(emulator), websockets.connect(emulator.url) as ws:
        params = hmac_sign({"apiKey": creds.hmac_api_key, "timestamp": now_ms()}, creds.hmac_secret)
        params[field] = "\ud800"
        # json.dumps spells it "\ud800": legal JSON, decoded to a lone surrogate
        request = {"id": "s", "method": "account.status", "params": params}
        answer = await ask(ws, json.dumps(request))
        expected = {"code": -1022, "msg": "Signature for this request is not valid."}
        assert (answer["status"], answer["error"]) == (400, expected)
        assert (await ask(ws, PING))["status"] == 200


# ------------------------------------------------------------------ Kraken over loopback


@pytest.mark.parametrize("text", DEEP)
async def test_kraken_deeply_nested_request_is_invalid_arguments_and_connection_stays(
    text: str,
) -> None:
    async with running(KrakenEmulator()) as emulator, websockets.connect(emulator.url) as ws:
        await ws.recv()  # the status greeting
        answer = await ask(ws, text)
        assert answer["success"] is False
        assert answer["error"] == "EGeneral:Invalid arguments:invalid JSON"
        assert (await ask(ws, '{"method":"ping","req_id":8}'))["method"] == "pong"


@pytest.mark.parametrize("price", ['"' + "1" * 26 + '"', "1" * 26, '"0.' + "1" * 30 + '"'])
async def test_kraken_limit_price_of_many_digits_is_invalid_arguments(price: str) -> None:
    emulator = KrakenEmulator()
    emulator.open_default_account("doc")
    emulator.exchange.register_token("tok", "doc")
    async with running(emulator), websockets.connect(emulator.url) as ws:
        await ws.recv()
        text = (
            '{"method":"add_order","req_id":7,"params":{"order_type":"limit","side":"buy",'
            '"symbol":"BTC/USD","token":"tok","order_qty":0.01,"limit_price":' + price + "}}"
        )
        answer = await ask(ws, text)
        assert answer["success"] is False
        assert answer["error"] == "EGeneral:Invalid arguments:limit_price"


# ------------------------------------------------------------------ Coinbase over loopback

NOT_NAMES = "product_ids must be a list of strings"
HEARTBEAT = '{"type":"subscribe","product_ids":["BTC-USD"],"channels":["heartbeat"]}'


@pytest.mark.parametrize("text", DEEP)
async def test_coinbase_feed_deeply_nested_message_is_malformed_json_and_stays_open(
    text: str,
) -> None:
    async with running(CoinbaseEmulator()) as emulator, websockets.connect(emulator.ws_url) as ws:
        answer = await ask(ws, text)
        assert (answer["type"], answer["message"]) == ("error", "Malformed JSON")
        assert (await ask(ws, HEARTBEAT))["type"] == "subscriptions"


async def test_coinbase_order_body_nested_deep_is_400_invalid_json_body() -> None:
    emulator = CoinbaseEmulator()
    creds = emulator.open_default_account()
    body = '{"product_id":"BTC-USD","side":"buy","type":"market","x":' + nested(5_000) + "}"
    headers = coinbase_headers(creds, f"{time.time():.3f}", "POST", "/orders", body)
    async with (
        running(emulator),
        aiohttp.ClientSession() as http,
        http.post(emulator.rest_url + "/orders", data=body.encode(), headers=headers) as reply,
    ):
        assert (reply.status, await reply.json()) == (400, {"message": "Invalid JSON body"})


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ('"product_ids":true,"channels":["heartbeat"]', NOT_NAMES),
        ('"product_ids":"BTC-USD","channels":["heartbeat"]', NOT_NAMES),
        ('"product_ids":[1],"channels":["heartbeat"]', NOT_NAMES),
        ('"product_ids":["BTC-USD"],"channels":true', "channels must be a list"),
        ('"product_ids":["BTC-USD"],"channels":"heartbeat"', "channels must be a list"),
        ('"product_ids":["BTC-USD"],"channels":{"name":"heartbeat"}', "channels must be a list"),
        (
            '"channels":[{"name":"heartbeat","product_ids":true}]',
            "product_ids of channel heartbeat must be a list of strings",
        ),
    ],
)
async def test_coinbase_subscribe_whose_lists_are_no_lists_fails_to_subscribe(
    fields: str, reason: str
) -> None:
    async with running(CoinbaseEmulator()) as emulator, websockets.connect(emulator.ws_url) as ws:
        answer = await ask(ws, '{"type":"subscribe",' + fields + "}")
        assert answer == {"type": "error", "message": "Failed to subscribe", "reason": reason}
        assert (await ask(ws, HEARTBEAT))["type"] == "subscriptions"


async def test_coinbase_feed_passphrase_lone_surrogate_is_not_authenticated() -> None:
    emulator = CoinbaseEmulator()
    creds = emulator.open_default_account()
    stamp = f"{time.time():.3f}"
    subscribe = {
        "type": "subscribe",
        "product_ids": ["BTC-USD"],
        "channels": ["user"],
        "key": creds.api_key,
        "passphrase": "\ud800",
        "timestamp": stamp,
        "signature": coinbase_headers(creds, stamp, "GET", "/users/self/verify", "")[
            "CB-ACCESS-SIGN"
        ],
    }
    async with running(emulator), websockets.connect(emulator.ws_url) as ws:
        assert await ask(ws, json.dumps(subscribe)) == {
            "type": "error",
            "message": "Sorry, you could not be authenticated: Bad Request",
            "reason": "Invalid Passphrase",
        }
        assert (await ask(ws, HEARTBEAT))["type"] == "subscriptions"


async def raw_http(port: int, request: bytes) -> tuple[int, dict[str, Any]]:
    """Send one HTTP/1.1 request as bytes (what aiohttp's client would refuse to spell)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        body = await asyncio.wait_for(reader.readexactly(length), TIMEOUT)
        return status, json.loads(body)
    finally:
        writer.close()


async def test_coinbase_rest_passphrase_of_undecodable_bytes_is_401_invalid_passphrase() -> None:
    emulator = CoinbaseEmulator()
    creds = emulator.open_default_account()
    headers = coinbase_headers(creds, f"{time.time():.3f}", "GET", "/accounts", "")
    lines = [b"GET /accounts HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    for name, value in headers.items():
        # the server reads header bytes as UTF-8 with surrogateescape: "\udc80\udcff"
        raw = b"\x80\xff" if name == "CB-ACCESS-PASSPHRASE" else value.encode()
        lines.append(name.encode() + b": " + raw)
    async with running(emulator):
        port = urlsplit(emulator.rest_url).port
        assert port is not None
        answer = await raw_http(port, b"\r\n".join(lines) + b"\r\n\r\n")
        assert answer == (401, {"message": "Invalid Passphrase"})

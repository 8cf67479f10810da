"""Hostile numbers in requests (issue 21, items 2 and 3): answered with the venue's error, fast.

The unit half checks ``emulator/numbers.py`` (the one parser every emulated venue uses); the
loopback half sends each listed input to a running emulator over real sockets and expects the
venue's documented error (Binance ``errors.md`` -1100/-1102, Kraken ``EAPI:Invalid nonce`` /
``EGeneral:Invalid arguments``, Coinbase 400 ``{"message"}``) on a connection that stays open.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from decimal import Decimal

import aiohttp
import pytest
import websockets
from tests.emulator.support import WS_TIMEOUT as TIMEOUT
from tests.emulator.support import ask, coinbase_headers, hmac_sign, now_ms

from whalewire.emulator import decoding, numbers
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.coinbase.server import CoinbaseEmulator
from whalewire.emulator.kraken.server import KrakenEmulator

HUGE_INT = "7" * 4_301  # past CPython's int() digit limit (4,300)

# ------------------------------------------------------------------ numbers.py


@pytest.mark.parametrize(
    "text", ["1²", "²", "١٢", "NaN", "sNaN", "Infinity", "1e3", " 1", "1\n", "+1", "", "1" * 21]
)
def test_parse_int_refuses_non_ascii_exponents_specials_and_over_long(text: str) -> None:
    assert numbers.parse_int(text) is None


def test_parse_int_accepts_twenty_digits_and_a_minus() -> None:
    assert numbers.parse_int("18446744073709551615") == 2**64 - 1
    assert numbers.parse_int("-42") == -42


@pytest.mark.parametrize(
    "text", ["NaN", "sNaN", "-Infinity", "1e999999", "1.5²", "1" * 21, "0." + "1" * 21, "1.", ".5"]
)
def test_parse_decimal_refuses_what_could_not_be_a_venue_amount(text: str) -> None:
    assert numbers.parse_decimal(text) is None
    assert numbers.parse_decimal(text, exponent=True) is None


def test_parse_decimal_takes_a_two_digit_exponent_only_when_asked_and_in_bounds() -> None:
    assert numbers.parse_decimal("1e-05") is None
    assert numbers.parse_decimal("1e-05", exponent=True) == Decimal("0.00001")
    assert numbers.parse_decimal("1e25", exponent=True) is None  # 26 digits before the point
    assert numbers.parse_decimal("1e-25", exponent=True) is None  # 25 after it


def test_decoding_loads_keeps_unbounded_numbers_as_text_and_converts_the_rest() -> None:
    text = '{"a":1e300000,"b":NaN,"c":-12,"d":0.5,"e":1e-05,"f":' + HUGE_INT + "}"
    decoded = decoding.loads(text)
    assert decoded == {
        "a": numbers.RejectedNumber("1e300000"),
        "b": numbers.RejectedNumber("NaN"),
        "c": -12,
        "d": Decimal("0.5"),
        "e": Decimal("0.00001"),
        "f": numbers.RejectedNumber(HUGE_INT),
    }


def test_decoding_loads_of_a_million_digit_exponent_is_fast() -> None:
    started = time.perf_counter()
    decoding.loads('{"limit":1e1000000}')
    assert time.perf_counter() - started < 1.0  # a stall guard (was over a minute), not a benchmark


@pytest.mark.parametrize("value", [True, 1.5, None, [], "x", Decimal("NaN"), Decimal("1E+30")])
def test_int_and_decimal_of_refuse_other_types_and_out_of_range(value: object) -> None:
    assert numbers.int_of(value) is None
    assert numbers.decimal_of(value) is None


# ------------------------------------------------------------------ Binance over loopback


@pytest.mark.parametrize(
    ("window", "spelled"),
    [("NaN", "NaN"), ("NaN", '"NaN"'), ("sNaN", '"sNaN"'), ("2", '"²"'), ("inf", "Infinity")],
)
async def test_binance_recv_window_nan_or_non_ascii_is_minus_1102_and_connection_stays(
    window: str, spelled: str
) -> None:
    emulator = BinanceEmulator(ping_interval=3600)
    creds = emulator.exchange.open_default_account()
    await emulator.start()
    try:
        async with websockets.connect(emulator.url) as ws:
            params = {
                "apiKey": creds.hmac_api_key,
                "timestamp": now_ms(),
                "recvWindow": window,
                "signature": "0" * 64,  # the window is checked before the signature
            }
            body = json.dumps({"id": "w", "method": "account.status", "params": params})
            text = body.replace(json.dumps(window), spelled)
            answer = await ask(ws, text)
            assert answer["status"] == 400 and answer["error"]["code"] == -1102, answer
            assert "recvWindow" in answer["error"]["msg"]
            pong = await ask(ws, '{"id":"p","method":"ping"}')
            assert pong["status"] == 200
    finally:
        await emulator.close()


@pytest.mark.parametrize(
    "limit", ['"²"', '"1²"', HUGE_INT, f'"{HUGE_INT}"', "1e300000", "1e1000000", "NaN"]
)
async def test_binance_depth_with_a_hostile_limit_is_refused_in_milliseconds_without_a_key(
    limit: str,
) -> None:
    emulator = BinanceEmulator(ping_interval=3600)
    await emulator.start()
    try:
        async with websockets.connect(emulator.url, max_size=None) as ws:
            text = '{"id":"d","method":"depth","params":{"symbol":"BTCUSDT","limit":' + limit + "}}"
            started = time.perf_counter()
            answer = await ask(ws, text)
            elapsed = time.perf_counter() - started
            assert answer["status"] == 400 and answer["error"]["code"] == -1102, answer
            assert elapsed < 1.0, elapsed  # a stall guard: was 2-7 s of CPU for 1e300000
            depth = await ask(
                ws, '{"id":"ok","method":"depth","params":{"symbol":"BTCUSDT","limit":5}}'
            )
            assert depth["status"] == 200
    finally:
        await emulator.close()


async def test_binance_request_id_out_of_bounds_is_echoed_as_text_not_raised() -> None:
    emulator = BinanceEmulator(ping_interval=3600)
    await emulator.start()
    try:
        async with websockets.connect(emulator.url) as ws:
            answer = await ask(ws, '{"id":1e300000,"method":"ping"}')
            assert (answer["id"], answer["status"], answer["result"]) == ("1e300000", 200, {})
    finally:
        await emulator.close()


async def test_binance_quantity_with_exponent_or_non_ascii_is_minus_1100() -> None:
    emulator = BinanceEmulator(ping_interval=3600)
    creds = emulator.exchange.open_default_account()
    await emulator.start()
    try:
        async with websockets.connect(emulator.url) as ws:
            for quantity in ("1e300000", "0.0²", "1" * 21):
                params = hmac_sign(
                    {
                        "symbol": "BTCUSDT",
                        "side": "BUY",
                        "type": "MARKET",
                        "quantity": quantity,
                        "apiKey": creds.hmac_api_key,
                        "timestamp": now_ms(),
                    },
                    creds.hmac_secret,
                )
                body = json.dumps({"id": "q", "method": "order.place", "params": params})
                answer = await ask(ws, body)
                assert answer["error"]["code"] == -1100, answer
    finally:
        await emulator.close()


# ------------------------------------------------------------------ Kraken over loopback


def kraken_sign(uri_path: str, nonce: str, body: str, secret_b64: str) -> str:
    # "Spot REST Authentication": HMAC-SHA512(uri_path + SHA256(nonce + postdata))
    inner = hashlib.sha256(nonce.encode() + body.encode()).digest()
    mac = hmac.new(base64.b64decode(secret_b64), uri_path.encode() + inner, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


@pytest.mark.parametrize("nonce", ["1²", "²", "9" * 5_000, "1e300000", "-1", str(2**64)])
async def test_kraken_rest_hostile_nonce_is_invalid_nonce(nonce: str) -> None:
    emulator = KrakenEmulator()
    await emulator.start()
    keys = emulator.open_default_account()
    path = "/0/private/GetWebSocketsToken"
    body = f"nonce={nonce}"
    headers = {
        "API-Key": keys.api_key,
        "API-Sign": kraken_sign(path, nonce, body, keys.secret),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{emulator.rest_port}{path}"
            async with http.post(url, data=body.encode(), headers=headers) as response:
                assert response.status == 200
                assert await response.json() == {"error": ["EAPI:Invalid nonce"]}
            # the same key still works with a sane nonce
            good = f"nonce={now_ms()}"
            headers["API-Sign"] = kraken_sign(path, good[6:], good, keys.secret)
            async with http.post(url, data=good.encode(), headers=headers) as response:
                assert (await response.json())["error"] == []
    finally:
        await emulator.close()


@pytest.mark.parametrize("qty", ["1e300000", '"1²"', "NaN", '"' + "1" * 26 + '"', HUGE_INT])
async def test_kraken_ws_hostile_order_qty_is_invalid_arguments(qty: str) -> None:
    emulator = KrakenEmulator()
    await emulator.start()
    emulator.open_default_account("doc")
    emulator.exchange.register_token("tok", "doc")
    try:
        async with websockets.connect(emulator.url) as ws:
            await ws.recv()  # the status greeting
            text = (
                '{"method":"add_order","req_id":7,"params":{"order_type":"market","side":"buy",'
                '"symbol":"BTC/USD","token":"tok","order_qty":' + qty + "}}"
            )
            await ws.send(text)
            answer = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert answer["success"] is False
            assert answer["error"] == "EGeneral:Invalid arguments:order_qty"
            await ws.send('{"method":"ping","req_id":8}')
            assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["method"] == "pong"
    finally:
        await emulator.close()


# ------------------------------------------------------------------ Coinbase over loopback


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ({"type": "market", "funds": "1" * 26}, "funds is invalid"),
        ({"type": "market", "size": "1" * 26}, "size is invalid"),
        ({"type": "market", "size": "9" * 30 + ".5"}, "size is invalid"),
        ({"type": "limit", "price": "1e999999", "size": "1"}, "price is invalid"),
        ({"type": "market", "size": "NaN"}, "size is invalid"),
        ({"type": "market", "size": "0.1²"}, "size is invalid"),
    ],
)
async def test_coinbase_order_with_a_hostile_amount_is_400_with_message(
    order: dict[str, str], message: str
) -> None:
    emulator = CoinbaseEmulator()
    creds = emulator.open_default_account()
    await emulator.start()
    try:
        body = json.dumps({"product_id": "BTC-USD", "side": "buy", **order})
        stamp = f"{time.time():.3f}"
        headers = coinbase_headers(creds, stamp, "POST", "/orders", body)
        async with aiohttp.ClientSession() as http:
            url = emulator.rest_url + "/orders"
            async with http.post(url, data=body.encode(), headers=headers) as response:
                assert (response.status, await response.json()) == (400, {"message": message})
    finally:
        await emulator.close()


async def test_coinbase_rest_timestamp_1e999999_is_400_invalid_timestamp() -> None:
    emulator = CoinbaseEmulator()
    creds = emulator.open_default_account()
    await emulator.start()
    try:
        headers = coinbase_headers(creds, "1e999999", "GET", "/accounts", "")
        async with (
            aiohttp.ClientSession() as http,
            http.get(emulator.rest_url + "/accounts", headers=headers) as response,
        ):
            expected = (400, {"message": "invalid timestamp"})
            assert (response.status, await response.json()) == expected
    finally:
        await emulator.close()


@pytest.mark.parametrize("stamp", ['"1e999999"', "1e999999", '"' + "9" * 5_000 + '"', "NaN"])
async def test_coinbase_feed_subscribe_with_timestamp_1e999999_is_refused_and_stays_open(
    stamp: str,
) -> None:
    emulator = CoinbaseEmulator()
    creds = emulator.open_default_account()
    await emulator.start()
    try:
        async with websockets.connect(emulator.ws_url) as ws:
            subscribe = (
                '{"type":"subscribe","product_ids":["BTC-USD"],"channels":["user"],'
                f'"key":"{creds.api_key}","passphrase":"{creds.passphrase}",'
                f'"signature":"x","timestamp":{stamp}}}'
            )
            await ws.send(subscribe)
            answer = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert answer["type"] == "error" and answer["reason"] == "invalid timestamp"
            await ws.send('{"type":"subscribe","product_ids":["BTC-USD"],"channels":["heartbeat"]}')
            listing = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert listing["type"] == "subscriptions"
    finally:
        await emulator.close()

"""ccxt's Binance ``watch_order_book``, unmodified, keeps a correct book against the emulator.

ccxt.pro takes its snapshot from the public REST ``GET /api/v3/depth`` ("Order book") and
its diffs from the raw stream host, which it opens at ``/ws/<connection number>`` and
SUBSCRIBEs on (``btcusdt@depth@100ms``): the documented "How to manage a local order book
correctly". Pointed at the emulator by its URLs only, its book must equal the matching
engine's after every burst of orders. The REST answers themselves are checked against the
WebSocket API's ``depth`` and the venue's documented errors.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.emulator.support import binance_with_streams, engine_levels, random_orders

from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.binance.streams import BinanceStreams
from whalewire.net.client import connect

ccxtpro = pytest.importorskip("ccxt.pro")

SYMBOL = "BTCUSDT"


@pytest.fixture
async def binance() -> AsyncIterator[tuple[BinanceEmulator, BinanceStreams]]:
    async with binance_with_streams() as started:
        yield started


async def ws_api(url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One request over the WebSocket API; its whole answer."""
    ws = await connect(url, deflate=False)
    try:
        ws.send(json.dumps({"id": 1, "method": method, "params": params}))
        answer: dict[str, Any] = json.loads(await ws.recv())
        return answer
    finally:
        await ws.close()


async def http_get(port: int, target: str) -> tuple[int, Any]:
    """GET ``target`` with the standard library's client (off the loop); status and JSON."""

    def get() -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{target}", timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    return await asyncio.get_running_loop().run_in_executor(None, get)


async def test_rest_depth_is_the_websocket_apis_depth(
    binance: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    emulator, _ = binance
    random_orders(emulator.exchange, SYMBOL, 20, seed=7)  # type: ignore[arg-type]
    status, rest = await http_get(emulator.port, f"/api/v3/depth?symbol={SYMBOL}&limit=5")
    answer = await ws_api(emulator.url, "depth", {"symbol": SYMBOL, "limit": 5})
    assert status == 200
    assert rest == answer["result"]
    assert len(rest["bids"]) == len(rest["asks"]) == 5


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [
        ("/api/v3/depth?symbol=NOPE", 400, -1121),  # "Invalid symbol."
        ("/api/v3/depth", 400, -1102),  # symbol is mandatory
        (f"/api/v3/depth?symbol={SYMBOL}&limit=1e300000", 400, -1102),  # refused, not converted
    ],
)
async def test_rest_depth_answers_the_documented_errors(
    binance: tuple[BinanceEmulator, BinanceStreams], target: str, status: int, code: int
) -> None:
    emulator, _ = binance
    got_status, body = await http_get(emulator.port, target)
    assert (got_status, body["code"]) == (status, code)
    assert isinstance(body["msg"], str) and body["msg"]


async def test_rest_exchange_info_ping_and_time(
    binance: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    emulator, _ = binance
    status, info = await http_get(emulator.port, '/api/v3/exchangeInfo?symbols=["BTCUSDT"]')
    assert status == 200
    assert [s["symbol"] for s in info["symbols"]] == [SYMBOL]
    assert await http_get(emulator.port, "/api/v3/ping") == (200, {})
    status, clock = await http_get(emulator.port, "/api/v3/time")
    assert status == 200 and abs(clock["serverTime"] - emulator.venue_time()) < 5_000


async def test_ccxt_watch_order_book_equals_the_exchange_after_every_burst(
    binance: tuple[BinanceEmulator, BinanceStreams],
) -> None:
    emulator, streams = binance
    exchange = emulator.exchange
    info = (await ws_api(emulator.url, "exchangeInfo", {}))["result"]
    client = ccxtpro.binance({"enableRateLimit": False})
    client.urls["api"]["public"] = f"http://127.0.0.1:{emulator.port}/api/v3"
    client.urls["api"]["ws"]["spot"] = f"{streams.url}/ws"
    # fetch_markets reads these from margin REST endpoints before parse_market
    client.options["crossMarginPairsData"] = []
    client.options["isolatedMarginPairsData"] = []
    client.set_markets([client.parse_market(s) for s in info["symbols"]])
    try:
        book = await asyncio.wait_for(client.watch_order_book("BTC/USDT"), 10)
        for burst in range(3):
            random_orders(exchange, SYMBOL, 25, seed=90 + burst)  # type: ignore[arg-type]
            last_id = exchange.tape.snapshot(SYMBOL)[0]  # type: ignore[attr-defined]
            while book["nonce"] < last_id:
                book = await asyncio.wait_for(client.watch_order_book("BTC/USDT"), 10)
            assert book["nonce"] == last_id
            bids, asks = engine_levels(exchange, SYMBOL)  # type: ignore[arg-type]
            assert [tuple(level) for level in book["bids"]] == bids
            assert [tuple(level) for level in book["asks"]] == asks
    finally:
        await client.close()

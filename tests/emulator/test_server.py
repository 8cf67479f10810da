"""The emulator over real loopback sockets, driven by a real peer client (``websockets``).

The requests follow Binance ``web-socket-api.md`` ("SIGNED request example (HMAC)",
"SIGNED Request Example (Ed25519)", ``session.logon``, ``userDataStream.subscribe``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from tests.emulator.support import hmac_sign, request, run

from whalewire.emulator.binance.exchange import BinanceConfig
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.faults import FaultPlan

TIMEOUT = 10.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def next_events(ws: Any, count: int) -> list[dict[str, Any]]:
    return [json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)) for _ in range(count)]


def ed25519_params(params: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return {**params, "signature": base64.b64encode(key.sign(payload.encode())).decode()}


def test_hmac_order_then_ed25519_logon_and_user_data_stream_over_loopback():
    async def scenario() -> None:
        emulator = BinanceEmulator(BinanceConfig(book_levels=5), ping_interval=3600)
        creds = emulator.exchange.open_default_account()
        await emulator.start()
        try:
            async with websockets.connect(emulator.url) as ws:
                params = hmac_sign(
                    {
                        "symbol": "BTCUSDT",
                        "side": "BUY",
                        "type": "MARKET",
                        "quantity": "0.01000",
                        "apiKey": creds.hmac_api_key,
                        "timestamp": now_ms(),
                    },
                    creds.hmac_secret,
                )
                placed, _ = await request(ws, "hmac-order", "order.place", params)
                assert placed["status"] == 200, placed
                assert placed["result"]["status"] == "FILLED"

                private = load_pem_private_key(creds.ed25519_private_key_pem.encode(), None)
                assert isinstance(private, Ed25519PrivateKey)
                logon = ed25519_params(
                    {"apiKey": creds.ed25519_api_key, "timestamp": now_ms()}, private
                )
                response, _ = await request(ws, "logon", "session.logon", logon)
                assert response["result"]["apiKey"] == creds.ed25519_api_key
                sub, _ = await request(ws, "sub", "userDataStream.subscribe")
                sub_id = sub["result"]["subscriptionId"]
                order = {
                    "symbol": "BTCUSDT",
                    "side": "SELL",
                    "type": "MARKET",
                    "quantity": "0.01000",
                    "timestamp": now_ms(),
                }
                sold, early = await request(ws, "sell", "order.place", order)
                assert sold["result"]["status"] == "FILLED"
                # the response comes first; NEW, TRADE(s) and account position follow
                later = await next_events(ws, 3)
                events = [e for e in early + later if e.get("subscriptionId") == sub_id]
                kinds = [(e["event"]["e"], e["event"].get("x")) for e in events]
                assert kinds[:2] == [("executionReport", "NEW"), ("executionReport", "TRADE")]
                status, _ = await request(ws, "status", "session.status")
                assert status["result"]["userDataStream"] is True
        finally:
            await emulator.close()

    run(scenario())


def test_fill_of_a_resting_order_is_pushed_to_its_owners_connection():
    async def scenario() -> None:
        emulator = BinanceEmulator(BinanceConfig(book_levels=0), ping_interval=3600)
        maker = emulator.exchange.open_default_account("maker")
        taker = emulator.exchange.open_default_account("taker")
        await emulator.start()
        try:
            async with (
                websockets.connect(emulator.url) as maker_ws,
                websockets.connect(emulator.url) as taker_ws,
            ):
                private = load_pem_private_key(maker.ed25519_private_key_pem.encode(), None)
                assert isinstance(private, Ed25519PrivateKey)
                logon = ed25519_params(
                    {"apiKey": maker.ed25519_api_key, "timestamp": now_ms()}, private
                )
                await request(maker_ws, "logon", "session.logon", logon)
                await request(maker_ws, "sub", "userDataStream.subscribe")
                bid = {
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "LIMIT",
                    "timeInForce": "GTC",
                    "price": "50000.00",
                    "quantity": "0.10000",
                    "newClientOrderId": "resting",
                    "timestamp": now_ms(),
                }
                rested, _ = await request(maker_ws, "bid", "order.place", bid)
                assert rested["result"]["status"] == "NEW"
                await next_events(maker_ws, 2)  # its NEW report and account position
                sell = hmac_sign(
                    {
                        "symbol": "BTCUSDT",
                        "side": "SELL",
                        "type": "MARKET",
                        "quantity": "0.04000",
                        "apiKey": taker.hmac_api_key,
                        "timestamp": now_ms(),
                    },
                    taker.hmac_secret,
                )
                sold, _ = await request(taker_ws, "sell", "order.place", sell)
                assert sold["result"]["status"] == "FILLED"
                (fill, position) = await next_events(maker_ws, 2)
                report = fill["event"]
                assert (report["x"], report["X"], report["c"], report["m"]) == (
                    "TRADE",
                    "PARTIALLY_FILLED",
                    "resting",
                    True,
                )
                assert position["event"]["e"] == "outboundAccountPosition"
        finally:
            await emulator.close()

    run(scenario())


def test_other_paths_are_refused_and_a_disconnect_fault_cuts_the_connection():
    async def scenario() -> None:
        emulator = BinanceEmulator(faults=FaultPlan(disconnect_rate=1.0), ping_interval=3600)
        await emulator.start()
        try:
            with pytest.raises(websockets.InvalidStatus) as info:
                await websockets.connect(f"ws://127.0.0.1:{emulator.port}/ws/btcusdt@trade")
            assert info.value.response.status_code == 404
            async with websockets.connect(emulator.url) as ws:
                await ws.send(json.dumps({"id": 1, "method": "ping"}))
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
        finally:
            await emulator.close()

    run(scenario())


def test_server_sends_pings_on_its_interval():
    async def scenario() -> None:
        emulator = BinanceEmulator(BinanceConfig(book_levels=0), ping_interval=0.05)
        await emulator.start()
        try:
            # a bare RFC 6455 client so the ping frame itself is visible (websockets
            # answers pings internally); RFC 6455 §1.3 example key
            reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
            writer.write(
                b"GET /ws-api/v3 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
            assert head.startswith(b"HTTP/1.1 101")
            first = await asyncio.wait_for(reader.readexactly(2), TIMEOUT)
            assert first[0] == 0x89  # FIN + opcode 0x9 (ping), RFC 6455 §5.5.2
            writer.close()
        finally:
            await emulator.close()

    run(scenario())


def test_control_api_switches_faults_skews_the_clock_and_cuts_connections():
    async def scenario() -> None:
        emulator = BinanceEmulator(BinanceConfig(book_levels=0), ping_interval=3600)
        await emulator.start()
        try:
            async with websockets.connect(emulator.url) as ws:
                ok, _ = await request(ws, "1", "ping")
                assert ok["status"] == 200
                emulator.set_faults(FaultPlan(server_error_rate=1.0))
                failed, _ = await request(ws, "2", "ping")
                assert (failed["status"], failed["error"]["code"]) == (503, -1008)
                emulator.set_faults(FaultPlan(clock_skew_ms=5000))
                before = now_ms()
                skewed, _ = await request(ws, "3", "time")
                assert skewed["result"]["serverTime"] >= before + 5000
                emulator.set_faults(None)
                await emulator.announce_shutdown()
                notice = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                assert notice["event"]["e"] == "serverShutdown"
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
            async with websockets.connect(emulator.url) as ws:
                await request(ws, "4", "ping")
                await emulator.disconnect_all()
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
                assert ws.close_code == 1001
        finally:
            await emulator.close()

    run(scenario())

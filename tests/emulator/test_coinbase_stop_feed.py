"""Coinbase Exchange stop orders on the feed, over loopback ("Exchange WebSocket Channels",
"Full channel", "Activate"): placing a stop sends ``activate`` (epoch-seconds
``timestamp``, ``stop_type``, ``stop_price``, ``private: true``, no ``sequence``) to its
owner only; when the last trade reaches it, "the order will be placed and go through the
order lifecycle": ``received`` (as a limit or market order), then ``match``/``done`` or
``open``, on every ``full`` subscription (another user's too).

Orders go in over REST (aiohttp, signed here as "Signing a message" states) and the feed
is read with the ``websockets`` client, both against the running ``CoinbaseEmulator``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from tests.emulator.support import coinbase_headers, coinbase_sign
from websockets.asyncio.client import ClientConnection, connect

from whalewire.emulator.coinbase.server import CoinbaseEmulator

PRODUCT = "BTC-USD"


@pytest.fixture
async def emulator() -> AsyncIterator[CoinbaseEmulator]:
    emu = CoinbaseEmulator()
    await emu.start()
    yield emu
    await emu.close()


async def _place(emu: CoinbaseEmulator, creds: Any, **order: str) -> dict[str, Any]:
    body = json.dumps({"product_id": PRODUCT, **order})
    stamp = f"{time.time():.3f}"
    headers = coinbase_headers(creds, stamp, "POST", "/orders", body)
    async with (
        aiohttp.ClientSession() as http,
        http.post(emu.rest_url + "/orders", data=body, headers=headers) as response,
    ):
        answer: dict[str, Any] = await response.json()
        assert response.status == 200, answer
        return answer


async def _feed(emu: CoinbaseEmulator, creds: Any) -> ClientConnection:
    """A ``full`` subscription (authenticated, as the emulator's ``full`` requires)."""
    ws = await connect(emu.ws_url)
    stamp = f"{time.time():.3f}"
    msg = {
        "type": "subscribe",
        "product_ids": [PRODUCT],
        "channels": ["full"],
        "key": creds.api_key,
        "passphrase": creds.passphrase,
        "timestamp": stamp,
        "signature": coinbase_sign(stamp, "GET", "/users/self/verify", "", creds.secret),
    }
    await ws.send(json.dumps(msg))
    answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert answer["type"] == "subscriptions", answer
    return ws


async def _until(ws: ClientConnection, kind: str, order_id: str) -> list[dict[str, Any]]:
    """Read messages up to and including the ``kind`` message of ``order_id``."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while True:
            msg = json.loads(await ws.recv())
            seen.append(msg)
            if msg["type"] == kind and msg.get("order_id") == order_id:
                return seen


def _of(messages: list[dict[str, Any]], order_id: str) -> list[str]:
    return [m["type"] for m in messages if m.get("order_id") == order_id]


async def test_stop_sends_activate_to_its_owner_then_received_when_it_triggers(
    emulator: CoinbaseEmulator,
) -> None:
    creds = emulator.open_default_account()
    other = emulator.open_default_account("other")  # another user watching the full channel
    mine, public = await _feed(emulator, creds), await _feed(emulator, other)
    try:
        first = await _place(emulator, creds, side="sell", type="market", size="0.01")
        await _until(public, "done", first["id"])
        last = Decimal((await _until(mine, "done", first["id"]))[-2]["price"])  # its match
        stop_price = last - Decimal("5.00")  # the house bids are $1 apart
        stop = await _place(
            emulator, creds, side="sell", type="market", size="0.02",
            stop="loss", stop_price=str(stop_price),
        )  # fmt: skip
        (activate,) = await _until(mine, "activate", stop["id"])
        assert activate == {
            "type": "activate",
            "product_id": PRODUCT,
            "timestamp": activate["timestamp"],
            "user_id": activate["user_id"],
            "profile_id": activate["profile_id"],
            "order_id": stop["id"],
            "stop_type": "loss",
            "side": "sell",
            "stop_price": f"{stop_price:.8f}",
            "size": "0.02000000",
            "private": True,
        }
        assert float(activate["timestamp"]) == pytest.approx(time.time(), abs=60)
        assert len(activate["timestamp"].split(".")[1]) == 6

        # sell down through the stop: it triggers and runs as a market sell
        push = await _place(emulator, creds, side="sell", type="market", size="5")
        for ws in (mine, public):
            seen = await _until(ws, "done", stop["id"])
            assert "activate" not in [m["type"] for m in seen]
            assert _of(seen, push["id"])[0] == "received"
            assert _of(seen, stop["id"])[0] == "received"
            assert _of(seen, stop["id"])[-1] == "done"
            received = next(m for m in seen if m.get("order_id") == stop["id"])
            assert (received["order_type"], received["side"], received["size"]) == (
                "market",
                "sell",
                "0.02000000",
            )
            # the order that moved the price is done before the stop is received
            assert seen.index(received) > max(
                i for i, m in enumerate(seen) if m.get("order_id") == push["id"]
            )
            sequences = [m["sequence"] for m in seen]
            assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    finally:
        await mine.close()
        await public.close()


async def test_stop_limit_that_triggers_and_rests_is_received_then_open(
    emulator: CoinbaseEmulator,
) -> None:
    creds = emulator.open_default_account()
    ws = await _feed(emulator, creds)
    try:
        first = await _place(emulator, creds, side="sell", type="market", size="0.01")
        last = Decimal((await _until(ws, "done", first["id"]))[-2]["price"])
        # a sell stop whose limit is far above the book: once triggered it rests untouched
        stop = await _place(
            emulator, creds, side="sell", type="limit", size="0.03", price="100000.00",
            stop="loss", stop_price=str(last - Decimal("3.00")),
        )  # fmt: skip
        await _until(ws, "activate", stop["id"])
        await _place(emulator, creds, side="sell", type="market", size="5")
        seen = await _until(ws, "open", stop["id"])
        assert _of(seen, stop["id"]) == ["received", "open"]
        received, opened = (m for m in seen if m.get("order_id") == stop["id"])
        assert (received["order_type"], received["price"], received["size"]) == (
            "limit",
            "100000.00000000",
            "0.03000000",
        )
        assert (opened["remaining_size"], opened["sequence"]) == (
            "0.03000000",
            received["sequence"] + 1,
        )
    finally:
        await ws.close()


async def test_canceled_stop_is_done_without_received(emulator: CoinbaseEmulator) -> None:
    creds = emulator.open_default_account()
    ws = await _feed(emulator, creds)
    try:
        stop = await _place(
            emulator, creds, side="buy", type="limit", size="0.01", price="70000.00",
            stop="entry", stop_price="70000.00",
        )  # fmt: skip
        (activate,) = await _until(ws, "activate", stop["id"])
        assert (activate["stop_type"], activate["side"]) == ("entry", "buy")
        stamp = f"{time.time():.3f}"
        path = f"/orders/{stop['id']}"
        headers = coinbase_headers(creds, stamp, "DELETE", path, "")
        async with (
            aiohttp.ClientSession() as http,
            http.delete(emulator.rest_url + path, headers=headers) as response,
        ):
            assert response.status == 200
        seen = await _until(ws, "done", stop["id"])
        assert _of(seen, stop["id"]) == ["done"]
        assert seen[-1]["reason"] == "canceled"
    finally:
        await ws.close()

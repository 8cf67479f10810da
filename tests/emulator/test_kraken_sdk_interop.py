"""python-kraken-sdk (``kraken.spot.SpotWSClient``, 3.5) against the Kraken emulator's
WebSocket v2: ``batch_add``, ``batch_cancel``, ``edit_order``, ``amend_order`` and the
``balances`` channel, the calls ccxt does not send (see ``test_ccxt_kraken_ws.py``).

The SDK is used unchanged but for its URLs (``rest_url``, ``auth_ws_url``; it appends
``/v2`` itself): it fetches its token with a signed REST ``GetWebSocketsToken``, adds it
to every private request, and hands each message to our callback. The requests are the
ones its ``send_message`` docstring shows, after docs.kraken.com's v2 pages of the same
names.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest

from whalewire.emulator.kraken.server import KrakenEmulator


class _Inbox:
    """What the SDK hands its callback, and a way to wait for one answer."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.arrived.set()

    async def answer(self, method: str, req_id: int) -> dict[str, Any]:
        async with asyncio.timeout(10):
            while True:
                for m in self.messages:
                    if m.get("method") == method and m.get("req_id") == req_id:
                        return m
                self.arrived.clear()
                await self.arrived.wait()

    async def channel(self, name: str, kind: str) -> dict[str, Any]:
        async with asyncio.timeout(10):
            while True:
                for m in self.messages:
                    if m.get("channel") == name and m.get("type") == kind:
                        return m
                self.arrived.clear()
                await self.arrived.wait()


@asynccontextmanager
async def _sdk() -> AsyncIterator[tuple[KrakenEmulator, Any, _Inbox]]:
    spot = pytest.importorskip("kraken.spot")
    emu = KrakenEmulator()
    await emu.start()
    keys = emu.open_default_account()
    inbox = _Inbox()
    client = spot.SpotWSClient(
        key=keys.api_key,
        secret=keys.secret,
        callback=inbox,
        no_public=True,
        rest_url=emu.rest_url,
        auth_ws_url=emu.url.removesuffix("/v2"),
    )
    try:
        async with asyncio.timeout(10):
            await client.start()
        # a subscription starts the emulator's one-second heartbeat, which wakes the SDK's
        # reader: its close() otherwise waits out its 10 s read timeout
        await client.subscribe({"channel": "executions", "snap_orders": False}, req_id=99)
        await inbox.answer("subscribe", 99)
        yield emu, client, inbox
    finally:
        await client.close()
        await emu.close()


async def _call(
    client: Any, inbox: _Inbox, method: str, req_id: int, params: dict[str, Any]
) -> dict[str, Any]:
    """Send one request through the SDK (which adds the token) and return its answer."""
    await client.send_message({"method": method, "req_id": req_id, "params": params})
    return await inbox.answer(method, req_id)


def _limit(qty: float, price: float, **extra: Any) -> dict[str, Any]:
    return {"order_type": "limit", "side": "buy", "order_qty": qty, "limit_price": price, **extra}


LIMIT = _limit(0.01, 1000)


async def test_sdk_batch_add_places_every_order_and_batch_cancel_cancels_them() -> None:
    async with _sdk() as (emu, client, inbox):
        orders = [_limit(0.01, 1000), _limit(0.02, 1001)]
        added = await _call(client, inbox, "batch_add", 1, {"symbol": "BTC/USD", "orders": orders})
        assert added["success"] is True, added
        ids = [row["order_id"] for row in added["result"]]
        open_ = emu.exchange.engine.open_orders("default")
        assert sorted(emu.exchange.order_id(v.order_id) for v in open_) == sorted(ids)
        assert sorted((v.orig_qty, v.price) for v in open_) == [
            (Decimal("0.01"), Decimal("1000")),
            (Decimal("0.02"), Decimal("1001")),
        ]

        canceled = await _call(client, inbox, "batch_cancel", 2, {"orders": ids})
        assert canceled["success"] is True and canceled["result"] == {"count": 2}
        assert emu.exchange.engine.open_orders("default") == []


async def test_sdk_batch_add_with_one_bad_order_places_none() -> None:
    async with _sdk() as (emu, client, inbox):
        orders = [_limit(0.01, 1000), _limit(0.00001, 1000)]  # below BTC's 0.0001 minimum
        answer = await _call(client, inbox, "batch_add", 3, {"symbol": "BTC/USD", "orders": orders})
        assert answer["success"] is False
        assert answer["error"] == "EOrder:Order minimum not met"
        assert emu.exchange.engine.open_orders("default") == []


async def test_sdk_edit_order_replaces_the_order_under_a_new_id() -> None:
    async with _sdk() as (emu, client, inbox):
        added = await _call(client, inbox, "add_order", 4, {"symbol": "BTC/USD", **LIMIT})
        original = added["result"]["order_id"]
        change = {
            "order_id": original,
            "symbol": "BTC/USD",
            "order_qty": 0.03,
            "limit_price": 998.5,
        }
        edited = await _call(client, inbox, "edit_order", 5, change)
        assert edited["success"] is True, edited
        assert edited["result"]["original_order_id"] == original
        assert edited["result"]["order_id"] != original
        (view,) = emu.exchange.engine.open_orders("default")
        assert emu.exchange.order_id(view.order_id) == edited["result"]["order_id"]
        assert (view.orig_qty, view.price) == (Decimal("0.03"), Decimal("998.5"))


async def test_sdk_amend_order_keeps_the_id_and_streams_amended() -> None:
    async with _sdk() as (emu, client, inbox):
        added = await _call(client, inbox, "add_order", 7, {"symbol": "BTC/USD", **LIMIT})
        order_id = added["result"]["order_id"]
        change = {"order_id": order_id, "order_qty": 0.004}
        amended = await _call(client, inbox, "amend_order", 8, change)
        assert amended["success"] is True and amended["result"]["order_id"] == order_id
        assert "amend_id" in amended["result"]
        async with asyncio.timeout(10):
            while not any(
                row.get("exec_type") == "amended"
                for m in inbox.messages
                if m.get("channel") == "executions"
                for row in m["data"]
            ):
                inbox.arrived.clear()
                await inbox.arrived.wait()
        (view,) = emu.exchange.engine.open_orders("default")
        assert (emu.exchange.order_id(view.order_id), view.orig_qty) == (order_id, Decimal("0.004"))


async def test_sdk_balances_channel_snapshot_then_one_update_per_fill() -> None:
    async with _sdk() as (_, client, inbox):
        await client.subscribe({"channel": "balances"}, req_id=9)
        snapshot = await inbox.channel("balances", "snapshot")
        assert {r["asset"]: r["balance"] for r in snapshot["data"]} == {
            "BTC": 10,
            "ETH": 100,
            "USD": 1_000_000,
        }
        sell = {"symbol": "BTC/USD", "order_type": "market", "side": "sell", "order_qty": 0.5}
        assert (await _call(client, inbox, "add_order", 10, sell))["success"] is True
        async with asyncio.timeout(10):
            while True:
                rows = [
                    r
                    for m in inbox.messages
                    if m.get("channel") == "balances" and m.get("type") == "update"
                    for r in m["data"]
                ]
                btc = [r for r in rows if r["asset"] == "BTC"]
                if btc and sum(Decimal(str(r["amount"])) for r in btc) == Decimal("-0.5"):
                    break
                inbox.arrived.clear()
                await inbox.arrived.wait()
        # each row's balance is the previous one plus amount minus fee ("Balances")
        last = {"BTC": Decimal(10), "USD": Decimal(1_000_000)}
        for row in rows:
            expect = last[row["asset"]] + Decimal(str(row["amount"])) - Decimal(str(row["fee"]))
            assert Decimal(str(row["balance"])) == expect
            last[row["asset"]] = expect
        assert last["BTC"] == Decimal("9.5")

"""ccxt's Kraken (``ccxt.pro.kraken``) over the emulator's WebSocket v2 calls beyond
``add_order``/``cancel_order``: ``amend_order`` (``edit_order_ws``), ``cancel_order``
with a list of ids (``cancel_orders_ws``) and the ``balances`` channel (``watch_balance``),
unmodified but for its URLs.

What ccxt 4.5 cannot reach: it sends no ``batch_add``, ``batch_cancel`` or ``edit_order``
(its ``cancel_orders_ws`` is ``cancel_order`` with ``order_id: [...]``, its
``edit_order_ws`` is ``amend_order``); those are exercised with python-kraken-sdk in
``test_kraken_sdk_interop.py``. The emulator serves no public REST (``AssetPairs``), so
the market is given to ccxt as ``test_ccxt_kraken_rest.py`` gives it.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from whalewire.emulator.kraken.server import KrakenEmulator

MARKET: dict[str, Any] = {
    "id": "XBTUSD", "symbol": "BTC/USD", "base": "BTC", "quote": "USD", "baseId": "XXBT",
    "quoteId": "ZUSD", "altname": "XBTUSD", "wsId": "BTC/USD", "type": "spot", "spot": True,
    "active": True, "precision": {"amount": 1e-8, "price": 0.1},
    "limits": {"amount": {"min": 0.0001, "max": None}},
}  # fmt: skip


async def _ccxt(emu: KrakenEmulator) -> Any:
    ccxtpro = pytest.importorskip("ccxt.pro")
    keys = emu.open_default_account()
    ex = ccxtpro.kraken({"apiKey": keys.api_key, "secret": keys.secret, "enableRateLimit": False})
    ex.urls["api"]["private"] = emu.rest_url
    ex.urls["api"]["ws"]["privateV2"] = emu.url
    ex.set_markets([MARKET])
    return ex


async def test_ccxt_edit_order_ws_amends_in_place_and_keeps_the_order_id() -> None:
    emu = KrakenEmulator()
    await emu.start()
    ex = await _ccxt(emu)
    try:
        placed = await ex.create_order_ws("BTC/USD", "limit", "buy", 0.01, 1000)
        edited = await ex.edit_order_ws(placed["id"], "BTC/USD", "limit", "buy", 0.005, 999.5)
        # amend_order's result: {"amend_id", "order_id"}: the same order, amended
        assert edited["id"] == placed["id"]
        (view,) = emu.exchange.engine.open_orders("default")
        assert emu.exchange.order_id(view.order_id) == placed["id"]
        assert (view.orig_qty, view.price) == (Decimal("0.005"), Decimal("999.5"))
    finally:
        await ex.close()
        await emu.close()


async def test_ccxt_cancel_orders_ws_cancels_every_listed_order() -> None:
    emu = KrakenEmulator()
    await emu.start()
    ex = await _ccxt(emu)
    try:
        first = await ex.create_order_ws("BTC/USD", "limit", "buy", 0.01, 1000)
        second = await ex.create_order_ws("BTC/USD", "limit", "buy", 0.01, 1001)
        await ex.create_order_ws("BTC/USD", "limit", "buy", 0.01, 1002)  # stays
        await ex.cancel_orders_ws([first["id"], second["id"]])
        async with asyncio.timeout(5):  # one answer per order: ccxt resolves on the first
            while len(emu.exchange.engine.open_orders("default")) != 1:
                await asyncio.sleep(0.01)
        (left,) = emu.exchange.engine.open_orders("default")
        assert left.price == Decimal("1002")
    finally:
        await ex.close()
        await emu.close()


async def test_ccxt_watch_balance_gets_the_snapshot_then_the_fill_updates() -> None:
    emu = KrakenEmulator()
    await emu.start()
    ex = await _ccxt(emu)
    try:
        snapshot = await ex.watch_balance()
        # the default account: BTC 10, ETH 100, USD 1,000,000 (docs/reference/emulator.md)
        assert (snapshot["BTC"]["total"], snapshot["USD"]["total"]) == (10, 1_000_000)
        watcher = asyncio.ensure_future(ex.watch_balance())
        await ex.create_order_ws("BTC/USD", "market", "buy", 0.02)
        await asyncio.wait_for(watcher, 10)
        async with asyncio.timeout(10):  # one update per fill, the book's levels apart
            while ex.balance["spot"]["BTC"]["total"] != pytest.approx(10.02):
                await ex.watch_balance()
        # what REST TradesHistory says was paid, fee included, is what the stream moved
        rest = pytest.importorskip("ccxt.async_support").kraken(
            {"apiKey": ex.apiKey, "secret": ex.secret, "enableRateLimit": False}
        )
        rest.urls["api"]["private"] = emu.rest_url
        rest.set_markets([MARKET])
        try:
            trades = await rest.fetch_my_trades()
        finally:
            await rest.close()
        paid = sum(t["cost"] + t["fee"]["cost"] for t in trades)
        assert ex.balance["spot"]["USD"]["total"] == pytest.approx(1_000_000 - paid, abs=1e-4)
    finally:
        await ex.close()
        await emu.close()


async def test_ccxt_trailing_percent_places_a_v2_trailing_stop() -> None:
    # ccxt's createOrderWs turns trailingPercent into order_type trailing-stop with
    # triggers {price_type: pct, price}; the emulator parks it trailing from the peak
    emu = KrakenEmulator()
    await emu.start()
    ex = await _ccxt(emu)
    try:
        await ex.create_order_ws("BTC/USD", "market", "buy", 0.01)  # a last price to trail
        placed = await ex.create_order_ws(
            "BTC/USD", "market", "sell", 0.5, None, {"trailingPercent": 1}
        )
        (view,) = emu.exchange.engine.open_orders("default")
        assert emu.exchange.order_id(view.order_id) == placed["id"]
        assert (view.parked, view.label, view.trail, view.trail_relative) == (
            True,
            "trailing-stop",
            Decimal("0.01"),
            True,
        )
    finally:
        await ex.close()
        await emu.close()

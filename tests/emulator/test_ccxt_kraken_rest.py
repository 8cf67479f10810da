"""ccxt's Kraken over the emulator's private REST calls (``Balance``, ``AddOrder``,
``QueryOrders``, ``CancelOrder``, ``TradesHistory``), unmodified but for its URLs.

The emulator serves no public REST (``AssetPairs``), so the market is given to ccxt as
``tests/emulator/test_kraken.py`` gives it.
"""

from __future__ import annotations

from typing import Any

import pytest

from whalewire.emulator.kraken.server import KrakenEmulator

MARKET: dict[str, Any] = {
    "id": "XBTUSD", "symbol": "BTC/USD", "base": "BTC", "quote": "USD", "baseId": "XXBT",
    "quoteId": "ZUSD", "altname": "XBTUSD", "wsId": "BTC/USD", "type": "spot", "spot": True,
    "active": True, "precision": {"amount": 1e-8, "price": 0.1},
    "limits": {"amount": {"min": 0.0001, "max": None}},
}  # fmt: skip


async def test_ccxt_rest_balance_orders_and_trades() -> None:
    ccxt = pytest.importorskip("ccxt.async_support")
    emu = KrakenEmulator()
    await emu.start()
    keys = emu.open_default_account()
    ex = ccxt.kraken({"apiKey": keys.api_key, "secret": keys.secret, "enableRateLimit": False})
    ex.urls["api"]["private"] = emu.rest_url
    ex.set_markets([MARKET])
    try:
        before = await ex.fetch_balance()
        assert before["total"]["BTC"] == 10
        resting = await ex.create_order("BTC/USD", "limit", "buy", 0.01, 1000)
        fetched = await ex.fetch_order(resting["id"])
        assert (fetched["id"], fetched["status"], fetched["amount"]) == (
            resting["id"],
            "open",
            0.01,
        )
        await ex.cancel_order(resting["id"])
        assert (await ex.fetch_order(resting["id"]))["status"] == "canceled"
        bought = await ex.create_order("BTC/USD", "market", "buy", 0.02)
        trades = await ex.fetch_my_trades()
        assert {t["order"] for t in trades} == {bought["id"]}
        after = await ex.fetch_balance()
        cost = sum(t["cost"] + t["fee"]["cost"] for t in trades)
        assert after["total"]["BTC"] - before["total"]["BTC"] == pytest.approx(0.02)
        assert before["total"]["USD"] - after["total"]["USD"] == pytest.approx(cost, abs=1e-4)
    finally:
        await ex.close()
        await emu.close()

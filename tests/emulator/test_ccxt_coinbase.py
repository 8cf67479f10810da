"""ccxt's ``coinbaseexchange`` as a real client of the Coinbase Exchange emulator (TLS).

An unmodified client pointed at the emulator by URL only: loading markets and currencies
(``GET /currencies`` is public), a market buy whose fee and balance change reconcile,
``fetchClosedOrders`` (``GET /orders?status=done``), ``fetchOpenOrders`` and a post-only
limit order.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from whalewire.emulator.coinbase.server import CoinbaseEmulator, loopback_tls

ccxt = pytest.importorskip("ccxt.async_support")


def test_ccxt_loads_currencies_trades_and_lists_closed_orders(tmp_path: Path) -> None:
    async def scenario() -> None:
        tls = loopback_tls()
        emulator = CoinbaseEmulator()
        creds = emulator.open_default_account()
        await emulator.start(ssl=tls.server)
        cafile = tmp_path / "ca.pem"
        cafile.write_text(tls.cert_pem)
        client = ccxt.coinbaseexchange(
            {"apiKey": creds.api_key, "secret": creds.secret, "password": creds.passphrase}
        )
        client.urls["api"] = {"public": emulator.rest_url, "private": emulator.rest_url}
        client.ssl_context = tls.client_context()
        try:
            currencies = await client.fetch_currencies()
            assert {"BTC", "USD"} <= set(currencies)
            await client.load_markets()
            before = await client.fetch_balance()
            order = await client.create_order("BTC/USD", "market", "buy", 0.01)
            trades = await client.fetch_my_trades("BTC/USD")
            after = await client.fetch_balance()
            fee = sum(Decimal(str(t["fee"]["cost"])) for t in trades)
            cost = sum(Decimal(str(t["cost"])) for t in trades)
            spent = Decimal(str(before["USD"]["total"])) - Decimal(str(after["USD"]["total"]))
            assert abs(spent - (cost + fee)) < Decimal("1e-8")
            closed = await client.fetch_closed_orders("BTC/USD")
            assert [o["id"] for o in closed] == [order["id"]]
            resting = await client.create_order(
                "BTC/USD", "limit", "buy", 0.01, 50000, {"postOnly": True}
            )
            opened = await client.fetch_open_orders("BTC/USD")
            assert [(o["id"], o["postOnly"]) for o in opened] == [(resting["id"], True)]
        finally:
            await client.close()
            await emulator.close()

    asyncio.run(scenario())

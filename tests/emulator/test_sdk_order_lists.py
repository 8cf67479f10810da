"""The official Binance SDK (``binance-sdk-spot``), unmodified, against the emulator's OCO
order lists and trailing stops: ``order_list_place_oco``, ``order_list_status``,
``open_order_lists_status``, ``order_list_cancel`` and ``order_place`` with
``trailing_delta``, each parsed into the SDK's own typed models.
"""

from __future__ import annotations

import asyncio

import pytest

from whalewire.emulator.binance.exchange import BinanceConfig
from whalewire.emulator.binance.server import BinanceEmulator

sdk = pytest.importorskip("binance_sdk_spot.spot")
configuration = pytest.importorskip("binance_common.configuration")


def test_official_sdk_places_queries_and_cancels_an_oco_and_a_trailing_stop() -> None:
    async def scenario() -> None:
        emulator = BinanceEmulator(BinanceConfig(book_levels=5), ping_interval=3600)
        creds = emulator.exchange.open_default_account()
        await emulator.start()
        cfg = configuration.ConfigurationWebSocketAPI(
            api_key=creds.hmac_api_key, api_secret=creds.hmac_secret, stream_url=emulator.url
        )
        conn = await sdk.Spot(config_ws_api=cfg).websocket_api.create_connection()
        try:
            await conn.order_place(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.001)
            placed = await conn.order_list_place_oco(
                symbol="BTCUSDT", side="SELL", quantity=0.01,
                above_type="LIMIT_MAKER", above_price=70000.0,
                below_type="STOP_LOSS_LIMIT", below_price=50000.0, below_stop_price=50100.0,
                below_time_in_force="GTC", list_client_order_id="sdk-oco",
            )  # fmt: skip
            oco = placed.data().result
            assert (oco.contingency_type, oco.list_order_status) == ("OCO", "EXECUTING")
            assert [r.type for r in oco.order_reports] == ["STOP_LOSS_LIMIT", "LIMIT_MAKER"]
            status = (await conn.order_list_status(order_list_id=oco.order_list_id)).data()
            assert status.result.list_client_order_id == "sdk-oco"
            (listed,) = (await conn.open_order_lists_status()).data().result
            assert listed.order_list_id == oco.order_list_id
            canceled = await conn.order_list_cancel(
                symbol="BTCUSDT", order_list_id=oco.order_list_id
            )
            assert canceled.data().result.list_status_type == "ALL_DONE"
            assert (await conn.open_order_lists_status()).data().result == []

            trailing = await conn.order_place(
                symbol="BTCUSDT", side="SELL", type="STOP_LOSS", quantity=0.001, trailing_delta=100
            )
            result = trailing.data().result
            assert (result.type, result.trailing_delta) == ("STOP_LOSS", 100)
        finally:
            await conn.close_connection()
            await emulator.close()

    asyncio.run(scenario())

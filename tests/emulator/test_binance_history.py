"""``allOrders`` and ``myTrades`` ("Account order history", "Account trade history",
``web-socket-api.md``) in the handler.

The doc example requests are sent verbatim: their HMAC signatures verify with the doc's
example secret, so the emulator registers that key and runs its clock at each request's
``timestamp``. Rules checked: the account's orders (open or not) or fills on the symbol,
oldest first; with ``startTime``/``endTime`` those whose last update (orders) or execution
(trades) falls in the range; with ``orderId`` (orders: from that id; trades: of that order)
or ``fromId`` (trades from that id); otherwise the most recent ``limit`` (default 500, at
most 1000); a range over 24 hours is refused (``errors.md`` -1127), and so are the
combinations ``myTrades`` forbids (-1128).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.emulator.support import DOC_API_KEY, call, doc_order, hmac_sign, make, resting_buy

ORDER_FIELDS = {
    "symbol",
    "orderId",
    "orderListId",
    "clientOrderId",
    "price",
    "origQty",
    "executedQty",
    "cummulativeQuoteQty",
    "status",
    "timeInForce",
    "type",
    "side",
    "stopPrice",
    "icebergQty",
    "time",
    "updateTime",
    "isWorking",
    "workingTime",
    "origQuoteOrderQty",
    "selfTradePreventionMode",
}


def all_orders(ts: int, **extra: Any) -> dict[str, Any]:
    params = {"symbol": "BTCUSDT", "apiKey": DOC_API_KEY, "timestamp": ts, **extra}
    return {"id": f"all-{ts}", "method": "allOrders", "params": hmac_sign(params)}


def place_three(session: Any, clock: Any) -> list[int]:
    """Place a resting buy, a filled market buy, and a canceled buy; return their ids."""
    ids = []
    for n, request in enumerate(
        [
            resting_buy(clock.now, "rest-1"),
            doc_order(clock.now + 1, side="BUY", type="MARKET", quantity="0.01"),
            resting_buy(clock.now + 2, "rest-2"),
        ]
    ):
        clock.now += 1 if n else 0
        response, _ = call(session, request)
        assert response["status"] == 200, response
        ids.append(response["result"]["orderId"])
    clock.now += 1
    cancel = {
        "symbol": "BTCUSDT",
        "origClientOrderId": "rest-2",
        "apiKey": DOC_API_KEY,
        "timestamp": clock.now,
    }
    response, _ = call(session, {"id": "c", "method": "order.cancel", "params": hmac_sign(cancel)})
    assert response["status"] == 200, response
    return ids


def test_doc_all_orders_example_lists_open_and_closed_orders_with_the_status_shape():
    # the orders live inside the example's startTime..endTime (2022-08-18, 24 hours)
    clock, _, session = make(now=1_660_801_715_431)
    ids = place_three(session, clock)
    clock.now = 1_661_955_123_341
    # doc example, "Account order history (USER_DATA)"
    request = {
        "id": "734235c2-13d2-4574-be68-723e818c08f3",
        "method": "allOrders",
        "params": {
            "symbol": "BTCUSDT",
            "startTime": 1660780800000,
            "endTime": 1660867200000,
            "limit": 5,
            "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            "signature": "f50a972ba7fad92842187643f6b930802d4e20bce1ba1e788e856e811577bd42",
            "timestamp": 1661955123341,
        },
    }
    response, events = call(session, request)
    assert response["status"] == 200, response
    assert response["id"] == "734235c2-13d2-4574-be68-723e818c08f3"
    assert events == []
    result = response["result"]
    assert [o["orderId"] for o in result] == ids
    assert [o["status"] for o in result] == ["NEW", "FILLED", "CANCELED"]
    assert [o["isWorking"] for o in result] == [True, False, False]
    for order in result:
        assert set(order) == ORDER_FIELDS
    # "**Weight:** 20" (the clock moved to a new minute window since the orders)
    weight = response["rateLimits"][-1]
    assert (weight["rateLimitType"], weight["count"]) == ("REQUEST_WEIGHT", 20)


def test_all_orders_time_range_filters_by_last_update_and_ignores_order_id():
    clock, _, session = make()
    first, _, canceled = place_three(session, clock)
    # the cancel is the only update after the market order's time
    after_market = clock.now
    response, _ = call(
        session, all_orders(clock.now, startTime=after_market, orderId=first, limit=10)
    )
    assert [o["orderId"] for o in response["result"]] == [canceled]


def test_all_orders_from_order_id_and_most_recent_by_limit():
    clock, _, session = make()
    first, market, canceled = place_three(session, clock)
    response, _ = call(session, all_orders(clock.now, orderId=market))
    assert [o["orderId"] for o in response["result"]] == [market, canceled]
    response, _ = call(session, all_orders(clock.now, orderId=first, limit=1))
    assert [o["orderId"] for o in response["result"]] == [first]
    # "If no condition is specified, the most recent orders are returned."
    response, _ = call(session, all_orders(clock.now, limit=2))
    assert [o["orderId"] for o in response["result"]] == [market, canceled]


def test_all_orders_lists_only_the_accounts_orders_of_the_symbol():
    clock, _, session = make()
    place_three(session, clock)
    response, _ = call(session, all_orders(clock.now, symbol="ETHUSDT"))
    assert response["status"] == 200
    assert response["result"] == []


def test_all_orders_refuses_a_range_over_24_hours_and_a_limit_over_1000():
    clock, _, session = make()
    day = 24 * 3_600_000
    response, _ = call(
        session, all_orders(clock.now, startTime=clock.now - day - 1, endTime=clock.now)
    )
    # errors.md: -1127 INVALID_INTERVAL "More than %s hours between startTime and endTime."
    assert response["status"] == 400
    assert response["error"] == {
        "code": -1127,
        "msg": "More than 24 hours between startTime and endTime.",
    }
    response, _ = call(session, all_orders(clock.now, limit=1001))
    assert response["status"] == 400
    assert response["error"]["code"] == -1102


def test_all_orders_requires_a_signature():
    clock, _, session = make()
    params = {"symbol": "BTCUSDT", "apiKey": DOC_API_KEY, "timestamp": clock.now}
    response, _ = call(
        session, {"id": 1, "method": "allOrders", "params": {**params, "signature": "00" * 32}}
    )
    assert response["status"] == 400
    assert response["error"]["code"] == -1022


TRADE_FIELDS = {
    "symbol",
    "id",
    "orderId",
    "orderListId",
    "price",
    "qty",
    "quoteQty",
    "commission",
    "commissionAsset",
    "time",
    "isBuyer",
    "isMaker",
    "isBestMatch",
}


def my_trades(ts: int, **extra: Any) -> dict[str, Any]:
    params = {"symbol": "BTCUSDT", "apiKey": DOC_API_KEY, "timestamp": ts, **extra}
    return {"id": f"trades-{ts}", "method": "myTrades", "params": hmac_sign(params)}


def test_doc_my_trades_example_lists_the_accounts_fills_with_the_documented_shape():
    clock, exchange, session = make(now=1_660_801_715_431)
    # a market buy one lot beyond the best ask level sweeps two levels: two fills
    _, best_ask_qty = exchange.engine.depth("BTCUSDT")[1][0]
    quantity = best_ask_qty + Decimal("0.01")
    response, _ = call(
        session, doc_order(clock.now, side="BUY", type="MARKET", quantity=str(quantity))
    )
    assert response["status"] == 200, response
    order = response["result"]
    clock.now = 1_661_955_125_250
    # doc example, "Account trade history (USER_DATA)"
    request = {
        "id": "f4ce6a53-a29d-4f70-823b-4ab59391d6e8",
        "method": "myTrades",
        "params": {
            "symbol": "BTCUSDT",
            "startTime": 1660780800000,
            "endTime": 1660867200000,
            "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            "signature": "c5a5ffb79fd4f2e10a92f895d488943a57954edf5933bde3338dfb6ea6d6eefc",
            "timestamp": 1661955125250,
        },
    }
    response, _ = call(session, request)
    assert response["status"] == 200, response
    trades = response["result"]
    assert [Decimal(t["qty"]) for t in trades] == [best_ask_qty, Decimal("0.01")]
    for trade in trades:
        assert set(trade) == TRADE_FIELDS
        assert (trade["orderId"], trade["isBuyer"], trade["isMaker"]) == (
            order["orderId"],
            True,
            False,
        )
        assert trade["time"] == 1_660_801_715_431
        assert trade["commissionAsset"] == "BTC"
    assert [t["id"] for t in trades] == sorted(t["id"] for t in trades)
    weight = response["rateLimits"][-1]
    assert (weight["rateLimitType"], weight["count"]) == ("REQUEST_WEIGHT", 20)


def test_my_trades_by_order_id_and_from_id_and_most_recent():
    clock, _, session = make()
    buy, _ = call(session, doc_order(clock.now, side="BUY", type="MARKET", quantity="0.01"))
    clock.now += 1
    sell, _ = call(session, doc_order(clock.now, side="SELL", type="MARKET", quantity="0.01"))
    (bought,) = call(session, my_trades(clock.now, orderId=buy["result"]["orderId"]))[0]["result"]
    (sold,) = call(session, my_trades(clock.now, orderId=sell["result"]["orderId"]))[0]["result"]
    assert (bought["isBuyer"], sold["isBuyer"]) == (True, False)
    assert (bought["commissionAsset"], sold["commissionAsset"]) == ("BTC", "USDT")
    response, _ = call(session, my_trades(clock.now, fromId=sold["id"]))
    assert [t["id"] for t in response["result"]] == [sold["id"]]
    response, _ = call(session, my_trades(clock.now, limit=1))
    assert [t["id"] for t in response["result"]] == [sold["id"]]
    response, _ = call(session, my_trades(clock.now, symbol="ETHUSDT"))
    assert response["result"] == []


def test_my_trades_refuses_time_range_with_from_id_or_order_id():
    clock, _, session = make()
    for extra in ({"fromId": 1}, {"orderId": 1}):
        response, _ = call(session, my_trades(clock.now, startTime=clock.now - 10, **extra))
        assert response["status"] == 400
        # errors.md: -1128 OPTIONAL_PARAMS_BAD_COMBO
        assert response["error"] == {
            "code": -1128,
            "msg": "Combination of optional parameters invalid.",
        }

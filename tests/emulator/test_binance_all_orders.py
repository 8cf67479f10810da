"""``allOrders`` ("Account order history (USER_DATA)", ``web-socket-api.md``) in the handler.

The doc example request is sent verbatim: its HMAC signature verifies with the doc's
example secret, so the emulator registers that key and runs its clock at the request's
``timestamp``. Rules checked: open and closed orders of the symbol, oldest first; with
``startTime``/``endTime`` the orders whose last update falls in the range (``orderId``
ignored); with ``orderId`` the orders from that id on; otherwise the most recent
``limit`` (default 500, at most 1000); a range over 24 hours is refused (``errors.md``
-1127).
"""

from __future__ import annotations

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

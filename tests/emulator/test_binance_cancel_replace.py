"""``order.cancelReplace`` ("Cancel and replace order (TRADE)", ``web-socket-api.md``).

The doc example request is sent verbatim (its HMAC signature verifies with the doc's
example secret). The outcome table of that section is checked row by row for
``orderRateLimitExceededMode`` ``DO_NOTHING`` within limits: both succeed (200); the cancel
fails under ``STOP_ON_FAILURE`` (400 -2022, new order ``NOT_ATTEMPTED``); one of the two
fails under ``ALLOW_FAILURE`` or the new order fails after the cancel (409 -2021); both
fail (400 -2022). ``data`` carries ``cancelResponse``/``newOrderResponse`` as documented.
"""

from __future__ import annotations

from typing import Any

from tests.emulator.support import DOC_API_KEY, call, hmac_sign, make, resting_buy

from whalewire.emulator.binance.exchange import BinanceConfig

DOC_CLIENT_ID = "4d96324ff9d44481926157"
UNKNOWN_ORDER = {"code": -2011, "msg": "Unknown order sent."}
NO_BALANCE = {"code": -2010, "msg": "Account has insufficient balance for requested action."}


def cancel_replace(ts: int, mode: str, **extra: Any) -> dict[str, Any]:
    params = {
        "symbol": "BTCUSDT",
        "cancelReplaceMode": mode,
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "price": "21000.00",
        "quantity": "0.01000",
        "apiKey": DOC_API_KEY,
        "timestamp": ts,
        **extra,
    }
    return {"id": f"cr-{ts}", "method": "order.cancelReplace", "params": hmac_sign(params)}


def open_ids(exchange: Any) -> list[int]:
    return [v.order_id for v in exchange.engine.open_orders("doc", "BTCUSDT")]


def test_doc_cancel_replace_example_cancels_and_places_with_the_documented_shape():
    # an empty book, so the replacing SELL at 23416.10 rests (status NEW) as in the doc
    clock, exchange, session = make(now=1_660_813_156_900, config=BinanceConfig(book_levels=0))
    placed, _ = call(session, resting_buy(clock.now, DOC_CLIENT_ID))
    assert placed["status"] == 200, placed
    # doc example, "Cancel and replace order (TRADE)"
    request = {
        "id": "99de1036-b5e2-4e0f-9b5c-13d751c93a1a",
        "method": "order.cancelReplace",
        "params": {
            "symbol": "BTCUSDT",
            "cancelReplaceMode": "ALLOW_FAILURE",
            "cancelOrigClientOrderId": "4d96324ff9d44481926157",
            "side": "SELL",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "price": "23416.10000000",
            "quantity": "0.00847000",
            "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            "signature": "7028fdc187868754d25e42c37ccfa5ba2bab1d180ad55d4c3a7e2de643943dc5",
            "timestamp": 1660813156900,
        },
    }
    response, _ = call(session, request)
    assert response["status"] == 200, response
    result = response["result"]
    assert (result["cancelResult"], result["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    canceled, new = result["cancelResponse"], result["newOrderResponse"]
    assert canceled["origClientOrderId"] == DOC_CLIENT_ID
    assert (canceled["orderId"], canceled["status"]) == (placed["result"]["orderId"], "CANCELED")
    assert (new["status"], new["side"], new["price"], new["origQty"]) == (
        "NEW",
        "SELL",
        "23416.10000000",
        "0.00847000",
    )
    assert open_ids(exchange) == [new["orderId"]]
    # "Unfilled Order Count: 1"
    orders = [x for x in response["rateLimits"] if x["rateLimitType"] == "ORDERS"]
    assert [x["count"] for x in orders] == [2, 2]


def test_stop_on_failure_with_a_failed_cancel_does_not_attempt_the_new_order():
    clock, exchange, session = make()
    response, _ = call(session, cancel_replace(clock.now, "STOP_ON_FAILURE", cancelOrderId=999_999))
    assert response["status"] == 400
    assert response["error"] == {
        "code": -2022,
        "msg": "Order cancel-replace failed.",
        "data": {
            "cancelResult": "FAILURE",
            "newOrderResult": "NOT_ATTEMPTED",
            "cancelResponse": UNKNOWN_ORDER,
            "newOrderResponse": None,
        },
    }
    assert open_ids(exchange) == []
    # "If new order placement is not attempted, your order count is still incremented."
    orders = [x for x in response["rateLimits"] if x["rateLimitType"] == "ORDERS"]
    assert [x["count"] for x in orders] == [1, 1]


def test_allow_failure_places_the_new_order_when_the_cancel_fails():
    clock, exchange, session = make()
    response, _ = call(session, cancel_replace(clock.now, "ALLOW_FAILURE", cancelOrderId=999_999))
    assert response["status"] == 409
    error = response["error"]
    assert (error["code"], error["msg"]) == (-2021, "Order cancel-replace partially failed.")
    data = error["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("FAILURE", "SUCCESS")
    assert data["cancelResponse"] == UNKNOWN_ORDER
    assert open_ids(exchange) == [data["newOrderResponse"]["orderId"]]


def test_a_new_order_that_fails_after_the_cancel_leaves_the_old_order_canceled():
    # "This cancel-replace operation is not transactional."
    clock, exchange, session = make()
    placed, _ = call(session, resting_buy(clock.now, "old"))
    response, _ = call(
        session,
        cancel_replace(
            clock.now, "STOP_ON_FAILURE", cancelOrigClientOrderId="old", quantity="49.00000"
        ),
    )
    assert response["status"] == 409
    data = response["error"]["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
    assert data["cancelResponse"]["orderId"] == placed["result"]["orderId"]
    assert data["newOrderResponse"] == NO_BALANCE
    assert open_ids(exchange) == []


def test_allow_failure_with_both_failing_answers_400_2022():
    clock, exchange, session = make()
    response, _ = call(
        session,
        cancel_replace(clock.now, "ALLOW_FAILURE", cancelOrderId=999_999, quantity="49.00000"),
    )
    assert response["status"] == 400
    assert response["error"]["code"] == -2022
    assert response["error"]["data"] == {
        "cancelResult": "FAILURE",
        "newOrderResult": "FAILURE",
        "cancelResponse": UNKNOWN_ORDER,
        "newOrderResponse": NO_BALANCE,
    }
    assert open_ids(exchange) == []


def test_a_filter_failure_is_found_before_the_cancel():
    # "Filters and order count limits are evaluated before cancellation and order placement"
    clock, exchange, session = make()
    placed, _ = call(session, resting_buy(clock.now, "keep"))
    response, _ = call(
        session,
        cancel_replace(
            clock.now, "STOP_ON_FAILURE", cancelOrigClientOrderId="keep", price="21000.001"
        ),
    )
    assert response["status"] == 400
    assert response["error"]["code"] == -1013
    assert open_ids(exchange) == [placed["result"]["orderId"]]


def test_the_new_order_may_reuse_the_canceled_orders_client_id():
    # "cancelNewClientOrderId will replace clientOrderId of the canceled order, freeing it up"
    clock, exchange, session = make()
    call(session, resting_buy(clock.now, "same"))
    response, _ = call(
        session,
        cancel_replace(
            clock.now,
            "STOP_ON_FAILURE",
            cancelOrigClientOrderId="same",
            cancelNewClientOrderId="was-same",
            newClientOrderId="same",
        ),
    )
    assert response["status"] == 200, response
    result = response["result"]
    assert result["cancelResponse"]["clientOrderId"] == "was-same"
    assert result["newOrderResponse"]["clientOrderId"] == "same"
    assert open_ids(exchange) == [result["newOrderResponse"]["orderId"]]


def test_cancel_replace_requires_a_mode_and_an_order_to_cancel():
    clock, _, session = make()
    response, _ = call(session, cancel_replace(clock.now, "SOMETIMES", cancelOrderId=1))
    assert response["status"] == 400
    assert response["error"]["code"] == -1130
    response, _ = call(session, cancel_replace(clock.now, "STOP_ON_FAILURE"))
    assert response["error"] == {
        "code": -1102,
        "msg": "Param 'cancelOrderId' or 'cancelOrigClientOrderId' must be sent, but both "
        "were empty/null!",
    }

"""Binance OCO order lists over the WebSocket API (``web-socket-api.md``: "Place new Order
list - OCO", "Query Order list", "Cancel Order list", "Current open Order lists"): the
documented answer shape, one leg's execution or trigger canceling the other, canceling one
leg canceling the list, and the leg rules (``aboveType`` / ``belowType`` by side).

Books start empty and two accounts trade, so every price here is one a test placed.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from tests.emulator.support import BINANCE_T0 as T0
from tests.emulator.support import DOC_API_KEY, call, hmac_sign
from tests.emulator.support import binance_market as market
from tests.emulator.support import binance_trade as trade

from whalewire.emulator.binance.exchange import BinanceExchange, BinanceSession
from whalewire.emulator.matching import OrderStatus, OrderType, PlaceOrder, Side, TimeInForce

D = Decimal

#: an OCO SELL of 0.5 BTC around a last price of 60,000: take profit at 61,000, else stop
#: out below 59,000 with a limit of 58,900
SELL_OCO: dict[str, Any] = {
    "side": "SELL",
    "quantity": "0.50000",
    "aboveType": "LIMIT_MAKER",
    "abovePrice": "61000.00",
    "aboveClientOrderId": "tp",
    "belowType": "STOP_LOSS_LIMIT",
    "belowPrice": "58900.00",
    "belowStopPrice": "59000.00",
    "belowTimeInForce": "GTC",
    "belowClientOrderId": "sl",
    "listClientOrderId": "my-oco",
}


def send(session: BinanceSession, method: str, **params: Any) -> dict[str, Any]:
    signed = hmac_sign({"symbol": "BTCUSDT", "apiKey": DOC_API_KEY, "timestamp": T0, **params})
    response, _ = call(session, {"id": "x", "method": method, "params": signed})
    return response


def oco_market() -> tuple[BinanceExchange, BinanceSession]:
    _, exchange, session = market()
    trade(exchange, Side.BUY, "0.10000", "60000.00")  # last 60,000
    return exchange, session


def status(exchange: BinanceExchange, client_id: str) -> OrderStatus:
    view = exchange.engine.get_order("doc", "BTCUSDT", client_order_id=client_id)
    if view is None:  # canceled: the client id moved to origClientOrderId
        found = [
            v
            for v in (exchange.engine.get_order("doc", "BTCUSDT", i) for i in range(1, 20))
            if v is not None and v.orig_client_order_id == client_id
        ]
        view = found[0]
    return view.status


def test_oco_answer_has_the_documented_shape_and_holds_the_quantity_once() -> None:
    exchange, session = oco_market()
    btc_locked = exchange.registry.accounts["doc"].balance("BTC").locked
    answer = send(session, "orderList.place.oco", **SELL_OCO)
    assert answer["status"] == 200, answer
    body = answer["result"]
    assert {k: body[k] for k in ("contingencyType", "listStatusType", "listOrderStatus")} == {
        "contingencyType": "OCO",
        "listStatusType": "EXEC_STARTED",
        "listOrderStatus": "EXECUTING",
    }
    assert (body["listClientOrderId"], body["symbol"], body["transactionTime"]) == (
        "my-oco",
        "BTCUSDT",
        T0,
    )
    assert [o["clientOrderId"] for o in body["orders"]] == ["sl", "tp"]  # below, above
    reports = body["orderReports"]
    assert [(r["type"], r["orderListId"]) for r in reports] == [
        ("STOP_LOSS_LIMIT", body["orderListId"]),
        ("LIMIT_MAKER", body["orderListId"]),
    ]
    assert exchange.registry.accounts["doc"].balance("BTC").locked - btc_locked == D("0.5")


def test_the_limit_maker_leg_filling_cancels_the_stop_leg() -> None:
    exchange, session = oco_market()
    list_id = send(session, "orderList.place.oco", **SELL_OCO)["result"]["orderListId"]
    trade(exchange, Side.BUY, "0.10000", "61000.00")  # someone lifts 0.1 at 61,000
    assert status(exchange, "tp") is OrderStatus.PARTIALLY_FILLED
    assert status(exchange, "sl") is OrderStatus.EXPIRED  # as Binance ends an OCO's other
    queried = send(session, "orderList.status", orderListId=list_id)["result"]
    assert (queried["listStatusType"], queried["listOrderStatus"]) == ("ALL_DONE", "ALL_DONE")
    assert send(session, "openOrderLists.status")["result"] == []


def test_the_stop_leg_triggering_cancels_the_limit_maker_and_then_holds_the_funds() -> None:
    exchange, session = oco_market()
    send(session, "orderList.place.oco", **SELL_OCO)
    trade(exchange, Side.SELL, "0.10000", "59000.00")  # the last price falls to the stop
    assert status(exchange, "tp") is OrderStatus.EXPIRED
    view = exchange.engine.get_order("doc", "BTCUSDT", client_order_id="sl")
    assert view is not None and not view.parked and view.price == D("58900.00")
    assert exchange.registry.accounts["doc"].balance("BTC").locked == D("0.5")


def test_canceling_the_list_or_one_leg_cancels_both() -> None:
    exchange, session = oco_market()
    body = send(session, "orderList.place.oco", **SELL_OCO)["result"]
    canceled = send(session, "orderList.cancel", listClientOrderId="my-oco")["result"]
    assert (canceled["listStatusType"], canceled["listOrderStatus"]) == ("ALL_DONE", "ALL_DONE")
    assert [r["status"] for r in canceled["orderReports"]] == ["CANCELED", "CANCELED"]
    assert exchange.registry.accounts["doc"].balance("BTC").locked == 0
    assert send(session, "openOrderLists.status")["result"] == []
    again = send(session, "orderList.cancel", orderListId=body["orderListId"])
    assert again["error"]["code"] == -2011

    second = send(session, "orderList.place.oco", **{**SELL_OCO, "listClientOrderId": "b",
                                                     "aboveClientOrderId": "tp2",
                                                     "belowClientOrderId": "sl2"})  # fmt: skip
    one = second["result"]["orders"][1]["orderId"]
    assert send(session, "order.cancel", orderId=one)["status"] == 200
    assert status(exchange, "sl2") is OrderStatus.CANCELED


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"aboveType": "STOP_LOSS"}, -1116),  # a SELL's above leg takes profit
        ({"belowType": "LIMIT_MAKER"}, -1116),
        ({"belowType": None}, -1102),
        ({"quantity": None}, -1102),
        ({"abovePrice": "59000.00"}, -2010),  # the LIMIT_MAKER would take
        ({"belowStopPrice": "60500.00", "belowPrice": "60400.00"}, -2010),  # triggers now
    ],
)
def test_invalid_oco_is_refused_and_places_nothing(change: dict[str, Any], code: int) -> None:
    exchange, session = oco_market()
    exchange.publish(exchange.engine.cancel_all("maker", "BTCUSDT"))
    params = {k: v for k, v in {**SELL_OCO, **change}.items() if v is not None}
    if code == -2010:  # something for the LIMIT_MAKER to take
        trade(exchange, Side.BUY, "0.10000", "60000.00")
        exchange.publish(exchange.engine.place(PlaceOrder(
            "maker", "BTCUSDT", Side.BUY, OrderType.LIMIT, D("1"), None, D("59500.00"),
            TimeInForce.GTC)))  # fmt: skip
    answer = send(session, "orderList.place.oco", **params)
    assert answer["error"]["code"] == code, answer
    assert exchange.engine.open_orders("doc") == []
    assert exchange.registry.accounts["doc"].balance("BTC").locked == 0


def test_the_user_stream_sends_list_status_after_the_orders_reports() -> None:
    exchange, session = oco_market()
    signed = hmac_sign({"apiKey": DOC_API_KEY, "timestamp": T0})
    subscribed, _ = call(session, {"id": "s", "method": "userDataStream.subscribe.signature",
                                   "params": signed})  # fmt: skip
    assert subscribed["status"] == 200, subscribed
    signed = hmac_sign({"symbol": "BTCUSDT", "apiKey": DOC_API_KEY, "timestamp": T0, **SELL_OCO})
    _, pushed = call(session, {"id": "p", "method": "orderList.place.oco", "params": signed})
    kinds = [p["event"]["e"] for p in pushed]
    assert kinds[:3] == ["executionReport", "executionReport", "listStatus"]
    status = pushed[2]["event"]
    assert (status["c"], status["l"], status["L"], status["C"]) == (
        "OCO",
        "EXEC_STARTED",
        "EXECUTING",
        "my-oco",
    )
    assert [o["c"] for o in status["O"]] == ["sl", "tp"]
    assert {p["event"]["g"] for p in pushed[:2]} == {status["g"]}
    # the stop triggers: the LIMIT_MAKER expires and the list is done
    trade(exchange, Side.SELL, "0.10000", "59000.00")
    done = [json.loads(t)["event"] for t in session.data_to_send()]
    expired = [e for e in done if e["e"] == "executionReport" and e["x"] == "EXPIRED"]
    assert [e["c"] for e in expired] == ["tp"]
    last = [e for e in done if e["e"] == "listStatus"][-1]
    assert (last["l"], last["L"]) == ("ALL_DONE", "ALL_DONE")


def test_iceberg_quantity_is_refused_not_ignored() -> None:
    # exchangeInfo lists "icebergAllowed": false; a hidden size is not modelled
    exchange, session = oco_market()
    answer = send(session, "orderList.place.oco", **SELL_OCO, aboveIcebergQty="0.10000")
    assert answer["error"] == {
        "code": -1106,
        "msg": "Parameter 'aboveIcebergQty' sent when not required.",
    }
    assert exchange.engine.open_orders("doc") == []


def test_a_refused_list_leaves_no_order_behind() -> None:
    # the LIMIT_MAKER leg goes in first; the stop leg then would trigger at once
    _, session = oco_market()
    bad = {**SELL_OCO, "belowStopPrice": "60500.00", "belowPrice": "60400.00"}
    assert send(session, "orderList.place.oco", **bad)["error"]["code"] == -2010
    history = send(session, "allOrders")["result"]
    assert [o["clientOrderId"] for o in history if o["orderListId"] != -1] == []

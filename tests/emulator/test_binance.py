"""The Binance WebSocket API handler against Binance's own documentation.

Requests marked "doc example" are copied verbatim from binance-spot-api-docs
``web-socket-api.md`` (Last Updated 2025-04-25); their HMAC signatures verify with the
doc's example secret (section "SIGNED request example (HMAC)"), so the emulator registers
that key and runs its clock at each request's timestamp. Expected shapes are the doc's
response examples; error codes and messages come from ``errors.md``.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.emulator.support import (
    DOC_API_KEY,
    Clock,
    call,
    doc_order,
    ed25519_sign,
    hmac_sign,
    make,
    resting_buy,
)

from whalewire.emulator.binance.exchange import BinanceConfig, BinanceExchange, BinanceSession

RATE_LIMIT_KEYS = {"rateLimitType", "interval", "intervalNum", "limit", "count"}


def assert_rate_limits(response: dict[str, Any], *types: tuple[str, str, int]) -> None:
    limits = response["rateLimits"]
    assert [(x["rateLimitType"], x["interval"], x["intervalNum"]) for x in limits] == list(types)
    for entry in limits:
        assert set(entry) == RATE_LIMIT_KEYS
        assert all(isinstance(entry[k], int) for k in ("intervalNum", "limit", "count"))


WEIGHT_ONLY = ("REQUEST_WEIGHT", "MINUTE", 1)
WITH_ORDERS = (("ORDERS", "SECOND", 10), ("ORDERS", "DAY", 1), WEIGHT_ONLY)


# --------------------------------------------------------------- documented examples


def test_doc_hmac_example_order_is_accepted_with_the_ack_shape():
    clock, _, session = make(now=1_645_423_376_532 + 50)
    # doc example: "Step 3. Add signature to request params"
    request = {
        "id": "4885f793-e5ad-4c3b-8f6c-55d891472b71",
        "method": "order.place",
        "params": {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.01000000",
            "price": "52000.00",
            "newOrderRespType": "ACK",
            "recvWindow": 100,
            "timestamp": 1645423376532,
            "apiKey": DOC_API_KEY,
            "signature": "cc15477742bd704c29492d96c7ead9414dfd8e0ec4a00f947bb5bb454ddbd08a",
        },
    }
    response, _ = call(session, request)
    assert response["id"] == "4885f793-e5ad-4c3b-8f6c-55d891472b71"
    assert response["status"] == 200
    result = response["result"]
    assert set(result) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert result["orderListId"] == -1
    assert isinstance(result["orderId"], int) and isinstance(result["clientOrderId"], str)
    assert result["transactTime"] == clock.now
    assert_rate_limits(response, *WITH_ORDERS)


DOC_FULL_KEYS = {
    "symbol", "orderId", "orderListId", "clientOrderId", "transactTime", "price", "origQty",
    "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty", "status", "timeInForce", "type",
    "side", "workingTime", "selfTradePreventionMode", "fills",
}  # fmt: skip
DOC_STATUS_KEYS = {
    "symbol", "orderId", "orderListId", "clientOrderId", "price", "origQty", "executedQty",
    "cummulativeQuoteQty", "status", "timeInForce", "type", "side", "stopPrice", "icebergQty",
    "time", "updateTime", "isWorking", "workingTime", "origQuoteOrderQty",
    "selfTradePreventionMode",
}  # fmt: skip
DOC_CANCEL_KEYS = {
    "symbol", "origClientOrderId", "orderId", "orderListId", "clientOrderId", "transactTime",
    "price", "origQty", "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty", "status",
    "timeInForce", "type", "side", "selfTradePreventionMode",
}  # fmt: skip


def test_doc_order_place_then_order_status_give_the_documented_shapes():
    clock, exchange, session = make(now=1_660_801_715_431 + 200)
    exchange.engine.next_order_id = 12569099453  # the doc's orderId
    # doc example: "Place new order (TRADE)"; newOrderRespType defaults to FULL for LIMIT
    place = {
        "id": "56374a46-3061-486b-a311-99ee972eb648",
        "method": "order.place",
        "params": {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "price": "23416.10000000",
            "quantity": "0.00847000",
            "apiKey": DOC_API_KEY,
            "signature": "15af09e41c36f3cc61378c2fbe2c33719a03dd5eba8d0f9206fbda44de717c88",
            "timestamp": 1660801715431,
        },
    }
    response, _ = call(session, place)
    assert response["status"] == 200, response
    result = response["result"]
    assert set(result) == DOC_FULL_KEYS
    assert result["orderId"] == 12569099453
    # the synthetic book bids near 60000, far above the limit: the SELL fills at once
    assert (result["status"], result["executedQty"], result["origQty"]) == (
        "FILLED", "0.00847000", "0.00847000")  # fmt: skip
    assert result["fills"]
    for fill in result["fills"]:
        assert set(fill) == {"price", "qty", "commission", "commissionAsset", "tradeId"}
        assert fill["commissionAsset"] == "USDT" and isinstance(fill["tradeId"], int)
        assert Decimal(fill["price"]) >= Decimal("23416.1")

    clock.now = 1_660_801_720_951 + 5
    # doc example: "Query order (USER_DATA)"
    status = {
        "id": "aa62318a-5a97-4f3b-bdc7-640bbe33b291",
        "method": "order.status",
        "params": {
            "symbol": "BTCUSDT",
            "orderId": 12569099453,
            "apiKey": DOC_API_KEY,
            "signature": "2c3aab5a078ee4ea465ecd95523b77289f61476c2f238ec10c55ea6cb11a6f35",
            "timestamp": 1660801720951,
        },
    }
    response, _ = call(session, status)
    assert response["status"] == 200, response
    assert set(response["result"]) == DOC_STATUS_KEYS
    assert response["result"]["status"] == "FILLED"
    assert response["result"]["isWorking"] is False
    assert_rate_limits(response, WEIGHT_ONLY)


def test_doc_order_cancel_by_client_id_gives_the_documented_shape():
    clock, _, session = make(now=1_660_801_715_000)
    placed, _ = call(session, resting_buy(clock.now, "4d96324ff9d44481926157"))
    assert placed["result"]["status"] == "NEW"
    clock.now = 1_660_801_715_830 + 5
    # doc example: "Cancel order (TRADE)"
    cancel = {
        "id": "5633b6a2-90a9-4192-83e7-925c90b6a2fd",
        "method": "order.cancel",
        "params": {
            "symbol": "BTCUSDT",
            "origClientOrderId": "4d96324ff9d44481926157",
            "apiKey": DOC_API_KEY,
            "signature": "33d5b721f278ae17a52f004a82a6f68a70c68e7dd6776ed0be77a455ab855282",
            "timestamp": 1660801715830,
        },
    }
    response, _ = call(session, cancel)
    assert response["status"] == 200, response
    result = response["result"]
    assert set(result) == DOC_CANCEL_KEYS
    assert result["status"] == "CANCELED"
    assert result["origClientOrderId"] == "4d96324ff9d44481926157"
    assert result["clientOrderId"] != "4d96324ff9d44481926157"
    # canceling again: errors.md -2011 "Unknown order sent."
    again, _ = call(session, cancel)
    assert again["error"] == {"code": -2011, "msg": "Unknown order sent."}


def test_doc_open_orders_status_and_cancel_all():
    clock, _, session = make(now=1_660_805_557_000)
    call(session, resting_buy(clock.now, "first"))
    call(session, resting_buy(clock.now + 1, "second"))
    clock.now = 1_660_805_557_200 + 5
    # doc example: "Cancel open orders (TRADE)"
    cancel_all = {
        "id": "778f938f-9041-4b88-9914-efbf64eeacc8",
        "method": "openOrders.cancelAll",
        "params": {
            "symbol": "BTCUSDT",
            "apiKey": DOC_API_KEY,
            "signature": "773f01b6e3c2c9e0c1d217bc043ce383c1ddd6f0e25f8d6070f2b66a6ceaf3a5",
            "timestamp": 1660805557200,
        },
    }
    # place them again later for the openOrders.status example below
    response, _ = call(session, cancel_all)
    assert response["status"] == 200, response
    assert [r["origClientOrderId"] for r in response["result"]] == ["first", "second"]
    assert all(set(r) == DOC_CANCEL_KEYS for r in response["result"])

    clock.now = 1_660_813_156_000
    call(session, resting_buy(clock.now, "third"))
    clock.now = 1_660_813_156_812 + 5
    # doc example: "Current open orders (USER_DATA)"
    open_orders = {
        "id": "55f07876-4f6f-4c47-87dc-43e5fff3f2e7",
        "method": "openOrders.status",
        "params": {
            "symbol": "BTCUSDT",
            "apiKey": DOC_API_KEY,
            "signature": "d632b3fdb8a81dd44f82c7c901833309dd714fe508772a89b0a35b0ee0c48b89",
            "timestamp": 1660813156812,
        },
    }
    response, _ = call(session, open_orders)
    assert response["status"] == 200, response
    (entry,) = response["result"]
    assert set(entry) == DOC_STATUS_KEYS
    assert (entry["clientOrderId"], entry["status"], entry["isWorking"]) == ("third", "NEW", True)
    assert response["rateLimits"][0]["count"] >= 6  # openOrders.status with symbol weighs 6


def test_doc_account_status_lists_balances_with_the_documented_fields():
    _, _, session = make(now=1_660_801_839_480 + 5)
    # doc example: "Account information (USER_DATA)"
    request = {
        "id": "605a6d20-6588-4cb9-afa0-b0ab087507ba",
        "method": "account.status",
        "params": {
            "apiKey": DOC_API_KEY,
            "signature": "83303b4a136ac1371795f465808367242685a9e3a42b22edb4d977d0696eb45c",
            "timestamp": 1660801839480,
        },
    }
    response, _ = call(session, request)
    assert response["status"] == 200, response
    result = response["result"]
    assert set(result) == {
        "makerCommission", "takerCommission", "buyerCommission", "sellerCommission", "canTrade",
        "canWithdraw", "canDeposit", "commissionRates", "brokered", "requireSelfTradePrevention",
        "preventSor", "updateTime", "accountType", "balances", "permissions", "uid",
    }  # fmt: skip
    assert set(result["commissionRates"]) == {"maker", "taker", "buyer", "seller"}
    balances = {b["asset"]: b for b in result["balances"]}
    assert balances["BTC"] == {"asset": "BTC", "free": "10.00000000", "locked": "0.00000000"}
    assert balances["USDT"]["free"] == "1000000.00000000"


def test_doc_ping_time_and_exchange_info():
    clock, _, session = make()
    # doc examples: "Test connectivity", "Check server time", "Exchange information"
    ping, _ = call(session, {"id": "922bcc6e-9de8-440d-9e84-7c80933a8d0d", "method": "ping"})
    assert (ping["status"], ping["result"]) == (200, {})
    now, _ = call(session, {"id": "187d3cb2-942d-484c-8271-4e2141bbadb1", "method": "time"})
    assert now["result"] == {"serverTime": clock.now}
    info, _ = call(
        session,
        {
            "id": "5494febb-d167-46a2-996d-70533eb4d976",
            "method": "exchangeInfo",
            "params": {"symbols": ["BNBBTC"]},
        },
    )
    result = info["result"]
    assert set(result) >= {"timezone", "serverTime", "rateLimits", "exchangeFilters", "symbols"}
    assert [(r["rateLimitType"], r["interval"], r["intervalNum"], r["limit"])
            for r in result["rateLimits"]] == [
        ("REQUEST_WEIGHT", "MINUTE", 1, 6000),
        ("ORDERS", "SECOND", 10, 100),
        ("ORDERS", "DAY", 1, 200000),
        ("CONNECTIONS", "MINUTE", 5, 300),
    ]  # fmt: skip
    (symbol,) = result["symbols"]
    assert (symbol["symbol"], symbol["baseAsset"], symbol["quoteAsset"]) == ("BNBBTC", "BNB", "BTC")
    filters = {f["filterType"]: f for f in symbol["filters"]}
    assert set(filters["PRICE_FILTER"]) == {"filterType", "minPrice", "maxPrice", "tickSize"}
    assert set(filters["LOT_SIZE"]) == {"filterType", "minQty", "maxQty", "stepSize"}
    assert "minNotional" in filters["NOTIONAL"]
    # exchangeInfo weighs 20, ping and time 1 each, connecting 2
    assert info["rateLimits"][0]["count"] == 2 + 1 + 1 + 20


def test_doc_session_logon_example_is_refused_because_it_is_an_hmac_key():
    _, _, session = make(now=1_649_729_878_532 + 5)
    # doc example "Log in with API key (SIGNED)": its signature is HMAC (it verifies with
    # the doc secret), but "Only Ed25519 keys are supported for this feature."
    request = {
        "id": "c174a2b1-3f51-4580-b200-8528bd237cb7",
        "method": "session.logon",
        "params": {
            "apiKey": DOC_API_KEY,
            "signature": "1cf54395b336b0a9727ef27d5d98987962bc47aca6e13fe978612d0adee066ed",
            "timestamp": 1649729878532,
        },
    }
    response, _ = call(session, request)
    assert (response["status"], response["error"]["code"]) == (401, -2015)


SESSION_KEYS = {
    "apiKey", "authorizedSince", "connectedSince", "returnRateLimits", "serverTime",
    "userDataStream",
}  # fmt: skip
EXECUTION_REPORT_KEYS = {
    "e",
    "E",
    "s",
    "c",
    "S",
    "o",
    "f",
    "q",
    "p",
    "P",
    "F",
    "g",
    "C",
    "x",
    "X",
    "r",
    "i",
    "l",
    "z",
    "L",
    "n",
    "N",
    "T",
    "t",
    "I",
    "w",
    "m",
    "M",
    "O",
    "Z",
    "Y",
    "Q",
    "W",
    "V",
}  # fmt: skip  user-data-stream.md "Order Update", without the conditional d, D, j, J


def logon(clock: Clock, exchange: BinanceExchange, session: BinanceSession) -> str:
    private = Ed25519PrivateKey.generate()
    key = exchange.registry.add_ed25519_key("doc", private.public_key()).api_key
    params = ed25519_sign({"apiKey": key, "timestamp": clock.now}, private)
    response, _ = call(session, {"id": "logon", "method": "session.logon", "params": params})
    assert response["status"] == 200, response
    assert set(response["result"]) == SESSION_KEYS
    return key


def test_ed25519_logon_lets_requests_omit_api_key_and_signature():
    clock, exchange, session = make()
    key = logon(clock, exchange, session)
    status, _ = call(session, {"id": 1, "method": "session.status"})
    assert (status["result"]["apiKey"], status["result"]["authorizedSince"]) == (key, clock.now)
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001",
              "timestamp": clock.now}  # fmt: skip
    placed, _ = call(session, {"id": 2, "method": "order.place", "params": params})
    assert placed["result"]["status"] == "FILLED"
    # SIGNED requests still need a timestamp after logon
    no_ts, _ = call(session, {"id": 3, "method": "account.status"})
    assert no_ts["error"]["code"] == -1102
    out, _ = call(session, {"id": 4, "method": "session.logout"})
    assert (out["result"]["apiKey"], out["result"]["authorizedSince"]) == (None, None)
    after, _ = call(session, {"id": 5, "method": "order.place", "params": params})
    assert after["error"] == {
        "code": -1102,
        "msg": "Mandatory parameter 'apiKey' was not sent, was empty/null, or malformed.",
    }


def test_user_data_stream_pushes_execution_reports_in_the_subscription_envelope():
    clock, exchange, session = make()
    logon(clock, exchange, session)
    sub, _ = call(session, {"id": "d3df8a21-98ea-4fe0-8f4e-0fcea5d418b7",
                            "method": "userDataStream.subscribe"})  # fmt: skip
    assert sub["result"] == {"subscriptionId": 0}
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001",
              "timestamp": clock.now}  # fmt: skip
    placed, events = call(session, {"id": 2, "method": "order.place", "params": params})
    reports = [e["event"] for e in events if e["event"]["e"] == "executionReport"]
    assert all(e["subscriptionId"] == 0 for e in events)
    assert reports[0]["x"] == "NEW"
    assert "TRADE" in [r["x"] for r in reports]
    assert all(set(r) == EXECUTION_REPORT_KEYS for r in reports)
    assert reports[-1]["X"] == "FILLED" and reports[-1]["i"] == placed["result"]["orderId"]
    positions = [e["event"] for e in events if e["event"]["e"] == "outboundAccountPosition"]
    assert positions and {b["a"] for b in positions[0]["B"]} == {"BTC", "USDT"}


def test_maker_fill_is_pushed_to_the_other_connection():
    clock, exchange, maker_session = make()
    logon(clock, exchange, maker_session)
    call(maker_session, {"id": 1, "method": "userDataStream.subscribe"})
    woken: list[BinanceSession] = []
    exchange.on_push = woken.append
    call(maker_session, resting_buy(clock.now, "maker"))
    # another account sells into it from another connection
    exchange.registry.open_account("other", {"BTC": Decimal(1)})
    other_key = exchange.registry.add_hmac_key("other")
    taker = exchange.connect()
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
              "price": "20000.00", "quantity": "0.01000", "apiKey": other_key.api_key,
              "timestamp": clock.now}  # fmt: skip
    # take the synthetic bids (near 60000) away so the SELL meets the maker's bid
    exchange.engine.cancel_all("house", "BTCUSDT")
    response, _ = call(taker, {"id": 9, "method": "order.place",
                               "params": hmac_sign(params, other_key.secret)})  # fmt: skip
    assert response["result"]["status"] == "FILLED"
    assert woken == [maker_session]
    pushed = [json.loads(t)["event"] for t in maker_session.data_to_send()]
    fills = [e for e in pushed if e["e"] == "executionReport" and e["x"] == "TRADE"]
    assert fills and fills[0]["m"] is True and fills[0]["c"] == "maker"


# ------------------------------------------------------------------- security


def test_bad_signature_is_refused_with_1022():
    _, _, session = make()
    request = doc_order(1_660_801_715_431, side="BUY", type="MARKET", quantity="0.001")
    sig = request["params"]["signature"]
    request["params"]["signature"] = sig[:-1] + ("1" if sig[-1] == "0" else "0")
    response, _ = call(session, request)
    # errors.md -1022 INVALID_SIGNATURE
    assert (response["status"], response["error"]) == (
        400, {"code": -1022, "msg": "Signature for this request is not valid."})  # fmt: skip


def test_hmac_signature_is_case_insensitive():
    _, _, session = make()
    request = doc_order(1_660_801_715_431, side="BUY", type="MARKET", quantity="0.001")
    request["params"]["signature"] = request["params"]["signature"].upper()
    response, _ = call(session, request)
    assert response["status"] == 200, response


def test_unknown_api_key_is_refused_with_2015():
    _, _, session = make()
    params = hmac_sign({"apiKey": "x" * 64, "timestamp": 1_660_801_715_431})
    response, _ = call(session, {"id": 1, "method": "account.status", "params": params})
    # errors.md -2015 REJECTED_MBX_KEY
    assert response["error"] == {
        "code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}  # fmt: skip


AHEAD = "Timestamp for this request was 1000ms ahead of the server's time."
OUTSIDE = "Timestamp for this request is outside of the recvWindow."


@pytest.mark.parametrize(
    ("offset", "recv_window", "error"),
    [
        # web-socket-api.md "Timing security":
        # timestamp < serverTime + 1000 && serverTime - timestamp <= recvWindow
        (999, None, None),
        (1000, None, AHEAD),
        (-5000, None, None),  # recvWindow defaults to 5000
        (-5001, None, OUTSIDE),
        (-60000, 60000, None),
        (-60001, 60000, OUTSIDE),
        (1000, 60000, AHEAD),
    ],
)
def test_timestamp_is_checked_in_two_steps(offset, recv_window, error):
    clock, _, session = make()
    params: dict[str, Any] = {"apiKey": DOC_API_KEY, "timestamp": clock.now + offset}
    if recv_window is not None:
        params["recvWindow"] = recv_window
    response, _ = call(session, {"id": 1, "method": "account.status", "params": hmac_sign(params)})
    if error is None:
        assert response["status"] == 200, response
    else:
        assert (response["status"], response["error"]) == (400, {"code": -1021, "msg": error})


def test_recv_window_over_60000_is_refused():
    clock, _, session = make()
    params = hmac_sign({"apiKey": DOC_API_KEY, "timestamp": clock.now, "recvWindow": 60001})
    response, _ = call(session, {"id": 1, "method": "account.status", "params": params})
    assert response["error"]["code"] == -1102


# ---------------------------------------------------------------- order rules


def test_duplicate_client_order_id_among_open_orders_is_refused():
    clock, _, session = make()
    first, _ = call(session, resting_buy(clock.now, "dup"))
    assert first["status"] == 200
    second, _ = call(session, resting_buy(clock.now + 1, "dup"))
    # errors.md: -2010 with "Duplicate order sent."
    assert second["error"] == {"code": -2010, "msg": "Duplicate order sent."}


def test_insufficient_balance_matches_the_documented_failed_response():
    clock, _, session = make()
    response, _ = call(session, doc_order(clock.now, side="BUY", type="LIMIT", timeInForce="GTC",
                                          price="50000.00", quantity="100.00000"))  # fmt: skip
    # web-socket-api.md "Response format", example of failed response
    assert response["status"] == 400
    assert response["error"] == {
        "code": -2010, "msg": "Account has insufficient balance for requested action."}  # fmt: skip
    assert_rate_limits(response, *WITH_ORDERS)


@pytest.mark.parametrize(
    ("extra", "failure"),
    [
        ({"price": "50000.001", "quantity": "0.01000"}, "Filter failure: PRICE_FILTER"),
        ({"price": "50000.00", "quantity": "0.000015"}, "Filter failure: LOT_SIZE"),
        ({"price": "100.00", "quantity": "0.01000"}, "Filter failure: NOTIONAL"),
    ],
)
def test_symbol_filters_are_checked_with_the_documented_messages(extra, failure):
    clock, _, session = make()
    response, _ = call(session, doc_order(clock.now, side="BUY", type="LIMIT", timeInForce="GTC",
                                          **extra))  # fmt: skip
    assert response["error"] == {"code": -1013, "msg": failure}
    assert_rate_limits(response, *WITH_ORDERS)


def test_ioc_fok_and_market_quote_quantity_through_the_api():
    clock, _, session = make()
    fok, _ = call(session, doc_order(clock.now, side="BUY", type="LIMIT", timeInForce="FOK",
                                     price="59000.00", quantity="0.01000"))  # fmt: skip
    # below every synthetic ask: nothing fills, the order expires (status 200, not an error)
    assert (fok["status"], fok["result"]["status"], fok["result"]["fills"]) == (200, "EXPIRED", [])
    quote, _ = call(session, doc_order(clock.now, side="BUY", type="MARKET",
                                       quoteOrderQty="1000"))  # fmt: skip
    result = quote["result"]
    assert result["status"] == "FILLED"
    assert Decimal(result["cummulativeQuoteQty"]) <= 1000
    assert result["origQuoteOrderQty"] == "1000.00000000"
    missing, _ = call(session, doc_order(clock.now, side="BUY", type="MARKET"))
    assert missing["error"] == {
        "code": -1102,
        "msg": "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
    }


# ---------------------------------------------------------------- rate limits


def test_request_weight_over_the_limit_gives_429_then_418_ban():
    from whalewire.emulator.limits import BanPolicy, Interval, RateLimit

    config = BinanceConfig(
        request_weight=RateLimit("REQUEST_WEIGHT", Interval.MINUTE, 1, 10),
        ban=BanPolicy(rejections_before_ban=2, first_ms=120_000),
        book_levels=0,
    )
    minute = 1_660_801_680_000  # a minute boundary
    clock, _, session = make(now=minute + 30_000, config=config)  # connecting costs 2
    statuses = [call(session, {"id": i, "method": "ping"})[0] for i in range(11)]
    assert [r["status"] for r in statuses[:8]] == [200] * 8
    limited = statuses[8]
    assert limited["status"] == 429
    assert limited["error"]["code"] == -1003
    assert limited["error"]["msg"] == (
        "Too much request weight used; current limit is 10 request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API."
    )
    # retryAfter: when the current minute's window resets
    assert limited["error"]["data"] == {"serverTime": clock.now, "retryAfter": minute + 60_000}
    assert statuses[9]["status"] == 429
    banned = statuses[10]
    assert banned["status"] == 418
    assert banned["error"]["data"]["retryAfter"] == clock.now + 120_000
    assert banned["error"]["msg"] == (
        f"Way too much request weight used; IP banned until {clock.now + 120_000}. "
        "Please use WebSocket Streams for live updates to avoid bans.")  # fmt: skip
    assert session.close_requested
    clock.now += 60_000
    assert call(session, {"id": 1, "method": "ping"})[0]["status"] == 418
    clock.now += 60_000
    assert call(session, {"id": 1, "method": "ping"})[0]["status"] == 200


def test_order_count_over_the_limit_gives_429_with_1015():
    from whalewire.emulator.limits import Interval, RateLimit

    config = BinanceConfig(orders=(RateLimit("ORDERS", Interval.SECOND, 10, 2),))
    clock, _, session = make(now=1_660_801_710_000, config=config)
    for i in range(2):
        assert call(session, resting_buy(clock.now + i, f"o{i}"))[0]["status"] == 200
    response, _ = call(session, resting_buy(clock.now + 2, "o2"))
    assert response["status"] == 429
    assert response["error"]["code"] == -1015
    assert (
        response["error"]["msg"] == "Too many new orders; current limit is 2 orders per 10 SECOND."
    )
    assert response["error"]["data"]["retryAfter"] == 1_660_801_720_000
    clock.now = 1_660_801_720_000
    assert call(session, resting_buy(clock.now, "o3"))[0]["status"] == 200


def test_malformed_json_and_unknown_method_are_answered_not_raised():
    _, _, session = make()
    (raw,) = session.handle("{not json")
    assert json.loads(raw)["error"]["code"] == -1135
    response, _ = call(session, {"id": 7, "method": "no.such.method"})
    assert (response["id"], response["status"]) == (7, 400)
    response, _ = call(session, {"id": 8, "method": "v3/ping"})
    assert response["status"] == 200
    response, _ = call(session, {"id": 9, "method": "time", "params": {"returnRateLimits": False}})
    assert "rateLimits" not in response


def test_rsa_signed_request_verifies_and_rsa_cannot_log_on():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    clock, exchange, session = make()
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = exchange.registry.add_rsa_key("doc", private.public_key()).api_key
    # web-socket-api.md "SIGNED request example (RSA)": RSASSA-PKCS1-v1_5, SHA-256, base64
    params: dict[str, Any] = {"apiKey": key, "timestamp": clock.now}
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items())).encode()
    signature = private.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    params["signature"] = base64.b64encode(signature).decode()
    response, _ = call(session, {"id": 1, "method": "account.status", "params": params})
    assert response["status"] == 200, response
    logon, _ = call(session, {"id": 2, "method": "session.logon", "params": params})
    assert (logon["status"], logon["error"]["code"]) == (401, -2015)
    params["signature"] = base64.b64encode(signature[:-1] + bytes([signature[-1] ^ 1])).decode()
    forged, _ = call(session, {"id": 3, "method": "account.status", "params": params})
    assert forged["error"]["code"] == -1022


def test_revoking_the_logged_on_key_revokes_the_session_with_the_documented_notice():
    clock, exchange, session = make()
    key = logon(clock, exchange, session)
    exchange.registry.revoke(key)
    params = {"timestamp": clock.now}
    response, _ = call(session, {"id": 7, "method": "account.status", "params": params})
    # web-socket-api.md "Regarding API key revocation": id null, status 401, -2015
    assert (response["id"], response["status"], response["error"]) == (
        None,
        401,
        {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
    )
    status, _ = call(session, {"id": 8, "method": "session.status"})
    assert status["result"]["apiKey"] is None

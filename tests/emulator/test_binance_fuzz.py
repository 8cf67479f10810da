"""Whatever arrives, the handler answers with a well-formed envelope and never raises.

Arbitrary text and arbitrary JSON params for every method (hypothesis): the answer is
JSON with an integer ``status`` and either ``result`` or ``error`` {``code``, ``msg``}
(``web-socket-api.md``, "Response format").
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.emulator.support import DOC_API_KEY, DOC_SECRET, make

from whalewire.emulator.binance.exchange import WEIGHTS, BinanceConfig
from whalewire.venues.signing import binance_hmac_signature, binance_ws_payload

#: a few levels a side are enough to fill and to rest orders; building 20 per example is slow
SMALL_BOOK = BinanceConfig(book_levels=3)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "BTCUSDT",
            "BUY",
            "SELL",
            "LIMIT",
            "MARKET",
            "GTC",
            "IOC",
            "FOK",
            "0.001",
            "60000.00",
            "ACK",
            "FULL",
            "1e5",
            "-1",
            "",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
param_names = st.sampled_from([
    "symbol", "symbols", "side", "type", "timeInForce", "price", "quantity", "quoteOrderQty",
    "newClientOrderId", "newOrderRespType", "orderId", "origClientOrderId", "apiKey",
    "signature", "timestamp", "recvWindow", "returnRateLimits", "omitZeroBalances", "limit",
    "subscriptionId",
])  # fmt: skip


def check(raw: str) -> None:
    response = json.loads(raw)
    assert isinstance(response["status"], int)
    if response["status"] == 200:
        assert "result" in response
    else:
        assert set(response["error"]) >= {"code", "msg"}
        assert isinstance(response["error"]["code"], int)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([*WEIGHTS, "nope", None]),
    st.dictionaries(param_names, json_values, max_size=8),
    st.one_of(st.none(), st.integers(), st.text(max_size=8)),
    st.booleans(),
    st.none() | st.text(max_size=70),
)
def test_any_params_for_any_method_get_an_envelope(method, params, req_id, signed, forged):
    clock, _, session = make(config=SMALL_BOOK)
    if signed:
        # get past authentication so the method's own validation sees the params
        # (null, arrays and objects have no agreed spelling in the payload: dropped)
        params = {k: v for k, v in params.items() if not isinstance(v, list | dict | None)}
        params.update({"apiKey": DOC_API_KEY, "timestamp": clock.now})
        params.pop("signature", None)
        params["signature"] = binance_hmac_signature(binance_ws_payload(params), DOC_SECRET)
        if forged is not None:
            params["signature"] = forged
    request = {"id": req_id, "method": method, "params": params}
    (raw, *events) = session.handle(json.dumps(request))
    check(raw)
    for event in events:
        assert "event" in json.loads(event)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
def test_any_text_gets_an_envelope(text):
    _, _, session = make(config=SMALL_BOOK)
    (raw, *_) = session.handle(text)
    check(raw)


amounts = st.one_of(
    st.decimals(min_value=0, max_value=200_000, places=5, allow_nan=False).map(str),
    st.sampled_from(["0.001", "0.00001", "60000.00", "59990.01", "1e3", "-1", "0", "1.123456789"]),
    st.text(max_size=6),
    st.integers(0, 100_000),
)
order_params = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(["BTCUSDT", "ETHBTC", "XXX"]),
        "side": st.sampled_from(["BUY", "SELL", "buy"]),
        "type": st.sampled_from(["LIMIT", "MARKET", "STOP_LOSS"]),
    },
    optional={
        "timeInForce": st.sampled_from(["GTC", "IOC", "FOK", "GTD"]),
        "price": amounts,
        "quantity": amounts,
        "quoteOrderQty": amounts,
        "newClientOrderId": st.text(max_size=4),
        "newOrderRespType": st.sampled_from(["ACK", "RESULT", "FULL", "X"]),
    },
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(order_params, min_size=1, max_size=6))
def test_random_orders_get_envelopes_and_never_overdraw(orders):
    clock, exchange, session = make(config=SMALL_BOOK)
    for order in orders:
        params = {**order, "apiKey": DOC_API_KEY, "timestamp": clock.now}
        params["signature"] = binance_hmac_signature(binance_ws_payload(params), DOC_SECRET)
        request = {"id": 1, "method": "order.place", "params": params}
        (raw, *_) = session.handle(json.dumps(request))
        check(raw)
        for account in exchange.registry.accounts.values():
            for bal in account.balances.values():
                assert bal.free >= 0 and bal.locked >= 0

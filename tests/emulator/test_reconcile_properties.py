"""Fees and balances reconcile on every venue, to the last unit (issue 19, "Deliver").

Hypothesis draws random order sequences (limit and market, both sides, post-only, stops,
cancels) against each venue's house book, through the venue's own API; then the fills
the venue reports (Binance ``myTrades``, Coinbase ``GET /fills``, Kraken REST
``TradesHistory``) are summed and must equal the account's balance changes exactly:
base moves by the bought minus the sold quantity (less a base commission), quote by the
sold minus the bought notional, less every quote fee. Nothing is rounded in the check.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.emulator.support import (
    DOC_API_KEY,
    KRAKEN_TOKEN,
    call,
    coinbase_make,
    coinbase_request,
    hmac_sign,
    kraken_call,
    kraken_make,
    kraken_order,
    kraken_rest_call,
    make,
)

from whalewire.emulator.kraken.exchange import KrakenExchange

D = Decimal
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))

#: (side, kind, offset from mid in ticks, size in lots, flag) where flag is one of
#: post_only / stop / cancel-afterwards / plain, and on Binance also a trailing stop or an
#: OCO list (the other venues place those steps plain)
STEP = st.tuples(
    st.sampled_from(["buy", "sell"]),
    st.sampled_from(["limit", "market"]),
    st.integers(-15, 15),
    st.integers(1, 40),
    st.sampled_from(["plain", "plain", "post", "stop", "cancel", "trail", "oco"]),
)
STEPS = st.lists(STEP, min_size=1, max_size=12)


def _totals(balances: dict[str, Any]) -> dict[str, Decimal]:
    return {asset: D(value) for asset, value in balances.items()}


# ----------------------------------------------------------------- Binance


def _binance_balances(session: Any, ts: int) -> dict[str, Decimal]:
    params = hmac_sign({"apiKey": DOC_API_KEY, "timestamp": ts})
    response, _ = call(session, {"id": "a", "method": "account.status", "params": params})
    return {b["asset"]: D(b["free"]) + D(b["locked"]) for b in response["result"]["balances"]}


@SETTINGS
@given(STEPS)
def test_binance_fills_reconcile_with_balances(steps: list[tuple[str, str, int, int, str]]) -> None:
    clock, exchange, session = make()
    ts = clock.now
    before = _binance_balances(session, ts)
    for index, (side, kind, ticks, lots, flag) in enumerate(steps):
        price = D(60_000) + D("0.01") * ticks * 100
        params: dict[str, Any] = {"symbol": "BTCUSDT", "side": side.upper(),
                                  "quantity": str(D("0.00100") * lots)}  # fmt: skip
        if kind == "limit" and flag == "post":
            params.update(type="LIMIT_MAKER", price=str(price))
        elif flag == "stop":
            params.update(type="STOP_LOSS_LIMIT", timeInForce="GTC", price=str(price),
                          stopPrice=str(price))  # fmt: skip
        elif kind == "limit":
            params.update(type="LIMIT", timeInForce="GTC", price=str(price))
        else:
            params["type"] = "MARKET"
        if flag == "trail":
            params.update(type="STOP_LOSS", trailingDelta=50)
            params.pop("price", None)
            params.pop("timeInForce", None)
        method = "order.place"
        if flag == "oco":  # take profit 20 ticks away, stop 20 ticks the other way
            away = D("0.01") * 2000 * (1 if side == "sell" else -1)
            limit_maker = {"Type": "LIMIT_MAKER", "Price": str(price + away)}
            stop = {"Type": "STOP_LOSS_LIMIT", "Price": str(price - away),
                    "StopPrice": str(price - away), "TimeInForce": "GTC"}  # fmt: skip
            above, below = (limit_maker, stop) if side == "sell" else (stop, limit_maker)
            params = {"symbol": "BTCUSDT", "side": side.upper(), "quantity": params["quantity"],
                      **{f"above{k}": v for k, v in above.items()},
                      **{f"below{k}": v for k, v in below.items()}}  # fmt: skip
            method = "orderList.place.oco"
        params.update(apiKey=DOC_API_KEY, timestamp=ts, newClientOrderId=f"c{index}")
        call(session, {"id": index, "method": method, "params": hmac_sign(params)})
        if flag == "cancel":
            cancel = {"symbol": "BTCUSDT", "origClientOrderId": f"c{index}",
                      "apiKey": DOC_API_KEY, "timestamp": ts}  # fmt: skip
            call(session, {"id": "x", "method": "order.cancel", "params": hmac_sign(cancel)})
    trades_params = hmac_sign({"symbol": "BTCUSDT", "apiKey": DOC_API_KEY, "timestamp": ts,
                               "limit": 1000})  # fmt: skip
    response, _ = call(session, {"id": "t", "method": "myTrades", "params": trades_params})
    after = _binance_balances(session, ts)
    base = quote = D(0)
    for fill in response["result"]:
        qty, notional, fee = D(fill["qty"]), D(fill["quoteQty"]), D(fill["commission"])
        sign = 1 if fill["isBuyer"] else -1
        base += sign * qty - (fee if fill["commissionAsset"] == "BTC" else 0)
        quote += -sign * notional - (fee if fill["commissionAsset"] == "USDT" else 0)
    assert after["BTC"] - before["BTC"] == base
    assert after["USDT"] - before["USDT"] == quote
    # and every lock is released once nothing is open (lists and stops included)
    cancel_all = hmac_sign({"symbol": "BTCUSDT", "apiKey": DOC_API_KEY, "timestamp": ts})
    call(session, {"id": "c", "method": "openOrders.cancelAll", "params": cancel_all})
    locked = {a: b.locked for a, b in exchange.registry.accounts["doc"].balances.items()}
    assert all(v == 0 for v in locked.values()), locked


# ----------------------------------------------------------------- Coinbase


def _coinbase_balances(exchange: Any) -> dict[str, Decimal]:
    accounts = coinbase_request(exchange, "GET", "/accounts").json()
    return {a["currency"]: D(a["balance"]) for a in accounts}


@SETTINGS
@given(STEPS)
def test_coinbase_fills_reconcile_with_balances(
    steps: list[tuple[str, str, int, int, str]],
) -> None:
    _, exchange = coinbase_make()
    before = _coinbase_balances(exchange)
    for side, kind, ticks, lots, flag in steps:
        body: dict[str, Any] = {"product_id": "BTC-USD", "side": side, "type": kind,
                                "size": str(D("0.001") * lots)}  # fmt: skip
        price = D(60_000) + ticks
        if kind == "limit":
            body["price"] = f"{price:.2f}"
            body["post_only"] = flag == "post"
        if flag == "stop":
            body.update(stop="loss" if side == "sell" else "entry", stop_price=f"{price:.2f}")
            body.pop("post_only", None)
        answer = coinbase_request(exchange, "POST", "/orders", body)
        if flag == "cancel" and answer.status == 200:
            coinbase_request(exchange, "DELETE", f"/orders/{answer.json()['id']}")
    fills = coinbase_request(exchange, "GET", "/fills?product_id=BTC-USD").json()
    after = _coinbase_balances(exchange)
    base = quote = D(0)
    for fill in fills:
        sign = 1 if fill["side"] == "buy" else -1
        size, price, fee = D(fill["size"]), D(fill["price"]), D(fill["fee"])
        base += sign * size
        quote += -sign * size * price - fee
    assert after["BTC"] - before["BTC"] == base
    assert after["USD"] - before["USD"] == quote


# ----------------------------------------------------------------- Kraken


def _kraken_totals(exchange: KrakenExchange) -> dict[str, Decimal]:
    account = exchange.registry.accounts["doc"]
    return {a: b.free + b.locked for a, b in account.balances.items()}


def _kraken_history(exchange: KrakenExchange, nonce: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        nonce += 1
        page = kraken_rest_call(
            exchange, "/0/private/TradesHistory", f"nonce={nonce}&ofs={len(out)}"
        )
        result = page[1]["result"]
        out.extend(result["trades"].values())
        if len(out) >= result["count"]:
            return out


@SETTINGS
@given(STEPS)
def test_kraken_fills_reconcile_with_balances(steps: list[tuple[str, str, int, int, str]]) -> None:
    _, exchange, session = kraken_make()
    before = _kraken_totals(exchange)
    for index, (side, kind, ticks, lots, flag) in enumerate(steps):
        price = float(D(60_000) + D("0.1") * ticks * 10)
        qty = float(D("0.001") * lots)
        params: dict[str, Any] = {"order_type": kind, "side": side, "order_qty": qty}
        params["cl_ord_id"] = f"k{index}"
        if kind == "limit":
            params["limit_price"] = price
            params["post_only"] = flag == "post"
        if flag == "stop":
            params["order_type"] = "stop-loss-limit" if kind == "limit" else "stop-loss"
            params["triggers"] = {"reference": "last", "price": price}
            params.pop("post_only", None)
        kraken_call(session, kraken_order(**params))
        if flag == "cancel":
            cancel = {"method": "cancel_order",
                      "params": {"token": KRAKEN_TOKEN, "cl_ord_id": [f"k{index}"]}}  # fmt: skip
            kraken_call(session, cancel)
    after = _kraken_totals(exchange)
    base = quote = D(0)
    for fill in _kraken_history(exchange, 0):
        sign = 1 if fill["type"] == "buy" else -1
        base += sign * D(fill["vol"])
        quote += -sign * D(fill["cost"]) - D(fill["fee"])
    assert after["BTC"] - before["BTC"] == base
    assert after["USD"] - before["USD"] == quote

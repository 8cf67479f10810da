"""Coinbase Exchange calls beyond order entry: currencies, order listing, fees, post-only.

Checks the documented behaviour (docs.cdp.coinbase.com, "Exchange REST API"): "Get all
known currencies" / "Get a currency" are public; "Get all orders" filters by the repeatable
``status``; "Holds" and "Fees" (a buy pays price x size plus the fee in quote, and fills'
fees and sizes reconcile with the balances exactly); "Create a new order", ``post_only``
(rejected, nothing executed, if any part would take) and ``funds`` (the fee comes out of
the funds). Expected figures are worked out here by hand from the documented rules.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.emulator.support import coinbase_make as make
from tests.emulator.support import coinbase_oid as oid
from tests.emulator.support import coinbase_request as request

from whalewire.emulator.coinbase.exchange import CoinbaseExchange


def balances(exchange: CoinbaseExchange) -> dict[str, Decimal]:
    return {
        a["currency"]: Decimal(a["balance"]) for a in request(exchange, "GET", "/accounts").json()
    }


def place(exchange: CoinbaseExchange, **body: object) -> dict[str, object]:
    body.setdefault("product_id", "BTC-USD")
    response = request(exchange, "POST", "/orders", dict(body))
    assert response.status == 200, response.json()
    answer: dict[str, object] = response.json()
    return answer


# ----------------------------------------------------------------- currencies


def test_currencies_are_public_and_list_every_traded_asset() -> None:
    _, exchange = make()
    response = exchange.handle("GET", "/currencies", {}, b"")
    assert response.status == 200
    ids = [c["id"] for c in response.json()]
    assert ids == ["BTC", "ETH", "USD"]
    btc = exchange.handle("GET", "/currencies/BTC", {}, b"").json()
    assert (btc["id"], btc["name"], btc["status"]) == ("BTC", "Bitcoin", "online")
    assert (btc["min_size"], btc["max_precision"]) == ("0.00000001", "0.00000001")
    assert btc["details"]["type"] == "crypto"
    assert isinstance(btc["convertible_to"], list)
    usd = exchange.handle("GET", "/currencies/USD", {}, b"").json()
    assert (usd["details"]["type"], usd["max_precision"]) == ("fiat", "0.01")


def test_unknown_currency_is_404() -> None:
    _, exchange = make()
    response = exchange.handle("GET", "/currencies/DOGE", {}, b"")
    assert (response.status, response.json()) == (404, {"message": "NotFound"})


# ----------------------------------------------------------------- GET /orders status


def _three_orders(exchange: CoinbaseExchange) -> tuple[str, str, str]:
    resting = place(exchange, side="buy", price="50000.00", size="0.5")["id"]
    filled = place(exchange, side="buy", type="market", size="0.01")["id"]
    partly = place(exchange, side="sell", price="1000.00", size="0.02")["id"]  # fills at once
    return str(resting), str(filled), str(partly)


def test_orders_default_lists_only_open() -> None:
    _, exchange = make()
    resting, _, _ = _three_orders(exchange)
    got = request(exchange, "GET", "/orders").json()
    assert [(o["id"], o["status"]) for o in got] == [(resting, "open")]


def test_orders_status_done_lists_filled_orders_newest_first() -> None:
    _, exchange = make()
    _, filled, sold = _three_orders(exchange)
    got = request(exchange, "GET", "/orders?status=done").json()
    assert [(o["id"], o["status"], o["done_reason"]) for o in got] == [
        (sold, "done", "filled"),
        (filled, "done", "filled"),
    ]


def test_orders_status_is_repeatable_and_all_lists_everything() -> None:
    _, exchange = make()
    resting, filled, sold = _three_orders(exchange)
    both = request(exchange, "GET", "/orders?status=open&status=done").json()
    every = request(exchange, "GET", "/orders?status=all").json()
    assert [o["id"] for o in both] == [o["id"] for o in every] == [sold, filled, resting]


def test_orders_canceled_without_fill_are_purged_from_done() -> None:
    _, exchange = make()
    resting = place(exchange, side="buy", price="50000.00", size="0.5")["id"]
    request(exchange, "DELETE", f"/orders/{resting}")
    assert request(exchange, "GET", "/orders?status=all").json() == []


def test_orders_unknown_status_is_400() -> None:
    _, exchange = make()
    response = request(exchange, "GET", "/orders?status=closed")
    assert response.status == 400


# ----------------------------------------------------------------- fees reconcile


def test_market_buy_fills_fee_and_balances_reconcile_exactly() -> None:
    _, exchange = make()
    before = balances(exchange)
    order = place(exchange, side="buy", type="market", size="0.01")
    fills = request(exchange, "GET", f"/fills?order_id={order['id']}").json()
    size = sum(Decimal(f["size"]) for f in fills)
    cost = sum(Decimal(f["price"]) * Decimal(f["size"]) for f in fills)
    fee = sum(Decimal(f["fee"]) for f in fills)
    after = balances(exchange)
    assert after["BTC"] - before["BTC"] == size == Decimal("0.01")
    assert before["USD"] - after["USD"] == cost + fee
    assert fee == cost * Decimal("0.006")  # taker 0.60 %, in USD


def test_limit_sell_fills_fee_and_balances_reconcile_exactly() -> None:
    _, exchange = make()
    before = balances(exchange)
    order = place(exchange, side="sell", price="1000.00", size="0.03")
    fills = request(exchange, "GET", f"/fills?order_id={order['id']}").json()
    proceeds = sum(Decimal(f["price"]) * Decimal(f["size"]) for f in fills)
    fee = sum(Decimal(f["fee"]) for f in fills)
    after = balances(exchange)
    assert before["BTC"] - after["BTC"] == Decimal("0.03")
    assert after["USD"] - before["USD"] == proceeds - fee


def test_market_buy_by_funds_spends_funds_including_the_fee() -> None:
    _, exchange = make()
    before = balances(exchange)
    order = place(exchange, side="buy", type="market", funds="1006.00")
    got = request(exchange, "GET", f"/orders/{order['id']}").json()
    # funds net of the 0.6 % fee: 1006 / 1.006 = 1000
    assert (got["specified_funds"], got["funds"]) == (
        "1006.0000000000000000",
        "1000.0000000000000000",
    )
    spent = before["USD"] - balances(exchange)["USD"]
    assert spent == Decimal(got["executed_value"]) + Decimal(got["fill_fees"])
    assert spent <= Decimal(1006)


# ----------------------------------------------------------------- post_only


def test_post_only_that_would_take_is_rejected_and_nothing_executes() -> None:
    _, exchange = make()
    before = balances(exchange)
    coid = oid()
    got = place(exchange, side="buy", price="70000.00", size="0.1", post_only=True, client_oid=coid)
    assert (got["status"], got["reject_reason"], got["post_only"]) == (
        "rejected",
        "post only",
        True,
    )
    assert balances(exchange) == before
    assert request(exchange, "GET", f"/orders/{got['id']}").status == 404


def test_post_only_that_rests_is_a_maker_order() -> None:
    _, exchange = make()
    got = place(exchange, side="buy", price="50000.00", size="0.1", post_only=True)
    assert got["status"] == "pending"
    listed = request(exchange, "GET", "/orders").json()
    assert [(o["id"], o["post_only"]) for o in listed] == [(got["id"], True)]


@pytest.mark.parametrize(
    "extra",
    [
        {"time_in_force": "IOC", "price": "50000.00", "size": "0.1"},
        {"time_in_force": "FOK", "price": "50000.00", "size": "0.1"},
        {"type": "market", "size": "0.1"},
    ],
)
def test_post_only_is_invalid_with_ioc_fok_and_market(extra: dict[str, str]) -> None:
    _, exchange = make()
    body = {"product_id": "BTC-USD", "side": "buy", "post_only": True, **extra}
    assert request(exchange, "POST", "/orders", body).status == 400


# ----------------------------------------------------------------- stop orders


def test_stop_loss_is_active_until_the_last_trade_reaches_it() -> None:
    _, exchange = make()
    exchange.registry.open_account("other", {"BTC": Decimal(10), "USD": Decimal(1_000_000)})
    # a trade at the book's best bid sets the last price
    place(exchange, side="sell", type="market", size="0.01")
    last = Decimal(request(exchange, "GET", "/products/BTC-USD/ticker").json()["price"])
    stop_price = last - Decimal("5.00")  # the house bids are $1 apart
    got = place(
        exchange, side="sell", type="market", size="0.02", stop="loss", stop_price=str(stop_price)
    )
    listed = request(exchange, "GET", "/orders?status=active").json()
    assert [(o["id"], o["status"], o["stop"]) for o in listed] == [(got["id"], "active", "loss")]
    assert Decimal(listed[0]["stop_price"]) == stop_price
    # sell down through the stop: the stop runs as a market sell
    place(exchange, side="sell", type="market", size="5")
    done = request(exchange, "GET", f"/orders/{got['id']}").json()
    assert (done["status"], done["filled_size"]) == ("done", "0.02000000")


def test_stop_needs_its_price() -> None:
    _, exchange = make()
    body = {
        "product_id": "BTC-USD",
        "side": "sell",
        "type": "market",
        "size": "0.1",
        "stop": "loss",
    }
    assert request(exchange, "POST", "/orders", body).status == 400

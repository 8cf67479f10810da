"""Kraken calls beyond single WebSocket orders: REST trading and account data, the v2
``balances`` channel, ``batch_add``, ``batch_cancel``, ``amend_order``, ``edit_order``.

Sources: Kraken "Spot REST API" pages ``Balance``, ``QueryOrders``, ``TradesHistory``,
``AddOrder``, ``CancelOrder`` (the "Spot REST Authentication" AddOrder example is replayed
verbatim with its documented API-Sign) and "Spot WebSocket v2" ``balances``,
``batch_add``, ``batch_cancel``, ``amend_order``, ``edit_order``. Expected figures are
worked out here from the prices and sizes placed.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tests.emulator.support import KRAKEN_DOC_BODY as DOC_BODY
from tests.emulator.support import KRAKEN_DOC_SIGN as DOC_SIGN
from tests.emulator.support import KRAKEN_KEY as DOC_KEY
from tests.emulator.support import KRAKEN_TOKEN as DOC_TOKEN
from tests.emulator.support import kraken_call as call
from tests.emulator.support import kraken_execution_rows as execution_rows
from tests.emulator.support import kraken_make as make
from tests.emulator.support import kraken_order as order
from tests.emulator.support import kraken_rest_call as rest_call
from tests.emulator.support import kraken_subscribe_executions as subscribe_executions

from whalewire.emulator.kraken.exchange import KrakenConfig, KrakenExchange, KrakenSession

D = Decimal
EMPTY = KrakenConfig(book_levels=0)


def ok(response: dict[str, Any]) -> Any:
    assert response.get("success") is True, response
    return response["result"]


def rest_ok(exchange: KrakenExchange, name: str, body: str) -> Any:
    status, answer = rest_call(exchange, f"/0/private/{name}", body)
    assert (status, answer["error"]) == (200, []), answer
    return answer["result"]


def limit(price: float, qty: float = 0.5, side: str = "buy", **extra: Any) -> dict[str, Any]:
    return order(order_type="limit", limit_price=price, order_qty=qty, side=side, **extra)


# ----------------------------------------------------------------- REST


def test_documented_add_order_example_places_the_order() -> None:
    _, exchange, _ = make(EMPTY)
    headers = {"api-key": DOC_KEY, "api-sign": DOC_SIGN}
    answer = json.loads(
        exchange.rest("POST", "/0/private/AddOrder", headers, DOC_BODY.encode()).body
    )
    assert answer["error"] == []
    assert answer["result"]["descr"] == {"order": "buy 1.25000000 BTCUSD @ limit 37500"}
    (txid,) = answer["result"]["txid"]
    (view,) = exchange.engine.open_orders("doc")
    assert (exchange.order_id(view.order_id), view.price, view.orig_qty) == (
        txid,
        D(37500),
        D("1.25"),
    )


def test_balance_lists_rest_asset_codes_with_totals() -> None:
    _, exchange, _ = make(EMPTY)
    assert rest_ok(exchange, "Balance", "nonce=1") == {
        "XXBT": "10.0000000000",
        "XETH": "100.0000000000",
        "ZUSD": "1000000.0000",
    }


def test_rest_add_query_cancel_round_trip() -> None:
    _, exchange, _ = make(EMPTY)
    placed = rest_ok(
        exchange,
        "AddOrder",
        "nonce=1&ordertype=limit&type=sell&volume=0.5&pair=XBTUSD&price=70000&cl_ord_id=mine",
    )
    (txid,) = placed["txid"]
    got = rest_ok(exchange, "QueryOrders", f"nonce=2&txid={txid}")
    assert (got[txid]["status"], got[txid]["vol"], got[txid]["cl_ord_id"]) == (
        "open",
        "0.5",
        "mine",
    )
    assert rest_ok(exchange, "CancelOrder", "nonce=3&txid=mine") == {"count": 1}
    assert rest_ok(exchange, "QueryOrders", f"nonce=4&txid={txid}")[txid]["status"] == "canceled"
    _, again = rest_call(exchange, "/0/private/CancelOrder", f"nonce=5&txid={txid}")
    assert again["error"] == ["EOrder:Unknown order"]
    _, unknown = rest_call(exchange, "/0/private/QueryOrders", "nonce=6&txid=OAAAAA-BBBBB-CCCCCX")
    assert unknown["error"] == ["EOrder:Invalid order"]


def test_rest_post_only_that_would_take_is_refused() -> None:
    _, exchange, session = make(EMPTY)
    ok(call(session, limit(60000.0, side="sell"))[0])
    _, answer = rest_call(
        exchange,
        "/0/private/AddOrder",
        "nonce=1&ordertype=limit&type=buy&volume=0.5&pair=BTC/USD&price=60000&oflags=post",
    )
    assert answer["error"] == ["EOrder:Post only order"]


def test_trades_history_fees_and_volumes_reconcile_with_balance() -> None:
    _, exchange, session = make(EMPTY)
    other = "maker"
    exchange.registry.open_account(other, {"BTC": D(10), "USD": D(1_000_000)})
    exchange.register_token("maker-token", other)
    ok(call(session, limit(60000.0, qty=0.3, side="sell", token="maker-token"))[0])
    before = rest_ok(exchange, "Balance", "nonce=1")
    ok(call(session, order(order_qty=0.3))[0])  # market buy takes it
    after = rest_ok(exchange, "Balance", "nonce=2")
    history = rest_ok(exchange, "TradesHistory", "nonce=3")
    assert history["count"] == 1
    (fill,) = history["trades"].values()
    assert (fill["type"], fill["vol"], fill["price"], fill["maker"]) == (
        "buy",
        "0.3",
        "60000.0",
        False,
    )
    # taker 0.40 % of 18,000 USD, charged in USD ("fciq")
    assert D(fill["fee"]) == D("72.000")
    assert D(after["XXBT"]) - D(before["XXBT"]) == D(fill["vol"])
    assert D(before["ZUSD"]) - D(after["ZUSD"]) == D(fill["cost"]) + D(fill["fee"])


# ----------------------------------------------------------------- balances channel


def subscribe_balances(session: KrakenSession) -> list[Any]:
    response, messages = call(
        session, {"method": "subscribe", "params": {"channel": "balances", "token": DOC_TOKEN}}
    )
    assert ok(response) == {"channel": "balances", "snapshot": True}
    return messages


def test_balances_snapshot_then_ledger_updates_on_a_fill() -> None:
    _, exchange, session = make(EMPTY)
    (snapshot,) = subscribe_balances(session)
    assert snapshot["type"] == "snapshot"
    btc = next(r for r in snapshot["data"] if r["asset"] == "BTC")
    assert btc["balance"] == 10 and btc["wallets"] == [
        {"type": "spot", "id": "main", "balance": 10}
    ]
    exchange.registry.open_account("maker", {"BTC": D(10), "USD": D(1_000_000)})
    exchange.register_token("maker-token", "maker")
    ok(call(session, limit(60000.0, qty=0.1, side="sell", token="maker-token"))[0])
    _, messages = call(session, order(order_qty=0.1))
    updates = [r for m in messages if m.get("channel") == "balances" for r in m["data"]]
    assert [(u["asset"], u["amount"], u["fee"], u["balance"]) for u in updates] == [
        ("BTC", 0.1, 0, 10.1),
        ("USD", -6000, 24, 1_000_000 - 6000 - 24),
    ]
    assert all(u["type"] == "trade" and u["wallet_type"] == "spot" for u in updates)


# ----------------------------------------------------------------- batches


def buy(qty: float, price: float) -> dict[str, Any]:
    return {"order_type": "limit", "side": "buy", "order_qty": qty, "limit_price": price}


def batch_params(orders: list[dict[str, Any]]) -> dict[str, Any]:
    return {"symbol": "BTC/USD", "token": DOC_TOKEN, "orders": orders}


def test_batch_add_places_all_and_batch_cancel_cancels_them() -> None:
    _, exchange, session = make(EMPTY)
    second = {**buy(0.2, 49000), "cl_ord_id": "second"}
    batch = {"method": "batch_add", "params": batch_params([buy(0.1, 50000), second])}
    placed = ok(call(session, batch)[0])
    assert [r.get("cl_ord_id") for r in placed] == [None, "second"]
    assert len(exchange.engine.open_orders("doc")) == 2
    cancel = {
        "method": "batch_cancel",
        "params": {"token": DOC_TOKEN, "orders": [placed[0]["order_id"], "second"]},
    }
    assert ok(call(session, cancel)[0]) == {"count": 2}
    assert exchange.engine.open_orders("doc") == []


def test_batch_add_with_one_bad_order_places_none() -> None:
    _, exchange, session = make(EMPTY)
    batch = {"method": "batch_add", "params": batch_params([buy(0.1, 50000), buy(0.1, -1)])}
    response, _ = call(session, batch)
    assert response["success"] is False
    assert exchange.engine.open_orders("doc") == []


def test_batch_sizes_outside_the_documented_bounds_are_refused() -> None:
    _, _, session = make(EMPTY)
    one = {"order_type": "limit", "side": "buy", "order_qty": 0.1, "limit_price": 50000}
    batch = {
        "method": "batch_add",
        "params": {"symbol": "BTC/USD", "token": DOC_TOKEN, "orders": [one]},
    }
    assert call(session, batch)[0]["success"] is False


# ----------------------------------------------------------------- amend / edit


def test_amend_order_keeps_the_id_changes_price_and_hold() -> None:
    _, exchange, session = make(EMPTY)
    subscribe_executions(session)
    placed = ok(call(session, limit(50000.0, qty=0.5, cl_ord_id="amend-me"))[0])
    usd_held = exchange.registry.accounts["doc"].balance("USD").locked
    response, messages = call(
        session,
        {
            "method": "amend_order",
            "params": {
                "token": DOC_TOKEN,
                "cl_ord_id": "amend-me",
                "limit_price": 40000,
                "order_qty": 0.25,
            },
        },
    )
    result = ok(response)
    assert result["cl_ord_id"] == "amend-me" and result["amend_id"]
    (view,) = exchange.engine.open_orders("doc")
    assert exchange.order_id(view.order_id) == placed["order_id"]
    assert (view.price, view.orig_qty) == (D(40000), D("0.25"))
    # the hold follows: 0.25 x 40,000 x (1 + 0.40 %) instead of 0.5 x 50,000 x 1.004
    assert usd_held == D("25100.000")
    assert exchange.registry.accounts["doc"].balance("USD").locked == D("10040.000")
    (row,) = execution_rows(messages)
    assert (row["exec_type"], row["order_id"], row["limit_price"]) == (
        "amended",
        placed["order_id"],
        40000,
    )


def test_amend_that_would_cross_is_refused() -> None:
    _, _, session = make(EMPTY)
    ok(call(session, limit(60000.0, side="sell"))[0])
    placed = ok(call(session, limit(50000.0))[0])
    response, _ = call(
        session,
        {
            "method": "amend_order",
            "params": {"token": DOC_TOKEN, "order_id": placed["order_id"], "limit_price": 61000},
        },
    )
    assert response["success"] is False


def test_edit_order_replaces_with_a_new_id() -> None:
    _, exchange, session = make(EMPTY)
    placed = ok(call(session, limit(50000.0))[0])
    response, _ = call(
        session,
        {"method": "edit_order", "params": {"token": DOC_TOKEN, "order_id": placed["order_id"],
                                            "symbol": "BTC/USD", "limit_price": 51000}},
    )  # fmt: skip
    result = ok(response)
    assert result["original_order_id"] == placed["order_id"]
    assert result["order_id"] != placed["order_id"]
    (view,) = exchange.engine.open_orders("doc")
    assert (exchange.order_id(view.order_id), view.price) == (result["order_id"], D(51000))


# ----------------------------------------------------------------- stop-loss / take-profit


def test_stop_loss_waits_for_the_last_price_then_sells() -> None:
    _, exchange, session = make(EMPTY)
    exchange.registry.open_account("maker", {"BTC": D(10), "USD": D(1_000_000)})
    exchange.register_token("maker-token", "maker")
    ok(call(session, limit(59000.0, qty=2, token="maker-token"))[0])  # bids at 59,000
    triggers = {"reference": "last", "price": 59500, "price_type": "static"}
    stop = order(order_type="stop-loss", side="sell", order_qty=0.5, triggers=triggers)
    placed = ok(call(session, stop)[0])
    (view,) = exchange.engine.open_orders("doc")
    assert view.parked and view.label == "stop-loss"
    # another account sells at 59,000: the last price falls through 59,500
    ok(call(session, order(order_qty=0.1, side="sell", token="maker-token"))[0])
    got = rest_ok(exchange, "QueryOrders", f"nonce=1&txid={placed['order_id']}")
    info = got[placed["order_id"]]
    assert (info["status"], info["vol_exec"], info["descr"]["ordertype"]) == (
        "closed",
        "0.5",
        "stop-loss",
    )


def test_conditional_order_needs_triggers() -> None:
    _, _, session = make(EMPTY)
    response, _ = call(session, order(order_type="take-profit", side="sell", order_qty=0.5))
    assert response["success"] is False and "triggers" in response["error"]

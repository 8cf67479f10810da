"""Stop-loss / take-profit and post-only orders: the engine's parked stops
(``matching.py``) and Binance's ``STOP_LOSS``, ``STOP_LOSS_LIMIT``, ``TAKE_PROFIT``,
``TAKE_PROFIT_LIMIT`` and ``LIMIT_MAKER`` (``web-socket-api.md``, "order.place",
"Mandatory parameters based on type"; ``errors.md`` -2010 messages).

Trigger rules as Binance documents them: a SELL STOP_LOSS triggers when the last price
falls to its stopPrice, a BUY STOP_LOSS when it rises to it; TAKE_PROFIT the other way.
Books start empty and two accounts trade, so every price here is one a test placed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.emulator.support import BINANCE_T0 as T0
from tests.emulator.support import DOC_API_KEY, call, hmac_sign
from tests.emulator.support import binance_market as market
from tests.emulator.support import binance_trade as trade

from whalewire.emulator.binance.exchange import BinanceExchange, BinanceSession
from whalewire.emulator.matching import (
    CancelOrder,
    CommandRejected,
    OrderAccepted,
    OrderStatus,
    OrderTraded,
    OrderType,
    PlaceOrder,
    RejectReason,
    Side,
    TimeInForce,
)

D = Decimal


def rest(exchange: BinanceExchange, side: Side, qty: str, price: str) -> None:
    exchange.publish(
        exchange.engine.place(
            PlaceOrder(
                "maker", "BTCUSDT", side, OrderType.LIMIT, D(qty), None, D(price), TimeInForce.GTC
            )
        )
    )


def place(session: BinanceSession, **params: Any) -> tuple[dict[str, Any], list[Any]]:
    signed = hmac_sign({"symbol": "BTCUSDT", "apiKey": DOC_API_KEY, "timestamp": T0, **params})
    return call(session, {"id": "p", "method": "order.place", "params": signed})


# ----------------------------------------------------------------- engine


def test_parked_stop_locks_then_runs_as_market_when_the_price_falls_to_it() -> None:
    _, exchange, _ = market()
    engine = exchange.engine
    trade(exchange, Side.BUY, "0.10000", "60000.00")  # last price 60,000
    stop = PlaceOrder("doc", "BTCUSDT", Side.SELL, OrderType.MARKET, D("0.5"),
                      stop_price=D("59000.00"))  # fmt: skip
    (accepted,) = engine.place(stop)
    assert isinstance(accepted, OrderAccepted) and accepted.order.parked
    assert exchange.registry.accounts["doc"].balance("BTC").locked == D("0.5")
    assert engine.depth("BTCUSDT") == ([], [])  # a parked stop is not on the book
    rest(exchange, Side.BUY, "2", "58000.00")
    events = engine.place(
        PlaceOrder(
            "maker",
            "BTCUSDT",
            Side.SELL,
            OrderType.LIMIT,
            D("0.1"),
            None,
            D("58000.00"),
            TimeInForce.IOC,
        )
    )
    mine = [e for e in events if not isinstance(e, CommandRejected) and e.order.account_id == "doc"]
    assert [type(e).__name__ for e in mine] == ["OrderTraded"]
    (filled,) = mine
    assert isinstance(filled, OrderTraded)
    assert (filled.trade.price, filled.trade.qty) == (D("58000.00"), D("0.5"))
    assert filled.order.status is OrderStatus.FILLED and not filled.order.parked
    assert exchange.registry.accounts["doc"].balance("BTC").locked == 0


def test_canceling_a_parked_stop_releases_its_lock() -> None:
    _, exchange, _ = market()
    engine = exchange.engine
    stop = PlaceOrder("doc", "BTCUSDT", Side.BUY, OrderType.LIMIT, D("1"), None,
                      D("61000.00"), TimeInForce.GTC, stop_price=D("60500.00"),
                      trigger_above=True)  # fmt: skip
    (accepted,) = engine.place(stop)
    assert exchange.registry.accounts["doc"].balance("USDT").locked == D(61000)
    engine.cancel(CancelOrder("doc", "BTCUSDT", order_id=accepted.order.order_id))
    assert exchange.registry.accounts["doc"].balance("USDT").locked == 0


def test_post_only_that_would_take_is_refused_and_changes_nothing() -> None:
    _, exchange, _ = market()
    rest(exchange, Side.SELL, "1", "60000.00")
    before = exchange.registry.accounts["doc"].balance("USDT").free
    cmd = PlaceOrder("doc", "BTCUSDT", Side.BUY, OrderType.LIMIT, D("1"), None,
                     D("60000.00"), TimeInForce.GTC, post_only=True)  # fmt: skip
    (rejected,) = exchange.engine.place(cmd)
    assert isinstance(rejected, CommandRejected) and rejected.reason is RejectReason.WOULD_TAKE
    assert exchange.registry.accounts["doc"].balance("USDT").free == before


# ----------------------------------------------------------------- Binance


def test_binance_stop_loss_limit_parks_not_working_then_triggers() -> None:
    _, exchange, session = market()
    trade(exchange, Side.BUY, "0.10000", "60000.00")
    response, _ = place(
        session, side="SELL", type="STOP_LOSS_LIMIT", timeInForce="GTC", quantity="0.50000",
        price="58500.00", stopPrice="59000.00", newClientOrderId="stop-1",
    )  # fmt: skip
    result = response["result"]
    assert response["status"] == 200, response
    assert (result["type"], result["status"], result["stopPrice"], result["workingTime"]) == (
        "STOP_LOSS_LIMIT",
        "NEW",
        "59000.00000000",
        -1,
    )
    status, _ = call(session, {"id": "s", "method": "order.status", "params": hmac_sign(
        {"symbol": "BTCUSDT", "origClientOrderId": "stop-1", "apiKey": DOC_API_KEY,
         "timestamp": T0})})  # fmt: skip
    assert status["result"]["isWorking"] is False
    trade(exchange, Side.SELL, "0.10000", "59000.00")  # the last price falls to the stop
    view = exchange.engine.get_order("doc", "BTCUSDT", client_order_id="stop-1")
    assert view is not None and not view.parked
    assert (view.price, view.status) == (D("58500.00"), OrderStatus.NEW)  # resting now
    assert exchange.engine.depth("BTCUSDT")[1] == [(D("58500.00"), D("0.5"))]


def test_binance_take_profit_that_would_trigger_now_is_refused() -> None:
    _, exchange, session = market()
    trade(exchange, Side.BUY, "0.10000", "60000.00")
    response, _ = place(session, side="SELL", type="TAKE_PROFIT", quantity="0.1",
                        stopPrice="59000.00")  # fmt: skip
    assert response["error"] == {"code": -2010, "msg": "Order would trigger immediately."}


def test_binance_limit_maker_that_would_take_is_refused() -> None:
    _, exchange, session = market()
    rest(exchange, Side.SELL, "1", "60000.00")
    response, _ = place(session, side="BUY", type="LIMIT_MAKER", quantity="0.1",
                        price="60000.00")  # fmt: skip
    assert response["error"] == {"code": -2010, "msg": "Order would immediately match and take."}
    ok, _ = place(session, side="BUY", type="LIMIT_MAKER", quantity="0.1", price="59000.00")
    assert ok["result"]["type"] == "LIMIT_MAKER"


def test_binance_stop_without_stop_price_is_1102() -> None:
    _, _, session = market()
    response, _ = place(session, side="SELL", type="STOP_LOSS", quantity="0.1")
    assert response["error"]["code"] == -1102


def test_binance_iceberg_quantity_is_refused_not_ignored() -> None:
    # exchangeInfo lists "icebergAllowed": false: a hidden size is not modelled, and the
    # order must not rest as if it were visible in full
    _, exchange, session = market()
    response, _ = place(session, side="BUY", type="LIMIT", timeInForce="GTC",
                        quantity="1.00000", price="50000.00", icebergQty="0.10000")  # fmt: skip
    assert response["error"] == {
        "code": -1106,
        "msg": "Parameter 'icebergQty' sent when not required.",
    }
    assert exchange.engine.open_orders("doc") == []

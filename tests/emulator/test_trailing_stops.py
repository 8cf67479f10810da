"""Trailing stops: Binance ``trailingDelta`` ("Trailing Stop FAQ"; ``filters.md``
"TRAILING_DELTA"; ``errors.md`` -1013/-1102/-1106) and Kraken v2 ``trailing-stop``
(``add_order``: "A market order is triggered when the market reverts a specified distance
from the peak price"; ``triggers.price_type`` ``pct`` / ``quote``).

A SELL trails the highest last price since it started trailing and triggers when the price
falls back by the distance; a BUY trails the lowest and triggers on a rise. Binance's with a
``stopPrice`` start trailing only once the stopPrice condition is met. Books start empty;
every price is one a test traded at, and every trigger level is worked out here by hand.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tests.emulator.support import BINANCE_T0 as T0
from tests.emulator.support import (
    DOC_API_KEY,
    call,
    hmac_sign,
    kraken_call,
    kraken_make,
)
from tests.emulator.support import binance_market as market
from tests.emulator.support import binance_trade as trade
from tests.emulator.support import kraken_order as kraken_request

from whalewire.emulator.binance.exchange import BinanceExchange, BinanceSession
from whalewire.emulator.binance.render import execution_report
from whalewire.emulator.kraken.exchange import KrakenConfig
from whalewire.emulator.matching import (
    OrderAccepted,
    OrderStatus,
    OrderType,
    PlaceOrder,
    Side,
    TimeInForce,
)

D = Decimal


def place(session: BinanceSession, **params: Any) -> dict[str, Any]:
    signed = hmac_sign({"symbol": "BTCUSDT", "apiKey": DOC_API_KEY, "timestamp": T0, **params})
    response, _ = call(session, {"id": "p", "method": "order.place", "params": signed})
    return response


def bids(exchange: BinanceExchange, qty: str, price: str) -> None:
    exchange.publish(
        exchange.engine.place(
            PlaceOrder("maker", "BTCUSDT", Side.BUY, OrderType.LIMIT, D(qty), None, D(price),
                       TimeInForce.GTC)
        )
    )  # fmt: skip


def view_of(exchange: BinanceExchange, client_id: str) -> Any:
    view = exchange.engine.get_order("doc", "BTCUSDT", client_order_id=client_id)
    assert view is not None
    return view


# ----------------------------------------------------------------- Binance


def test_trailing_sell_stop_follows_the_high_and_triggers_on_the_pullback() -> None:
    _, exchange, session = market()
    trade(exchange, Side.BUY, "0.10000", "60000.00")  # last 60,000
    answer = place(session, side="SELL", type="STOP_LOSS", quantity="0.50000",
                   trailingDelta=100, newClientOrderId="trail")  # fmt: skip
    result = answer["result"]
    # trailing at once (no stopPrice): from the last price, at the order's time
    assert (result["trailingDelta"], result["trailingTime"]) == (100, T0)
    assert "stopPrice" not in result
    bids(exchange, "2", "59000.00")  # what the stop will sell into
    trade(exchange, Side.BUY, "0.10000", "61000.00")  # the high: 61,000; trigger 60,390
    trade(exchange, Side.SELL, "0.10000", "60400.00")  # 1 % off would be 60,390: not yet
    assert view_of(exchange, "trail").parked
    trade(exchange, Side.SELL, "0.10000", "60390.00")  # 1 % below the high
    view = view_of(exchange, "trail")
    assert (view.parked, view.status, view.executed_qty) == (False, OrderStatus.FILLED, D("0.5"))
    assert view.cum_quote_qty == D("0.5") * D("59000.00")


def test_trailing_with_stop_price_starts_trailing_once_the_stop_price_is_reached() -> None:
    _, exchange, session = market()
    trade(exchange, Side.BUY, "0.10000", "60000.00")
    answer = place(session, side="SELL", type="TAKE_PROFIT", quantity="0.50000",
                   stopPrice="61000.00", trailingDelta=200, newClientOrderId="tp")  # fmt: skip
    assert (answer["result"]["trailingTime"], answer["result"]["stopPrice"]) == (
        -1,
        "61000.00000000",
    )
    bids(exchange, "2", "59000.00")
    trade(exchange, Side.SELL, "0.10000", "59500.00")  # down 2 %: not trailing yet
    assert view_of(exchange, "tp").trail_time == -1
    trade(exchange, Side.BUY, "0.10000", "61000.00")  # reaches the stopPrice: trails
    trade(exchange, Side.BUY, "0.10000", "62000.00")  # the high: trigger 62,000 x 0.98
    assert view_of(exchange, "tp").parked
    trade(exchange, Side.SELL, "0.10000", "60760.00")  # = 60,760
    assert view_of(exchange, "tp").status is OrderStatus.FILLED


def test_trailing_buy_stop_follows_the_low_and_triggers_on_the_rise() -> None:
    _, exchange, session = market()
    trade(exchange, Side.SELL, "0.10000", "60000.00")
    place(session, side="BUY", type="STOP_LOSS_LIMIT", quantity="0.50000", price="70000.00",
          timeInForce="GTC", trailingDelta=50, newClientOrderId="up")  # fmt: skip
    trade(exchange, Side.SELL, "0.10000", "58000.00")  # the low: trigger 58,000 x 1.005
    trade(exchange, Side.BUY, "0.10000", "58280.00")  # 58,280 < 58,290: not yet
    assert view_of(exchange, "up").parked
    trade(exchange, Side.BUY, "0.10000", "58290.00")
    view = view_of(exchange, "up")
    assert not view.parked and view.price == D("70000.00")  # runs as its limit order
    assert (view.trail, view.trail_relative, view.trail_time) == (D("0.005"), True, T0)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {"type": "STOP_LOSS", "trailingDelta": 5},
            {"code": -1013, "msg": "Filter failure: TRAILING_DELTA"},
        ),
        (
            {"type": "STOP_LOSS", "trailingDelta": 2001},
            {"code": -1013, "msg": "Filter failure: TRAILING_DELTA"},
        ),
        (
            {"type": "LIMIT", "timeInForce": "GTC", "price": "50000.00", "trailingDelta": 100},
            {"code": -1106, "msg": "Parameter 'trailingDelta' sent when not required."},
        ),
        (
            {"type": "STOP_LOSS"},
            {
                "code": -1102,
                "msg": "Param 'stopPrice' or 'trailingDelta' must be sent, but both were "
                "empty/null!",
            },
        ),
    ],
)
def test_trailing_delta_errors(params: dict[str, Any], error: dict[str, Any]) -> None:
    _, exchange, session = market()
    trade(exchange, Side.BUY, "0.10000", "60000.00")
    answer = place(session, side="SELL", quantity="0.10000", **params)
    assert answer["error"] == error


def test_trailing_order_execution_report_carries_d_and_big_d() -> None:
    _, exchange, _ = market()
    trade(exchange, Side.BUY, "0.10000", "60000.00")
    cmd = PlaceOrder("doc", "BTCUSDT", Side.SELL, OrderType.MARKET, D("0.1"),
                     trail=D("0.01"), trail_relative=True, label="STOP_LOSS")  # fmt: skip
    (accepted,) = exchange.engine.place(cmd)
    assert isinstance(accepted, OrderAccepted)
    report = execution_report(accepted, T0)
    assert (report["d"], report["D"], report["o"]) == (100, T0, "STOP_LOSS")


def test_exchange_info_lists_the_trailing_delta_filter() -> None:
    _, _, session = market()
    response, _ = call(session, {"id": "i", "method": "exchangeInfo", "params": {}})
    (symbol,) = [s for s in response["result"]["symbols"] if s["symbol"] == "BTCUSDT"]
    (trailing,) = [f for f in symbol["filters"] if f["filterType"] == "TRAILING_DELTA"]
    assert trailing["minTrailingAboveDelta"] == 10 and trailing["maxTrailingBelowDelta"] == 2000


# ----------------------------------------------------------------- Kraken


def _kraken() -> Any:
    _, exchange, session = kraken_make(KrakenConfig(book_levels=0))
    exchange.registry.open_account("maker", {"BTC": D(10), "USD": D(1_000_000)})
    exchange.register_token("maker-token", "maker")
    return exchange, session


def _kraken_trade(session: Any, side: str, price: float) -> None:
    """The maker rests 0.1 at ``price`` and takes it back with a market order: one trade
    at ``price`` that moves no one else's order."""
    other = "sell" if side == "buy" else "buy"
    rest = kraken_request(order_type="limit", side=other, order_qty=0.1, limit_price=price,
                          token="maker-token")  # fmt: skip
    take = kraken_request(side=side, order_qty=0.1, token="doc-token")
    assert kraken_call(session, rest)[0]["success"] is True
    assert kraken_call(session, take)[0]["success"] is True


@pytest.mark.parametrize(
    ("trigger", "pullback_ok", "pullback_fires"),
    [
        ({"price": 1, "price_type": "pct"}, 60400.0, 60390.0),  # 1 % of the 61,000 high
        ({"price": 500, "price_type": "quote"}, 60600.0, 60500.0),  # 500 USD off the high
    ],
)
def test_kraken_trailing_stop_sells_when_the_price_reverts_from_the_peak(
    trigger: dict[str, Any], pullback_ok: float, pullback_fires: float
) -> None:
    exchange, session = _kraken()
    exchange.registry.open_account("taker", {"BTC": D(10), "USD": D(1_000_000)})
    exchange.register_token("doc-token", "taker")
    _kraken_trade(session, "buy", 60000.0)
    stop = kraken_request(order_type="trailing-stop", side="sell", order_qty=0.5,
                          triggers={"reference": "last", **trigger})  # fmt: skip
    placed = kraken_call(session, stop)[0]
    assert placed["success"] is True, placed
    (view,) = exchange.engine.open_orders("doc")
    assert view.parked and view.label == "trailing-stop"
    rest_bids = kraken_request(order_type="limit", side="buy", order_qty=2, limit_price=59000.0,
                               token="maker-token")  # fmt: skip
    assert kraken_call(session, rest_bids)[0]["success"] is True
    _kraken_trade(session, "buy", 61000.0)
    _kraken_trade(session, "sell", pullback_ok)
    assert exchange.engine.open_orders("doc")[0].parked
    _kraken_trade(session, "sell", pullback_fires)
    assert exchange.engine.open_orders("doc") == []
    done = exchange.view("doc", exchange.engine_id(placed["result"]["order_id"]))
    assert done is not None and (done.status, done.executed_qty) == (OrderStatus.FILLED, D("0.5"))


@pytest.mark.parametrize(
    "triggers",
    [
        {"price": 1, "price_type": "static"},  # a fixed price cannot trail
        {"price": 0, "price_type": "pct"},
        {"price": 100, "price_type": "pct"},
        {"price": 0.05, "price_type": "quote"},  # off BTC/USD's 0.1 tick
        {"price": 1, "price_type": "pct", "reference": "index"},
    ],
)
def test_kraken_trailing_stop_with_bad_triggers_is_invalid(triggers: dict[str, Any]) -> None:
    exchange, session = _kraken()
    stop = kraken_request(order_type="trailing-stop", side="sell", order_qty=0.5, triggers=triggers)
    response = kraken_call(session, stop)[0]
    assert response["success"] is False
    assert response["error"].startswith("EGeneral:Invalid arguments:triggers")
    assert exchange.engine.open_orders("doc") == []

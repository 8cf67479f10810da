"""Binance WebSocket API market-data and account-limit methods (emulator/binance/market.py).

Against ``web-socket-api.md``, "Market data requests" (``ticker.price``, ``ticker.book``,
``avgPrice``, ``klines``, ``uiKlines``, ``trades.recent``, ``trades.historical``,
``trades.aggregate``, ``ticker.24hr``, ``ticker``, ``ticker.tradingDay``) and "Account
requests" (``account.commission``, ``account.rateLimits.orders``): weights, parameters,
errors and response shapes. Trades are made on empty books between two accounts, so every
expected figure is worked out here from the prices and sizes placed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tests.emulator.support import BINANCE_T0 as T0
from tests.emulator.support import DOC_API_KEY, call, doc_order, hmac_sign
from tests.emulator.support import binance_market as market
from tests.emulator.support import binance_trade as trade

from whalewire.emulator.binance.exchange import BinanceSession
from whalewire.emulator.matching import OrderType, PlaceOrder, Side, TimeInForce

D = Decimal


def ask(session: BinanceSession, method: str, **params: Any) -> dict[str, Any]:
    response, _ = call(session, {"id": 1, "method": method, "params": params})
    return response


def result(session: BinanceSession, method: str, **params: Any) -> Any:
    response = ask(session, method, **params)
    assert response["status"] == 200, response
    return response["result"]


def weight(response: dict[str, Any]) -> int:
    return next(
        r["count"] for r in response["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT"
    )


def charged(session: BinanceSession, method: str, **params: Any) -> int:
    before = weight(ask(session, "ping"))
    after = weight(ask(session, method, **params))
    return after - before  # the count after the ping already includes it


# ----------------------------------------------------------------- trades


def test_trades_recent_lists_the_takers_trades_oldest_first() -> None:
    clock, exchange, session = market()
    trade(exchange, Side.BUY, "0.10000", "60000.00")
    clock.now += 1000
    trade(exchange, Side.SELL, "0.20000", "59000.00")
    got = result(session, "trades.recent", symbol="BTCUSDT")
    assert [(t["price"], t["qty"], t["quoteQty"], t["time"], t["isBuyerMaker"]) for t in got] == [
        ("60000.00000000", "0.10000000", "6000.00000000", T0, False),
        ("59000.00000000", "0.20000000", "11800.00000000", T0 + 1000, True),
    ]
    assert set(got[0]) == {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"}
    assert result(session, "trades.recent", symbol="BTCUSDT", limit=1) == got[-1:]


def test_trades_historical_pages_from_id() -> None:
    _, exchange, session = market()
    trade(exchange, Side.BUY, "0.10000", "60000.00", "60001.00", "60002.00")
    ids = [t["id"] for t in result(session, "trades.recent", symbol="BTCUSDT")]
    page = result(session, "trades.historical", symbol="BTCUSDT", fromId=ids[1], limit=1)
    assert [t["id"] for t in page] == [ids[1]]


def test_trades_aggregate_joins_one_takers_fills_at_one_price() -> None:
    _, exchange, session = market()
    trade(exchange, Side.BUY, "0.10000", "60000.00", "60000.00", "60001.00")
    ids = [t["id"] for t in result(session, "trades.recent", symbol="BTCUSDT")]
    got = result(session, "trades.aggregate", symbol="BTCUSDT")
    assert [(a["p"], a["q"], a["f"], a["l"], a["m"]) for a in got] == [
        ("60000.00000000", "0.20000000", ids[0], ids[1], False),
        ("60001.00000000", "0.10000000", ids[2], ids[2], False),
    ]
    assert set(got[0]) == {"a", "p", "q", "f", "l", "T", "m", "M"}


def test_trades_aggregate_refuses_from_id_with_a_time_range() -> None:
    _, _, session = market()
    response = ask(session, "trades.aggregate", symbol="BTCUSDT", fromId=1, startTime=T0)
    assert response["error"]["code"] == -1128


# ----------------------------------------------------------------- klines


def test_klines_bucket_trades_by_interval() -> None:
    clock, exchange, session = market()
    clock.now = T0 - T0 % 60_000 + 5_000  # 5 s into a minute
    trade(exchange, Side.BUY, "0.10000", "60000.00")
    trade(exchange, Side.SELL, "0.30000", "59000.00")
    clock.now += 60_000
    trade(exchange, Side.BUY, "0.20000", "61000.00")
    minute = T0 - T0 % 60_000
    got = result(session, "klines", symbol="BTCUSDT", interval="1m")
    assert got == [
        [minute, "60000.00000000", "60000.00000000", "59000.00000000", "59000.00000000",
         "0.40000000", minute + 59_999, "23700.00000000", 2, "0.10000000", "6000.00000000", "0"],
        [minute + 60_000, "61000.00000000", "61000.00000000", "61000.00000000", "61000.00000000",
         "0.20000000", minute + 119_999, "12200.00000000", 1, "0.20000000", "12200.00000000", "0"],
    ]  # fmt: skip
    assert result(session, "uiKlines", symbol="BTCUSDT", interval="1m", limit=1) == got[-1:]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"symbol": "BTCUSDT", "interval": "2m"}, -1130),
        ({"symbol": "BTCUSDT"}, -1102),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": 1001}, -1102),
        ({"symbol": "BTCUSDT", "interval": "1m", "timeZone": "15:00"}, -1130),
        ({"symbol": "NOPE", "interval": "1m"}, -1121),
    ],
)
def test_klines_validation_errors(params: dict[str, Any], code: int) -> None:
    _, _, session = market()
    assert ask(session, "klines", **params)["error"]["code"] == code


def test_klines_day_buckets_follow_time_zone() -> None:
    _clock, exchange, session = market()
    trade(exchange, Side.BUY, "0.10000", "60000.00")
    utc_day = T0 - T0 % 86_400_000
    (row,) = result(session, "klines", symbol="BTCUSDT", interval="1d", timeZone="8")
    # 22:13 UTC is 06:13 the next day at +8: that day opened at 16:00 UTC
    assert row[0] == utc_day + 16 * 3_600_000


# ----------------------------------------------------------------- tickers


def test_ticker_price_and_book_for_one_and_many_symbols() -> None:
    _, exchange, session = market()
    trade(exchange, Side.BUY, "0.10000", "60000.00")
    exchange.publish(
        exchange.engine.place(
            PlaceOrder(
                "maker",
                "BTCUSDT",
                Side.BUY,
                OrderType.LIMIT,
                D("0.5"),
                None,
                D("59990.00"),
                TimeInForce.GTC,
            )
        )
    )
    assert result(session, "ticker.price", symbol="BTCUSDT") == {
        "symbol": "BTCUSDT",
        "price": "60000.00000000",
    }
    many = result(session, "ticker.price", symbols=["BTCUSDT", "ETHUSDT"])
    assert [p["symbol"] for p in many] == ["BTCUSDT", "ETHUSDT"]
    assert result(session, "ticker.book", symbol="BTCUSDT") == {
        "symbol": "BTCUSDT",
        "bidPrice": "59990.00000000",
        "bidQty": "0.50000000",
        "askPrice": "0.00000000",
        "askQty": "0.00000000",
    }


def test_symbol_and_symbols_together_are_refused() -> None:
    _, _, session = market()
    response = ask(session, "ticker.price", symbol="BTCUSDT", symbols=["ETHUSDT"])
    assert response["error"]["code"] == -1128


def test_avg_price_is_volume_weighted_over_five_minutes() -> None:
    _clock, exchange, session = market()
    trade(exchange, Side.BUY, "0.10000", "60000.00")
    trade(exchange, Side.BUY, "0.30000", "61000.00")
    got = result(session, "avgPrice", symbol="BTCUSDT")
    # (0.1 x 60,000 + 0.3 x 61,000) / 0.4 = 60,750
    assert got == {"mins": 5, "price": "60750.00000000", "closeTime": T0}


def test_ticker_24hr_full_and_mini() -> None:
    clock, exchange, session = market()
    trade(exchange, Side.BUY, "0.10000", "50000.00")
    clock.now += 1000
    trade(exchange, Side.BUY, "0.10000", "55000.00")
    full = result(session, "ticker.24hr", symbol="BTCUSDT")
    assert (full["priceChange"], full["priceChangePercent"], full["weightedAvgPrice"]) == (
        "5000.00000000",
        "10.000",
        "52500.00000000",
    )
    assert (full["openPrice"], full["highPrice"], full["lowPrice"], full["lastPrice"]) == (
        "50000.00000000",
        "55000.00000000",
        "50000.00000000",
        "55000.00000000",
    )
    assert (full["volume"], full["quoteVolume"], full["count"]) == (
        "0.20000000",
        "10500.00000000",
        2,
    )
    assert (full["openTime"], full["closeTime"]) == (T0 + 1000 - 86_400_000, T0 + 1000)
    mini = result(session, "ticker.24hr", symbol="BTCUSDT", type="MINI")
    assert set(mini) == {
        "symbol", "openPrice", "highPrice", "lowPrice", "lastPrice", "volume", "quoteVolume",
        "openTime", "closeTime", "firstId", "lastId", "count",
    }  # fmt: skip
    assert isinstance(result(session, "ticker.24hr"), list)


def test_ticker_window_opens_on_a_minute_boundary_and_needs_a_symbol() -> None:
    clock, _exchange, session = market()
    clock.now = T0 + 12_345
    got = result(session, "ticker", symbol="BTCUSDT", windowSize="7d")
    assert got["closeTime"] == T0 + 12_345
    assert got["openTime"] == (T0 + 12_345 - 7 * 86_400_000) // 60_000 * 60_000
    assert (got["firstId"], got["lastId"], got["count"]) == (-1, -1, 0)
    assert ask(session, "ticker")["error"]["code"] == -1102
    assert ask(session, "ticker", symbol="BTCUSDT", windowSize="8d")["error"]["code"] == -1130


def test_ticker_trading_day_covers_the_day() -> None:
    _, _, session = market()
    got = result(session, "ticker.tradingDay", symbol="BTCUSDT")
    day = T0 - T0 % 86_400_000
    assert (got["openTime"], got["closeTime"]) == (day, day + 86_399_999)


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("ticker.price", {"symbol": "BTCUSDT"}, 2),
        ("ticker.price", {}, 4),
        ("ticker.book", {"symbols": ["BTCUSDT"]}, 4),
        ("ticker.24hr", {"symbol": "BTCUSDT"}, 2),
        ("ticker.24hr", {}, 80),
        ("ticker", {"symbols": ["BTCUSDT", "ETHUSDT"]}, 8),
        ("ticker.tradingDay", {"symbol": "BTCUSDT"}, 4),
        ("avgPrice", {"symbol": "BTCUSDT"}, 2),
        ("klines", {"symbol": "BTCUSDT", "interval": "1h"}, 2),
        ("trades.recent", {"symbol": "BTCUSDT"}, 25),
        ("trades.historical", {"symbol": "BTCUSDT"}, 25),
        ("trades.aggregate", {"symbol": "BTCUSDT"}, 4),
    ],
)
def test_documented_weights(method: str, params: dict[str, Any], expected: int) -> None:
    _, _, session = market()
    assert charged(session, method, **params) == expected


# ----------------------------------------------------------------- account


def signed(**params: Any) -> dict[str, Any]:
    return hmac_sign({"apiKey": DOC_API_KEY, "timestamp": T0, **params})


def test_account_commission_shows_the_charged_rates() -> None:
    _, _, session = market()
    got = result(session, "account.commission", **signed(symbol="BTCUSDT"))
    assert got["symbol"] == "BTCUSDT"
    assert got["standardCommission"] == {
        "maker": "0.00100000",
        "taker": "0.00100000",
        "buyer": "0.00000000",
        "seller": "0.00000000",
    }
    assert set(got) == {"symbol", "standardCommission", "specialCommission", "taxCommission",
                        "discount"}  # fmt: skip
    assert got["discount"]["enabledForAccount"] is False


def test_account_rate_limits_orders_counts_orders_placed() -> None:
    _clock, _, session = market()
    call(session, doc_order(T0, side="BUY", type="LIMIT", timeInForce="GTC",
                            price="20000.00", quantity="0.01000"))  # fmt: skip
    got = result(session, "account.rateLimits.orders", **signed())
    assert [(r["interval"], r["intervalNum"], r["limit"], r["count"]) for r in got] == [
        ("SECOND", 10, 100, 1),
        ("DAY", 1, 200_000, 1),
    ]
    assert charged(session, "account.rateLimits.orders", **signed()) == 40


def test_account_methods_need_a_signature() -> None:
    _, _, session = market()
    response = ask(session, "account.commission", symbol="BTCUSDT")
    assert response["error"]["code"] == -1102


def test_symbol_status_filters_trading_symbols() -> None:
    _, _, session = market()
    assert result(session, "ticker.price", symbolStatus="HALT") == []
    assert len(result(session, "ticker.price", symbolStatus="TRADING")) == 4  # all listed
    response = ask(session, "ticker.price", symbol="BTCUSDT", symbolStatus="BREAK")
    assert response["error"]["code"] == -1220
    assert ask(session, "ticker.price", symbolStatus="OPEN")["error"]["code"] == -1130

"""engine/marketdata.py and the strategy's book settings: live books mark the risk engine,
a wide or dead book skips an alert, visible depth caps the size; off by default."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from tests.engine.factories import Alert, ignored, strategy

from whalewire.emulator.kraken.server import KrakenEmulator
from whalewire.engine.config import ConfigError, parse_config
from whalewire.engine.marketdata import start_market_data
from whalewire.engine.risk import RiskEngine
from whalewire.engine.strategy import IgnoreReason, Route
from whalewire.model import SubmitOrder
from whalewire.venues.books import Book

ROUTE = ("binance", "BTCUSDT")


def book(bid: float, ask: float, bid_qty: float = 5.0, synced: bool = True) -> Book:
    b = Book("BTCUSDT")
    b.replace([(bid, bid_qty)], [(ask, 5.0)])
    if not synced:
        b.desync()
    return b


def test_by_default_no_book_is_read_and_the_order_goes_out() -> None:
    s, _ = strategy()
    assert isinstance(s.on_alert(Alert("t1")), SubmitOrder)


def test_a_spread_wider_than_max_spread_bps_skips_the_alert() -> None:
    s, _ = strategy(max_spread_bps=5.0)
    s.books[ROUTE] = book(60_000.0, 60_060.0)  # 10 bps of the mid
    assert ignored(s.on_alert(Alert("t1"))) is IgnoreReason.SPREAD_TOO_WIDE
    s.books[ROUTE] = book(60_000.0, 60_006.0)  # 1 bp
    assert isinstance(s.on_alert(Alert("t2")), SubmitOrder)


def test_max_spread_bps_with_no_live_book_skips_the_alert() -> None:
    s, _ = strategy(max_spread_bps=5.0)
    assert ignored(s.on_alert(Alert("t1"))) is IgnoreReason.BOOK_NOT_SYNCED
    s.books[ROUTE] = book(60_000.0, 60_001.0, synced=False)
    assert ignored(s.on_alert(Alert("t2"))) is IgnoreReason.BOOK_NOT_SYNCED


def test_max_depth_fraction_caps_the_size_at_the_visible_bids_a_sell_takes() -> None:
    s, _ = strategy(max_depth_fraction=0.5, fixed_qty=Decimal("0.01"))
    s.books[ROUTE] = book(60_000.0, 60_001.0, bid_qty=0.004)
    order = s.on_alert(Alert("t1"))
    assert isinstance(order, SubmitOrder) and order.quantity == Decimal("0.002")
    s.books[ROUTE] = book(60_000.0, 60_001.0, bid_qty=3.0)
    order = s.on_alert(Alert("t2", entity="other"))
    assert isinstance(order, SubmitOrder) and order.quantity == Decimal("0.01")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("[strategy]\nmax_spread_bps = -1", "strategy.max_spread_bps"),
        ("[strategy]\nmax_depth_fraction = 1.5", "strategy.max_depth_fraction"),
        ("[venues.binance]\nmarket_url = 'http://127.0.0.1:1'", "market_url"),
    ],
)
def test_book_settings_are_validated(line: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_config(line)


async def test_live_kraken_book_marks_risk_at_the_mid_and_feeds_the_strategy() -> None:
    emu = KrakenEmulator()
    await emu.start()
    config = parse_config(
        f"""
[venues.kraken]
endpoint = 'ws://127.0.0.1:1/v2'
rest_endpoint = 'http://127.0.0.1:1'
market_url = '{emu.url}'
[strategy]
default_route = {{ venue = 'kraken', symbol = 'BTC/USD' }}
[risk.symbols.'BTC/USD']
max_order_qty = 1
max_order_notional = 100000
max_position = 1
max_daily_loss = 100
"""
    )
    risk = RiskEngine(config.risk, monotonic_ns=lambda: 0, wall_ns=lambda: 0)
    s, _ = strategy(default_route=Route("kraken", "BTC/USD"))
    market = await start_market_data(config, risk, s)
    try:
        live = market.books[("kraken", "BTC/USD")]
        assert s.books[("kraken", "BTC/USD")] is live
        bids, asks = emu.exchange.engine.depth("BTC/USD")
        expected_mid = (bids[0][0] + asks[0][0]) / 2  # the exchange's own book
        for _ in range(200):
            if risk.books.get("BTC/USD") and risk.books["BTC/USD"].last_price is not None:
                break
            await asyncio.sleep(0.01)
        assert risk.books["BTC/USD"].last_price == expected_mid
        row = market.status()["kraken:BTC/USD"]
        assert row["synced"] is True and row["bid"] == float(bids[0][0])
    finally:
        await market.close()
        await emu.close()


def test_the_dashboard_draws_each_books_top_and_health() -> None:
    from rich.console import Console

    from whalewire.engine.dashboard import render
    from whalewire.venues.books import status_row

    console = Console(width=140, record=True)
    console.print(render({"books": {"binance:BTCUSDT": status_row(book(60_000.0, 60_001.0))}}))
    text = console.export_text()
    assert "books" in text and "binance:BTCUSDT" in text and "60000.0 x 5.0" in text
    console = Console(width=140, record=True)
    console.print(render({}))
    assert "books" not in console.export_text()

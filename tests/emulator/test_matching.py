"""Matching engine rules: price-time priority, partial fills, IOC/FOK, fees, no overdraw.

TIF semantics follow Binance ``web-socket-api.md`` ("Available timeInForce options");
commission in the received asset follows Binance ``faqs/commission_faq.md``. Expected
numbers are worked out by hand in each test.
"""

from __future__ import annotations

from decimal import Decimal

from tests.emulator.support import SPEC, limit, make_engine

from whalewire.emulator.book import BookConfig, synthetic_levels
from whalewire.emulator.matching import (
    CancelOrder,
    CommandRejected,
    Fees,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderStatus,
    OrderTraded,
    OrderType,
    PlaceOrder,
    RejectReason,
    Side,
    TimeInForce,
)

D = Decimal


def market(account: str, side: Side, qty: str | None = None, quote: str | None = None):
    return PlaceOrder(
        account,
        "BTCUSDT",
        side,
        OrderType.MARKET,
        D(qty) if qty else None,
        quote_quantity=D(quote) if quote else None,
    )


def trades(events):
    return [e for e in events if isinstance(e, OrderTraded)]


def taker_trades(events):
    return [
        (e.order.account_id, e.trade.price, e.trade.qty)
        for e in trades(events)
        if not e.trade.is_maker
    ]


def maker_fills(events):
    return [
        (e.order.account_id, e.trade.price, e.trade.qty) for e in trades(events) if e.trade.is_maker
    ]


def last_view(events, account):
    return [
        e.order
        for e in events
        if not isinstance(e, CommandRejected) and e.order.account_id == account
    ][-1]


def balance(engine, account, asset):
    b = engine.registry.accounts[account].balance(asset)
    return b.free, b.locked


def test_price_then_time_priority_decides_which_maker_fills_first():
    engine = make_engine()
    engine.place(limit("alice", Side.SELL, "1", "100.00"))  # first at 100
    engine.place(limit("bob", Side.SELL, "1", "100.00"))  # second at 100
    engine.place(limit("carol", Side.SELL, "1", "99.50"))  # later, but better price
    events = engine.place(limit("taker", Side.BUY, "2.5", "100.00"))
    assert maker_fills(events) == [
        ("carol", D("99.50"), D("1")),
        ("alice", D("100.00"), D("1")),
        ("bob", D("100.00"), D("0.5")),
    ]
    assert last_view(events, "taker").status is OrderStatus.FILLED


def test_limit_order_partially_fills_and_rests_the_remainder():
    engine = make_engine()
    engine.place(limit("alice", Side.SELL, "0.4", "100.00"))
    events = engine.place(limit("taker", Side.BUY, "1", "100.00"))
    assert [type(e) for e in events] == [OrderAccepted, OrderTraded, OrderTraded]
    view = engine.open_orders("taker")[0]
    assert view.status is OrderStatus.PARTIALLY_FILLED
    assert (view.executed_qty, view.cum_quote_qty) == (D("0.4"), D("40.0000"))
    # 100 USDT locked at acceptance, 40 spent: 60 USDT stay locked for the 0.6 BTC
    assert balance(engine, "taker", "USDT") == (D("99900.00"), D("60.0000"))
    bids, asks = engine.depth("BTCUSDT")
    assert bids == [(D("100.00"), D("0.6"))] and asks == []


def test_ioc_remainder_expires_and_releases_the_lock():
    engine = make_engine()
    engine.place(limit("alice", Side.SELL, "0.4", "100.00"))
    events = engine.place(limit("taker", Side.BUY, "1", "100.00", tif=TimeInForce.IOC))
    assert [type(e) for e in events] == [OrderAccepted, OrderTraded, OrderTraded, OrderExpired]
    assert events[-1].order.status is OrderStatus.EXPIRED
    assert events[-1].order.executed_qty == D("0.4")
    assert balance(engine, "taker", "USDT") == (D("99960.0000"), D(0))
    assert engine.depth("BTCUSDT") == ([], [])


def test_fok_without_enough_liquidity_expires_with_no_fill():
    engine = make_engine()
    engine.place(limit("alice", Side.SELL, "0.4", "100.00"))
    events = engine.place(limit("taker", Side.BUY, "1", "100.00", tif=TimeInForce.FOK))
    assert [type(e) for e in events] == [OrderAccepted, OrderExpired]
    assert events[-1].order.executed_qty == 0
    assert engine.depth("BTCUSDT") == ([], [(D("100.00"), D("0.4"))])
    assert balance(engine, "taker", "USDT") == (D(100_000), D(0))


def test_fok_with_enough_liquidity_fills_entirely():
    engine = make_engine()
    engine.place(limit("alice", Side.SELL, "0.4", "100.00"))
    engine.place(limit("bob", Side.SELL, "0.6", "101.00"))
    events = engine.place(limit("taker", Side.BUY, "1", "101.00", tif=TimeInForce.FOK))
    assert last_view(events, "taker").status is OrderStatus.FILLED
    # 0.4*100 + 0.6*101 = 100.6; the lock at 101 is refunded the 0.4 USDT saved
    assert balance(engine, "taker", "USDT") == (D("99899.4000"), D(0))


def test_fees_are_charged_in_the_received_asset_at_maker_and_taker_rates():
    engine = make_engine(Fees(maker=D("0.001"), taker=D("0.002")))
    engine.place(limit("alice", Side.SELL, "2", "100.00"))
    events = engine.place(market("taker", Side.BUY, qty="2"))
    (taker_ev,) = [e for e in trades(events) if not e.trade.is_maker]
    (maker_ev,) = [e for e in trades(events) if e.trade.is_maker]
    # taker buys 2 BTC: 0.2 % of 2 BTC = 0.004 BTC
    assert (taker_ev.trade.commission, taker_ev.trade.commission_asset) == (D("0.004"), "BTC")
    # maker sells for 200 USDT: 0.1 % of 200 = 0.2 USDT
    assert (maker_ev.trade.commission, maker_ev.trade.commission_asset) == (D("0.2"), "USDT")
    assert balance(engine, "taker", "BTC") == (D("11.996"), D(0))
    assert balance(engine, "taker", "USDT") == (D("99800.00"), D(0))
    assert balance(engine, "alice", "BTC") == (D(8), D(0))
    assert balance(engine, "alice", "USDT") == (D("100199.80"), D(0))


def test_order_that_would_overdraw_is_rejected_and_changes_nothing():
    engine = make_engine()
    engine.place(limit("alice", Side.SELL, "5", "30000.00"))
    # 4 BTC at 30000 needs 120000 USDT; taker has 100000
    for cmd in (
        limit("taker", Side.BUY, "4", "30000.00"),
        market("taker", Side.BUY, qty="4"),
        market("taker", Side.SELL, qty="10.5"),
    ):
        assert engine.place(cmd) == [
            CommandRejected(RejectReason.INSUFFICIENT_BALANCE, 1_700_000_000_000)
        ]
    assert balance(engine, "taker", "USDT") == (D(100_000), D(0))
    assert balance(engine, "taker", "BTC") == (D(10), D(0))
    assert engine.depth("BTCUSDT") == ([], [(D("30000.00"), D("5"))])


def test_market_order_by_quote_quantity_spends_at_most_that_in_steps():
    engine = make_engine()
    engine.place(limit("alice", Side.SELL, "1", "100.00"))
    engine.place(limit("bob", Side.SELL, "1", "110.00"))
    events = engine.place(market("taker", Side.BUY, quote="150"))
    # 1 @ 100, then floor(50 / 110 to 0.00001) = 0.45454 @ 110 = 49.9994
    assert taker_trades(events) == [
        ("taker", D("100.00"), D("1")),
        ("taker", D("110.00"), D("0.45454")),
    ]
    final = last_view(events, "taker")
    assert final.status is OrderStatus.FILLED
    assert (final.orig_qty, final.cum_quote_qty, final.orig_quote_qty) == (
        D("1.45454"),
        D("149.9994000"),
        D("150"),
    )


def test_market_remainder_expires_when_the_book_runs_dry():
    engine = make_engine()
    engine.place(limit("alice", Side.SELL, "0.5", "100.00"))
    events = engine.place(market("taker", Side.BUY, qty="1"))
    assert isinstance(events[-1], OrderExpired)
    assert events[-1].order.executed_qty == D("0.5")


def test_duplicate_client_id_is_refused_only_among_open_orders():
    engine = make_engine()
    engine.place(limit("alice", Side.BUY, "1", "90.00", cid="mine"))
    dup = engine.place(limit("alice", Side.BUY, "1", "91.00", cid="mine"))
    assert dup[0] == CommandRejected(RejectReason.DUPLICATE_ORDER, 1_700_000_000_000)
    engine.place(market("bob", Side.SELL, qty="1"))  # fills "mine"
    again = engine.place(limit("alice", Side.BUY, "1", "90.00", cid="mine"))
    assert isinstance(again[0], OrderAccepted)


def test_cancel_releases_the_lock_and_renames_the_client_id():
    engine = make_engine()
    placed = engine.place(limit("alice", Side.BUY, "1", "90.00", cid="c1"))
    order_id = placed[0].order.order_id
    (ev,) = engine.cancel(
        CancelOrder("alice", "BTCUSDT", client_order_id="c1", new_client_order_id="c1-cancel")
    )
    assert isinstance(ev, OrderCanceled)
    assert (ev.order.status, ev.order.client_order_id, ev.order.orig_client_order_id) == (
        OrderStatus.CANCELED,
        "c1-cancel",
        "c1",
    )
    assert balance(engine, "alice", "USDT") == (D(100_000), D(0))
    again = engine.cancel(CancelOrder("alice", "BTCUSDT", order_id=order_id))
    assert again == [CommandRejected(RejectReason.UNKNOWN_ORDER, 1_700_000_000_000)]
    # another account cannot see or cancel it
    assert engine.get_order("bob", "BTCUSDT", order_id) is None


def test_synthetic_book_is_reproducible_from_its_seed():
    cfg = BookConfig(mid=D("60000"), levels=5, seed=7)
    first, second = synthetic_levels(SPEC, cfg), synthetic_levels(SPEC, cfg)
    assert first == second and len(first) == 10
    other = synthetic_levels(SPEC, BookConfig(mid=D("60000"), levels=5, seed=8))
    assert [lv.qty for lv in other] != [lv.qty for lv in first]
    bids = [lv.price for lv in first if lv.side is Side.BUY]
    asks = [lv.price for lv in first if lv.side is Side.SELL]
    assert max(bids) < D("60000") < min(asks)


def test_book_replayed_from_a_csv_file_rests_as_written(tmp_path):
    from whalewire.emulator.book import HOUSE_ACCOUNT, load_levels, seed_book

    path = tmp_path / "book.csv"
    path.write_text("side,price,qty\nbuy,99.50,1.5\nsell,100.50,2\nBUY,99.00,0.25\n")
    engine = make_engine()
    seed_book(engine, "BTCUSDT", load_levels(path))
    assert engine.depth("BTCUSDT") == (
        [(D("99.50"), D("1.5")), (D("99.00"), D("0.25"))],
        [(D("100.50"), D("2"))],
    )
    assert {o.account_id for o in engine.open_orders(HOUSE_ACCOUNT)} == {HOUSE_ACCOUNT}
    events = engine.place(market("taker", Side.BUY, qty="1"))
    assert taker_trades(events) == [("taker", D("100.50"), D("1"))]

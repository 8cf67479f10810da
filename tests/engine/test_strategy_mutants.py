"""The whale strategy's rules at their edges (engine/strategy.py): what the mutation run asked for.

``python -m mutation strategy`` (issue 23) changed each comparison, constant and operator of
strategy.py in turn; these tests tell each change from the code: an alert exactly at the
threshold, time passing to exactly the cooldown and the reaction window, the seen-transaction
capacity and its eviction, the defaults of ``StrategyConfig``, shadow decisions, and the live
book's spread and depth rules at their limits (a real ``venues.books.Book``). Expected values
are worked out by hand in the comments, never read back from the strategy.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

import msgspec
import pytest
from tests.engine.factories import Alert, Kind, ignored, strategy

from whalewire.engine.strategy import (
    SHADOW_ID,
    AlertIgnored,
    IgnoreReason,
    Route,
    StrategyConfig,
    WhaleStrategy,
)
from whalewire.model import OrderType, Side, SubmitOrder
from whalewire.venues.books import Book

NS = 1_000_000_000
BTC = 100_000_000
ROUTE = ("binance", "BTCUSDT")


def order_of(decision: object) -> SubmitOrder:
    assert isinstance(decision, SubmitOrder), decision
    return decision


def book(bid: float, ask: float, bid_qty: float = 5.0, ask_qty: float = 5.0) -> Book:
    b = Book("BTCUSDT")
    b.replace([(bid, bid_qty)], [(ask, ask_qty)])
    return b


# --- the defaults a bare [strategy] table gets ---------------------------------------------


def test_the_default_config_sells_a_thousandth_of_a_btc_on_binance_for_a_deposit() -> None:
    s, clock = strategy()
    order = order_of(s.on_alert(Alert("aa", value=BTC)))  # exactly 1 BTC: the default floor
    assert (order.venue, order.symbol, order.side, order.quantity) == (
        "binance",
        "BTCUSDT",
        Side.SELL,
        Decimal("0.001"),
    )
    assert (order.client_order_id, order.ts_init, order.txid) == ("binance-1", clock.mono, "aa")
    assert order.order_type is OrderType.MARKET
    assert order.reason == "deposit 100000000 sat to binance in aa"
    assert ignored(s.on_alert(Alert("ab", entity="x", value=BTC - 1))) is (
        IgnoreReason.BELOW_THRESHOLD
    )
    assert ignored(s.on_alert(Alert("ac", entity="y", kind=Kind.WITHDRAWAL))) is (
        IgnoreReason.KIND_NOT_TRADED
    )


def test_the_default_cooldown_is_five_seconds() -> None:
    s, clock = strategy()
    order_of(s.on_alert(Alert("a1")))
    clock.mono += 5 * NS - 1
    assert ignored(s.on_alert(Alert("a2"))) is IgnoreReason.COOLDOWN
    clock.mono += 1
    order_of(s.on_alert(Alert("a3")))


def test_the_default_window_admits_ten_reactions_a_minute() -> None:
    s, clock = strategy()
    for k in range(10):
        order_of(s.on_alert(Alert(f"t{k}", entity=f"e{k}")))
    assert ignored(s.on_alert(Alert("t10", entity="e10"))) is IgnoreReason.WINDOW_FULL
    clock.mono += 60 * NS
    order_of(s.on_alert(Alert("t11", entity="e11")))


def test_the_default_quantity_step_is_a_hundred_thousandth() -> None:
    # 0.0012345 rounds down to the step 0.00001: 0.00123
    s, _ = strategy(fixed_qty=Decimal("0.0012345"))
    assert order_of(s.on_alert(Alert("aa"))).quantity == Decimal("0.00123")


# --- thresholds, cooldown and window at their boundaries ------------------------------------


@pytest.mark.parametrize(
    ("value", "trades"), [(2 * BTC - 1, False), (2 * BTC, True), (2 * BTC + 1, True)]
)
def test_an_alert_exactly_at_the_threshold_trades(value: int, trades: bool) -> None:
    s, _ = strategy(min_value_sats=2 * BTC)
    decision = s.on_alert(Alert("aa", value=value))
    assert isinstance(decision, SubmitOrder) is trades


def test_an_entity_threshold_applies_at_its_own_value() -> None:
    s, _ = strategy(entity_min_value_sats={"kraken": 3 * BTC})
    assert ignored(s.on_alert(Alert("a1", entity="kraken", value=3 * BTC - 1))) is (
        IgnoreReason.BELOW_THRESHOLD
    )
    order_of(s.on_alert(Alert("a2", entity="kraken", value=3 * BTC)))
    order_of(s.on_alert(Alert("a3", entity="okx", value=BTC)))  # the default 1 BTC


def test_the_cooldown_ends_exactly_when_it_has_run() -> None:
    s, clock = strategy(cooldown_s=2.5)
    order_of(s.on_alert(Alert("a1")))
    clock.mono += 2_500_000_000 - 1
    assert ignored(s.on_alert(Alert("a2"))) is IgnoreReason.COOLDOWN
    clock.mono += 1
    order_of(s.on_alert(Alert("a3")))
    # the cooldown runs from the last reaction, not from the first alert
    clock.mono += 2 * NS
    assert ignored(s.on_alert(Alert("a4"))) is IgnoreReason.COOLDOWN


def test_an_ignored_alert_does_not_restart_the_cooldown() -> None:
    s, clock = strategy(cooldown_s=2.0)
    order_of(s.on_alert(Alert("a1")))
    clock.mono += NS
    assert ignored(s.on_alert(Alert("a2"))) is IgnoreReason.COOLDOWN
    clock.mono += NS
    order_of(s.on_alert(Alert("a3")))  # 2 s after a1


def test_a_reaction_leaves_the_window_exactly_window_s_later() -> None:
    s, clock = strategy(cooldown_s=0.0, max_reactions=2, window_s=10.0)
    order_of(s.on_alert(Alert("a1", entity="e1")))
    clock.mono += 4 * NS
    order_of(s.on_alert(Alert("a2", entity="e2")))
    clock.mono += 6 * NS - 1  # a1 is 10 s - 1 ns old
    assert ignored(s.on_alert(Alert("a3", entity="e3"))) is IgnoreReason.WINDOW_FULL
    clock.mono += 1  # a1 left; a2 is 6 s old
    order_of(s.on_alert(Alert("a4", entity="e4")))
    assert ignored(s.on_alert(Alert("a5", entity="e5"))) is IgnoreReason.WINDOW_FULL


def test_an_ignored_alert_takes_no_place_in_the_window() -> None:
    s, _ = strategy(cooldown_s=0.0, max_reactions=1, min_value_sats=2 * BTC)
    assert ignored(s.on_alert(Alert("a1", value=BTC))) is IgnoreReason.BELOW_THRESHOLD
    order_of(s.on_alert(Alert("a2", value=2 * BTC)))
    assert ignored(s.on_alert(Alert("a3", value=2 * BTC))) is IgnoreReason.WINDOW_FULL


def test_no_reactions_allowed_ignores_every_alert() -> None:
    s, _ = strategy(max_reactions=0)
    assert ignored(s.on_alert(Alert("a1"))) is IgnoreReason.WINDOW_FULL


# --- the seen transactions: capacity and eviction -------------------------------------------


def _strategy_with_capacity(capacity: int) -> WhaleStrategy:
    ids = iter(range(1, 100))
    return WhaleStrategy(
        StrategyConfig(cooldown_s=0.0),
        monotonic_ns=lambda: NS,
        next_client_order_id=lambda venue: f"{venue}-{next(ids)}",
        seen_capacity=capacity,
    )


def test_the_seen_transactions_keep_exactly_their_capacity_oldest_out_first() -> None:
    s = _strategy_with_capacity(2)
    for txid in ("t1", "t2", "t3"):  # t1 falls out when t3 comes
        order_of(s.on_alert(Alert(txid)))
    assert list(s._seen) == ["t2", "t3"]
    assert ignored(s.on_alert(Alert("t3"))) is IgnoreReason.DUPLICATE
    assert ignored(s.on_alert(Alert("t2"))) is IgnoreReason.DUPLICATE
    order_of(s.on_alert(Alert("t1")))  # forgotten: decided on again


def test_an_ignored_alert_is_remembered_too() -> None:
    s = _strategy_with_capacity(10)
    assert ignored(s.on_alert(Alert("t1"), mined=True)) is IgnoreReason.MINED
    assert ignored(s.on_alert(Alert("t1"))) is IgnoreReason.DUPLICATE


def test_remembered_txids_are_duplicates_and_the_newest_are_kept() -> None:
    s = _strategy_with_capacity(3)
    order_of(s.on_alert(Alert("t1")))
    s.remember(["t2", "t1", "t3", "t4"])  # t1 again: moved to the end, so t2 is the oldest
    assert list(s._seen) == ["t1", "t3", "t4"]
    for txid in ("t1", "t3", "t4"):
        assert ignored(s.on_alert(Alert(txid))) is IgnoreReason.DUPLICATE
    order_of(s.on_alert(Alert("t2")))


def test_remember_within_capacity_keeps_everything() -> None:
    s = _strategy_with_capacity(3)
    s.remember(["t1", "t2", "t3"])
    assert list(s._seen) == ["t1", "t2", "t3"]


# --- shadow decisions -------------------------------------------------------------------------


def test_a_shadow_decides_in_full_but_remembers_nothing() -> None:
    s, _ = strategy(min_value_sats=10 * BTC)
    shadow = order_of(s.on_alert(Alert("aa"), shadow=True))  # below the threshold: still a command
    assert (shadow.client_order_id, shadow.side, shadow.quantity) == (
        SHADOW_ID,
        Side.SELL,
        Decimal("0.001"),
    )
    assert SHADOW_ID == "shadow"
    assert list(s._seen) == []
    assert (s._last_by_entity, list(s._reactions)) == ({}, [])
    order = order_of(s.on_alert(Alert("aa", value=10 * BTC)))
    assert order.client_order_id == "binance-1"  # the shadow took no id


def test_a_shadow_of_a_kind_not_traded_sells() -> None:
    s, _ = strategy()
    shadow = order_of(s.on_alert(Alert("aa", kind=Kind.WITHDRAWAL), shadow=True))
    assert shadow.side is Side.SELL
    assert shadow.reason == "withdrawal 500000000 sat to binance in aa"


def test_a_shadow_of_a_zero_size_still_returns_a_command() -> None:
    s, _ = strategy(fixed_qty=Decimal("0"))
    assert order_of(s.on_alert(Alert("aa"), shadow=True)).quantity == Decimal("0")
    assert ignored(s.on_alert(Alert("aa"))) is IgnoreReason.ZERO_SIZE


def test_a_shadow_of_a_seen_txid_still_returns_a_command() -> None:
    s, _ = strategy()
    order_of(s.on_alert(Alert("aa")))
    assert order_of(s.on_alert(Alert("aa"), shadow=True)).client_order_id == SHADOW_ID


# --- sizing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "qty"),
    # fraction 0.01 of the whale's BTC, rounded down to 0.001: 250 BTC -> 2.5; 1.23456789 BTC
    # -> 0.0123456789 -> 0.012; 0.09999999 BTC -> 0.0009999999 -> 0 (ZERO_SIZE)
    [(250 * BTC, "2.5"), (123_456_789, "0.012"), (9_999_999, None)],
)
def test_fraction_sizing_takes_the_fraction_of_the_btc_value(value: int, qty: str | None) -> None:
    s, _ = strategy(
        size_mode="fraction", fraction=Decimal("0.01"), qty_step=Decimal("0.001"), min_value_sats=1
    )
    decision = s.on_alert(Alert("aa", value=value))
    if qty is None:
        assert ignored(decision) is IgnoreReason.ZERO_SIZE
    else:
        assert order_of(decision).quantity == Decimal(qty)


def test_a_fixed_quantity_below_the_step_is_zero_size() -> None:
    s, _ = strategy(fixed_qty=Decimal("0.000009"))
    assert ignored(s.on_alert(Alert("aa"))) is IgnoreReason.ZERO_SIZE


# --- the plan: kinds, routes, names ----------------------------------------------------------


class Flow(Enum):
    """An alert kind whose name and value differ: the name decides."""

    INFLOW = "in"
    OUTFLOW = "out"


def test_an_alert_kind_is_matched_by_its_name_lower_cased() -> None:
    s, _ = strategy(sides={"inflow": Side.SELL, "outflow": Side.BUY}, cooldown_s=0.0)
    assert order_of(s.on_alert(Alert("a1", kind=Flow.INFLOW))).side is Side.SELL  # type: ignore[arg-type]
    order = order_of(s.on_alert(Alert("a2", kind=Flow.OUTFLOW)))  # type: ignore[arg-type]
    assert (order.side, order.reason) == (Side.BUY, "outflow 500000000 sat to binance in a2")


def test_a_plain_string_kind_is_matched_lower_cased() -> None:
    s, _ = strategy()
    order = order_of(s.on_alert(Alert("a1", kind="Deposit")))  # type: ignore[arg-type]
    assert order.reason == "deposit 500000000 sat to binance in a1"


def test_an_entity_switching_kinds_gets_each_kinds_plan() -> None:
    s, _ = strategy(sides={"deposit": Side.SELL, "withdrawal": Side.BUY}, cooldown_s=0.0)
    sides = [
        order_of(s.on_alert(Alert(f"a{k}", kind=kind))).side
        for k, kind in enumerate([Kind.DEPOSIT, Kind.WITHDRAWAL, Kind.WITHDRAWAL, Kind.DEPOSIT])
    ]
    assert sides == [Side.SELL, Side.BUY, Side.BUY, Side.SELL]


def test_each_entity_keeps_its_own_route_and_threshold() -> None:
    s, _ = strategy(
        routes={"kraken": Route("kraken", "BTC/USD")},
        entity_min_value_sats={"kraken": 4 * BTC},
        cooldown_s=0.0,
    )
    first = order_of(s.on_alert(Alert("a1", entity="kraken", value=4 * BTC)))
    second = order_of(s.on_alert(Alert("a2", entity="okx", value=BTC)))
    third = order_of(s.on_alert(Alert("a3", entity="kraken", value=4 * BTC)))
    assert [(o.venue, o.symbol, o.client_order_id) for o in (first, second, third)] == [
        ("kraken", "BTC/USD", "kraken-1"),
        ("binance", "BTCUSDT", "binance-2"),
        ("kraken", "BTC/USD", "kraken-3"),
    ]


def test_an_ignored_alert_carries_its_txid_entity_and_times() -> None:
    s, clock = strategy()
    decision = s.on_alert(Alert("aa", entity="okx", recv_ns=99), mined=True)
    assert isinstance(decision, AlertIgnored)
    assert (decision.txid, decision.entity, decision.ts_init, decision.ts_event) == (
        "aa",
        "okx",
        clock.mono,
        99,
    )


# --- the live book: spread and depth at their limits ----------------------------------------


@pytest.mark.parametrize(
    ("limit", "reason"),
    # bid 9995, ask 10005: spread 10 around a mid of 10000, exactly 10 bps
    [(10.0, None), (10.5, None), (9.99, IgnoreReason.SPREAD_TOO_WIDE)],
)
def test_a_spread_exactly_at_max_spread_bps_trades(
    limit: float, reason: IgnoreReason | None
) -> None:
    s, _ = strategy(max_spread_bps=limit)
    s.books[ROUTE] = book(9995.0, 10005.0)
    decision = s.on_alert(Alert("aa"))
    if reason is None:
        order_of(decision)
    else:
        assert ignored(decision) is reason


def test_a_book_with_an_empty_side_is_not_synced() -> None:
    s, _ = strategy(max_spread_bps=50.0, cooldown_s=0.0)
    one_sided = Book("BTCUSDT")
    one_sided.replace([(100.0, 1.0)], [])
    s.books[ROUTE] = one_sided
    assert ignored(s.on_alert(Alert("a1"))) is IgnoreReason.BOOK_NOT_SYNCED
    s.books[ROUTE] = book(-1.0, 0.5)  # a book keeps no level at a price <= 0: no bids
    assert ignored(s.on_alert(Alert("a2"))) is IgnoreReason.BOOK_NOT_SYNCED


def test_a_spread_limit_reads_a_desynced_book_as_not_synced() -> None:
    s, _ = strategy(max_spread_bps=50.0)
    dead = book(9995.0, 10005.0)
    dead.desync()
    s.books[ROUTE] = dead
    assert ignored(s.on_alert(Alert("a1"))) is IgnoreReason.BOOK_NOT_SYNCED


def test_a_spread_limit_under_one_basis_point_is_applied() -> None:
    s, _ = strategy(max_spread_bps=0.5, cooldown_s=0.0)
    s.books[ROUTE] = book(9995.0, 10005.0)  # 10 bps
    assert ignored(s.on_alert(Alert("a1"))) is IgnoreReason.SPREAD_TOO_WIDE
    s.books[ROUTE] = book(10000.0, 10000.25)  # 0.25 bps
    order_of(s.on_alert(Alert("a2")))


def test_a_spread_is_measured_against_a_mid_under_one() -> None:
    # bid 0.4, ask 0.6: a spread of 0.2 around a mid of 0.5, 4000 bps
    s, _ = strategy(max_spread_bps=5000.0, cooldown_s=0.0)
    s.books[ROUTE] = book(0.4, 0.6)
    order_of(s.on_alert(Alert("a1")))
    s2, _ = strategy(max_spread_bps=3000.0)
    s2.books[ROUTE] = book(0.4, 0.6)
    assert ignored(s2.on_alert(Alert("a1"))) is IgnoreReason.SPREAD_TOO_WIDE


def test_the_book_of_another_route_is_not_read() -> None:
    s, _ = strategy(max_spread_bps=50.0)
    s.books[("kraken", "BTC/USD")] = book(9995.0, 10005.0)
    assert ignored(s.on_alert(Alert("aa"))) is IgnoreReason.BOOK_NOT_SYNCED


def test_depth_alone_reads_no_spread() -> None:
    # a book 100 % wide: only max_spread_bps would skip it
    s, _ = strategy(max_depth_fraction=0.5)
    s.books[ROUTE] = book(5000.0, 15000.0)
    assert order_of(s.on_alert(Alert("aa"))).quantity == Decimal("0.001")


def test_a_buy_is_capped_by_the_asks_and_a_sell_by_the_bids() -> None:
    s, _ = strategy(
        sides={"deposit": Side.SELL, "withdrawal": Side.BUY},
        max_depth_fraction=0.5,
        fixed_qty=Decimal("1"),
        cooldown_s=0.0,
    )
    # half of 0.25 bid is 0.125; half of 0.5 ask is 0.25
    s.books[ROUTE] = book(60_000.0, 60_001.0, bid_qty=0.25, ask_qty=0.5)
    assert order_of(s.on_alert(Alert("a1"))).quantity == Decimal("0.125")
    buy = order_of(s.on_alert(Alert("a2", kind=Kind.WITHDRAWAL)))
    assert (buy.side, buy.quantity) == (Side.BUY, Decimal("0.25"))


def test_a_depth_cap_is_rounded_down_to_the_step_and_can_make_the_size_zero() -> None:
    s, _ = strategy(max_depth_fraction=0.5, fixed_qty=Decimal("1"), cooldown_s=0.0)
    s.books[ROUTE] = book(60_000.0, 60_001.0, bid_qty=0.0000333)  # half: 0.00001665 -> 0.00001
    assert order_of(s.on_alert(Alert("a1"))).quantity == Decimal("0.00001")
    s.books[ROUTE] = book(60_000.0, 60_001.0, bid_qty=0.000019)  # half: 0.0000095 -> 0
    assert ignored(s.on_alert(Alert("a2"))) is IgnoreReason.ZERO_SIZE


def test_a_depth_cap_above_the_size_leaves_the_size() -> None:
    s, _ = strategy(
        size_mode="fraction", fraction=Decimal("0.01"), max_depth_fraction=1.0, cooldown_s=0.0
    )
    s.books[ROUTE] = book(60_000.0, 60_001.0, bid_qty=1.0)
    assert order_of(s.on_alert(Alert("a1"))).quantity == Decimal("0.05")  # 5 BTC x 0.01


def test_a_book_not_synced_leaves_the_size_alone() -> None:
    s, _ = strategy(max_depth_fraction=0.5, fixed_qty=Decimal("1"))
    dead = book(60_000.0, 60_001.0, bid_qty=0.1)
    dead.desync()
    s.books[ROUTE] = dead
    assert order_of(s.on_alert(Alert("a1"))).quantity == Decimal("1")


def test_a_depth_limit_with_no_book_for_the_route_leaves_the_size() -> None:
    s, _ = strategy(max_depth_fraction=0.5, fixed_qty=Decimal("1"))
    assert order_of(s.on_alert(Alert("a1"))).quantity == Decimal("1")


def test_by_default_a_registered_book_caps_nothing() -> None:
    s, _ = strategy()
    s.books[ROUTE] = book(9995.0, 10005.0, bid_qty=0.0001)  # thin and 10 bps wide
    assert order_of(s.on_alert(Alert("a1"))).quantity == Decimal("0.001")


# --- names and shapes other parts rely on --------------------------------------------------


def test_ignore_reasons_are_spelled_as_the_journal_stores_them() -> None:
    assert [r.value for r in IgnoreReason] == [
        "DUPLICATE",
        "MINED",
        "BELOW_THRESHOLD",
        "KIND_NOT_TRADED",
        "COOLDOWN",
        "WINDOW_FULL",
        "ZERO_SIZE",
        "SPREAD_TOO_WIDE",
        "BOOK_NOT_SYNCED",
    ]


def test_config_route_and_decisions_are_frozen_keyword_only_and_strict() -> None:
    config = StrategyConfig()
    with pytest.raises(AttributeError):
        config.cooldown_s = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        StrategyConfig(1)  # type: ignore[call-arg]
    with pytest.raises(msgspec.ValidationError, match="cooldwn_s"):
        msgspec.convert({"cooldwn_s": 1.0}, StrategyConfig)
    with pytest.raises(msgspec.ValidationError, match="symbl"):
        msgspec.convert({"venue": "kraken", "symbol": "BTC/USD", "symbl": "x"}, Route)
    decision = AlertIgnored(txid="t", entity="e", reason=IgnoreReason.MINED, ts_init=1, ts_event=2)
    with pytest.raises(AttributeError):
        decision.txid = "u"  # type: ignore[misc]
    with pytest.raises(TypeError):
        AlertIgnored("t", "e", IgnoreReason.MINED, 1, 2)  # type: ignore[call-arg]


def test_the_default_seen_capacity_is_a_hundred_thousand() -> None:
    s, _ = strategy()
    s.remember(f"t{k}" for k in range(100_001))  # t0 falls out
    assert len(s._seen) == 100_000
    order_of(s.on_alert(Alert("t0")))  # forgotten, so decided on again: t1 falls out now
    assert ("t1" in s._seen, "t2" in s._seen) == (False, True)
    assert ignored(s.on_alert(Alert("t2"))) is IgnoreReason.DUPLICATE


class Tagged:
    """An alert kind with a value and no name (a plain object, not an Enum)."""

    value = "Deposit"


def test_a_kind_without_a_name_is_matched_by_its_value() -> None:
    s, _ = strategy()
    order = order_of(s.on_alert(Alert("a1", kind=Tagged())))  # type: ignore[arg-type]
    assert order.reason == "deposit 500000000 sat to binance in a1"


def test_a_live_book_does_not_overrule_an_earlier_reason() -> None:
    s, _ = strategy(max_spread_bps=50.0, min_value_sats=2 * BTC, cooldown_s=0.0)
    s.books[ROUTE] = book(9995.0, 10005.0)  # 10 bps: fine
    order_of(s.on_alert(Alert("a1", value=2 * BTC)))
    assert ignored(s.on_alert(Alert("a1", value=2 * BTC))) is IgnoreReason.DUPLICATE
    assert ignored(s.on_alert(Alert("a2", value=BTC))) is IgnoreReason.BELOW_THRESHOLD

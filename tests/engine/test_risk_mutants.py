"""The risk engine's rules at their edges (engine/risk.py): what the mutation run asked for.

``python -m mutation risk`` (issue 23) changed each comparison, constant and operator of
risk.py in turn; these tests are the ones that tell each change from the code. Every limit is
tried at, just below and just above its boundary, for BUY and SELL; the rate windows at
exactly one second and one minute; the day at exactly UTC midnight; fills that take the
position through zero. Expected values are worked out by hand in the comments (average-cost
accounting, the limits of ``limits()``), never read back from the engine.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from tests.engine.factories import Clock

from whalewire.engine.risk import (
    Denial,
    Reserved,
    RiskConfig,
    RiskEngine,
    SymbolBook,
    SymbolLimits,
    TradingState,
)
from whalewire.model import OrderType, Side, SubmitOrder

D = Decimal
NS = 1_000_000_000
SYMBOL = "BTCUSDT"
#: 2023-11-15 00:00:00 UTC (19,676 days after the epoch), in seconds
MIDNIGHT = 1_700_006_400


def limits(**over: str) -> SymbolLimits:
    """Limits where only the rule under test can bind (the others are far away)."""
    values = {
        "max_order_qty": "1000",
        "max_order_notional": "1000000000",
        "max_position": "1000",
        "max_daily_loss": "1000000000",
        "price_band": "0.05",
    }
    values.update(over)
    return SymbolLimits(**{k: D(v) for k, v in values.items()})


def engine(
    per_second: int = 1000, per_minute: int = 100_000, **over: str
) -> tuple[RiskEngine, Clock]:
    return engine_with(limits(**over), per_second, per_minute)


def engine_with(
    symbol_limits: SymbolLimits, per_second: int = 1000, per_minute: int = 100_000
) -> tuple[RiskEngine, Clock]:
    clock = Clock()
    risk = RiskEngine(
        RiskConfig(
            symbols={SYMBOL: symbol_limits},
            max_orders_per_second=per_second,
            max_orders_per_minute=per_minute,
        ),
        monotonic_ns=clock.monotonic,
        wall_ns=clock.wall_ns,
    )
    risk.on_trade_price(SYMBOL, D("60000"))
    return risk, clock


def order(qty: str, side: Side = Side.SELL, price: str | None = None) -> SubmitOrder:
    return SubmitOrder(
        client_order_id="c1",
        ts_init=0,
        venue="binance",
        symbol=SYMBOL,
        side=side,
        quantity=D(qty),
        order_type=OrderType.LIMIT if price else OrderType.MARKET,
        price=D(price) if price else None,
    )


def denied(risk: RiskEngine, cmd: SubmitOrder) -> str | None:
    result = risk.check(cmd)
    return None if result is None else result.reason


# --- order size: at, below, above --------------------------------------------------------


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
@pytest.mark.parametrize(
    ("qty", "reason"),
    [("1.99999", None), ("2", None), ("2.00001", Denial.MAX_ORDER_QTY)],
)
def test_order_quantity_limit_admits_the_limit_itself(
    side: Side, qty: str, reason: Denial | None
) -> None:
    risk, _ = engine(max_order_qty="2")
    assert denied(risk, order(qty, side)) == reason


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
@pytest.mark.parametrize(
    ("qty", "reason"),
    # at the last price 60000: 0.99999 -> 59999.4, 1 -> 60000, 1.00001 -> 60000.6
    [("0.99999", None), ("1", None), ("1.00001", Denial.MAX_ORDER_NOTIONAL)],
)
def test_notional_limit_at_the_last_trade_price_admits_the_limit_itself(
    side: Side, qty: str, reason: Denial | None
) -> None:
    risk, _ = engine(max_order_notional="60000")
    assert denied(risk, order(qty, side)) == reason


@pytest.mark.parametrize(
    ("price", "reason"),
    # a LIMIT order's notional is at its own price: 2 x 29999.99 = 59999.98, 2 x 30000.01
    [("59000", Denial.MAX_ORDER_NOTIONAL), ("30000.01", Denial.MAX_ORDER_NOTIONAL)],
)
def test_notional_of_a_limit_order_is_at_its_own_price(price: str, reason: Denial) -> None:
    risk, _ = engine(max_order_notional="60000", price_band="1")
    assert denied(risk, order("2", Side.BUY, price)) == reason
    assert denied(risk, order("2", Side.BUY, "30000")) is None
    assert denied(risk, order("2", Side.BUY, "29999.99")) is None


# --- the price band: a LIMIT price within 5 % of the last trade --------------------------


@pytest.mark.parametrize(
    ("price", "reason"),
    # 5 % of 60000 is 3000: 57000 and 63000 are on the band, one cent further is off it
    [
        ("56999.99", Denial.PRICE_BAND),
        ("57000", None),
        ("60000", None),
        ("63000", None),
        ("63000.01", Denial.PRICE_BAND),
    ],
)
def test_price_band_admits_prices_exactly_on_its_edges(price: str, reason: Denial | None) -> None:
    risk, _ = engine()
    assert denied(risk, order("0.1", Side.BUY, price)) == reason
    assert denied(risk, order("0.1", Side.SELL, price)) == reason


def test_a_market_order_is_not_held_to_the_band() -> None:
    risk, _ = engine(price_band="0")
    assert denied(risk, order("0.1")) is None
    assert denied(risk, order("0.1", Side.BUY, "60000.01")) == Denial.PRICE_BAND


# --- the position limit, with what open orders hold --------------------------------------


@pytest.mark.parametrize(
    ("held", "qty", "reason"),
    # long 1 (filled) + open buys 0.5 + this order: 1 + 0.5 + 1.5 = 3 is the limit
    [("0.5", "1.49999", None), ("0.5", "1.5", None), ("0.5", "1.50001", Denial.MAX_POSITION)],
)
def test_buy_position_limit_counts_the_position_and_open_buys(
    held: str, qty: str, reason: Denial | None
) -> None:
    risk, _ = engine(max_position="3")
    risk.on_fill(SYMBOL, Side.BUY, D("1"), D("60000"))
    risk.reserved = {SYMBOL: Reserved(buy=D(held), sell=D("50"))}
    assert denied(risk, order(qty, Side.BUY)) == reason


@pytest.mark.parametrize(
    ("qty", "reason"),
    # short 1 + open sells 0.5 + this order: |-1 - 0.5 - 1.5| = 3 is the limit
    [("1.49999", None), ("1.5", None), ("1.50001", Denial.MAX_POSITION)],
)
def test_sell_position_limit_counts_the_position_and_open_sells(
    qty: str, reason: Denial | None
) -> None:
    risk, _ = engine(max_position="3")
    risk.on_fill(SYMBOL, Side.SELL, D("1"), D("60000"))
    risk.reserved = {SYMBOL: Reserved(buy=D("50"), sell=D("0.5"))}
    assert denied(risk, order(qty, Side.SELL)) == reason


def test_three_buys_of_one_and_a_half_open_against_a_limit_of_three() -> None:
    # the case: the third buy could take the position to 4.5
    risk, _ = engine(max_position="3")
    risk.reserved = {SYMBOL: Reserved(buy=D("1.5"))}
    assert denied(risk, order("1.5", Side.BUY)) is None  # 1.5 open + 1.5 = 3
    risk.reserved = {SYMBOL: Reserved(buy=D("3"))}
    assert denied(risk, order("1.5", Side.BUY)) == Denial.MAX_POSITION  # 4.5


def test_an_order_that_shrinks_a_position_over_the_limit_passes() -> None:
    # long 5 with a limit of 3 (the limit was lowered): selling 1 leaves 4 (< 5) and passes;
    # buying 0.1 would reach 5.1 and is denied
    risk, _ = engine(max_position="3")
    risk.on_fill(SYMBOL, Side.BUY, D("5"), D("60000"))
    assert denied(risk, order("1", Side.SELL)) is None
    assert denied(risk, order("0.1", Side.BUY)) == Denial.MAX_POSITION


def test_an_order_that_flips_a_position_to_the_same_size_does_not_reduce_it() -> None:
    # long 5, limit 3: selling 10 ends short 5, no smaller than now: denied
    risk, _ = engine(max_position="3")
    risk.on_fill(SYMBOL, Side.BUY, D("5"), D("60000"))
    assert denied(risk, order("10", Side.SELL)) == Denial.MAX_POSITION
    assert denied(risk, order("9.99", Side.SELL)) is None  # short 4.99


# --- REDUCING and HALTED -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "qty", "reason"),
    # long 2: selling up to 4 (exclusive) leaves |2 - qty| < 2; selling exactly 4 ends short 2
    [
        (Side.SELL, "0.1", None),
        (Side.SELL, "2", None),
        (Side.SELL, "3.99", None),
        (Side.SELL, "4", Denial.REDUCING_ONLY),
        (Side.BUY, "0.1", Denial.REDUCING_ONLY),
    ],
)
def test_reducing_admits_only_what_ends_strictly_smaller(
    side: Side, qty: str, reason: Denial | None
) -> None:
    risk, _ = engine()
    risk.on_fill(SYMBOL, Side.BUY, D("2"), D("60000"))
    risk.set_state(TradingState.REDUCING, "review")
    denial = risk.check(order(qty, side))
    assert (None if denial is None else (denial.reason, denial.detail)) == (
        None if reason is None else (reason, "review")
    )


def test_reducing_with_no_position_admits_nothing() -> None:
    risk, _ = engine()
    risk.set_state(TradingState.REDUCING, "review")
    assert denied(risk, order("0.1", Side.SELL)) == Denial.REDUCING_ONLY
    assert denied(risk, order("0.1", Side.BUY)) == Denial.REDUCING_ONLY


def test_back_to_active_after_halted_trades_again() -> None:
    risk, _ = engine()
    risk.set_state(TradingState.HALTED, "kill")
    assert (risk.state, risk.state_reason) == (TradingState.HALTED, "kill")
    assert denied(risk, order("0.1")) == Denial.HALTED
    risk.set_state(TradingState.ACTIVE, "")
    assert denied(risk, order("0.1")) is None


def test_halted_comes_before_a_missing_symbol_and_reducing_before_a_missing_price() -> None:
    risk, _ = engine()
    risk.set_state(TradingState.HALTED, "kill")
    unknown = SubmitOrder(
        client_order_id="c", ts_init=0, venue="binance", symbol="XYZ", side=Side.BUY, quantity=D(1)
    )
    assert denied(risk, unknown) == Denial.HALTED
    risk.set_state(TradingState.REDUCING, "review")
    risk.books[SYMBOL].last_price = None
    assert denied(risk, order("0.1")) == Denial.REDUCING_ONLY


# --- the day's loss: at the limit, and across UTC midnight ---------------------------------


@pytest.mark.parametrize(
    ("sell_at", "reason"),
    # bought 1 at 60000; selling it at 59000.01 realises -999.99, at 59000 exactly -1000
    [("59000.01", None), ("59000", Denial.MAX_DAILY_LOSS), ("58999.99", Denial.MAX_DAILY_LOSS)],
)
def test_daily_loss_limit_denies_at_the_limit_itself(sell_at: str, reason: Denial | None) -> None:
    risk, _ = engine(max_daily_loss="1000")
    risk.on_fill(SYMBOL, Side.BUY, D("1"), D("60000"))
    risk.on_fill(SYMBOL, Side.SELL, D("1"), D(sell_at))
    assert denied(risk, order("0.1", Side.BUY)) == reason
    assert denied(risk, order("0.1", Side.SELL)) == reason


def test_unrealised_loss_at_the_limit_denies_only_what_adds_to_the_position() -> None:
    # long 2 at 60000, last trade 59500: unrealised -1000 = the limit
    risk, _ = engine(max_daily_loss="1000")
    risk.on_fill(SYMBOL, Side.BUY, D("2"), D("60000"))
    risk.on_trade_price(SYMBOL, D("59500"))
    assert denied(risk, order("0.1", Side.BUY)) == Denial.MAX_DAILY_LOSS
    assert denied(risk, order("0.1", Side.SELL)) is None  # long 1.9: smaller
    risk.on_trade_price(SYMBOL, D("59500.01"))  # -999.98
    assert denied(risk, order("0.1", Side.BUY)) is None


def test_short_unrealised_loss_counts_too() -> None:
    # short 1 at 60000, last trade 61000: unrealised -1000
    risk, _ = engine(max_daily_loss="1000")
    risk.on_fill(SYMBOL, Side.SELL, D("1"), D("60000"))
    risk.on_trade_price(SYMBOL, D("61000"))
    assert denied(risk, order("0.1", Side.SELL)) == Denial.MAX_DAILY_LOSS
    assert denied(risk, order("0.1", Side.BUY)) is None


def test_the_day_rolls_at_utc_midnight_exactly() -> None:
    risk, clock = engine(max_daily_loss="1000")
    clock.wall = (MIDNIGHT - 60) * NS  # 23:59 UTC
    risk.on_fill(SYMBOL, Side.BUY, D("1"), D("60000"))
    risk.on_fill(SYMBOL, Side.SELL, D("1"), D("58000"))  # realised -2000 today
    clock.wall = MIDNIGHT * NS - 1  # 23:59:59.999999999: still today
    assert denied(risk, order("0.1")) == Denial.MAX_DAILY_LOSS
    assert risk.books[SYMBOL].realized_pnl == D("-2000")
    clock.wall = MIDNIGHT * NS  # 00:00:00: a new day, nothing realised yet
    assert denied(risk, order("0.1")) is None
    assert risk.books[SYMBOL].realized_pnl == D("0")


def test_a_fill_after_midnight_starts_the_new_days_pnl_from_zero() -> None:
    risk, clock = engine()
    clock.wall = (MIDNIGHT - 60) * NS
    risk.on_fill(SYMBOL, Side.BUY, D("2"), D("60000"))
    risk.on_fill(SYMBOL, Side.SELL, D("1"), D("59000"))  # -1000 before midnight
    assert risk.books[SYMBOL].realized_pnl == D("-1000")
    clock.wall = MIDNIGHT * NS
    risk.on_fill(SYMBOL, Side.SELL, D("1"), D("61000"))  # +1000 after it
    assert risk.books[SYMBOL].realized_pnl == D("1000")
    clock.wall = (MIDNIGHT + 60) * NS
    risk.on_fill(SYMBOL, Side.BUY, D("1"), D("61000"))  # opens: nothing realised
    assert risk.books[SYMBOL].realized_pnl == D("1000")


# --- the rate windows: an order leaves a window exactly one second / minute later --------


def test_an_order_leaves_the_one_second_window_exactly_one_second_later() -> None:
    risk, clock = engine(per_second=1)
    assert denied(risk, order("0.1")) is None
    clock.mono += NS - 1
    assert denied(risk, order("0.1")) == Denial.RATE_PER_SECOND
    clock.mono += 1
    assert denied(risk, order("0.1")) is None


def test_an_order_leaves_the_one_minute_window_exactly_sixty_seconds_later() -> None:
    risk, clock = engine(per_minute=2)
    assert denied(risk, order("0.1")) is None
    clock.mono += 30 * NS
    assert denied(risk, order("0.1")) is None
    clock.mono += 30 * NS - 1  # the first is 60 s - 1 ns old
    assert denied(risk, order("0.1")) == Denial.RATE_PER_MINUTE
    clock.mono += 1
    assert denied(risk, order("0.1")) is None  # the first left; the second is 30 s old
    assert denied(risk, order("0.1")) == Denial.RATE_PER_MINUTE


def test_the_rate_limits_admit_exactly_their_count() -> None:
    risk, clock = engine(per_second=3, per_minute=5)
    assert [denied(risk, order("0.1")) for _ in range(4)] == [None, None, None, "RATE_PER_SECOND"]
    clock.mono += NS
    assert [denied(risk, order("0.1")) for _ in range(3)] == [None, None, "RATE_PER_MINUTE"]


def test_a_shadow_check_runs_every_rule_and_counts_nothing() -> None:
    risk, _ = engine(per_second=1, max_order_qty="1")
    assert risk.check(order("5"), shadow=True) is None  # would be denied
    assert risk.check(order("0.1"), shadow=True) is None
    assert risk.check(order("0.1"), shadow=True) is None
    assert (len(risk._last_second), len(risk._last_minute)) == (0, 0)
    assert denied(risk, order("0.1")) is None  # the shadows used none of the one per second
    assert denied(risk, order("0.1")) == Denial.RATE_PER_SECOND


def test_a_denial_carries_the_order_id_and_the_time_it_was_decided() -> None:
    risk, clock = engine(max_order_qty="1")
    clock.mono = 42 * NS
    cmd = SubmitOrder(
        client_order_id="ww-7",
        ts_init=0,
        venue="binance",
        symbol=SYMBOL,
        side=Side.BUY,
        quantity=D(2),
    )
    denial = risk.check(cmd)
    assert denial is not None
    assert (denial.client_order_id, denial.ts_init, denial.ts_event, denial.reason) == (
        "ww-7",
        42 * NS,
        42 * NS,
        "MAX_ORDER_QTY",
    )


# --- fills: average cost, through zero ----------------------------------------------------


def test_a_fill_through_zero_realises_the_closed_part_and_opens_the_rest_at_its_price() -> None:
    # long 1 at 60000; sell 3 at 61000: 1 closes (+1000), 2 open short at 61000
    risk, _ = engine()
    risk.on_fill(SYMBOL, Side.BUY, D("1"), D("60000"))
    risk.on_fill(SYMBOL, Side.SELL, D("3"), D("61000"))
    book = risk.books[SYMBOL]
    assert (book.position, book.cost, book.realized_pnl) == (D("-2"), D("-122000"), D("1000"))
    assert book.last_price == D("61000")
    assert book.unrealized_pnl() == D("0")
    # buy 5 at 60000: the 2 short close (+2000), 3 open long at 60000
    risk.on_fill(SYMBOL, Side.BUY, D("5"), D("60000"))
    assert (book.position, book.cost, book.realized_pnl) == (D("3"), D("180000"), D("3000"))


def test_a_fill_that_closes_exactly_leaves_nothing_open() -> None:
    risk, _ = engine()
    risk.on_fill(SYMBOL, Side.SELL, D("2"), D("60000"))
    risk.on_fill(SYMBOL, Side.BUY, D("2"), D("59000"))  # +2000
    book = risk.books[SYMBOL]
    assert (book.position, book.cost, book.realized_pnl) == (D("0"), D("0"), D("2000"))


def test_fills_on_one_side_add_to_the_position_and_its_cost() -> None:
    risk, _ = engine()
    risk.on_fill(SYMBOL, Side.BUY, D("1"), D("60000"))
    risk.on_fill(SYMBOL, Side.BUY, D("2"), D("63000"))
    book = risk.books[SYMBOL]
    # 3 held for 186000 (average 62000); at the last price 63000: +3000 unrealised
    assert (book.position, book.cost, book.realized_pnl) == (D("3"), D("186000"), D("0"))
    assert book.unrealized_pnl() == D("3000")
    risk.on_fill(SYMBOL, Side.SELL, D("1"), D("61000"))  # closes 1 at 61000: -1000
    assert (book.position, book.cost, book.realized_pnl) == (D("2"), D("124000"), D("-1000"))


def test_a_new_book_is_empty() -> None:
    book = SymbolBook()
    assert (book.position, book.cost, book.realized_pnl, book.last_price) == (
        D(0),
        D(0),
        D(0),
        None,
    )
    assert book.unrealized_pnl() == D(0)
    book.last_price = D("60000")
    assert book.unrealized_pnl() == D(0)  # nothing held
    assert Reserved() == Reserved(buy=D(0), sell=D(0))


def test_a_trade_price_for_a_new_symbol_opens_its_book() -> None:
    risk, _ = engine()
    risk.on_trade_price("ETHUSDT", D("3000"))
    assert risk.books["ETHUSDT"].last_price == D("3000")
    assert risk.book("ETHUSDT") is risk.books["ETHUSDT"]


def test_a_fill_of_one_or_less_against_a_short_position_closes_part_of_it() -> None:
    # short 2 at 60000; buying 1 at 59000 closes half: +1000, 1 short left at 60000
    risk, _ = engine()
    risk.on_fill(SYMBOL, Side.SELL, D("2"), D("60000"))
    risk.on_fill(SYMBOL, Side.BUY, D("1"), D("59000"))
    book = risk.books[SYMBOL]
    assert (book.position, book.cost, book.realized_pnl) == (D("-1"), D("-60000"), D("1000"))


def test_a_position_with_no_trade_price_has_no_unrealised_pnl() -> None:
    assert SymbolBook(position=D("2"), cost=D("120000")).unrealized_pnl() == D(0)


# --- the day's loss and the position limit together ------------------------------------


def test_over_the_daily_loss_an_order_that_flips_the_position_to_the_same_size_is_denied() -> None:
    # long 2 at 60000, last trade 59500: unrealised -1000 = the limit; selling 4 ends short 2
    risk, _ = engine(max_daily_loss="1000")
    risk.on_fill(SYMBOL, Side.BUY, D("2"), D("60000"))
    risk.on_trade_price(SYMBOL, D("59500"))
    assert denied(risk, order("4", Side.SELL)) == Denial.MAX_DAILY_LOSS
    assert denied(risk, order("3.99", Side.SELL)) is None  # short 1.99: smaller


# --- the kept verdict follows every object it was reached on -----------------------------


def test_a_kept_verdict_follows_a_new_limit_price_and_a_market_order_after_a_limit() -> None:
    # one quantity object throughout; notional limit 60500 with the last trade at 60000
    risk, _ = engine(max_order_notional="60500")
    qty = D("1")
    in_band = D("60400")

    def with_price(price: Decimal | None) -> SubmitOrder:
        return SubmitOrder(
            client_order_id="c",
            ts_init=0,
            venue="binance",
            symbol=SYMBOL,
            side=Side.SELL,
            quantity=qty,
            order_type=OrderType.LIMIT if price is not None else OrderType.MARKET,
            price=price,
        )

    assert denied(risk, with_price(in_band)) is None  # 60400
    assert denied(risk, with_price(D("61000"))) == Denial.MAX_ORDER_NOTIONAL  # a new price
    assert denied(risk, with_price(None)) is None  # market: at the last trade, 60000
    assert denied(risk, with_price(D("61000"))) == Denial.MAX_ORDER_NOTIONAL
    assert denied(risk, with_price(in_band)) is None


def test_a_kept_verdict_follows_a_new_mark_under_the_same_limit_price() -> None:
    # long 2 at 60000; a LIMIT sell at one price object while the last trade falls
    risk, _ = engine(max_daily_loss="1000", price_band="0.1")
    risk.on_fill(SYMBOL, Side.BUY, D("2"), D("60000"))
    qty, price = D("0.1"), D("59000")
    buy = SubmitOrder(
        client_order_id="c",
        ts_init=0,
        venue="binance",
        symbol=SYMBOL,
        side=Side.BUY,
        quantity=qty,
        order_type=OrderType.LIMIT,
        price=price,
    )
    assert denied(risk, buy) is None
    risk.on_trade_price(SYMBOL, D("59000"))  # unrealised -2000
    assert denied(risk, buy) == Denial.MAX_DAILY_LOSS


def test_a_kept_verdict_follows_new_limits() -> None:
    risk, _ = engine(max_order_qty="2")
    qty = D("1.5")
    cmd = SubmitOrder(
        client_order_id="c", ts_init=0, venue="binance", symbol=SYMBOL, side=Side.SELL, quantity=qty
    )
    assert denied(risk, cmd) is None
    risk.config = RiskConfig(
        symbols={SYMBOL: limits(max_order_qty="1")},
        max_orders_per_second=1000,
        max_orders_per_minute=100_000,
    )
    assert denied(risk, cmd) == Denial.MAX_ORDER_QTY


def test_a_kept_verdict_is_not_reused_when_the_quantity_is_the_last_price_object() -> None:
    risk, _ = engine(max_order_qty="2", max_order_notional="1000000000000", price_band="0.1")
    price = D("60000")

    def limit(quantity: Decimal) -> SubmitOrder:
        return SubmitOrder(
            client_order_id="c",
            ts_init=0,
            venue="binance",
            symbol=SYMBOL,
            side=Side.SELL,
            quantity=quantity,
            order_type=OrderType.LIMIT,
            price=price,
        )

    assert denied(risk, limit(D("1"))) is None
    assert denied(risk, limit(price)) == Denial.MAX_ORDER_QTY  # 60000 BTC


# --- names and shapes other parts rely on --------------------------------------------------


def test_denial_reasons_and_trading_states_are_spelled_as_the_journal_stores_them() -> None:
    assert [d.value for d in Denial] == [
        "HALTED",
        "REDUCING_ONLY",
        "NO_LIMITS",
        "MAX_ORDER_QTY",
        "MAX_ORDER_NOTIONAL",
        "MAX_POSITION",
        "MAX_DAILY_LOSS",
        "RATE_PER_SECOND",
        "RATE_PER_MINUTE",
        "NO_REFERENCE_PRICE",
        "PRICE_BAND",
    ]
    assert [s.value for s in TradingState] == ["ACTIVE", "REDUCING", "HALTED"]


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (TradingState.HALTED, "HALTED"),
        (TradingState.REDUCING, "REDUCING_ONLY"),
    ],
)
def test_a_denial_event_carries_the_reason_text(state: TradingState, reason: str) -> None:
    risk, _ = engine()
    risk.set_state(state, "why")
    denial = risk.check(order("0.1"))
    assert denial is not None
    assert (denial.reason, denial.detail) == (reason, "why")


@pytest.mark.parametrize(
    ("over", "cmd", "reason"),
    [
        ({}, order("0.1", Side.BUY, "70000"), "PRICE_BAND"),
        ({"max_order_notional": "1"}, order("0.1"), "MAX_ORDER_NOTIONAL"),
        ({"max_position": "0.05"}, order("0.1"), "MAX_POSITION"),
    ],
)
def test_each_size_denial_carries_its_reason_text(
    over: dict[str, str], cmd: SubmitOrder, reason: str
) -> None:
    risk, _ = engine_with(limits(**over))
    result = risk.check(cmd)
    assert result is not None and result.reason == reason


def test_missing_limits_a_missing_price_and_the_minute_rate_carry_their_reason_text() -> None:
    risk, _ = engine(per_minute=1)
    unknown = SubmitOrder(
        client_order_id="c", ts_init=0, venue="binance", symbol="XYZ", side=Side.BUY, quantity=D(1)
    )
    result = risk.check(unknown)
    assert result is not None and result.reason == "NO_LIMITS"
    assert risk.check(order("0.1")) is None
    result = risk.check(order("0.1"))
    assert result is not None and result.reason == "RATE_PER_MINUTE"
    risk.books[SYMBOL].last_price = None
    result = risk.check(order("0.1"))
    assert result is not None and result.reason == "NO_REFERENCE_PRICE"
    loss, _ = engine(max_daily_loss="0")
    result = loss.check(order("0.1"))
    assert result is not None and result.reason == "MAX_DAILY_LOSS"


def test_a_new_engine_is_active_with_no_reason() -> None:
    risk, _ = engine()
    assert (risk.state, risk.state_reason) == (TradingState.ACTIVE, "")
    assert "_ready" not in repr(risk)


def test_the_default_rates_are_five_a_second_and_sixty_a_minute() -> None:
    clock = Clock()
    risk = RiskEngine(
        RiskConfig(symbols={SYMBOL: limits()}), monotonic_ns=clock.monotonic, wall_ns=clock.wall_ns
    )
    risk.on_trade_price(SYMBOL, D("60000"))
    assert [denied(risk, order("0.1")) for _ in range(6)] == [None] * 5 + ["RATE_PER_SECOND"]
    for _ in range(11):  # 5 a second for 11 more seconds: 60 in all, then the minute is full
        clock.mono += NS
        for _ in range(5):
            denied(risk, order("0.1"))
    assert len(risk._last_minute) == 60
    clock.mono += NS
    assert denied(risk, order("0.1")) == Denial.RATE_PER_MINUTE


def test_limits_and_config_are_frozen_keyword_only_and_strict() -> None:
    one = limits()
    with pytest.raises(AttributeError):
        one.max_position = D("1")  # type: ignore[misc]
    with pytest.raises(TypeError):
        SymbolLimits(D(1), D(1), D(1), D(1))  # type: ignore[call-arg]
    with pytest.raises(msgspec.ValidationError, match="max_postion"):
        msgspec.convert(
            {
                "max_order_qty": "1",
                "max_order_notional": "1",
                "max_position": "1",
                "max_daily_loss": "1",
                "max_postion": "1",
            },
            SymbolLimits,
            strict=False,
        )
    config = RiskConfig(symbols={})
    with pytest.raises(AttributeError):
        config.max_orders_per_second = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        RiskConfig({})  # type: ignore[call-arg]
    with pytest.raises(msgspec.ValidationError, match="max_order_per_second"):
        msgspec.convert({"symbols": {}, "max_order_per_second": 1}, RiskConfig)


def test_the_bookkeeping_records_take_no_attribute_they_do_not_declare() -> None:
    risk, _ = engine()
    for record in (Reserved(), SymbolBook(), risk):
        with pytest.raises(AttributeError):
            record.typo = 1  # type: ignore[union-attr]


def test_a_position_closed_at_an_uneven_average_leaves_no_cost() -> None:
    # 100000 over 3 BTC does not divide evenly: closing all 3 must leave the book flat at
    # exactly zero cost (no ~1e-23 residue counted as exposure or unrealised P&L)
    risk, _ = engine()
    risk.on_fill(SYMBOL, Side.BUY, D("1"), D("33333"))
    risk.on_fill(SYMBOL, Side.BUY, D("2"), D("33333.5"))
    risk.on_fill(SYMBOL, Side.SELL, D("3"), D("34000"))
    book = risk.book(SYMBOL)
    assert book.position == 0
    assert book.cost.is_zero()
    # sold 3 at 34000 = 102000 against 100000 paid: 2000 realised (Decimal's 28 digits)
    assert abs(book.realized_pnl - D("2000")) < D("1e-20")

"""The risk engine (engine/risk.py): each limit, each state, cancels under HALTED."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from tests.engine.factories import Clock

from whalewire.engine.risk import (
    NS_PER_DAY,
    NS_PER_S,
    Denial,
    Reserved,
    RiskConfig,
    RiskEngine,
    SymbolLimits,
    TradingState,
)
from whalewire.model import CancelOrder, OrderType, Side, SubmitOrder

D = Decimal


LIMITS = SymbolLimits(
    max_order_qty=D("2"),
    max_order_notional=D("100000"),
    max_position=D("3"),
    max_daily_loss=D("1000"),
    price_band=D("0.05"),
)


def engine(per_second: int = 100, per_minute: int = 1000) -> tuple[RiskEngine, Clock]:
    clock = Clock()
    risk = RiskEngine(
        RiskConfig(
            symbols={"BTCUSDT": LIMITS},
            max_orders_per_second=per_second,
            max_orders_per_minute=per_minute,
        ),
        monotonic_ns=clock.monotonic,
        wall_ns=clock.wall_ns,
    )
    risk.on_trade_price("BTCUSDT", D("60000"))
    return risk, clock


_seq = iter(range(1_000_000))


def order(
    qty: str = "1",
    side: Side = Side.SELL,
    symbol: str = "BTCUSDT",
    price: str | None = None,
) -> SubmitOrder:
    return SubmitOrder(
        client_order_id=f"c{next(_seq)}",
        ts_init=0,
        venue="binance",
        symbol=symbol,
        side=side,
        quantity=D(qty),
        order_type=OrderType.LIMIT if price else OrderType.MARKET,
        price=D(price) if price else None,
    )


def denied(risk: RiskEngine, cmd: SubmitOrder) -> str | None:
    result = risk.check(cmd)
    return None if result is None else result.reason


def test_order_within_every_limit_passes() -> None:
    risk, _ = engine()
    assert denied(risk, order("1")) is None


def test_halted_denies_new_orders_but_lets_cancels_through() -> None:
    risk, _ = engine()
    risk.set_state(TradingState.HALTED, "kill switch: operator")
    denial = risk.check(order("0.1"))
    assert denial is not None
    assert (denial.reason, denial.detail) == (Denial.HALTED, "kill switch: operator")
    cancel = CancelOrder(client_order_id="c1", ts_init=0, venue="binance", symbol="BTCUSDT")
    assert risk.check_cancel(cancel) is None


def test_reducing_accepts_only_orders_that_shrink_the_position() -> None:
    risk, _ = engine()
    risk.on_fill("BTCUSDT", Side.BUY, D("1"), D("60000"))
    risk.set_state(TradingState.REDUCING, "daily review")
    assert denied(risk, order("1", Side.BUY)) == Denial.REDUCING_ONLY
    assert denied(risk, order("0.5", Side.SELL)) is None


@pytest.mark.parametrize(
    ("cmd", "reason"),
    [
        (order("2.5"), Denial.MAX_ORDER_QTY),
        (order("1", symbol="ETHUSDT"), Denial.NO_LIMITS),
        (order("1", price="70000"), Denial.PRICE_BAND),
        (order("1", price="56000"), Denial.PRICE_BAND),
        (order("1.9", price="61000"), Denial.MAX_ORDER_NOTIONAL),
    ],
    ids=["qty", "no-limits", "band-above", "band-below", "notional"],
)
def test_order_beyond_a_limit_is_denied_with_its_reason(cmd: SubmitOrder, reason: Denial) -> None:
    risk, _ = engine()
    assert denied(risk, cmd) == reason


def test_market_order_without_any_trade_price_is_denied() -> None:
    risk, _ = engine()
    risk.books.clear()
    assert denied(risk, order("1")) == Denial.NO_REFERENCE_PRICE


def test_open_orders_count_toward_the_position_limit() -> None:
    risk, _ = engine()
    held = Reserved(sell=D("3"))  # open sells: 3 = the limit (execution's to keep)
    risk.reserved = {"BTCUSDT": held}
    assert denied(risk, order("0.1")) == Denial.MAX_POSITION
    assert denied(risk, order("0.1", Side.BUY)) is None  # the other side is free
    held.sell = D("2")  # one expired unfilled
    assert denied(risk, order("0.1")) is None


def test_an_order_reduces_only_if_every_open_order_on_its_side_fills_as_well() -> None:
    # long 2, with 3 already offered: selling 1 more could leave the book short 2, not
    # smaller than now, so it is held to the limit like any other order
    risk, _ = engine()
    risk.on_fill("BTCUSDT", Side.BUY, D("2"), D("60000"))
    risk.reserved = {"BTCUSDT": Reserved(sell=D("4.5"))}
    assert denied(risk, order("1")) == Denial.MAX_POSITION
    risk.set_state(TradingState.REDUCING, "daily review")
    assert denied(risk, order("1")) == Denial.REDUCING_ONLY


def test_daily_loss_limit_blocks_new_exposure_until_the_next_utc_day() -> None:
    risk, clock = engine()
    risk.on_fill("BTCUSDT", Side.BUY, D("1"), D("60000"))
    risk.on_fill("BTCUSDT", Side.SELL, D("1"), D("58900"))  # realised -1100
    assert risk.books["BTCUSDT"].realized_pnl == D("-1100")
    assert denied(risk, order("0.1", Side.SELL)) == Denial.MAX_DAILY_LOSS
    clock.advance(86_400)
    assert denied(risk, order("0.1", Side.SELL)) is None


def test_unrealised_loss_counts_toward_the_daily_limit() -> None:
    risk, _ = engine()
    risk.on_fill("BTCUSDT", Side.BUY, D("1"), D("60000"))
    risk.on_trade_price("BTCUSDT", D("58000"))
    assert denied(risk, order("0.1", Side.BUY)) == Denial.MAX_DAILY_LOSS
    # selling reduces the position, so it stays allowed
    assert denied(risk, order("0.1", Side.SELL)) is None


def test_orders_per_second_and_per_minute_are_capped() -> None:
    risk, clock = engine(per_second=2, per_minute=3)
    assert denied(risk, order("0.1")) is None
    assert denied(risk, order("0.1")) is None
    assert denied(risk, order("0.1")) == Denial.RATE_PER_SECOND
    clock.advance(1)
    assert denied(risk, order("0.1")) is None
    assert denied(risk, order("0.1")) == Denial.RATE_PER_MINUTE
    clock.advance(60)
    assert denied(risk, order("0.1")) is None


def test_denied_orders_do_not_use_up_the_rate_limit() -> None:
    risk, _ = engine(per_second=1)
    assert denied(risk, order("5")) == Denial.MAX_ORDER_QTY
    assert denied(risk, order("0.1")) is None


def test_short_position_pnl_uses_average_cost() -> None:
    risk, _ = engine()
    risk.on_fill("BTCUSDT", Side.SELL, D("1"), D("60000"))
    risk.on_fill("BTCUSDT", Side.SELL, D("1"), D("62000"))
    risk.on_fill("BTCUSDT", Side.BUY, D("1.5"), D("59000"))
    book = risk.books["BTCUSDT"]
    assert book.position == D("-0.5")
    assert book.realized_pnl == D("3000")  # (61000 - 59000) * 1.5
    assert book.unrealized_pnl() == D("1000")  # 0.5 short at 61000, last 59000


def test_a_kept_verdict_follows_a_new_price_a_fill_and_a_new_day() -> None:
    # one quantity object for every order, as the strategy's fixed size is: what the fast
    # pass keeps for it must still follow every change of what it was computed from
    risk, clock = engine()
    qty = D("0.1")
    buy = SubmitOrder(
        client_order_id="c",
        ts_init=0,
        venue="binance",
        symbol="BTCUSDT",
        side=Side.BUY,
        quantity=qty,
    )
    assert risk.check(buy) is None
    risk.on_trade_price("BTCUSDT", D("1500000"))  # notional 150000 > 100000
    assert denied(risk, buy) == Denial.MAX_ORDER_NOTIONAL
    risk.on_trade_price("BTCUSDT", D("60000"))
    # yesterday's profit hides today's unrealised loss until the day rolls
    risk.on_fill("BTCUSDT", Side.BUY, D("2"), D("60000"))
    risk.on_fill("BTCUSDT", Side.SELL, D("1"), D("62000"))  # realised +2000, 1 held at 60000
    risk.on_trade_price("BTCUSDT", D("58500"))  # unrealised -1500
    assert risk.check(buy) is None  # the day's loss so far: -500
    clock.advance(86_400)
    assert denied(risk, buy) == Denial.MAX_DAILY_LOSS  # realised reset: loss 1500 >= 1000


# --- the kept verdict equals a fresh one, on any sequence ---------------------------------


def _amounts(low: str, high: str, places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(low, high, places=places, allow_nan=False, allow_infinity=False)


# ranges where every check both passes and denies often (limits near what orders ask)
_limits = st.builds(
    SymbolLimits,
    max_order_qty=_amounts("0.2", "2", 2),
    max_order_notional=_amounts("5000", "150000", 0),
    max_position=_amounts("0.5", "3", 2),
    max_daily_loss=_amounts("100", "3000", 0),
    price_band=_amounts("0", "0.1", 3),
)
# the same Decimal objects come back often (a fixed order size, a price not yet moved), as
# they do in the engine: the fast pass keeps verdicts for the objects it last saw
_QUANTITIES = [D("0.1"), D("0.25"), D("0.5")]
_PRICES = [D("59000"), D("60000"), D("61000")]
_prices = st.sampled_from(_PRICES) | _amounts("50000", "70000", 0)
_symbols = st.sampled_from(["BTCUSDT", "ETHUSDT"])
_commands = st.builds(
    SubmitOrder,
    client_order_id=st.just("c"),
    ts_init=st.just(0),
    venue=st.just("binance"),
    symbol=st.sampled_from(["BTCUSDT", "BTCUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT"]),
    side=st.sampled_from(Side),
    quantity=st.sampled_from(_QUANTITIES) | _amounts("0", "0.6", 2),
    order_type=st.sampled_from([OrderType.MARKET, OrderType.MARKET, OrderType.LIMIT]),
    price=st.none() | _prices,
)
# half the operations are checks (one_of picks its branches evenly); time passes between
# orders, often less than the rate windows, sometimes more
_operations = st.one_of(
    st.tuples(
        st.just("check"),
        _commands,
        st.sampled_from([False, False, False, True]),  # shadow
        st.sampled_from(
            [0, NS_PER_S // 1000, NS_PER_S // 3, NS_PER_S, 60 * NS_PER_S, 61 * NS_PER_S]
        ),
    ),
    st.one_of(
        st.tuples(st.just("fill"), _symbols, st.sampled_from(Side), _amounts("0", "1", 2), _prices),
        st.tuples(st.just("price"), _symbols, _prices),
        st.tuples(st.just("reserved"), _symbols, _amounts("0", "2", 2), _amounts("0", "2", 2)),
        st.tuples(st.just("state"), st.sampled_from([*TradingState, TradingState.ACTIVE])),
        st.tuples(
            st.just("time"),
            st.sampled_from([0, 1, NS_PER_S // 2, NS_PER_S - 1, NS_PER_S, 61 * NS_PER_S]),
            st.sampled_from([0, NS_PER_S, NS_PER_DAY // 3, NS_PER_DAY]),
        ),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries({"BTCUSDT": _limits}, optional={"ETHUSDT": _limits}),
    st.integers(1, 4),
    st.integers(1, 10),
    st.lists(_operations, min_size=30, max_size=80),
)
def test_kept_verdicts_equal_fresh_ones_on_any_sequence_of_orders_fills_and_states(
    symbols: dict[str, SymbolLimits], per_second: int, per_minute: int, operations: list[Any]
) -> None:
    # two engines fed the same: one keeps its size verdicts, the other forgets them
    # before every check (so each rule is evaluated afresh)
    clock = Clock()
    config = RiskConfig(
        symbols=symbols, max_orders_per_second=per_second, max_orders_per_minute=per_minute
    )
    engines = [
        RiskEngine(config, monotonic_ns=clock.monotonic, wall_ns=lambda: clock.wall)
        for _ in range(2)
    ]
    for risk in engines:
        risk.on_trade_price("BTCUSDT", D("60000"))
    passed = 0
    for op, *args in operations:
        if op == "time":  # the two clocks move apart, as the wall clock can
            clock.mono += args[0]
            clock.wall += args[1]
            continue
        results = []
        if op == "check":
            clock.mono += args[2]
            engines[1]._ready.clear()
        for risk in engines:
            if op == "check":
                results.append(risk.check(args[0], shadow=args[1]))
            elif op == "fill":
                risk.on_fill(*args)
            elif op == "price":
                risk.on_trade_price(*args)
            elif op == "reserved":
                risk.reserved = {args[0]: Reserved(buy=args[1], sell=args[2])}
            else:
                risk.set_state(args[0], "test")
        kept, fresh = engines
        assert results[:1] == results[1:]
        assert repr(kept.books) == repr(fresh.books)
        assert list(kept._last_second) == list(fresh._last_second)
        assert list(kept._last_minute) == list(fresh._last_minute)
        passed += op == "check" and not args[1] and results[0] is None
    event(f"checks passed: {min(passed, 3)}+")

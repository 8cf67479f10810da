"""The risk engine (engine/risk.py): each limit, each state, cancels under HALTED."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from whalewire.engine.risk import (
    NS_PER_DAY,
    NS_PER_S,
    Denial,
    RiskConfig,
    RiskEngine,
    SymbolLimits,
    TradingState,
)
from whalewire.model import CancelOrder, OrderType, Side, SubmitOrder

D = Decimal


@dataclass
class TestClock:
    __test__ = False
    mono: int = 10 * NS_PER_S
    wall: int = 20_000 * NS_PER_DAY + 1

    def advance(self, ns: int) -> None:
        self.mono += ns
        self.wall += ns


LIMITS = SymbolLimits(
    max_order_qty=D("2"),
    max_order_notional=D("100000"),
    max_position=D("3"),
    max_daily_loss=D("1000"),
    price_band=D("0.05"),
)


def engine(per_second: int = 100, per_minute: int = 1000) -> tuple[RiskEngine, TestClock]:
    clock = TestClock()
    risk = RiskEngine(
        RiskConfig(
            symbols={"BTCUSDT": LIMITS},
            max_orders_per_second=per_second,
            max_orders_per_minute=per_minute,
        ),
        monotonic_ns=lambda: clock.mono,
        wall_ns=lambda: clock.wall,
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
    assert denied(risk, order("1.5")) is None
    assert denied(risk, order("1.5")) is None  # open sells: 3 = the limit
    assert denied(risk, order("0.1")) == Denial.MAX_POSITION
    risk.on_order_closed("BTCUSDT", Side.SELL, D("1"))  # one expired unfilled
    assert denied(risk, order("0.1")) is None


def test_daily_loss_limit_blocks_new_exposure_until_the_next_utc_day() -> None:
    risk, clock = engine()
    risk.on_fill("BTCUSDT", Side.BUY, D("1"), D("60000"))
    risk.on_fill("BTCUSDT", Side.SELL, D("1"), D("58900"))  # realised -1100
    assert risk.books["BTCUSDT"].realized_pnl == D("-1100")
    assert denied(risk, order("0.1", Side.SELL)) == Denial.MAX_DAILY_LOSS
    clock.advance(NS_PER_DAY)
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
    clock.advance(NS_PER_S)
    assert denied(risk, order("0.1")) is None
    assert denied(risk, order("0.1")) == Denial.RATE_PER_MINUTE
    clock.advance(60 * NS_PER_S)
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

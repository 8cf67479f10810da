"""The whale strategy (engine/strategy.py): when it trades, how much, and why it does not."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from whalewire.engine.strategy import (
    AlertIgnored,
    IgnoreReason,
    Route,
    StrategyConfig,
    WhaleStrategy,
)
from whalewire.model import Side, SubmitOrder

NS = 1_000_000_000


class Kind(Enum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


@dataclass(frozen=True)
class Alert:
    txid: str
    entity: str = "binance"
    value: int = 5 * 100_000_000
    kind: Kind = Kind.DEPOSIT
    recv_ns: int = 7


class Clock:
    def __init__(self) -> None:
        self.now = 1_000 * NS

    def __call__(self) -> int:
        return self.now


def strategy(**overrides: object) -> tuple[WhaleStrategy, Clock]:
    clock = Clock()
    ids = iter(range(1, 1000))
    config = StrategyConfig(**overrides)  # type: ignore[arg-type]
    return WhaleStrategy(
        config, monotonic_ns=clock, next_client_order_id=lambda venue: f"{venue}-{next(ids)}"
    ), clock


def ignored(decision: object) -> IgnoreReason:
    assert isinstance(decision, AlertIgnored), decision
    return decision.reason


def test_deposit_over_the_threshold_sells_the_fixed_quantity_on_the_default_route() -> None:
    s, _ = strategy()
    order = s.on_alert(Alert("aa"))
    assert isinstance(order, SubmitOrder)
    assert (order.venue, order.symbol, order.side, order.quantity) == (
        "binance",
        "BTCUSDT",
        Side.SELL,
        Decimal("0.001"),
    )
    assert order.client_order_id == "binance-1"
    assert "aa" in order.reason


def test_deposit_below_the_threshold_is_ignored() -> None:
    s, _ = strategy(min_value_sats=10 * 100_000_000)
    assert ignored(s.on_alert(Alert("aa"))) is IgnoreReason.BELOW_THRESHOLD


def test_same_txid_from_a_second_feed_is_a_duplicate() -> None:
    s, clock = strategy()
    assert isinstance(s.on_alert(Alert("aa")), SubmitOrder)
    clock.now += 3600 * NS
    assert ignored(s.on_alert(Alert("aa"))) is IgnoreReason.DUPLICATE


def test_mined_transaction_is_old_news() -> None:
    s, _ = strategy()
    assert ignored(s.on_alert(Alert("aa"), mined=True)) is IgnoreReason.MINED


def test_withdrawals_are_not_traded_unless_configured() -> None:
    s, _ = strategy()
    assert ignored(s.on_alert(Alert("aa", kind=Kind.WITHDRAWAL))) is IgnoreReason.KIND_NOT_TRADED
    s2, _ = strategy(sides={"deposit": Side.SELL, "withdrawal": Side.BUY})
    order = s2.on_alert(Alert("bb", kind=Kind.WITHDRAWAL))
    assert isinstance(order, SubmitOrder)
    assert order.side is Side.BUY


def test_fraction_sizing_rounds_down_to_the_quantity_step() -> None:
    s, _ = strategy(size_mode="fraction", fraction=Decimal("0.001"), qty_step=Decimal("0.0001"))
    order = s.on_alert(Alert("aa", value=1_234_567_890))  # 12.3456789 BTC -> 0.0123456789
    assert isinstance(order, SubmitOrder)
    assert order.quantity == Decimal("0.0123")


def test_size_that_rounds_to_zero_is_not_traded() -> None:
    s, _ = strategy(size_mode="fraction", fraction=Decimal("0.000001"), qty_step=Decimal("0.001"))
    assert ignored(s.on_alert(Alert("aa"))) is IgnoreReason.ZERO_SIZE


def test_route_per_entity_overrides_the_default() -> None:
    s, _ = strategy(routes={"kraken": Route("kraken", "BTC/USD")})
    order = s.on_alert(Alert("aa", entity="kraken"))
    assert isinstance(order, SubmitOrder)
    assert (order.venue, order.symbol) == ("kraken", "BTC/USD")


def test_second_reaction_to_one_entity_waits_for_the_cooldown() -> None:
    s, clock = strategy(cooldown_s=5.0)
    assert isinstance(s.on_alert(Alert("a1")), SubmitOrder)
    clock.now += 4 * NS
    assert ignored(s.on_alert(Alert("a2"))) is IgnoreReason.COOLDOWN
    assert isinstance(s.on_alert(Alert("a3", entity="kraken")), SubmitOrder)
    clock.now += 1 * NS
    assert isinstance(s.on_alert(Alert("a4")), SubmitOrder)


def test_reactions_per_window_are_capped_across_entities() -> None:
    s, clock = strategy(cooldown_s=0.0, max_reactions=2, window_s=60.0)
    assert isinstance(s.on_alert(Alert("a1")), SubmitOrder)
    assert isinstance(s.on_alert(Alert("a2", entity="x")), SubmitOrder)
    assert ignored(s.on_alert(Alert("a3", entity="y"))) is IgnoreReason.WINDOW_FULL
    clock.now += 60 * NS
    assert isinstance(s.on_alert(Alert("a4", entity="y")), SubmitOrder)


def test_ignored_alert_records_when_it_arrived_and_when_it_was_decided() -> None:
    s, clock = strategy(min_value_sats=10**12)
    decision = s.on_alert(Alert("aa", recv_ns=123))
    assert isinstance(decision, AlertIgnored)
    assert (decision.ts_event, decision.ts_init) == (123, clock.now)


def test_entity_threshold_overrides_the_default_both_ways() -> None:
    s, _ = strategy(min_value_sats=10 * 100_000_000, entity_min_value_sats={"kraken": 1})
    assert isinstance(s.on_alert(Alert("a1", entity="kraken", value=2)), SubmitOrder)
    assert ignored(s.on_alert(Alert("a2", entity="binance"))) is IgnoreReason.BELOW_THRESHOLD

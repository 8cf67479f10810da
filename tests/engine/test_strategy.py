"""The whale strategy (engine/strategy.py): when it trades, how much, and why it does not."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.factories import Alert, Clock, Kind, ignored, strategy

from whalewire.engine.strategy import (
    SHADOW_ID,
    AlertIgnored,
    Decision,
    IgnoreReason,
    Route,
    StrategyConfig,
    WhaleStrategy,
)
from whalewire.model import OrderType, Side, SubmitOrder

NS = 1_000_000_000


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
    clock.mono += 3600 * NS
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
    clock.mono += 4 * NS
    assert ignored(s.on_alert(Alert("a2"))) is IgnoreReason.COOLDOWN
    assert isinstance(s.on_alert(Alert("a3", entity="kraken")), SubmitOrder)
    clock.mono += 1 * NS
    assert isinstance(s.on_alert(Alert("a4")), SubmitOrder)


def test_reactions_per_window_are_capped_across_entities() -> None:
    s, clock = strategy(cooldown_s=0.0, max_reactions=2, window_s=60.0)
    assert isinstance(s.on_alert(Alert("a1")), SubmitOrder)
    assert isinstance(s.on_alert(Alert("a2", entity="x")), SubmitOrder)
    assert ignored(s.on_alert(Alert("a3", entity="y"))) is IgnoreReason.WINDOW_FULL
    clock.mono += 60 * NS
    assert isinstance(s.on_alert(Alert("a4", entity="y")), SubmitOrder)


def test_ignored_alert_records_when_it_arrived_and_when_it_was_decided() -> None:
    s, clock = strategy(min_value_sats=10**12)
    decision = s.on_alert(Alert("aa", recv_ns=123))
    assert isinstance(decision, AlertIgnored)
    assert (decision.ts_event, decision.ts_init) == (123, clock.mono)


def test_entity_threshold_overrides_the_default_both_ways() -> None:
    s, _ = strategy(min_value_sats=10 * 100_000_000, entity_min_value_sats={"kraken": 1})
    assert isinstance(s.on_alert(Alert("a1", entity="kraken", value=2)), SubmitOrder)
    assert ignored(s.on_alert(Alert("a2", entity="binance"))) is IgnoreReason.BELOW_THRESHOLD


# --- the decision as it was written first: the reference the fast one is proven equal to -----


class ReferenceStrategy:
    """``WhaleStrategy.on_alert`` before the per-entity plans: every lookup per alert."""

    def __init__(self, config: StrategyConfig, clock: Clock, ids: Callable[[str], str]) -> None:
        self.config = config
        self._now = clock.monotonic
        self._next_id = ids
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._last_by_entity: dict[str, int] = {}
        self._reactions: deque[int] = deque()

    def on_alert(self, alert: Alert, *, mined: bool = False, shadow: bool = False) -> Decision:
        now = self._now()
        reason = self._ignore_reason(alert, mined, now, shadow)
        if reason is not None and not shadow:
            return AlertIgnored(
                txid=alert.txid,
                entity=alert.entity,
                reason=reason,
                ts_init=now,
                ts_event=alert.recv_ns,
            )
        kind = alert.kind.value
        side = self.config.sides.get(kind, Side.SELL)
        qty = self._size(alert.value)
        if qty <= 0 and not shadow:
            return AlertIgnored(
                txid=alert.txid,
                entity=alert.entity,
                reason=IgnoreReason.ZERO_SIZE,
                ts_init=now,
                ts_event=alert.recv_ns,
            )
        route = self.config.routes.get(alert.entity, self.config.default_route)
        if shadow:
            coid = SHADOW_ID
        else:
            self._last_by_entity[alert.entity] = now
            self._reactions.append(now)
            coid = self._next_id(route.venue)
        return SubmitOrder(
            client_order_id=coid,
            ts_init=now,
            venue=route.venue,
            symbol=route.symbol,
            side=side,
            quantity=qty,
            order_type=OrderType.MARKET,
            reason=f"{kind} {alert.value} sat to {alert.entity} in {alert.txid}",
            txid=alert.txid,
        )

    def _ignore_reason(
        self, alert: Alert, mined: bool, now: int, shadow: bool
    ) -> IgnoreReason | None:
        cfg = self.config
        if alert.txid in self._seen:
            return IgnoreReason.DUPLICATE
        if not shadow:
            self._seen[alert.txid] = None
        if mined:
            return IgnoreReason.MINED
        if alert.kind.value not in cfg.sides:
            return IgnoreReason.KIND_NOT_TRADED
        if alert.value < cfg.entity_min_value_sats.get(alert.entity, cfg.min_value_sats):
            return IgnoreReason.BELOW_THRESHOLD
        last = self._last_by_entity.get(alert.entity)
        if last is not None and now - last < cfg.cooldown_s * NS:
            return IgnoreReason.COOLDOWN
        reactions = self._reactions
        while reactions and now - reactions[0] >= cfg.window_s * NS:
            reactions.popleft()
        if len(reactions) >= cfg.max_reactions:
            return IgnoreReason.WINDOW_FULL
        return None

    def _size(self, value_sats: int) -> Decimal:
        cfg = self.config
        qty = (
            cfg.fixed_qty
            if cfg.size_mode == "fixed"
            else Decimal(value_sats) / 10**8 * cfg.fraction
        )
        return (qty / cfg.qty_step).to_integral_value(rounding=ROUND_DOWN) * cfg.qty_step


_ENTITIES = ("binance", "kraken", "okx")
_configs = st.builds(
    StrategyConfig,
    min_value_sats=st.integers(1, 3 * 10**8),
    entity_min_value_sats=st.dictionaries(st.sampled_from(_ENTITIES), st.integers(1, 3 * 10**8)),
    sides=st.dictionaries(st.sampled_from(["deposit", "withdrawal"]), st.sampled_from(Side)),
    size_mode=st.sampled_from(["fixed", "fraction"]),
    fixed_qty=st.decimals("0", "2", places=6),
    fraction=st.decimals("0", "0.01", places=6),
    routes=st.dictionaries(
        st.sampled_from(_ENTITIES),
        st.builds(Route, st.sampled_from(["binance", "kraken"]), st.sampled_from(["A", "B"])),
    ),
    cooldown_s=st.sampled_from([0.0, 0.5, 5.0]),
    max_reactions=st.integers(0, 4),
    window_s=st.sampled_from([0.0, 1.0, 60.0]),
)
_steps = st.lists(
    st.tuples(
        st.sampled_from(["t1", "t2", "t3", "t4", "t5", "t6"]),  # txid: repeats are duplicates
        st.sampled_from(_ENTITIES),
        st.sampled_from(Kind),
        st.integers(0, 4 * 10**8),  # value
        st.booleans(),  # mined
        st.booleans(),  # shadow
        st.integers(0, 3 * NS),  # time passing before the alert
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(_configs, _steps)
def test_decisions_equal_the_reference_strategy_on_any_alert_sequence(
    config: StrategyConfig, steps: list[tuple[str, str, Kind, int, bool, bool, int]]
) -> None:
    clock = Clock()
    fast_ids, reference_ids = iter(range(1, 1000)), iter(range(1, 1000))
    fast = WhaleStrategy(
        config, monotonic_ns=clock.monotonic, next_client_order_id=lambda v: f"{v}-{next(fast_ids)}"
    )
    reference = ReferenceStrategy(config, clock, lambda v: f"{v}-{next(reference_ids)}")
    for txid, entity, kind, value, mined, shadow, dt in steps:
        clock.mono += dt
        alert = Alert(txid, entity=entity, value=value, kind=kind)
        got = fast.on_alert(alert, mined=mined, shadow=shadow)
        assert got == reference.on_alert(alert, mined=mined, shadow=shadow)
        assert list(fast._seen) == list(reference._seen)
        assert fast._last_by_entity == reference._last_by_entity
        assert list(fast._reactions) == list(reference._reactions)

"""Matching invariants under random order flow (hypothesis).

Whatever the orders: no balance ever goes negative, every asset is conserved (what
accounts hold plus the commissions the venue kept equals what was deposited), the book
never stays crossed, and once every order is canceled nothing remains locked.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.emulator.support import SPEC, Clock

from whalewire.emulator.accounts import Registry
from whalewire.emulator.matching import (
    CancelOrder,
    Fees,
    MatchingEngine,
    OrderTraded,
    OrderType,
    PlaceOrder,
    Side,
    TimeInForce,
)

ACCOUNTS = ("a", "b", "c")
DEPOSIT = {"BTC": Decimal(3), "USDT": Decimal(400)}

place = st.builds(
    lambda acct, side, kind, tif, ticks, steps: PlaceOrder(
        acct,
        "BTCUSDT",
        side,
        kind,
        quantity=Decimal(steps) * SPEC.step_size * 1000,
        price=Decimal(95) + Decimal(ticks) * Decimal("0.50") if kind is OrderType.LIMIT else None,
        time_in_force=tif if kind is OrderType.LIMIT else None,
    ),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(Side),
    st.sampled_from(OrderType),
    st.sampled_from(TimeInForce),
    st.integers(0, 20),
    st.integers(1, 300),
)
cancel = st.tuples(st.sampled_from(ACCOUNTS), st.integers(0, 50))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(place, cancel), max_size=60))
def test_balances_are_conserved_and_never_negative(commands):
    registry = Registry()
    for name in ACCOUNTS:
        registry.open_account(name, dict(DEPOSIT))
    engine = MatchingEngine([SPEC], registry, Clock(), Fees(Decimal("0.001"), Decimal("0.002")))
    kept = {"BTC": Decimal(0), "USDT": Decimal(0)}
    for command in commands:
        if isinstance(command, PlaceOrder):
            events = engine.place(command)
        else:
            account, index = command
            open_orders = engine.open_orders(account)
            if not open_orders:
                continue
            view = open_orders[index % len(open_orders)]
            events = engine.cancel(CancelOrder(account, "BTCUSDT", order_id=view.order_id))
        for event in events:
            if isinstance(event, OrderTraded):
                kept[event.trade.commission_asset] += event.trade.commission
        for acct in registry.accounts.values():
            for bal in acct.balances.values():
                assert bal.free >= 0 and bal.locked >= 0
        bids, asks = engine.depth("BTCUSDT")
        if bids and asks:
            assert bids[0][0] < asks[0][0]
    for asset, initial in DEPOSIT.items():
        held = sum(
            (a.balance(asset).free + a.balance(asset).locked for a in registry.accounts.values()),
            Decimal(0),
        )
        assert held + kept[asset] == initial * len(ACCOUNTS)
    for name in ACCOUNTS:
        engine.cancel_all(name, "BTCUSDT")
        for bal in registry.accounts[name].balances.values():
            assert bal.locked == 0

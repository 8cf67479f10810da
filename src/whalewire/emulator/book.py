"""Liquidity for the emulator's books: a seeded synthetic ladder or one replayed from a file.

Produces resting LIMIT GTC orders for a house account so that market orders always find
a counterparty. Knows the matching engine's commands and nothing of any venue protocol.
The same seed gives the same book, level for level.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from whalewire.emulator.matching import (
    Event,
    MatchingEngine,
    OrderType,
    PlaceOrder,
    Side,
    SymbolSpec,
    TimeInForce,
)

#: the account whose resting orders make up the synthetic book
HOUSE_ACCOUNT = "house"


@dataclass(frozen=True, slots=True)
class Level:
    """One resting order to seed: side, price and quantity."""

    side: Side
    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class BookConfig:
    """Shape of a synthetic book around ``mid``.

    ``spread_ticks`` separates the best bid from the best ask; levels are ``level_ticks``
    apart; each level holds ``level_qty`` scaled by a seeded factor in
    [1 - ``qty_jitter``, 1 + ``qty_jitter``].
    """

    mid: Decimal
    levels: int = 20
    spread_ticks: int = 2
    level_ticks: int = 100
    level_qty: Decimal = Decimal(1)
    qty_jitter: Decimal = Decimal("0.5")
    seed: int = 0


def synthetic_levels(spec: SymbolSpec, config: BookConfig) -> list[Level]:
    """Return a ladder of bids below and asks above ``config.mid``, best levels first."""
    rng = random.Random(f"{config.seed}:{spec.symbol}")
    tick = spec.tick_size
    mid = (config.mid / tick).to_integral_value(rounding=ROUND_DOWN) * tick
    half = config.spread_ticks // 2
    best_bid = mid - half * tick
    best_ask = best_bid + config.spread_ticks * tick
    levels: list[Level] = []
    for i in range(config.levels):
        offset = i * config.level_ticks * tick
        for side, price in ((Side.BUY, best_bid - offset), (Side.SELL, best_ask + offset)):
            if price < spec.min_price:
                continue
            factor = 1 + Decimal(rng.uniform(-1, 1)) * config.qty_jitter
            qty = _to_step(config.level_qty * factor, spec.step_size)
            if qty >= spec.min_qty:
                levels.append(Level(side, price, qty))
    return levels


def load_levels(path: Path) -> list[Level]:
    """Read levels from a CSV file with a ``side,price,qty`` header (a recorded book)."""
    with path.open(newline="") as fh:
        return [
            Level(Side(row["side"].upper()), Decimal(row["price"]), Decimal(row["qty"]))
            for row in csv.DictReader(fh)
        ]


def seed_book(engine: MatchingEngine, symbol: str, levels: list[Level]) -> list[Event]:
    """Place ``levels`` as GTC orders of the house account, opening it when needed.

    The house holds far more than it can ever lock, so seeding never fails on balance.
    """
    spec = engine.specs[symbol]
    registry = engine.registry
    if HOUSE_ACCOUNT not in registry.accounts:
        registry.open_account(HOUSE_ACCOUNT)
    house = registry.accounts[HOUSE_ACCOUNT]
    need_base = sum((lv.qty for lv in levels if lv.side is Side.SELL), Decimal(0))
    need_quote = sum((lv.qty * lv.price for lv in levels if lv.side is Side.BUY), Decimal(0))
    house.deposit(spec.base, need_base)
    house.deposit(spec.quote, need_quote)
    events: list[Event] = []
    for lv in levels:
        events.extend(
            engine.place(
                PlaceOrder(
                    HOUSE_ACCOUNT,
                    symbol,
                    lv.side,
                    OrderType.LIMIT,
                    quantity=lv.qty,
                    price=lv.price,
                    time_in_force=TimeInForce.GTC,
                )
            )
        )
    return events


def _to_step(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step

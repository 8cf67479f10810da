"""Liquidity for the emulator's books: a seeded synthetic ladder or one replayed from a file.

Produces resting LIMIT GTC orders for a house account so that market orders always find
a counterparty, and (``PriceWalk``) moves that ladder on a seeded random walk so that a
paper position has a price to be marked at. Knows the matching engine's commands and
nothing of any venue protocol. The same seed gives the same book, level for level, and
the same walk, step for step.
"""

from __future__ import annotations

import asyncio
import csv
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from whalewire.emulator.matching import (
    Event,
    MatchingEngine,
    OrderCanceled,
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
    # only the shortfall: a book re-quoted every second must not inflate the house forever
    for asset, need in ((spec.base, need_base), (spec.quote, need_quote)):
        short = need - house.free(asset)
        if short > 0:
            house.deposit(asset, short)
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


class PriceWalk:
    """A seeded geometric random walk of each symbol's mid; each step re-quotes the house.

    Every ``step`` moves each mid by ``exp(N(0, volatility_bps / 10^4))``, rounded to the
    tick, then replaces the house's ladder around it (cancel all, seed anew). A new ladder
    may cross a client's resting order: those fills are in the returned events, for the
    venue to report as it reports any fill.
    """

    def __init__(
        self,
        mids: dict[str, Decimal],
        *,
        volatility_bps: float,
        levels: int = 20,
        seed: int = 0,
    ) -> None:
        """Start at ``mids`` (symbol -> mid price); ``volatility_bps`` is one step's sigma."""
        if volatility_bps < 0:
            raise ValueError(f"volatility_bps must be >= 0, got {volatility_bps}")
        self.mids = dict(mids)
        self.volatility_bps = volatility_bps
        self.levels = levels
        self.seed = seed
        self.steps = 0
        self._rng = random.Random(f"walk:{seed}")

    def step(self, engine: MatchingEngine) -> list[Event]:
        """Move every mid one step and re-quote the house around it; return the events."""
        self.steps += 1
        events: list[Event] = []
        sigma = self.volatility_bps / 10_000
        for symbol in sorted(self.mids):
            spec = engine.specs[symbol]
            factor = Decimal(math.exp(self._rng.gauss(0.0, sigma)))
            mid = max(_to_step(self.mids[symbol] * factor, spec.tick_size), spec.min_price)
            self.mids[symbol] = mid
            for event in engine.cancel_all(HOUSE_ACCOUNT, symbol):
                if isinstance(event, OrderCanceled):
                    engine.forget(event.order.order_id)  # nobody asks about house orders
            shape = BookConfig(mid=mid, levels=self.levels, seed=self.seed + self.steps)
            events.extend(seed_book(engine, symbol, synthetic_levels(spec, shape)))
        return events


def price_walk(
    symbols: Mapping[str, tuple[SymbolSpec, Decimal]], *, walk_bps: float, levels: int, seed: int
) -> PriceWalk | None:
    """Return the walk a venue's config asks for (symbol -> (spec, mid)); None: a static book."""
    if walk_bps <= 0 or not levels:
        return None
    mids = {name: mid for name, (_, mid) in symbols.items()}
    return PriceWalk(mids, volatility_bps=walk_bps, levels=levels, seed=seed)


async def keep_walking(step: Callable[[], None], interval_s: float) -> None:
    """Call ``step`` every ``interval_s`` seconds until cancelled (a server's walk task)."""
    while True:
        await asyncio.sleep(interval_s)
        step()


def _to_step(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step

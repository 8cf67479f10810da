"""Shared by the stream tests: random orders against an emulated exchange, and waiting for a
client's book to equal the exchange's own (the expected values come from the matching
engine, never from the client under test)."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

from whalewire.emulator.matching import OrderType, PlaceOrder, Side, TimeInForce
from whalewire.emulator.skeleton import Exchange
from whalewire.venues.books import Book, BookSide

TRADER = "trader"


def fund(exchange: Exchange[object], base: str, quote: str) -> None:
    """Open the random trader's account, rich in both assets."""
    exchange.registry.open_account(TRADER, {base: Decimal(1_000_000), quote: Decimal(10) ** 12})


def random_orders(exchange: Exchange[object], symbol: str, n: int, seed: int) -> None:
    """Place ``n`` random orders on ``symbol`` (limits inside and across the spread, some
    markets) and publish each one's events, as the venue's order handlers do."""
    rng = random.Random(seed)
    spec = exchange.engine.specs[symbol]
    for _ in range(n):
        mid = exchange.engine.reference_price(symbol)
        ticks = rng.randint(-300, 300)
        price = (mid + ticks * spec.tick_size * 10).quantize(spec.tick_size)
        qty = (Decimal(rng.randint(1, 300)) * spec.step_size * 100).quantize(spec.step_size)
        side = rng.choice([Side.BUY, Side.SELL])
        market = rng.random() < 0.1
        cmd = PlaceOrder(
            TRADER,
            symbol,
            side,
            OrderType.MARKET if market else OrderType.LIMIT,
            quantity=qty,
            price=None if market else price,
            time_in_force=None if market else TimeInForce.GTC,
        )
        exchange.publish(exchange.engine.place(cmd), None)


def engine_levels(
    exchange: Exchange[object], symbol: str, depth: int = 0
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Return the engine's book as float levels, best first (``depth`` 0: all)."""
    bids, asks = exchange.engine.depth(symbol)
    if depth:
        bids, asks = bids[:depth], asks[:depth]
    return [(float(p), float(q)) for p, q in bids], [(float(p), float(q)) for p, q in asks]


async def until_equal(book: Book, exchange: Exchange[object], symbol: str, depth: int = 0) -> None:
    """Wait (up to 10 s) until ``book`` holds exactly the engine's levels."""
    expected = None
    for _ in range(1000):
        expected = engine_levels(exchange, symbol, depth)
        got = (book.levels(BookSide.BID), book.levels(BookSide.ASK))
        if book.health().synced and got == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(
        f"book never matched: {got[0][:3]}.. vs {expected[0][:3] if expected else None}.."
    )

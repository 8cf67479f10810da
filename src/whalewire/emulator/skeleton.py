"""The skeleton every emulated exchange stands on: accounts, one matching engine, the house's
book and its price walk, and the sessions events are pushed to.

``binance/``, ``kraken/`` and ``coinbase/`` each subclass :class:`Exchange` and add only
what their venue says differently (keys, ids, rate limits, messages). Sans-IO: the clock
is injected, nothing here knows sockets or any venue's wording.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from whalewire.emulator.accounts import Registry
from whalewire.emulator.book import BookConfig, price_walk, seed_book, synthetic_levels
from whalewire.emulator.market import MarketTape
from whalewire.emulator.matching import Clock, Event, Fees, MatchingEngine, SymbolSpec

S = TypeVar("S")


def market(
    symbol: str,
    base: str,
    quote: str,
    *,
    tick: str,
    step: str,
    min_qty: str,
    min_notional: str,
    max_price: int,
    max_qty: int,
    max_notional: int,
) -> SymbolSpec:
    """Return a market's spec from its venue's figures (prices and sizes as decimal text)."""
    return SymbolSpec(
        symbol=symbol,
        base=base,
        quote=quote,
        tick_size=Decimal(tick),
        min_price=Decimal(tick),
        max_price=Decimal(max_price),
        step_size=Decimal(step),
        min_qty=Decimal(min_qty),
        max_qty=Decimal(max_qty),
        min_notional=Decimal(min_notional),
        max_notional=Decimal(max_notional),
    )


class MarketConfig(Protocol):
    """What the skeleton reads of a venue's config (each venue's ``*Config`` has it)."""

    @property
    def markets(self) -> Mapping[str, tuple[SymbolSpec, Decimal]]:
        """Symbol -> (spec, mid price) of every book."""
        ...

    @property
    def fees(self) -> Fees:
        """Maker and taker rates."""
        ...

    @property
    def seed(self) -> int:
        """Seeds the house's book, the walk and ids, so a run can be repeated."""
        ...

    @property
    def book_levels(self) -> int:
        """Levels per side of each house book (0: empty books, no walk)."""
        ...

    @property
    def walk_bps(self) -> float:
        """Sigma of one step of the house's random walk (0: a static book)."""
        ...


class Exchange(Generic[S]):
    """State every venue shares: clock, accounts, books, the walk, sessions of type ``S``.

    Args:
        clock: venue time in ms (injected: tests step it).
        registry: the accounts and keys (a fresh one when None).
        config: the markets, fees, seed and book shape.
    """

    def __init__(self, clock: Clock, registry: Registry | None, config: MarketConfig) -> None:
        markets, book_levels, seed = config.markets, config.book_levels, config.seed
        fees, walk_bps = config.fees, config.walk_bps
        self.clock = clock
        self.registry = registry or Registry()
        specs = [spec for spec, _ in markets.values()]
        self.engine = MatchingEngine(specs, self.registry, clock, fees, seed)
        #: what seeding the house's books produced (a venue that reports them reads these)
        self.book_events: list[Event] = []
        if book_levels:
            for name, (spec, mid) in markets.items():
                shape = BookConfig(mid=mid, levels=book_levels, seed=seed)
                self.book_events += seed_book(self.engine, name, synthetic_levels(spec, shape))
        #: the house's price walk, when the config asks for a moving market
        self.walk = price_walk(markets, walk_bps=walk_bps, levels=book_levels, seed=seed)
        self.sessions: list[S] = []
        #: the public market data: book diffs and trades, for the venue's streams (market.py)
        self.tape = MarketTape(self.engine, clock)
        #: called with a session that has messages waiting (caused by another connection)
        self.on_push: Callable[[S], None] | None = None

    def publish(self, events: list[Event], origin: S | None) -> None:
        """Tell the sessions that see them about ``events`` (each venue in its words)."""
        raise NotImplementedError

    def step_market(self) -> None:
        """Take one step of the price walk: re-quote the house and report any client fills."""
        if self.walk is not None:
            self.publish(self.walk.step(self.engine), None)

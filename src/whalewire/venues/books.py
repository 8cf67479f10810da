"""Local order books kept from a venue's market data, and the read-only view the engine uses.

One :class:`Book` per instrument: each side is a dict (price -> quantity) beside a sorted
array of its prices, found by ``bisect`` (C). The structure was chosen by measurement
(``bench/market_data.py``, docs/benchmarks.md "Market data"): against a dict + heap with
lazy deletion and against ``sortedcontainers.SortedDict`` it applies realistic diffs (most
near the top, a few far away, about a fifth of them removing a level) fastest at the
depths venues publish (up to 5,000 levels), and top-of-book is one index.

Prices and quantities are floats: the venues' text parses to the same float every time, so
a price is a stable dict key, and the engine's comparisons need no Decimal. A venue that
checksums its book (Kraken) formats the floats back with the instrument's precision.

The level loop (``_Side.set_many``: a dict lookup, a bisect and a list insert or delete per
level) runs in C when ``whalewire.venues._books`` is built (``whalewire.speedups`` switches
it); the Python loop here is the reference both are tested against.

Knows no venue and no socket; the market-data clients (``venues/<venue>/market.py``) feed
it and count its health.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol

from whalewire import speedups

_books = speedups.load("whalewire.venues._books")


class BookSide(StrEnum):
    """A side of the book: ``BID`` (buyers, best is highest) or ``ASK`` (best is lowest)."""

    BID = "bid"
    ASK = "ask"


class Top(NamedTuple):
    """The best bid and ask with their quantities (a side that is empty is None).

    A named tuple, not a frozen dataclass: one is built per read of the top, and a tuple
    is built in C (a frozen dataclass costs ~1 µs more per read, measured).
    """

    bid: float | None
    bid_qty: float
    ask: float | None
    ask_qty: float

    @property
    def spread(self) -> float | None:
        """Return ask - bid, None when a side is empty."""
        if self.bid is None or self.ask is None:
            return None
        return self.ask - self.bid

    @property
    def mid(self) -> float | None:
        """Return (bid + ask) / 2, None when a side is empty."""
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class Sweep:
    """What taking ``wanted`` from one side of the visible book would do."""

    wanted: float
    #: how much of it the visible levels hold (<= wanted)
    filled: float
    #: volume-weighted price of ``filled`` (None: nothing visible)
    average: float | None
    #: the last level touched (None: nothing visible)
    worst: float | None


#: builds a Top in one C call (the named tuple's own ``__new__`` is a Python function)
_new_top = tuple.__new__


@dataclass(slots=True)
class BookHealth:
    """How far a book can be trusted: synced or not, and what it took to keep it so."""

    #: the book follows the venue (a snapshot was applied and no gap seen since)
    synced: bool = False
    #: snapshots applied after a gap, checksum mismatch or sequence break (the first is not one)
    resyncs: int = 0
    #: update-id / sequence gaps seen
    gaps: int = 0
    #: checksum mismatches seen (Kraken)
    checksum_failures: int = 0
    #: messages that did not decode (dropped, counted)
    malformed: int = 0
    #: diffs applied since the start
    updates: int = 0
    #: venue event time of the last update, ms since the epoch (0: none yet)
    last_event_ms: int = 0
    #: local receive time of the last update, ns (``time.time_ns``; 0: none yet)
    last_receive_ns: int = 0

    @property
    def lag_ms(self) -> float | None:
        """Return receive time minus venue event time of the last update (None: unknown)."""
        if not self.last_event_ms or not self.last_receive_ns:
            return None
        return self.last_receive_ns / 1e6 - self.last_event_ms


class _Side:
    """One side: quantities by price and the prices in ascending *key* order, best last.

    Asks are keyed by the negated price, so on both sides the last key is the best level:
    ``bisect`` finds any level in O(log n), and inserting or removing one near the touch
    (where most changes land) shifts only the few keys behind it. Best-first at index 0
    instead measured 1.3-2x slower at 2,000 levels (every insert moved the whole array).
    """

    __slots__ = ("_keys", "_qty", "_sign")

    def __init__(self, sign: float) -> None:
        self._sign = sign
        self._keys: list[float] = []
        self._qty: dict[float, float] = {}

    def set_many(self, levels: Iterable[tuple[float, float]]) -> None:
        # one Python call per message side, not per level (measured ~1.4x)
        if _c_set_many is not None:
            _c_set_many(self._qty, self._keys, self._sign, levels)
            return
        quantities, keys, sign = self._qty, self._keys, self._sign
        for price, qty in levels:
            if qty > 0 and price > 0:  # NaN compares False: a broken level never enters
                if price not in quantities:
                    key = price * sign
                    keys.insert(bisect_left(keys, key), key)
                quantities[price] = qty
            elif quantities.pop(price, None) is not None:
                del keys[bisect_left(keys, price * sign)]

    def clear(self) -> None:
        self._keys.clear()
        self._qty.clear()

    def best(self) -> tuple[float | None, float]:
        keys = self._keys
        if not keys:
            return None, 0.0
        price = keys[-1] * self._sign
        return price, self._qty[price]

    def levels(self, n: int) -> list[tuple[float, float]]:
        sign, quantities, keys = self._sign, self._qty, self._keys
        chosen = reversed(keys) if n <= 0 else reversed(keys[-n:])
        return [(k * sign, quantities[k * sign]) for k in chosen]

    def truncate(self, n: int) -> None:
        keys = self._keys
        extra = len(keys) - n
        if n > 0 and extra > 0:
            for key in keys[:extra]:
                del self._qty[key * self._sign]
            del keys[:extra]

    def __len__(self) -> int:
        return len(self._keys)


#: the C level loop (None: the Python one above runs)
_c_set_many: (
    Callable[[dict[float, float], list[float], float, Iterable[tuple[float, float]]], None] | None
) = None
#: True when book sides apply levels in C (``whalewire.venues._books``)
SPEEDUPS = False


def _switch(enabled: bool) -> bool:
    # whalewire.speedups calls this
    global _c_set_many, SPEEDUPS
    SPEEDUPS = enabled and _books is not None
    _c_set_many = _books.set_many if SPEEDUPS and _books is not None else None
    return SPEEDUPS


speedups.register(__name__, _switch)


class Book:
    """One instrument's local book: levels by side, health, and the reads the engine makes.

    Args:
        symbol: the instrument, as the venue names it.
        max_depth: levels kept per side after each update (0: all). Kraken asks for the
            book to be truncated to the subscribed depth ("Book checksum (WebSocket v2)":
            "you will not receive qty 0 for levels that fall out of scope").
    """

    def __init__(self, symbol: str, *, max_depth: int = 0) -> None:
        self.symbol = symbol
        self.max_depth = max_depth
        self._bids = _Side(1.0)
        self._asks = _Side(-1.0)
        self._health = BookHealth()

    def _side(self, side: BookSide) -> _Side:
        return self._bids if side is BookSide.BID else self._asks

    # ---------------------------------------------------------------- writes

    def set(self, side: BookSide, price: float, qty: float) -> None:
        """Set the quantity at ``price`` (0 removes the level; removing an absent one is fine,
        Binance: "Receiving an event that removes a price level that is not in your local
        order book can happen and is normal")."""
        (self._bids if side is BookSide.BID else self._asks).set_many(((price, qty),))

    def apply(
        self,
        bids: Iterable[tuple[float, float]],
        asks: Iterable[tuple[float, float]],
        *,
        event_ms: int = 0,
    ) -> None:
        """Apply one diff message: absolute quantities per level; count it and stamp it."""
        self._bids.set_many(bids)
        self._asks.set_many(asks)
        if self.max_depth:
            self._bids.truncate(self.max_depth)
            self._asks.truncate(self.max_depth)
        health = self._health
        health.updates += 1
        health.last_receive_ns = time.time_ns()
        if event_ms:
            health.last_event_ms = event_ms

    def replace(
        self,
        bids: Iterable[tuple[float, float]],
        asks: Iterable[tuple[float, float]],
        *,
        event_ms: int = 0,
    ) -> None:
        """Load a snapshot: clear both sides, apply it, and mark the book synced."""
        self._bids.clear()
        self._asks.clear()
        self.apply(bids, asks, event_ms=event_ms)
        self._health.synced = True

    def desync(self) -> None:
        """Mark the book untrusted and empty until the next snapshot."""
        self._bids.clear()
        self._asks.clear()
        self._health.synced = False

    # ---------------------------------------------------------------- reads

    def health(self) -> BookHealth:
        """Return the book's health counters (the client that feeds the book updates them)."""
        return self._health

    def top(self) -> Top:
        """Return the best bid and ask."""
        bids, asks = self._bids, self._asks
        bid_keys, ask_keys = bids._keys, asks._keys
        if bid_keys and ask_keys:  # the usual case, inlined: read once per message
            bid, ask = bid_keys[-1], -ask_keys[-1]
            return _new_top(Top, (bid, bids._qty[bid], ask, asks._qty[ask]))
        return Top(*bids.best(), *asks.best())

    def levels(self, side: BookSide, n: int = 0) -> list[tuple[float, float]]:
        """Return up to ``n`` levels of ``side`` (0: all), best first, as (price, qty)."""
        return self._side(side).levels(n)

    def crossed(self) -> bool:
        """Return whether the best bid is at or above the best ask (a broken book)."""
        bid, _ = self._bids.best()
        ask, _ = self._asks.best()
        return bid is not None and ask is not None and bid >= ask

    def depth(self, side: BookSide, qty: float) -> Sweep:
        """Return what taking ``qty`` from ``side``'s visible levels would fill, and at what
        average and worst price (a BUY takes from ``ASK``, a SELL from ``BID``)."""
        filled = cost = 0.0
        worst: float | None = None
        for price, level_qty in self._side(side).levels(0):
            take = min(level_qty, qty - filled)
            filled += take
            cost += take * price
            worst = price
            if filled >= qty:
                break
        return Sweep(qty, filled, cost / filled if filled else None, worst)

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)


class BookView(Protocol):
    """What the engine reads of a live book (:class:`Book` is one): the top, what a sweep
    of the visible depth would fill, and whether the book is trustworthy now."""

    def top(self) -> Top:
        """Return the best bid and ask."""
        ...

    def depth(self, side: BookSide, qty: float) -> Sweep:
        """Return what taking ``qty`` from ``side`` would fill."""
        ...

    def health(self) -> BookHealth:
        """Return the book's health counters."""
        ...


def status_row(view: BookView) -> dict[str, object]:
    """Return what a status view or dashboard shows of one book: its top and its health
    (JSON-ready; ``None`` where a side is empty or the lag is unknown)."""
    top, health = view.top(), view.health()
    return {
        "bid": top.bid,
        "bid_qty": top.bid_qty,
        "ask": top.ask,
        "ask_qty": top.ask_qty,
        "spread": top.spread,
        "synced": health.synced,
        "resyncs": health.resyncs,
        "gaps": health.gaps,
        "checksum_failures": health.checksum_failures,
        "updates": health.updates,
        "lag_ms": health.lag_ms,
    }

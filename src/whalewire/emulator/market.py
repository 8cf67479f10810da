"""The emulator's public market data, venue-neutral: what changed in each book, and trades.

A :class:`MarketTape` watches one exchange's matching engine. After every batch of engine
events the venue published (order placed, canceled, the price walk's re-quote), the exchange
calls :meth:`MarketTape.observe`: the tape compares each book's levels with what it last
published and hands every listener one :class:`DepthDiff` per changed book (absolute
quantities per changed level, 0 for a removed level) and one :class:`TapeTrade` per fill
of a taker. Each changed level takes the next update id of its book, so ``first_id`` ..
``last_id`` of successive diffs are contiguous, as Binance's ``U``/``u`` are.

The venues' stream modules (``binance/streams.py``, ``kraken/streams.py``,
``coinbase/feed.py``) render these in their own words. Sans-IO; knows no venue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from whalewire.emulator.matching import Event, MatchingEngine, OrderTraded, Side

Level = tuple[Decimal, Decimal]


@dataclass(frozen=True, slots=True)
class DepthDiff:
    """Changed levels of one book (absolute quantities; 0: the level is gone)."""

    symbol: str
    #: update id of the first and last change in this diff
    first_id: int
    last_id: int
    bids: list[Level]
    asks: list[Level]
    ts: int


@dataclass(frozen=True, slots=True)
class TapeTrade:
    """One fill as the public sees it: the taker's side, price, quantity, trade id."""

    symbol: str
    trade_id: int
    price: Decimal
    qty: Decimal
    #: the taker's side (BUY: the buyer took an ask, the buyer was not the maker)
    taker_side: Side
    #: the taker's order (aggregate trades group by it)
    taker_order: int
    ts: int


Listener = Callable[[list[DepthDiff], list[TapeTrade]], None]


class MarketTape:
    """Every book's last published levels and update id, and who listens to the changes."""

    def __init__(self, engine: MatchingEngine, clock: Callable[[], int]) -> None:
        self._engine = engine
        self._clock = clock
        self._levels: dict[str, tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = {}
        #: the last update id of each book (Binance's ``lastUpdateId`` of a snapshot)
        self.update_ids: dict[str, int] = {}
        for symbol in engine.specs:
            self._levels[symbol] = self._now(symbol)
            self.update_ids[symbol] = 1
        self.listeners: list[Listener] = []

    def _now(self, symbol: str) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        bids, asks = self._engine.depth(symbol)
        return dict(bids), dict(asks)

    def snapshot(self, symbol: str) -> tuple[int, list[Level], list[Level]]:
        """Return (last update id, bids best first, asks best first) after any pending change."""
        self.observe([])
        bids, asks = self._levels[symbol]
        return (
            self.update_ids[symbol],
            sorted(bids.items(), reverse=True),
            sorted(asks.items()),
        )

    def observe(self, events: list[Event]) -> None:
        """Publish what ``events`` (and anything unseen before them) changed, to every listener."""
        now = self._clock()
        diffs: list[DepthDiff] = []
        for symbol, (old_bids, old_asks) in self._levels.items():
            new_bids, new_asks = self._now(symbol)
            bids = _changes(old_bids, new_bids)
            asks = _changes(old_asks, new_asks)
            if not bids and not asks:
                continue
            first = self.update_ids[symbol] + 1
            last = self.update_ids[symbol] = first + len(bids) + len(asks) - 1
            self._levels[symbol] = (new_bids, new_asks)
            diffs.append(DepthDiff(symbol, first, last, bids, asks, now))
        trades = [
            TapeTrade(
                e.order.symbol,
                e.trade.trade_id,
                e.trade.price,
                e.trade.qty,
                e.order.side,
                e.order.order_id,
                e.ts,
            )
            for e in events
            if isinstance(e, OrderTraded) and not e.trade.is_maker
        ]
        if diffs or trades:
            for listener in list(self.listeners):
                listener(diffs, trades)


def _changes(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal]) -> list[Level]:
    out = [(p, q) for p, q in new.items() if old.get(p) != q]
    out += [(p, Decimal(0)) for p in old if p not in new]
    return sorted(out)

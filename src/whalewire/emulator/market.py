"""The emulator's public market data, venue-neutral: what changed in each book, and trades.

A :class:`MarketTape` watches one exchange's matching engine. After every batch of engine
events the venue published (order placed, canceled, the price walk's re-quote), the exchange
calls :meth:`MarketTape.observe`: the tape compares each book's levels with what it last
published and hands every listener one :class:`DepthDiff` per changed book (absolute
quantities per changed level, 0 for a removed level) and one :class:`TapeTrade` per fill
of a taker. Each changed level takes the next update id of its book, so ``first_id`` ..
``last_id`` of successive diffs are contiguous, as Binance's ``U``/``u`` are.

Venues push some diff streams at an interval rather than per change (Binance's ``@depth``
every 1000 ms and ``@depth@100ms``, Coinbase's ``level2_batch`` every 50 ms): a
:class:`DiffBatcher` holds the diffs of one such stream and releases, when its interval
ends, one :func:`merge` per book (the first diff's ``first_id``, the last one's
``last_id``, each changed level once with its final quantity).

The venues' stream modules (``binance/streams.py``, ``kraken/streams.py``,
``coinbase/streams.py``) render these in their own words. Knows no venue; sans-IO except
the batcher's timer, which is the running event loop's.
"""

from __future__ import annotations

import asyncio
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


def merge(diffs: list[DepthDiff]) -> DepthDiff:
    """Return one diff that has the effect of ``diffs`` (of one book, in update-id order).

    Its ids span the first diff's ``first_id`` to the last one's ``last_id``; a level changed
    more than once appears once with its final quantity (0 when it went, even if it came
    within the same diffs: a client removing an absent level changes nothing).
    """
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    for diff in diffs:
        bids.update(diff.bids)
        asks.update(diff.asks)
    first, last = diffs[0], diffs[-1]
    return DepthDiff(
        first.symbol,
        first.first_id,
        last.last_id,
        sorted(bids.items()),
        sorted(asks.items()),
        last.ts,
    )


class DiffBatcher:
    """The diffs of one interval-paced stream, released merged when the interval ends.

    The first diff after a release arms a timer of ``interval_ms``; when it fires, every book
    that changed meanwhile goes to ``release`` as one :func:`merge`. Nothing is sent for an
    interval without changes ("pushed every 100 ms", if any). With ``interval_ms`` 0, or no
    event loop running (sans-IO tests drive the exchange by hand), diffs go out at once.
    """

    def __init__(self, interval_ms: int, release: Callable[[list[DepthDiff]], None]) -> None:
        self.interval_ms = interval_ms
        self._release = release
        self._pending: dict[str, list[DepthDiff]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, diffs: list[DepthDiff]) -> None:
        """Hold ``diffs`` until the interval ends (arming it when none is running)."""
        for diff in diffs:
            self._pending.setdefault(diff.symbol, []).append(diff)
        if not self._pending or self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or self.interval_ms <= 0:
            self.flush()
        else:
            self._timer = loop.call_later(self.interval_ms / 1000, self.flush)

    def flush(self) -> None:
        """Release what is held now, merged per book, and disarm the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, {}
        if pending:
            self._release([merge(group) for group in pending.values()])

    def close(self) -> None:
        """Disarm the timer and forget what is held (the stream host is closing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.clear()

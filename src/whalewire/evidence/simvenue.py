"""A venue in simulated time: the engine's orders matched by the emulator against recorded books.

``SimVenue`` fulfils the venue contract (``venues/contract.py``) for a backtest: ``place``
takes the order as the real clients do and returns at once; the order reaches the
emulator's matching engine (``emulator/matching.py``, the same one the emulated exchanges
run) after a latency drawn from ``Latency``, when ``advance`` passes that moment. Just
before it arrives, the book of its symbol is set to what was recorded then
(``RecordedBooks``: the last depth snapshot, or the last top when no snapshot is fresh),
so a market order walks the depth that was really there; the matching engine's events
come back to the engine as the model's order events (``OrderAccepted``, ``OrderFilled``
with the venue's fee, ``OrderExpired``, ``OrderRejected``). Knows the model and the
matching engine; nothing of the engine's decisions.
"""

from __future__ import annotations

import heapq
import random
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from whalewire.emulator import matching as m
from whalewire.emulator.accounts import Registry
from whalewire.emulator.binance.exchange import BinanceConfig
from whalewire.emulator.book import HOUSE_ACCOUNT, Level, seed_book
from whalewire.emulator.coinbase.exchange import CoinbaseConfig
from whalewire.emulator.kraken.exchange import KrakenConfig
from whalewire.model import (
    OrderAccepted,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    SubmitOrder,
)
from whalewire.venues.contract import Capabilities, VenueDefaults, VenueUnavailable

NS = 1_000_000_000
MS = 1_000_000
_QUANTUM = Decimal("1E-8")

#: the account the backtest trades from
ACCOUNT = "backtest"


def venue_fees(venue: str) -> m.Fees:
    """Return the fees the emulator charges at ``venue`` (its standard retail tier)."""
    if venue == "kraken":
        return KrakenConfig().fees
    if venue == "coinbase":
        return CoinbaseConfig().fees
    return BinanceConfig().fees


class Latency(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How long an order takes from ``place`` to the venue's book.

    ``fixed``: always ``ms``; ``normal``: drawn from N(``ms``, ``sd_ms``), never below 0,
    from a generator seeded with ``seed`` (the same seed gives the same draws).
    """

    model: Literal["fixed", "normal"] = "fixed"
    ms: float = 0.0
    sd_ms: float = 0.0
    seed: int = 0

    def sampler(self) -> Callable[[], int]:
        """Return a function drawing one latency, in ns."""
        if self.model == "fixed":
            fixed = int(self.ms * MS)
            return lambda: fixed
        rng = random.Random(self.seed)
        return lambda: max(0, int(rng.gauss(self.ms, self.sd_ms) * MS))


@dataclass
class SimClock:
    """The backtest's one clock: recorded wall-clock ns, moved by the replay."""

    now_ns: int = 0

    def __call__(self) -> int:
        return self.now_ns


Ladder = tuple[list[tuple[float, float]], list[tuple[float, float]]]


class RecordedBooks:
    """One instrument's recorded books: mids at any moment, depth at any moment.

    Args:
        tops: the recording's ``tops`` table for the instrument.
        levels: its ``levels`` table for the instrument.
        max_age_s: a depth snapshot older than this (against the last top) is not used;
            the last top, as one level a side, stands in.
    """

    def __init__(self, tops: pa.Table, levels: pa.Table, *, max_age_s: float = 5.0) -> None:
        tops = tops.filter(pc.and_(pc.is_valid(tops["bid"]), pc.is_valid(tops["ask"])))
        self.top_ts: list[int] = tops["ts_ns"].to_pylist()
        self._tops = list(
            zip(
                tops["bid"].to_pylist(),
                tops["bid_qty"].to_pylist(),
                tops["ask"].to_pylist(),
                tops["ask_qty"].to_pylist(),
                strict=True,
            )
        )
        snapshots: dict[int, Ladder] = {}
        for row in levels.to_pylist():
            bids, asks = snapshots.setdefault(row["ts_ns"], ([], []))
            (bids if row["side"] == "bid" else asks).append((row["price"], row["qty"]))
        self.snap_ts = sorted(snapshots)
        self._snaps = [snapshots[t] for t in self.snap_ts]
        self.max_age_ns = int(max_age_s * NS)

    def mid(self, ts_ns: int) -> float | None:
        """Return the mid of the last top at or before ``ts_ns`` (None: none yet)."""
        i = bisect_right(self.top_ts, ts_ns) - 1
        if i < 0:
            return None
        bid, _, ask, _ = self._tops[i]
        return float((bid + ask) / 2)

    def ladder(self, ts_ns: int) -> Ladder | None:
        """Return the book at ``ts_ns``: (bids, asks) as (price, qty), best first."""
        i = bisect_right(self.top_ts, ts_ns) - 1
        j = bisect_right(self.snap_ts, ts_ns) - 1
        top_ts = self.top_ts[i] if i >= 0 else None
        if j >= 0 and (top_ts is None or top_ts - self.snap_ts[j] <= self.max_age_ns):
            return self._snaps[j]
        if i < 0:
            return None
        bid, bid_qty, ask, ask_qty = self._tops[i]
        return [(bid, bid_qty)], [(ask, ask_qty)]


def _spec(symbol: str) -> m.SymbolSpec:
    # permissive rules: recorded prices and sizes are what they were, not the venue's grid
    return m.SymbolSpec(
        symbol=symbol,
        base="BASE",
        quote="QUOTE",
        tick_size=_QUANTUM,
        min_price=_QUANTUM,
        max_price=Decimal("1E12"),
        step_size=_QUANTUM,
        min_qty=_QUANTUM,
        max_qty=Decimal("1E9"),
        min_notional=Decimal(0),
        max_notional=Decimal("1E15"),
    )


def _dec(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_QUANTUM)


@dataclass
class Arrival:
    """What the venue did with one order when it reached the book."""

    command: SubmitOrder
    placed_ns: int
    arrived_ns: int
    #: the recorded mid when it was placed and when it arrived
    mid_placed: float | None
    mid_arrived: float | None
    fills: list[m.Trade] = field(default_factory=list)
    rejected: str = ""


class SimVenue(VenueDefaults):
    """One venue in simulated time over the emulator's matching engine.

    Args:
        name: the venue's configured name (what the strategy routes to).
        books: recorded books per symbol this venue trades.
        clock: the backtest's clock.
        latency: the latency model.
        fees: the venue's commission rates.
        balances: what the backtest account starts with, per asset ("BASE", "QUOTE").
    """

    capabilities = Capabilities()

    def __init__(
        self,
        name: str,
        books: Mapping[str, RecordedBooks],
        *,
        clock: SimClock,
        latency: Latency,
        fees: m.Fees,
        balances: Mapping[str, Decimal],
    ) -> None:
        self.name = name
        self.books = dict(books)
        self.clock = clock
        self._latency = latency.sampler()
        self.registry = Registry()
        self.registry.open_account(ACCOUNT, dict(balances))
        self.matching = m.MatchingEngine(
            [_spec(s) for s in self.books], self.registry, lambda: clock.now_ns // MS, fees
        )
        self._pending: list[tuple[int, int, SubmitOrder, int]] = []
        self._seq = 0
        #: every order that reached the book, in arrival order
        self.arrivals: list[Arrival] = []

    # -- the contract ---------------------------------------------------------------------
    async def start(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to close."""

    def client_order_id(self, namespace: str, seq: int) -> str:
        """Return ``namespace-seq`` (the matching engine takes any id)."""
        return f"{namespace}-{seq}"

    def place(self, command: SubmitOrder) -> int:
        """Queue ``command`` to reach the book after the latency; return the clock now.

        Raises:
            VenueUnavailable: no recorded book for the symbol.
        """
        if command.symbol not in self.books:
            raise VenueUnavailable(self.name, f"no recorded book for {command.symbol}")
        now = self.clock.now_ns
        self._seq += 1
        heapq.heappush(self._pending, (now + self._latency(), self._seq, command, now))
        return now

    async def cancel(self, client_order_id: str, symbol: str) -> None:
        """Cancel one resting order (a market order never rests)."""
        self._emit_all(
            self.matching.cancel(m.CancelOrder(ACCOUNT, symbol, client_order_id=client_order_id))
        )

    async def cancel_all(self, symbol: str) -> int:
        """Cancel every resting order of the account on ``symbol``."""
        events = self.matching.cancel_all(ACCOUNT, symbol)
        self._emit_all(events)
        return sum(isinstance(e, m.OrderCanceled) for e in events)

    async def reconcile(self, client_order_id: str, symbol: str) -> list[OrderEvent]:
        """Nothing to reconcile: every answer is delivered when the order arrives."""
        return []

    def last_price(self, symbol: str) -> Decimal | None:
        """Return the recorded mid now (what the engine's risk marks at)."""
        books = self.books.get(symbol)
        mid = None if books is None else books.mid(self.clock.now_ns)
        return None if mid is None else _dec(mid)

    def status(self) -> Mapping[str, Any]:
        """Return counts (no connection to report)."""
        return {"connected": True, "endpoint": "backtest", "arrivals": len(self.arrivals)}

    # -- simulated time -----------------------------------------------------------------
    @property
    def queued(self) -> int:
        """Return how many placed orders have not reached the book yet."""
        return len(self._pending)

    def next_arrival(self) -> int | None:
        """Return when the next queued order reaches the book (None: none queued)."""
        return self._pending[0][0] if self._pending else None

    def arrive_next(self) -> Arrival:
        """Move the clock to the next queued order's arrival and match it."""
        arrived, _, command, placed = heapq.heappop(self._pending)
        self.clock.now_ns = arrived
        books = self.books[command.symbol]
        arrival = Arrival(command, placed, arrived, books.mid(placed), books.mid(arrived))
        self.arrivals.append(arrival)
        ladder = books.ladder(arrived)
        self.matching.cancel_all(HOUSE_ACCOUNT, command.symbol)
        if ladder is not None:
            bids, asks = ladder
            levels = [Level(m.Side.BUY, _dec(p), _dec(q)) for p, q in bids if q > 0]
            levels += [Level(m.Side.SELL, _dec(p), _dec(q)) for p, q in asks if q > 0]
            seed_book(self.matching, command.symbol, levels)
        events = self.matching.place(
            m.PlaceOrder(
                ACCOUNT,
                command.symbol,
                m.Side(command.side.value),
                m.OrderType(command.order_type.value),
                quantity=command.quantity,
                price=command.price,
                time_in_force=None
                if command.time_in_force is None
                else m.TimeInForce(command.time_in_force.value),
                client_order_id=command.client_order_id,
            )
        )
        for event in events:
            if isinstance(event, m.OrderTraded) and event.order.account_id == ACCOUNT:
                arrival.fills.append(event.trade)
            elif isinstance(event, m.CommandRejected):
                arrival.rejected = event.reason.value
        self._emit_all(events, command.client_order_id)
        return arrival

    def _emit_all(self, events: list[m.Event], client_order_id: str = "") -> None:
        now = self.clock.now_ns
        for event in events:
            out = _model_event(event, now, client_order_id)
            if out is not None:
                self.on_event(out)


def _model_event(event: m.Event, now: int, client_order_id: str) -> OrderEvent | None:
    """The matching engine's event as the model's, for our account's orders only."""
    if isinstance(event, m.CommandRejected):
        return OrderRejected(
            client_order_id=client_order_id,
            ts_init=now,
            ts_event=now,
            code=-1,
            message=event.reason.value,
        )
    order = event.order
    if order.account_id != ACCOUNT:
        return None
    coid = order.client_order_id
    if isinstance(event, m.OrderAccepted):
        return OrderAccepted(
            client_order_id=coid, ts_init=now, ts_event=now, venue_order_id=str(order.order_id)
        )
    if isinstance(event, m.OrderTraded):
        t = event.trade
        return OrderFilled(
            client_order_id=coid,
            ts_init=now,
            ts_event=now,
            trade_id=str(t.trade_id),
            last_qty=t.qty,
            last_px=t.price,
            commission=t.commission,
            commission_asset=t.commission_asset,
        )
    if isinstance(event, m.OrderExpired):
        return OrderExpired(client_order_id=coid, ts_init=now, ts_event=now)
    return None

"""Replay a recording through the engine against the emulator's matching: fills, slippage, P&L.

The engine is the one ``whalewire run`` builds (``engine.app.Engine``: pipeline, strategy,
risk, intent journal, execution), its clocks injected with the recording's time and its
one venue a ``SimVenue`` over the emulator's matching engine seeded with the recorded
books. The recording's transactions go through ``Engine.on_feed_event`` (detector
included) when it has them and the configured address book is the one to test; otherwise
its whale alerts go through ``Engine.on_alert`` (strategy onwards). Between two recorded
events every order whose latency has passed reaches the book, in time order, and its
fills come back through the engine's execution like a real venue's.

Each fill is scored against the recorded mid: slippage (what the fill cost against the mid
when the whale was seen, in bps, positive = worse) and P&L in quote, fees included, marked
``hold_s`` after the fill and at the recording's end. Knows the engine, the recording and
the simulated venue; the sweep (``sweep.py``) calls ``run_backtest`` many times.
"""

from __future__ import annotations

import tempfile
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from whalewire.engine.app import Engine
from whalewire.engine.config import Config, ConfigError, range_errors
from whalewire.engine.journal import Journal
from whalewire.engine.runner import detector_for
from whalewire.evidence.simvenue import (
    NS,
    Arrival,
    Latency,
    RecordedBooks,
    SimClock,
    SimVenue,
    venue_fees,
)
from whalewire.evidence.study import pick_instrument
from whalewire.mempool.feeds.events import EventKind, RawTxEvent
from whalewire.mempool.whales import AlertKind
from whalewire.model import Side

#: drain the engine's event log this often (events), so its bounded deque never drops
_DRAIN_EVERY = 512


class BacktestSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The ``[backtest]`` table: which recorded book prices the route, latency, fees."""

    #: the recorded venue and symbol whose books the route's orders match against
    #: (default: the instrument with the most tops)
    venue: str = ""
    symbol: str = ""
    latency: Latency = msgspec.field(default_factory=Latency)
    #: mark each fill this many seconds after it
    hold_s: float = 60.0
    #: "txs": the recorded transactions through the detector; "alerts": the recorded
    #: alerts through the strategy; "auto": txs when the recording has them
    source: Literal["auto", "txs", "alerts"] = "auto"
    #: commission rates; unset: the venue's (the emulator's standard tier)
    fee_maker: Decimal | None = None
    fee_taker: Decimal | None = None
    #: the backtest account's starting balances, in base and quote
    base_balance: Decimal = Decimal(1_000)
    quote_balance: Decimal = Decimal(100_000_000)
    #: a depth snapshot older than this (against the last top) gives way to the top
    max_book_age_s: float = 5.0


class SweepSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The ``[sweep]`` table: values to try per strategy setting (empty: the configured one)."""

    min_value_sats: list[int] = msgspec.field(default_factory=list)
    fixed_qty: list[Decimal] = msgspec.field(default_factory=list)
    side: list[Side] = msgspec.field(default_factory=list)
    cooldown_s: list[float] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class BacktestConfig:
    """A backtest's configuration file: the engine's tables plus ``[backtest]``, ``[sweep]``."""

    engine: Config
    backtest: BacktestSection
    sweep: SweepSection


def parse_backtest_config(text: str, *, source: str = "<config>") -> BacktestConfig:
    """Parse a backtest configuration: the engine's own tables and the two of the backtest.

    Raises:
        ConfigError: naming the table and field, and every engine value out of its range.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    sections: dict[str, Any] = {}
    for name, kind in (("backtest", BacktestSection), ("sweep", SweepSection)):
        try:
            sections[name] = msgspec.convert(raw.pop(name, {}), kind, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"{source}: [{name}]: {exc}") from None
    try:
        engine = msgspec.convert(raw, Config, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    errors = range_errors(engine)
    if errors:
        raise ConfigError(f"{source}: " + "; ".join(errors))
    return BacktestConfig(engine, sections["backtest"], sections["sweep"])


class ReplayedAlert(msgspec.Struct, frozen=True):
    """A recorded whale alert, as the strategy reads one (``strategy.AlertLike``)."""

    txid: str
    kind: AlertKind
    entity: str
    value: int
    recv_ns: int
    recv_wall_ns: int


@dataclass(frozen=True)
class FillResult:
    """One order that reached the book, and what it came to."""

    decided_ns: int
    arrived_ns: int
    side: str
    quantity: Decimal
    filled: float
    #: volume-weighted price of the fills (None: nothing filled)
    price: float | None
    fee_quote: float
    mid_decided: float | None
    slippage_bps: float | None
    pnl_hold: float | None
    pnl_end: float | None
    rejected: str = ""


@dataclass
class BacktestResult:
    """What the engine did over the recording, and what it would have earned."""

    venue: str
    symbol: str
    source: str
    events: int
    whales: int
    orders: list[FillResult] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)
    denied: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def filled_orders(self) -> list[FillResult]:
        """Return the orders with at least one fill."""
        return [o for o in self.orders if o.filled > 0]

    @property
    def pnl_hold(self) -> float:
        """Return the P&L of every fill marked ``hold_s`` after it (fees included)."""
        return sum(o.pnl_hold for o in self.orders if o.pnl_hold is not None)

    @property
    def pnl_end(self) -> float:
        """Return the P&L of every fill marked at the recording's end (fees included)."""
        return sum(o.pnl_end for o in self.orders if o.pnl_end is not None)

    @property
    def fees(self) -> float:
        """Return the fees paid, in quote."""
        return sum(o.fee_quote for o in self.orders)

    @property
    def mean_slippage_bps(self) -> float | None:
        """Return the mean slippage of the filled orders (None: none filled)."""
        values = [o.slippage_bps for o in self.orders if o.slippage_bps is not None]
        return sum(values) / len(values) if values else None


def _score(arrival: Arrival, books: RecordedBooks, hold_s: float) -> FillResult:
    command = arrival.command
    sign = 1.0 if command.side is Side.BUY else -1.0
    qty = sum(float(t.qty) for t in arrival.fills)
    notional = sum(float(t.quote_qty) for t in arrival.fills)
    price = notional / qty if qty else None
    # a fee in base (Binance charges the asset received) is worth its fill's price
    fee = sum(
        float(t.commission) * (1.0 if t.commission_asset == "QUOTE" else float(t.price))
        for t in arrival.fills
    )
    mid0 = arrival.mid_placed
    slippage = None if price is None or mid0 is None else sign * (price / mid0 - 1) * 1e4
    last_ts = books.top_ts[-1]
    hold_ts = arrival.arrived_ns + int(hold_s * NS)
    pnl_hold = pnl_end = None
    if price is not None:
        mid_hold = books.mid(hold_ts) if hold_ts <= last_ts else None
        if mid_hold is not None:
            pnl_hold = sign * qty * (mid_hold - price) - fee
        mid_end = books.mid(last_ts)
        if mid_end is not None:
            pnl_end = sign * qty * (mid_end - price) - fee
    return FillResult(
        decided_ns=arrival.placed_ns,
        arrived_ns=arrival.arrived_ns,
        side=command.side.value,
        quantity=command.quantity,
        filled=qty,
        price=price,
        fee_quote=fee,
        mid_decided=mid0,
        slippage_bps=slippage,
        pnl_hold=pnl_hold,
        pnl_end=pnl_end,
        rejected=arrival.rejected,
    )


def _instrument(table: pa.Table, venue: str, symbol: str) -> pa.Table:
    return table.filter(pc.and_(pc.equal(table["venue"], venue), pc.equal(table["symbol"], symbol)))


async def run_backtest(
    tables: dict[str, pa.Table],
    config: BacktestConfig,
    *,
    journal_dir: Path | None = None,
    settings: dict[str, Any] | None = None,
) -> BacktestResult:
    """Replay ``tables`` (``recording.load``) through the engine; return what it did.

    Raises:
        ValueError: no tops for the instrument, or ``source = "txs"`` without transactions.
    """
    bt = config.backtest
    engine_config = config.engine
    venue_name, symbol = bt.venue, bt.symbol
    if not venue_name or not symbol:
        venue_name, symbol = pick_instrument(tables["tops"])
    books = RecordedBooks(
        _instrument(tables["tops"], venue_name, symbol),
        _instrument(tables["levels"], venue_name, symbol),
        max_age_s=bt.max_book_age_s,
    )
    if not books.top_ts:
        raise ValueError(f"no two-sided tops for {venue_name} {symbol} in the recording")
    route = engine_config.strategy.default_route
    routes = {r.venue for r in engine_config.strategy.routes.values()} | {route.venue}
    fees = venue_fees(venue_name)
    if bt.fee_maker is not None or bt.fee_taker is not None:
        fees = type(fees)(
            bt.fee_maker if bt.fee_maker is not None else fees.maker,
            bt.fee_taker if bt.fee_taker is not None else fees.taker,
            fees.in_quote,
        )
    clock = SimClock(books.top_ts[0])
    venue = SimVenue(
        route.venue,
        {route.symbol: books},
        clock=clock,
        latency=bt.latency,
        fees=fees,
        balances={"BASE": bt.base_balance, "QUOTE": bt.quote_balance},
    )
    txs = tables["txs"]
    source = bt.source
    if source == "auto":
        source = "txs" if txs.num_rows else "alerts"
    if source == "txs" and not txs.num_rows:
        raise ValueError("source = txs, but the recording has no transactions")
    with tempfile.TemporaryDirectory(prefix="whalewire-backtest-", dir=journal_dir) as tmp:
        journal = Journal(Path(tmp) / "journal.db")
        engine = Engine(
            engine_config,
            venues={name: venue for name in routes},
            detector=detector_for(engine_config),
            journal=journal,
            namespace=engine_config.engine.namespace,
            monotonic_ns=clock,
            wall_ns=clock,
        )
        engine.pipeline.armed = True  # nothing journaled before: nothing to reconcile
        events = 0
        try:
            for ts, deliver in _timeline(engine, tables, source):
                while (due := venue.next_arrival()) is not None and due <= ts:
                    venue.arrive_next()
                clock.now_ns = max(clock.now_ns, ts)
                deliver()
                events += 1
                if events % _DRAIN_EVERY == 0:
                    engine.events.drain()
            while venue.next_arrival() is not None:
                venue.arrive_next()
            engine.events.drain()
        finally:
            await engine.close()
            journal.close()
    result = BacktestResult(
        venue=venue_name,
        symbol=symbol,
        source=source,
        events=events,
        whales=engine.pipeline.whales_seen,
        ignored=dict(Counter(engine.pipeline.ignored)),
        denied=dict(engine.events.denials),
        settings=dict(settings or {}),
    )
    result.orders = [_score(a, books, bt.hold_s) for a in venue.arrivals]
    return result


def _timeline(engine: Engine, tables: dict[str, pa.Table], source: str) -> Any:
    """Yield (ts, deliver) for each recorded event the engine is to see, in time order."""
    if source == "txs":
        for row in tables["txs"].to_pylist():
            if not row["raw"]:
                continue
            ts = row["ts_ns"]
            event = RawTxEvent(row["raw"], row["txid"], row["feed"], EventKind(row["kind"]), ts, ts)
            yield ts, (lambda e=event: engine.on_feed_event(e))
        return
    for row in tables["alerts"].to_pylist():
        ts = row["ts_ns"]
        alert = ReplayedAlert(
            row["txid"], AlertKind(row["kind"]), row["entity"], row["value_sats"], ts, ts
        )
        yield ts, (lambda a=alert: engine.on_alert(a))

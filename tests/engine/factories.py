"""What the engine tests share: order messages, an engine over a recording venue, a fake clock,
whale alerts and a strategy on that clock (``Alert``, ``strategy``, ``ignored``), and
``run_then_sigkill`` for the durability tests (a real process killed mid-write).

Shared here rather than imported from one test module into another, so each test module
stands alone: editing or deleting one never breaks another's imports.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from whalewire.engine.app import Engine
from whalewire.engine.config import parse_config
from whalewire.engine.journal import Journal
from whalewire.engine.strategy import AlertIgnored, IgnoreReason, StrategyConfig, WhaleStrategy
from whalewire.model import (
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderNotFound,
    OrderRejected,
    OrderStatusUnknown,
    OrderSubmitted,
    Side,
    SubmitOrder,
)
from whalewire.venues.base import discard_event
from whalewire.venues.contract import Capabilities, VenueDefaults
from whalewire.venues.ids import binance_client_order_id

COID = "ww-test-0001"


def submit(coid: str = COID, qty: str = "1.0", side: Side = Side.SELL) -> SubmitOrder:
    return SubmitOrder(
        client_order_id=coid,
        ts_init=1,
        venue="binance",
        symbol="BTCUSDT",
        side=side,
        quantity=Decimal(qty),
    )


def initialized(coid: str = COID, qty: str = "1.0") -> OrderInitialized:
    return OrderInitialized(client_order_id=coid, ts_init=2, ts_event=2, command=submit(coid, qty))


def fill(trade_id: str, qty: str, px: str, coid: str = COID, cum: str | None = None) -> OrderFilled:
    """One trade's fill; ``cum`` is the order's cumulative quantity, where the venue says it."""
    return OrderFilled(
        client_order_id=coid,
        ts_init=5,
        ts_event=5,
        trade_id=trade_id,
        last_qty=Decimal(qty),
        last_px=Decimal(px),
        commission=Decimal("0.1"),
        commission_asset="USDT",
        cum_qty=None if cum is None else Decimal(cum),
    )


def event(kind: type[OrderEvent], coid: str = COID) -> OrderEvent:
    """One event of each kind with plausible fields (fills are 0.4 of the order)."""
    common = {"client_order_id": coid, "ts_init": 3, "ts_event": 3}
    if kind is OrderSubmitted:
        return OrderSubmitted(**common)
    if kind is OrderAccepted:
        return OrderAccepted(venue_order_id="42", **common)
    if kind is OrderRejected:
        return OrderRejected(code=-2010, message="Account has insufficient balance", **common)
    if kind is OrderFilled:
        return fill("t-any", "0.4", "100", coid)
    if kind is OrderCanceled:
        return OrderCanceled(**common)
    if kind is OrderExpired:
        return OrderExpired(**common)
    if kind is OrderStatusUnknown:
        return OrderStatusUnknown(reason="timeout", **common)
    if kind is OrderNotFound:
        return OrderNotFound(**common)
    if kind is OrderDenied:
        return OrderDenied(reason="VENUE_UNAVAILABLE", **common)
    raise AssertionError(kind)


EVENT_KINDS: list[type[OrderEvent]] = [
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderFilled,
    OrderCanceled,
    OrderExpired,
    OrderStatusUnknown,
    OrderNotFound,
    OrderDenied,
]


NS = 1_000_000_000

CONFIG = """
[engine]
namespace = "reh"
rehearse_interval_ms = 0.5
[strategy]
min_value_sats = 25_000_000
cooldown_s = 5.0
[risk]
max_orders_per_second = 2
max_orders_per_minute = 3
[risk.symbols.BTCUSDT]
max_order_qty = 0.01
max_order_notional = 2000
max_position = 0.05
max_daily_loss = 500
"""


class Clock:
    """The one fake clock of the engine tests: monotonic and wall time in ns, moved by hand."""

    def __init__(self) -> None:
        self.mono = 1_000 * NS
        self.wall = 1_700_000_000 * NS

    def monotonic(self) -> int:
        return self.mono

    def wall_ns(self) -> int:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.mono += int(seconds * NS)
        self.wall += int(seconds * NS)


class Kind(Enum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


@dataclass(frozen=True)
class Alert:
    txid: str
    entity: str = "binance"
    value: int = 5 * 100_000_000
    kind: Kind = Kind.DEPOSIT
    recv_ns: int = 7


def strategy(**overrides: object) -> tuple[WhaleStrategy, Clock]:
    clock = Clock()
    ids = iter(range(1, 1000))
    config = StrategyConfig(**overrides)  # type: ignore[arg-type]
    return WhaleStrategy(
        config,
        monotonic_ns=clock.monotonic,
        next_client_order_id=lambda venue: f"{venue}-{next(ids)}",
    ), clock


def ignored(decision: object) -> IgnoreReason:
    assert isinstance(decision, AlertIgnored), decision
    return decision.reason


@dataclass
class RecordingVenue(VenueDefaults):
    """A venue that records what it is asked to send and to rehearse."""

    clock: Clock
    name: str = "binance"
    placed: list[SubmitOrder] = field(default_factory=list)
    rehearsed: list[SubmitOrder] = field(default_factory=list)
    on_event: Callable[[OrderEvent], None] = discard_event
    capabilities: Capabilities = field(default_factory=lambda: Capabilities(rehearsal=True))

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def client_order_id(self, namespace: str, seq: int) -> str:
        return binance_client_order_id(namespace, seq)

    def place(self, command: SubmitOrder) -> int:
        self.placed.append(command)
        return self.clock.monotonic()

    def rehearse(self, command: SubmitOrder) -> None:
        self.rehearsed.append(command)

    def emit(self, event: OrderEvent) -> None:
        """Report ``event`` as the venue would: to whatever sink the engine registered."""
        self.on_event(event)

    async def cancel(self, client_order_id: str, symbol: str) -> None:
        return None

    async def cancel_all(self, symbol: str) -> int:
        return 0

    async def reconcile(self, client_order_id: str, symbol: str) -> list[OrderEvent]:
        return []

    def last_price(self, symbol: str) -> Decimal | None:
        return Decimal("60000")

    def status(self) -> dict[str, Any]:
        return {}


class NoDetector:
    def feed(
        self,
        raw: bytes,
        *,
        feed: str,
        recv_ns: int,
        recv_wall_ns: int,
        txid: str | None = None,
    ) -> Sequence[Any]:
        return []

    def rehearse(self) -> Any:
        return None


class RecordingEngine:
    """An engine handle that records kill calls (for tests of the control plane)."""

    def __init__(self) -> None:
        self.sources: list[str] = []
        self.killed = asyncio.Event()

    def status(self) -> Mapping[str, Any]:
        return {"trading_state": "HALTED" if self.sources else "ACTIVE"}

    def resume(self, source: str) -> Mapping[str, Any]:
        if not self.sources:
            return {"resumed": False, "why": "trading is not halted"}
        self.sources.clear()
        self.resumed_by = source
        return {"resumed": True, "source": source}

    async def kill(self, source: str) -> Mapping[str, Any]:
        self.sources.append(source)
        self.killed.set()
        return {"halted": True, "source": source, "canceled": {"binance": 2}}

    def metrics_text(self) -> str:
        return "whalewire_orders_sent_total 3\n"


def make_engine(
    tmp_path: Path,
    name: str,
    config: str = CONFIG,
    detector: Any = None,
    venue: RecordingVenue | None = None,
) -> tuple[Engine, RecordingVenue]:
    """An armed engine on a journal under ``tmp_path``, trading on ``venue``'s clock."""
    if venue is None:
        venue = RecordingVenue(Clock())
    clock = venue.clock
    engine = Engine(
        parse_config(config),
        venues={"binance": venue},
        detector=detector or NoDetector(),
        journal=Journal(tmp_path / f"{name}.db"),
        namespace="reh",
        monotonic_ns=clock.monotonic,
        wall_ns=clock.wall_ns,
    )
    engine.armed = True
    return engine, venue


# ---- real processes for the durability tests ----------------------------------------------

ROOT = Path(__file__).parents[2]


def run_then_sigkill(code: str) -> None:
    """Run ``code`` in a new interpreter, wait until it has run, then SIGKILL it.

    The process prints ``written`` after ``code`` and then blocks, so it dies with every
    file still open and nothing flushed or closed by Python: what survives is what the
    kernel already had.
    """
    script = (
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        + textwrap.dedent(code)
        + '\nprint("written", flush=True)\nsys.stdin.read()\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)

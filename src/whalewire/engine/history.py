"""A past run's orders, fills and P&L, read from its journal without changing it.

The journal is opened read-only (SQLite ``mode=ro``): the history of a stopped engine, or
of a copy of a running one's file (a running engine holds its journal exclusively). Rows
carry the monotonic clock of their process; the ``open`` notes the journal writes at each
start (wall clock, monotonic) give every row its date. A venue's own times (fills) are
wall-clock already.

P&L is by average cost, per symbol, in the quote currency: a fill that grows the position
moves its average price; one that shrinks it realizes (fill price - average) x quantity
(reversed for a short). Commissions are summed apart, in their own asset.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from whalewire.engine.journal import JournalError
from whalewire.engine.oms import Order
from whalewire.model import (
    OrderAccepted,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderInitialized,
    OrderRejected,
    OrderStatusUnknown,
    OrderSubmitted,
    Side,
    SubmitOrder,
    decode,
)


@dataclass
class OrderRow:
    """One order as the journal tells it."""

    time: datetime | None
    client_order_id: str
    venue: str
    symbol: str
    side: str
    quantity: Decimal
    status: str
    filled: Decimal
    avg_px: Decimal
    reason: str
    txid: str


@dataclass
class FillRow:
    """One fill."""

    time: datetime | None
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: str


@dataclass
class Pnl:
    """Position and realized P&L of one symbol, by average cost."""

    symbol: str
    position: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)
    fills: int = 0
    last_price: Decimal | None = None

    def apply(self, side: str, qty: Decimal, price: Decimal) -> None:
        """Move the position by one fill."""
        signed = qty if side == Side.BUY.value else -qty
        self.fills += 1
        self.last_price = price
        pos = self.position
        if pos == 0 or (pos > 0) == (signed > 0):  # opening or growing
            total = abs(pos) + qty
            self.avg_price = (self.avg_price * abs(pos) + price * qty) / total
            self.position = pos + signed
            return
        closing = min(qty, abs(pos))
        direction = 1 if pos > 0 else -1
        self.realized += (price - self.avg_price) * closing * direction
        self.position = pos + signed
        if self.position == 0:
            self.avg_price = Decimal(0)
        elif (self.position > 0) != (pos > 0):  # reversed through zero: the rest opens
            self.avg_price = price

    @property
    def unrealized(self) -> Decimal:
        """P&L of the open position at the last fill's price."""
        if self.last_price is None or self.position == 0:
            return Decimal(0)
        return (self.last_price - self.avg_price) * self.position


@dataclass
class History:
    """Everything the journal holds, in order."""

    orders: list[OrderRow] = field(default_factory=list)
    fills: list[FillRow] = field(default_factory=list)
    pnl: dict[str, Pnl] = field(default_factory=dict)
    #: the operator's actions: (time, action, source); the engine's starts are "open"
    notes: list[tuple[datetime, str, str]] = field(default_factory=list)
    #: bytes out -> the venue's first answer, ns, per order (both stamps this process's)
    acks: list[int] = field(default_factory=list)


def _when(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


def read(path: str | Path) -> History:
    """Read the journal at ``path`` (read-only).

    Raises:
        JournalError: the file is missing, not a journal, or locked by a running engine.
    """
    p = Path(path)
    if not p.is_file():
        raise JournalError(f"no journal at {p}: give the path of an engine's journal file")
    try:
        db = sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=0.0)
        try:
            rows = db.execute("SELECT body FROM messages ORDER BY seq").fetchall()
            try:
                notes = db.execute("SELECT ts, action, source FROM operator ORDER BY rowid")
                note_rows = notes.fetchall()
            except sqlite3.OperationalError:  # a journal from before the operator table
                note_rows = []
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc):
            raise JournalError(
                f"journal {p} is held by a running engine: stop it, or read a copy "
                f"(sqlite3 {p} '.backup copy.db' while it runs is refused too: copy it after)"
            ) from None
        raise JournalError(f"{p} is not a whalewire journal ({exc})") from None
    history = History(notes=[(_when(ts), str(a), str(s)) for ts, a, s in note_rows])
    # the (wall, monotonic) pair of each engine start, oldest first
    anchors = sorted((int(s), ts) for ts, a, s in note_rows if a == "open" and str(s).isdigit())

    def wall(mono: int) -> datetime | None:
        best = None
        for anchor_mono, anchor_wall in anchors:
            if anchor_mono <= mono:
                best = anchor_wall + (mono - anchor_mono)
        return _when(best) if best is not None else None

    orders: dict[str, tuple[Order, datetime | None]] = {}
    reasons: dict[str, str] = {}
    submitted: dict[str, int] = {}
    for (body,) in rows:
        message = decode(body)
        coid = message.client_order_id
        if isinstance(message, OrderInitialized):
            orders[coid] = (Order(message), wall(message.ts_init))
            continue
        if isinstance(message, SubmitOrder):
            # a denied command: journaled as the command, then its OrderDenied
            init = OrderInitialized(
                client_order_id=coid, ts_init=message.ts_init, ts_event=0, command=message
            )
            orders[coid] = (Order(init), wall(message.ts_init))
            continue
        if not isinstance(message, OrderEvent) or coid not in orders:
            continue
        order, _ = orders[coid]
        if isinstance(message, OrderSubmitted):
            submitted[coid] = message.ts_init
        elif coid in submitted and isinstance(message, OrderAccepted | OrderRejected | OrderFilled):
            history.acks.append(message.ts_init - submitted.pop(coid))
        filled, quote = order.filled_qty, order.avg_px * order.filled_qty
        try:
            order.apply(message)
        except Exception:  # a duplicate or late event the engine refused too: skip it
            continue
        # P&L moves by what the event added to the order's executed quantity, as the
        # engine's position does: a trade a cancel or a query already counted adds nothing
        added = order.filled_qty - filled
        if isinstance(message, OrderDenied | OrderStatusUnknown):
            reasons[coid] = message.reason
        elif isinstance(message, OrderRejected):
            reasons[coid] = f"{message.code} {message.message}"
        if isinstance(message, OrderFilled):
            c = order.command
            when = _when(message.ts_event) if message.ts_event > 10**17 else wall(message.ts_init)
            history.fills.append(
                FillRow(
                    when,
                    coid,
                    c.symbol,
                    c.side.value,
                    message.last_qty,
                    message.last_px,
                    message.commission,
                    message.commission_asset,
                    message.trade_id,
                )
            )
        if added:
            c = order.command
            pnl = history.pnl.setdefault(c.symbol, Pnl(c.symbol))
            pnl.apply(c.side.value, added, (order.avg_px * order.filled_qty - quote) / added)
    for coid, (order, when) in orders.items():
        c = order.command
        history.orders.append(
            OrderRow(
                when,
                coid,
                c.venue,
                c.symbol,
                c.side.value,
                c.quantity,
                order.status.value,
                order.filled_qty,
                order.avg_px,
                reasons.get(coid, ""),
                c.txid,
            )
        )
    return history

"""The risk engine: the one gateway every order command passes, or is denied at.

``RiskEngine.check(command)`` returns ``None`` (pass) or an ``OrderDenied`` event with a
reason code; it never raises for a refusal, so denials are data that the journal and the
tests see. Cancels always pass, even when HALTED: stopping risk must never block reducing it.

States (nautilus_trader's): ACTIVE trades normally; REDUCING accepts only orders that
shrink the position; HALTED accepts no new order at all (the kill switch sets it).
The clock is injected (ns, monotonic for rates; the daily window uses the wall clock).

Risk owns the position and P&L (fed fills by execution) and every rule; it reads what open
orders hold (``Reserved``) but never writes it: execution is its one owner.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

import msgspec

from whalewire.model import CancelOrder, OrderDenied, OrderType, Side, SubmitOrder

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S


class TradingState(StrEnum):
    """What the risk engine lets through."""

    ACTIVE = "ACTIVE"  #: all orders within limits
    REDUCING = "REDUCING"  #: only orders that reduce the position
    HALTED = "HALTED"  #: no new orders; cancels only


_ACTIVE = TradingState.ACTIVE
_HALTED = TradingState.HALTED
_BUY = Side.BUY
_LIMIT = OrderType.LIMIT


class Denial(StrEnum):
    """Reason codes of ``OrderDenied`` from risk."""

    HALTED = "HALTED"
    REDUCING_ONLY = "REDUCING_ONLY"
    NO_LIMITS = "NO_LIMITS"
    MAX_ORDER_QTY = "MAX_ORDER_QTY"
    MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
    MAX_POSITION = "MAX_POSITION"
    MAX_DAILY_LOSS = "MAX_DAILY_LOSS"
    RATE_PER_SECOND = "RATE_PER_SECOND"
    RATE_PER_MINUTE = "RATE_PER_MINUTE"
    NO_REFERENCE_PRICE = "NO_REFERENCE_PRICE"
    PRICE_BAND = "PRICE_BAND"


class SymbolLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hard limits for one symbol; quantities in base units, notional in quote units."""

    max_order_qty: Decimal
    max_order_notional: Decimal
    max_position: Decimal
    max_daily_loss: Decimal
    #: the largest allowed distance of a LIMIT price from the last trade, as a fraction
    price_band: Decimal = Decimal("0.05")


class RiskConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Risk configuration: limits per symbol and order rates across all symbols."""

    symbols: dict[str, SymbolLimits]
    max_orders_per_second: int = 5
    max_orders_per_minute: int = 60


@dataclass(slots=True)
class Reserved:
    """What the open orders on one symbol could still add to its position, per side.

    Each open order's unfilled rest, summed: written by execution alone
    (``engine/execution.py``, as orders are placed, filled and closed), read here.
    """

    buy: Decimal = Decimal(0)
    sell: Decimal = Decimal(0)


_NOTHING_RESERVED = Reserved()


@dataclass(slots=True)
class SymbolBook:
    """What risk knows of one symbol: position, P&L, last trade."""

    position: Decimal = Decimal(0)  #: signed base quantity held
    cost: Decimal = Decimal(0)  #: signed quote spent building ``position`` (avg-cost basis)
    realized_pnl: Decimal = Decimal(0)  #: since the start of the current UTC day
    day: int = -1
    last_price: Decimal | None = None

    def unrealized_pnl(self) -> Decimal:
        """Mark-to-market P&L of the position at the last trade price."""
        if self.last_price is None or not self.position:
            return Decimal(0)
        return self.position * self.last_price - self.cost


@dataclass(slots=True)
class RiskEngine:
    """Checks order commands against ``RiskConfig`` and the trading state."""

    config: RiskConfig
    monotonic_ns: Callable[[], int]
    wall_ns: Callable[[], int]
    #: per symbol, what open orders hold (execution's, read only here)
    reserved: Mapping[str, Reserved] = field(default_factory=dict)
    state: TradingState = TradingState.ACTIVE
    state_reason: str = ""
    books: dict[str, SymbolBook] = field(default_factory=dict)
    #: send times of passed orders within the last second and the last minute
    _last_second: deque[int] = field(default_factory=deque)
    _last_minute: deque[int] = field(default_factory=deque)
    #: per symbol, the size rules' verdict and the objects it was reached on
    _ready: dict[str, tuple[Any, ...]] = field(default_factory=dict, repr=False)

    # -- state -------------------------------------------------------------------------
    def set_state(self, state: TradingState, reason: str) -> None:
        """Move to ``state`` (the kill switch calls this with HALTED)."""
        self.state = state
        self.state_reason = reason

    def book(self, symbol: str) -> SymbolBook:
        """The book of ``symbol``, created empty on first use."""
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = SymbolBook()
        return book

    # -- checks ------------------------------------------------------------------------
    def check_cancel(self, command: CancelOrder) -> OrderDenied | None:
        """Pass every cancel, in every state."""
        return None

    def check(self, command: SubmitOrder, *, shadow: bool = False) -> OrderDenied | None:
        """Return ``None`` if ``command`` may be sent, else the ``OrderDenied`` event.

        A passed command is counted against the rate limits (at the time its rate windows
        were checked); what it may add to the position is execution's to reserve once the
        order exists. With ``shadow`` every check runs (to keep its code and data in
        cache) and nothing is counted.
        """
        denial = self._verdict(command, shadow)
        if denial is None or shadow:
            return None
        reason, detail = denial
        now = self.monotonic_ns()
        return OrderDenied(
            client_order_id=command.client_order_id,
            ts_init=now,
            ts_event=now,
            reason=reason.value,
            detail=detail,
        )

    def _verdict(self, cmd: SubmitOrder, shadow: bool) -> tuple[Denial, str] | None:
        """Return the first rule ``cmd`` breaks, or None (then counted, unless ``shadow``).

        Every rule, once, in the order their reasons take precedence. On the hot path
        (ACTIVE, a known symbol with a price, between two fills or prices) the size rules'
        verdict (order quantity, notional, the day's loss) is kept while the order size,
        price, position, cost, realised P&L and limits are the same objects, so an order
        costs seven identity checks there (``tests/engine/test_risk.py`` proves the kept
        verdict equal to a fresh one on any sequence).
        """
        state = self.state
        if state is not _ACTIVE and state is _HALTED:
            return Denial.HALTED, self.state_reason
        symbol = cmd.symbol
        limits = self.config.symbols.get(symbol)
        if limits is None:
            return Denial.NO_LIMITS, f"no risk limits configured for {symbol}"
        book = self.books.get(symbol)
        if book is None:
            book = self.book(symbol)
        day = self.wall_ns() // NS_PER_DAY
        if day != book.day:
            book.day = day
            book.realized_pnl = Decimal(0)
        qty = cmd.quantity
        position = book.position
        reserved = self.reserved.get(symbol, _NOTHING_RESERVED)
        # worst case: every open order on this side fills as well
        if cmd.side is _BUY:
            worst = position + reserved.buy + qty
        else:
            worst = position - reserved.sell - qty
        # an order reduces only if, whatever fills, the position ends smaller than now
        reduces: bool | None = None
        if state is not _ACTIVE:  # REDUCING
            reduces = abs(worst) < abs(position)
            if not reduces:
                return Denial.REDUCING_ONLY, self.state_reason
        mark = book.last_price
        if mark is None:
            return Denial.NO_REFERENCE_PRICE, f"no trade price seen for {symbol}"
        price = mark
        if cmd.order_type is _LIMIT and cmd.price is not None:
            price = cmd.price
            if abs(price - mark) > mark * limits.price_band:
                return Denial.PRICE_BAND, f"{price} is more than {limits.price_band} from {mark}"
        cost = book.cost
        realized = book.realized_pnl
        # the size rules read neither open orders nor the clock: their verdict holds while
        # the same objects come (a Decimal never changes, and the tuple keeps them alive,
        # so identity means the same values)
        ready = self._ready.get(symbol)
        if (
            ready is not None
            and ready[0] is qty
            and ready[1] is price
            and ready[2] is mark
            and ready[3] is position
            and ready[4] is cost
            and ready[5] is realized
            and ready[6] is limits
        ):
            broken = ready[7]
        else:
            broken = _size_rules(qty, price, book, limits)
            self._ready[symbol] = (qty, price, mark, position, cost, realized, limits, broken)
        if broken is not None:
            if broken[0] is not Denial.MAX_DAILY_LOSS:
                return broken  # type: ignore[no-any-return]
            if reduces is None:
                reduces = abs(worst) < abs(position)
            if not reduces:
                return broken  # type: ignore[no-any-return]
        if abs(worst) > limits.max_position:
            if reduces is None:
                reduces = abs(worst) < abs(position)
            if not reduces:
                return Denial.MAX_POSITION, f"position could reach {worst}"
        now = self.monotonic_ns()
        # two expiring windows: O(1) per check however many orders the limits allow
        # (expiring what has left a window changes no decision, so a shadow may do it too)
        minute = self._last_minute
        while minute and now - minute[0] >= 60 * NS_PER_S:
            minute.popleft()
        if len(minute) >= self.config.max_orders_per_minute:
            return Denial.RATE_PER_MINUTE, f"{len(minute)} orders in the last minute"
        second = self._last_second
        while second and now - second[0] >= NS_PER_S:
            second.popleft()
        if len(second) >= self.config.max_orders_per_second:
            return Denial.RATE_PER_SECOND, f"{len(second)} orders in the last second"
        if not shadow:  # a passed command counts against the rate limits
            second.append(now)
            minute.append(now)
        return None

    # -- what happened ------------------------------------------------------------------
    def on_trade_price(self, symbol: str, price: Decimal) -> None:
        """Record the venue's last trade price (the reference for bands and notional)."""
        book = self.books.get(symbol)  # every order, before its check: no call when it exists
        if book is None:
            book = self.book(symbol)
        book.last_price = price

    def on_fill(self, symbol: str, side: Side, qty: Decimal, price: Decimal) -> None:
        """Add a fill to the position and realise P&L (avg cost); reservations are execution's."""
        book = self.book(symbol)
        self._roll_day(book)
        signed = qty if side is Side.BUY else -qty
        pos = book.position
        if pos and (pos > 0) != (signed > 0):
            closed = min(abs(signed), abs(pos))
            avg = book.cost / pos
            sign = 1 if pos > 0 else -1
            book.realized_pnl += (price - avg) * closed * sign
            book.position = pos - closed * sign
            # a flat book carries no cost: avg * closed leaves a residue (~1e-23) where the
            # average does not divide evenly (100000 over 3)
            book.cost = book.cost - avg * closed * sign if book.position else Decimal(0)
            rest = abs(signed) - closed
            if rest:
                book.position += rest * (1 if signed > 0 else -1)
                book.cost += price * rest * (1 if signed > 0 else -1)
        else:
            book.position = pos + signed
            book.cost += price * signed
        book.last_price = price

    def _roll_day(self, book: SymbolBook) -> None:
        day = self.wall_ns() // NS_PER_DAY
        if day != book.day:
            book.day = day
            book.realized_pnl = Decimal(0)


def _size_rules(
    qty: Decimal, price: Decimal, book: SymbolBook, limits: SymbolLimits
) -> tuple[Denial, str] | None:
    """The first of the size rules (order quantity, notional, the day's loss) broken, if any.

    ``price`` is the order's (a LIMIT price, else the last trade's); the position is
    valued at the book's last trade price.
    """
    if qty > limits.max_order_qty:
        return Denial.MAX_ORDER_QTY, f"{qty} > {limits.max_order_qty}"
    notional = qty * price
    if notional > limits.max_order_notional:
        return Denial.MAX_ORDER_NOTIONAL, f"{notional} > {limits.max_order_notional}"
    position = book.position
    mark = book.last_price
    unrealized = position * mark - book.cost if position and mark is not None else Decimal(0)
    loss = -(book.realized_pnl + unrealized)
    if loss >= limits.max_daily_loss:
        return Denial.MAX_DAILY_LOSS, f"loss today {loss} >= {limits.max_daily_loss}"
    return None

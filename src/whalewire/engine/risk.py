"""The risk engine: the one gateway every order command passes, or is denied at.

``RiskEngine.check(command)`` returns ``None`` (pass) or an ``OrderDenied`` event with a
reason code; it never raises for a refusal, so denials are data that the journal and the
tests see. Cancels always pass, even when HALTED: stopping risk must never block reducing it.

States (nautilus_trader's): ACTIVE trades normally; REDUCING accepts only orders that
shrink the position; HALTED accepts no new order at all (the kill switch sets it).
The clock is injected (ns, monotonic for rates; the daily window uses the wall clock).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
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
class SymbolBook:
    """What risk knows of one symbol: position, open exposure, P&L, last trade."""

    position: Decimal = Decimal(0)  #: signed base quantity held
    cost: Decimal = Decimal(0)  #: signed quote spent building ``position`` (avg-cost basis)
    open_buy: Decimal = Decimal(0)  #: quantity of open (unfilled) buy orders
    open_sell: Decimal = Decimal(0)
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
    state: TradingState = TradingState.ACTIVE
    state_reason: str = ""
    books: dict[str, SymbolBook] = field(default_factory=dict)
    #: send times of passed orders within the last second and the last minute
    _last_second: deque[int] = field(default_factory=deque)
    _last_minute: deque[int] = field(default_factory=deque)
    #: per symbol, ``_passes``'s verdict on size, notional and loss, and what it was of
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
        were checked) and its quantity reserved as open exposure until ``on_order_closed``;
        with ``shadow`` every check runs (to keep its code and data in cache) and nothing is
        counted or reserved.
        """
        now = self._passes(command)
        if now is None:
            # a denial, or a case the fast pass leaves to the checks in full: they say which
            reason, detail = self._reason(command)
            if shadow:
                return None
            now = self.monotonic_ns()
            if reason is not None:
                return OrderDenied(
                    client_order_id=command.client_order_id,
                    ts_init=now,
                    ts_event=now,
                    reason=reason.value,
                    detail=detail,
                )
        elif shadow:
            return None
        self._last_second.append(now)
        self._last_minute.append(now)
        book = self.books[command.symbol]  # _passes and _reason both made sure it exists
        if command.side is _BUY:
            book.open_buy += command.quantity
        else:
            book.open_sell += command.quantity
        return None

    def _passes(self, cmd: SubmitOrder) -> int | None:
        """Return the monotonic time when ``cmd`` passes every check, else None.

        The hot path's check: the same comparisons on the same Decimal expressions as
        ``_reason``, in the same order, for the case nearly every order is (ACTIVE, not a
        LIMIT order with a price, a symbol with limits, a book and a price), and none of
        what a pass does not need (no denial text; "reduces" is only needed to deny), and
        the verdict on size, notional and the day's loss kept while the order size, price,
        position, cost, realised P&L and limits are the same objects (between two fills or
        two prices, every order). None means ``_reason`` must decide:
        ``tests/engine/test_risk.py`` proves with hypothesis that this passes exactly when
        ``_reason`` passes.
        """
        if self.state is not _ACTIVE or (cmd.order_type is _LIMIT and cmd.price is not None):
            return None
        symbol = cmd.symbol
        limits = self.config.symbols.get(symbol)
        book = self.books.get(symbol)
        if limits is None or book is None:
            return None
        day = self.wall_ns() // NS_PER_DAY
        if day != book.day:
            book.day = day
            book.realized_pnl = Decimal(0)
        qty = cmd.quantity
        price = book.last_price
        if price is None:
            return None
        position = book.position
        cost = book.cost
        realized = book.realized_pnl
        # order size, notional and the day's loss read neither open orders nor the clock:
        # their verdict holds while the same objects come (a Decimal never changes, and the
        # tuple keeps them alive, so identity means the same values)
        ready = self._ready.get(symbol)
        if (
            ready is not None
            and ready[0] is qty
            and ready[1] is price
            and ready[2] is position
            and ready[3] is cost
            and ready[4] is realized
            and ready[5] is limits
        ):
            ok = ready[6]
        else:
            unrealized = position * price - cost if position else Decimal(0)
            ok = not (
                qty > limits.max_order_qty
                or qty * price > limits.max_order_notional
                or -(realized + unrealized) >= limits.max_daily_loss
            )
            self._ready[symbol] = (qty, price, position, cost, realized, limits, ok)
        if not ok:
            return None
        if cmd.side is _BUY:
            worst = position + book.open_buy + qty
        else:
            worst = position - book.open_sell - qty
        if abs(worst) > limits.max_position:
            return None
        now = self.monotonic_ns()
        minute = self._last_minute
        while minute and now - minute[0] >= 60 * NS_PER_S:
            minute.popleft()
        if len(minute) >= self.config.max_orders_per_minute:
            return None
        second = self._last_second
        while second and now - second[0] >= NS_PER_S:
            second.popleft()
        if len(second) >= self.config.max_orders_per_second:
            return None
        return now

    def _reason(self, cmd: SubmitOrder) -> tuple[Denial | None, str]:
        if self.state is TradingState.HALTED:
            return Denial.HALTED, self.state_reason
        limits = self.config.symbols.get(cmd.symbol)
        if limits is None:
            return Denial.NO_LIMITS, f"no risk limits configured for {cmd.symbol}"
        book = self.book(cmd.symbol)
        self._roll_day(book)
        signed = cmd.quantity if cmd.side is Side.BUY else -cmd.quantity
        reduces = abs(book.position + signed) < abs(book.position)
        if self.state is TradingState.REDUCING and not reduces:
            return Denial.REDUCING_ONLY, self.state_reason
        if cmd.quantity > limits.max_order_qty:
            return Denial.MAX_ORDER_QTY, f"{cmd.quantity} > {limits.max_order_qty}"
        ref = book.last_price
        if ref is None:
            return Denial.NO_REFERENCE_PRICE, f"no trade price seen for {cmd.symbol}"
        price = ref
        if cmd.order_type is OrderType.LIMIT and cmd.price is not None:
            price = cmd.price
            if abs(price - ref) > ref * limits.price_band:
                return Denial.PRICE_BAND, f"{price} is more than {limits.price_band} from {ref}"
        notional = cmd.quantity * price
        if notional > limits.max_order_notional:
            return Denial.MAX_ORDER_NOTIONAL, f"{notional} > {limits.max_order_notional}"
        # worst case: every open order on this side fills as well
        if cmd.side is Side.BUY:
            worst = book.position + book.open_buy + cmd.quantity
        else:
            worst = book.position - book.open_sell - cmd.quantity
        if abs(worst) > limits.max_position and not reduces:
            return Denial.MAX_POSITION, f"position could reach {worst}"
        loss = -(book.realized_pnl + book.unrealized_pnl())
        if loss >= limits.max_daily_loss and not reduces:
            return Denial.MAX_DAILY_LOSS, f"loss today {loss} >= {limits.max_daily_loss}"
        now = self.monotonic_ns()
        # two expiring windows: O(1) per check however many orders the limits allow (expiring
        # what has left a window changes no decision, so a shadow check may do it too)
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
        return None, ""

    # -- what happened ------------------------------------------------------------------
    def on_trade_price(self, symbol: str, price: Decimal) -> None:
        """Record the venue's last trade price (the reference for bands and notional)."""
        book = self.books.get(symbol)  # every order, before its check: no call when it exists
        if book is None:
            book = self.book(symbol)
        book.last_price = price

    def on_fill(self, symbol: str, side: Side, qty: Decimal, price: Decimal) -> None:
        """Move a fill from open exposure into the position and realise P&L (avg cost)."""
        book = self.book(symbol)
        self._roll_day(book)
        signed = qty if side is Side.BUY else -qty
        if side is Side.BUY:
            book.open_buy = max(Decimal(0), book.open_buy - qty)
        else:
            book.open_sell = max(Decimal(0), book.open_sell - qty)
        pos = book.position
        if pos and (pos > 0) != (signed > 0):
            closed = min(abs(signed), abs(pos))
            avg = book.cost / pos
            sign = 1 if pos > 0 else -1
            book.realized_pnl += (price - avg) * closed * sign
            book.cost -= avg * closed * sign
            book.position = pos - closed * sign
            rest = abs(signed) - closed
            if rest:
                book.position += rest * (1 if signed > 0 else -1)
                book.cost += price * rest * (1 if signed > 0 else -1)
        else:
            book.position = pos + signed
            book.cost += price * signed
        book.last_price = price

    def on_order_closed(self, symbol: str, side: Side, leaves_qty: Decimal) -> None:
        """Release the unfilled rest of an order that is final (canceled, expired...)."""
        book = self.book(symbol)
        if side is Side.BUY:
            book.open_buy = max(Decimal(0), book.open_buy - leaves_qty)
        else:
            book.open_sell = max(Decimal(0), book.open_sell - leaves_qty)

    def _roll_day(self, book: SymbolBook) -> None:
        day = self.wall_ns() // NS_PER_DAY
        if day != book.day:
            book.day = day
            book.realized_pnl = Decimal(0)

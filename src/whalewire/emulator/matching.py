"""The emulator's matching engine: per-symbol books, price-time priority, fills and fees.

Sans-IO: commands in (:meth:`MatchingEngine.place`, :meth:`MatchingEngine.cancel`),
immutable events out, the clock injected. Balances move through ``accounts`` so that an
order can never overdraw: what an order may spend is locked when it is accepted and
released when it is done. Post-only orders are refused whole if any part would take;
stop / take-profit orders wait off the book with their lock and run, under their own id,
when the last trade price reaches their trigger; resting limit orders can be amended in
place. Fees are charged in the asset received (Binance) or in quote on both sides
(``Fees.in_quote``: Coinbase, Kraken). Knows nothing of any venue's wire format, error
codes or signatures; a venue folder (``binance/``) validates requests and renders events.
"""

from __future__ import annotations

import random
from bisect import insort
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from types import MappingProxyType

from whalewire.emulator.accounts import ZERO, InsufficientBalance, Registry

Clock = Callable[[], int]
"""Milliseconds since the epoch; injected so tests and fault plans control time."""

_COMMISSION_QUANTUM = Decimal("1E-8")


class Side(StrEnum):
    """Order side."""

    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    """Order types the engine matches."""

    LIMIT = "LIMIT"
    MARKET = "MARKET"


class TimeInForce(StrEnum):
    """How long an order may live (Binance ``web-socket-api.md``, ``timeInForce``)."""

    GTC = "GTC"  #: rests on the book until filled or canceled
    IOC = "IOC"  #: fills what it can now; the rest expires
    FOK = "FOK"  #: fills entirely now or expires without any fill


class OrderStatus(StrEnum):
    """Order status, spelled as Binance's ``enums.md`` spells it."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


class RejectReason(StrEnum):
    """Why the engine refused a command; the venue module maps each to its error."""

    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    DUPLICATE_ORDER = "DUPLICATE_ORDER"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    #: a post-only order that would trade on arrival (Binance LIMIT_MAKER "Order would
    #: immediately match and take."; Coinbase ``post_only``; Kraken ``post``)
    WOULD_TAKE = "WOULD_TAKE"
    #: a stop the last price has already crossed, where the venue refuses those (Binance
    #: "Order would trigger immediately.")
    WOULD_TRIGGER = "WOULD_TRIGGER"


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """A tradable pair and its rules (Binance ``filters.md``: PRICE_FILTER, LOT_SIZE, NOTIONAL)."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    max_notional: Decimal


@dataclass(frozen=True, slots=True)
class Fees:
    """Commission rates as fractions (0.001 is 0.1 %, Binance's standard spot rate)."""

    maker: Decimal = Decimal("0.001")
    taker: Decimal = Decimal("0.001")
    #: charge both sides in the quote asset, exactly (Coinbase Exchange, "Fees": a buy pays
    #: ``price * size`` plus the fee in quote); else the asset received, rounded to 1e-8
    #: (Binance ``faqs/commission_faq.md``)
    in_quote: bool = False

    def hold_rate(self) -> Decimal:
        """What a BUY locks on top of its notional to pay the fee (0 unless ``in_quote``).

        Coinbase Exchange, "Holds": "For limit buy orders, we will hold price x size x
        (1 + fee-percent) USD."
        """
        return max(self.maker, self.taker) if self.in_quote else ZERO


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Command: place an order. Exactly one of ``quantity``/``quote_quantity`` is set."""

    account_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal | None = None
    #: MARKET only: spend (BUY) or receive (SELL) this much quote asset
    quote_quantity: Decimal | None = None
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    #: empty: the engine generates one
    client_order_id: str = ""
    #: refuse the whole order if any part of it would take liquidity on arrival
    post_only: bool = False
    #: a stop / take-profit: the order waits off the book until the last trade price
    #: reaches ``stop_price`` (at or above it with ``trigger_above``, else at or below),
    #: then runs as the MARKET or LIMIT order the rest of the command describes
    stop_price: Decimal | None = None
    trigger_above: bool = False
    #: refuse a stop whose trigger the last price has already reached (else it runs now)
    refuse_triggered: bool = False
    #: the venue's name for the order type (e.g. "STOP_LOSS_LIMIT"), carried in views
    label: str = ""
    #: a trailing stop: once active (at once, or when ``stop_price`` is reached) it follows
    #: the best last price since (a SELL the highest, a BUY the lowest) and triggers when
    #: the price turns back by ``trail`` (quote, or a fraction with ``trail_relative``)
    trail: Decimal | None = None
    trail_relative: bool = False
    #: one-cancels-the-other group (-1: none): once an order of the group trades or its
    #: stop triggers, or one is canceled, the group's other open orders are canceled. A
    #: parked stop placed into a group that already holds funds holds none itself: it
    #: locks afresh when it triggers, after its siblings let theirs go
    group: int = -1


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Command: cancel an open order found by ``order_id`` or ``client_order_id``."""

    account_id: str
    symbol: str
    order_id: int | None = None
    client_order_id: str = ""
    #: the canceled order takes this client id (Binance frees the old one); empty: generated
    new_client_order_id: str = ""


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order's state at one moment; what events carry and queries return."""

    order_id: int
    account_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: Decimal
    orig_qty: Decimal
    orig_quote_qty: Decimal
    executed_qty: Decimal
    cum_quote_qty: Decimal
    status: OrderStatus
    client_order_id: str
    #: the client id before a cancel replaced it (empty otherwise)
    orig_client_order_id: str
    time: int
    update_time: int
    working_time: int
    stop_price: Decimal = ZERO
    label: str = ""
    #: a stop that has not triggered yet (open, but not on the book)
    parked: bool = False
    #: a trailing stop's distance (see ``PlaceOrder.trail``; zero: not trailing) and when
    #: it started trailing (-1: not yet)
    trail: Decimal = ZERO
    trail_relative: bool = False
    trail_time: int = -1
    #: the order's one-cancels-the-other group (-1: none)
    group: int = -1

    @property
    def is_open(self) -> bool:
        """Return whether the order still rests on the book."""
        return self.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill from one side's point of view."""

    trade_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    """Event: the order entered the engine (Binance execution type NEW)."""

    order: OrderView
    ts: int


@dataclass(frozen=True, slots=True)
class OrderTraded:
    """Event: part or all of the order filled (execution type TRADE)."""

    order: OrderView
    trade: Trade
    ts: int


@dataclass(frozen=True, slots=True)
class OrderCanceled:
    """Event: the owner canceled the order (execution type CANCELED)."""

    order: OrderView
    ts: int


@dataclass(frozen=True, slots=True)
class OrderExpired:
    """Event: the order's rules ended it (IOC/FOK/MARKET remainder; execution type EXPIRED)."""

    order: OrderView
    ts: int


@dataclass(frozen=True, slots=True)
class CommandRejected:
    """Event: the engine refused the command; nothing changed."""

    reason: RejectReason
    ts: int


Event = OrderAccepted | OrderTraded | OrderCanceled | OrderExpired | CommandRejected


_OPEN_STATUSES = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


@dataclass(slots=True)
class _Order:
    order_id: int
    account_id: str
    spec: SymbolSpec
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: Decimal
    orig_qty: Decimal
    orig_quote_qty: Decimal
    client_order_id: str
    time: int
    # what the order reserved: asset and the amount still locked
    lock_asset: str
    locked: Decimal
    # BUY orders consume lock_price * qty of quote per fill and get back what the
    # better fill price saved; SELL orders consume qty of base
    lock_price: Decimal
    executed_qty: Decimal = ZERO
    cum_quote_qty: Decimal = ZERO
    status: OrderStatus = OrderStatus.NEW
    orig_client_order_id: str = ""
    update_time: int = 0
    working_time: int = -1
    trades: list[Trade] = field(default_factory=list)
    stop_price: Decimal = ZERO
    label: str = ""
    #: the command to run when a parked stop triggers (None: not a parked stop)
    pending: PlaceOrder | None = None
    #: a trailing stop: its distance, when it started trailing (-1: not yet) and the best
    #: last price since
    trail: Decimal = ZERO
    trail_relative: bool = False
    trail_time: int = -1
    extreme: Decimal = ZERO
    group: int = -1

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    def view(self) -> OrderView:
        return OrderView(
            order_id=self.order_id,
            account_id=self.account_id,
            symbol=self.spec.symbol,
            side=self.side,
            order_type=self.order_type,
            time_in_force=self.time_in_force,
            price=self.price,
            orig_qty=self.orig_qty,
            orig_quote_qty=self.orig_quote_qty,
            executed_qty=self.executed_qty,
            cum_quote_qty=self.cum_quote_qty,
            status=self.status,
            client_order_id=self.client_order_id,
            orig_client_order_id=self.orig_client_order_id,
            time=self.time,
            update_time=self.update_time,
            working_time=self.working_time,
            stop_price=self.stop_price,
            label=self.label,
            parked=self.pending is not None,
            trail=self.trail,
            trail_relative=self.trail_relative,
            trail_time=self.trail_time,
            group=self.group,
        )


class _SideBook:
    """Resting orders of one side: a FIFO queue per price level."""

    def __init__(self, best_is_high: bool) -> None:
        self._best_is_high = best_is_high
        self._prices: list[Decimal] = []
        self._levels: dict[Decimal, deque[_Order]] = {}

    def add(self, order: _Order) -> None:
        level = self._levels.get(order.price)
        if level is None:
            level = self._levels[order.price] = deque()
            insort(self._prices, order.price)
        level.append(order)

    def remove(self, order: _Order) -> None:
        level = self._levels[order.price]
        level.remove(order)
        if not level:
            del self._levels[order.price]
            self._prices.remove(order.price)

    def best(self) -> Decimal | None:
        if not self._prices:
            return None
        return self._prices[-1] if self._best_is_high else self._prices[0]

    def best_first(self) -> Iterator[tuple[Decimal, deque[_Order]]]:
        prices = reversed(self._prices) if self._best_is_high else iter(self._prices)
        for price in list(prices):
            yield price, self._levels[price]

    def depth(self) -> list[tuple[Decimal, Decimal]]:
        return [
            (price, sum((o.remaining for o in level), ZERO)) for price, level in self.best_first()
        ]


class _Book:
    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.bids = _SideBook(best_is_high=True)
        self.asks = _SideBook(best_is_high=False)
        self.last_price = ZERO

    def side(self, side: Side) -> _SideBook:
        return self.bids if side is Side.BUY else self.asks

    def opposite(self, side: Side) -> _SideBook:
        return self.asks if side is Side.BUY else self.bids


def _floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


#: the statuses of an order still open (resting or parked)
_OPEN = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class MatchingEngine:
    """Every symbol's book plus the accounts whose balances the fills move."""

    def __init__(
        self,
        specs: list[SymbolSpec],
        registry: Registry,
        clock: Clock,
        fees: Fees | None = None,
        seed: int = 0,
    ) -> None:
        self.registry = registry
        self.fees = fees or Fees()
        self._clock = clock
        self._books = {spec.symbol: _Book(spec) for spec in specs}
        self._specs = MappingProxyType({spec.symbol: spec for spec in specs})
        self._orders: dict[int, _Order] = {}
        #: parked stops per symbol, oldest first
        self._stops: dict[str, list[_Order]] = {}
        #: one-cancels-the-other groups: their order ids, by group id
        self._groups: dict[int, list[int]] = {}
        # open orders by (account, symbol, client id): Binance refuses a duplicate only
        # among open orders ("Duplicate order sent.")
        self._open_by_client_id: dict[tuple[str, str, str], _Order] = {}
        #: the id the next order gets (settable: tests replay documented ids)
        self.next_order_id = 1
        self._next_trade_id = 1
        self._rng = random.Random(seed)

    # ----------------------------------------------------------------- queries

    @property
    def specs(self) -> Mapping[str, SymbolSpec]:
        """Return the symbol rules by symbol name (read-only)."""
        return self._specs

    def get_order(
        self, account_id: str, symbol: str, order_id: int | None = None, client_order_id: str = ""
    ) -> OrderView | None:
        """Return an order of ``account_id`` by id (or open order by client id), else ``None``."""
        order = self._find(account_id, symbol, order_id, client_order_id)
        return order.view() if order is not None else None

    def trades_of(self, order_id: int) -> list[Trade]:
        """Return the fills of an order, oldest first."""
        order = self._orders.get(order_id)
        return list(order.trades) if order is not None else []

    def open_orders(self, account_id: str, symbol: str | None = None) -> list[OrderView]:
        """Return the open orders of an account (optionally one symbol), oldest first."""
        return [
            o.view()
            for o in self._orders.values()
            if o.account_id == account_id
            and o.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
            and (symbol is None or o.spec.symbol == symbol)
        ]

    def depth(
        self, symbol: str
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Return (bids, asks) as (price, quantity) levels, best first."""
        book = self._books[symbol]
        return book.bids.depth(), book.asks.depth()

    def reference_price(self, symbol: str) -> Decimal:
        """Return the last trade price, else the mid of the best bid and ask, else zero."""
        book = self._books[symbol]
        if book.last_price:
            return book.last_price
        bid, ask = book.bids.best(), book.asks.best()
        if bid is not None and ask is not None:
            return (bid + ask) / 2
        return bid if bid is not None else ask if ask is not None else ZERO

    def executable_qty(self, symbol: str, side: Side, quote_quantity: Decimal) -> Decimal:
        """Return the base quantity a MARKET order for ``quote_quantity`` would execute now."""
        plan = self._plan(self._books[symbol], side, None, None, quote_quantity)
        return sum((q for _, q, _ in plan), ZERO)

    # ---------------------------------------------------------------- commands

    def place(self, cmd: PlaceOrder) -> list[Event]:
        """Match a new order; return its events (accepted, trades, then expired if any),
        then those of any stops the trades triggered (theirs, in trigger order).

        Raises:
            KeyError: for a symbol the engine does not list (the venue checks first).
        """
        return self._place(cmd, None)

    def _place(self, cmd: PlaceOrder, parked: _Order | None) -> list[Event]:
        book = self._books[cmd.symbol]
        spec = book.spec
        now = self._clock()
        client_id = cmd.client_order_id or self._generate_client_id()
        if (cmd.account_id, spec.symbol, client_id) in self._open_by_client_id:
            return [CommandRejected(RejectReason.DUPLICATE_ORDER, now)]
        if (cmd.stop_price is not None or cmd.trail is not None) and parked is None:
            return self._park(cmd, book, client_id, now)
        account = self.registry.accounts[cmd.account_id]
        tif = cmd.time_in_force or TimeInForce.GTC
        limit = cmd.price if cmd.order_type is OrderType.LIMIT else None
        plan = self._plan(book, cmd.side, limit, cmd.quantity, cmd.quote_quantity)
        planned_qty = sum((q for _, q, _ in plan), ZERO)
        planned_quote = sum((q * p for _, q, p in plan), ZERO)
        if cmd.post_only and plan:
            return [CommandRejected(RejectReason.WOULD_TAKE, now)]
        hold = self.fees.hold_rate()

        # quoteOrderQty orders report what they could execute as origQty
        orig_qty = cmd.quantity if cmd.quantity is not None else planned_qty
        if cmd.side is Side.BUY:
            lock_asset = spec.quote
            if cmd.order_type is OrderType.LIMIT:
                assert cmd.price is not None
                lock_price = cmd.price * (1 + hold)
                to_lock = lock_price * orig_qty
            else:
                lock_price = ZERO
                to_lock = planned_quote * (1 + (self.fees.taker if self.fees.in_quote else ZERO))
        else:
            lock_asset, lock_price = spec.base, ZERO
            to_lock = orig_qty
        try:
            account.lock(lock_asset, to_lock)
        except InsufficientBalance:
            return [CommandRejected(RejectReason.INSUFFICIENT_BALANCE, now)]
        account.update_time = now

        order = _Order(
            order_id=self.next_order_id if parked is None else parked.order_id,
            account_id=cmd.account_id,
            spec=spec,
            side=cmd.side,
            order_type=cmd.order_type,
            time_in_force=tif,
            price=cmd.price if cmd.price is not None else ZERO,
            orig_qty=orig_qty,
            orig_quote_qty=cmd.quote_quantity if cmd.quote_quantity is not None else ZERO,
            client_order_id=client_id,
            time=now if parked is None else parked.time,
            lock_asset=lock_asset,
            locked=to_lock,
            lock_price=lock_price,
            update_time=now,
            working_time=now,
            stop_price=cmd.stop_price or ZERO,
            label=cmd.label,
            trail=cmd.trail or ZERO,
            trail_relative=cmd.trail_relative,
            trail_time=-1 if parked is None else parked.trail_time,
            group=cmd.group,
        )
        if parked is None:
            self.next_order_id += 1
            if cmd.group >= 0:
                self._groups.setdefault(cmd.group, []).append(order.order_id)
        self._orders[order.order_id] = order
        # a triggered stop was accepted when it was parked: no second "accepted"
        events: list[Event] = [OrderAccepted(order.view(), now)] if parked is None else []
        last_before = book.last_price

        fok_short = tif is TimeInForce.FOK and planned_qty < orig_qty
        if not fok_short:
            for maker, qty, price in plan:
                events.extend(
                    self._fill(book, taker=order, maker=maker, qty=qty, price=price, now=now)
                )
            # an order of a one-cancels-the-other group that traded cancels the others
            for traded in [order, *(maker for maker, _, _ in plan)]:
                if traded.group >= 0 and traded.trades:
                    events.extend(self._cancel_siblings(traded, now, expire=True))

        if order.remaining > 0 and tif is TimeInForce.GTC and cmd.order_type is OrderType.LIMIT:
            book.side(cmd.side).add(order)
            self._open_by_client_id[(order.account_id, spec.symbol, client_id)] = order
        elif order.remaining > 0 or order.executed_qty == 0:
            order.status = OrderStatus.EXPIRED
            self._release(order, now)
            events.append(OrderExpired(order.view(), now))
        else:
            self._release(order, now)
        if book.last_price != last_before or order.trades:
            events.extend(self._trigger(book))
        return events

    # ---------------------------------------------------------------- stops

    def _park(self, cmd: PlaceOrder, book: _Book, client_id: str, now: int) -> list[Event]:
        """Accept a stop: lock what it will need and keep it off the book until triggered.

        A BUY locks ``(price or stop price) x quantity`` (plus the fee hold) or its quote
        quantity; a SELL its quantity. When it triggers the lock is released and the order
        runs as a new MARKET/LIMIT order with the same id, locking afresh.
        """
        if (
            cmd.stop_price is not None
            and cmd.refuse_triggered
            and self._crossed(book, cmd.stop_price, cmd.trigger_above)
        ):
            return [CommandRejected(RejectReason.WOULD_TRIGGER, now)]
        spec = book.spec
        qty = cmd.quantity if cmd.quantity is not None else ZERO
        if cmd.group >= 0 and any(self._orders[i].locked for i in self._groups.get(cmd.group, ())):
            asset, to_lock = (spec.quote if cmd.side is Side.BUY else spec.base), ZERO
        elif cmd.side is Side.BUY:
            asset = spec.quote
            if cmd.quote_quantity is not None:
                to_lock = cmd.quote_quantity * (1 + self.fees.hold_rate())
            else:
                # a trailing market BUY without a price holds at the price it trails from
                mark = cmd.price or cmd.stop_price or book.last_price or book.asks.best() or ZERO
                to_lock = mark * qty * (1 + self.fees.hold_rate())
        else:
            asset, to_lock = spec.base, qty
        account = self.registry.accounts[cmd.account_id]
        try:
            account.lock(asset, to_lock)
        except InsufficientBalance:
            return [CommandRejected(RejectReason.INSUFFICIENT_BALANCE, now)]
        order = _Order(
            order_id=self.next_order_id,
            account_id=cmd.account_id,
            spec=spec,
            side=cmd.side,
            order_type=cmd.order_type,
            time_in_force=cmd.time_in_force or TimeInForce.GTC,
            price=cmd.price if cmd.price is not None else ZERO,
            orig_qty=qty,
            orig_quote_qty=cmd.quote_quantity if cmd.quote_quantity is not None else ZERO,
            client_order_id=client_id,
            time=now,
            lock_asset=asset,
            locked=to_lock,
            lock_price=ZERO,
            update_time=now,
            stop_price=cmd.stop_price or ZERO,
            label=cmd.label,
            pending=cmd,
            trail=cmd.trail or ZERO,
            trail_relative=cmd.trail_relative,
            group=cmd.group,
        )
        if cmd.group >= 0:
            self._groups.setdefault(cmd.group, []).append(order.order_id)
        if cmd.trail is not None and cmd.stop_price is None:
            self._start_trailing(order, book.last_price, now)
        self.next_order_id += 1
        self._orders[order.order_id] = order
        self._stops.setdefault(spec.symbol, []).append(order)
        self._open_by_client_id[(order.account_id, spec.symbol, client_id)] = order
        return [OrderAccepted(order.view(), now)]

    @staticmethod
    def _crossed(book: _Book, stop: Decimal, above: bool) -> bool:
        price = book.last_price
        if not price:
            return False  # nothing traded yet: nothing to trigger on
        return price >= stop if above else price <= stop

    @staticmethod
    def _start_trailing(order: _Order, price: Decimal, now: int) -> None:
        if price:  # nothing traded yet: it starts with the first trade
            order.trail_time, order.extreme = now, price

    def _due(self, book: _Book, order: _Order, now: int) -> bool:
        """Whether a parked stop triggers at the book's last price; a trailing one first
        activates (at its ``stop_price``, if any), then follows the best price since."""
        cmd, last = order.pending, book.last_price
        if cmd is None or not last:
            return False
        if cmd.trail is None:
            return self._crossed(book, order.stop_price, cmd.trigger_above)
        if order.trail_time < 0:
            if cmd.stop_price is not None and not self._crossed(
                book, cmd.stop_price, cmd.trigger_above
            ):
                return False
            self._start_trailing(order, last, now)
        # a SELL trails the highest price and triggers on a fall; a BUY the lowest, a rise
        sell = order.side is Side.SELL
        order.extreme = max(order.extreme, last) if sell else min(order.extreme, last)
        distance = cmd.trail * order.extreme if cmd.trail_relative else cmd.trail
        return last <= order.extreme - distance if sell else last >= order.extreme + distance

    def _trigger(self, book: _Book) -> list[Event]:
        """Run every parked stop of the book's symbol the last price has reached, oldest
        first; a triggered stop's own trades may trigger more (each runs once)."""
        events: list[Event] = []
        stops = self._stops.get(book.spec.symbol, [])
        while True:
            now = self._clock()
            due = next((o for o in stops if self._due(book, o, now)), None)
            if due is None:
                return events
            stops.remove(due)
            cmd, due.pending = due.pending, None
            assert cmd is not None
            self._release(due, now)
            events.extend(self._cancel_siblings(due, now, expire=True))  # before it locks
            self._open_by_client_id.pop((due.account_id, book.spec.symbol, due.client_order_id))
            del self._orders[due.order_id]
            run = self._place(replace(cmd, client_order_id=due.client_order_id), due)
            if run and isinstance(run[0], CommandRejected):
                # it cannot run any more (funds moved meanwhile): it ends, expired
                due.status = OrderStatus.EXPIRED
                self._orders[due.order_id] = due
                run = [OrderExpired(due.view(), now)]
            events.extend(run)

    def cancel(self, cmd: CancelOrder) -> list[Event]:
        """Cancel an open order; return ``OrderCanceled`` or ``CommandRejected(UNKNOWN_ORDER)``."""
        now = self._clock()
        order = self._find(cmd.account_id, cmd.symbol, cmd.order_id, cmd.client_order_id)
        if order is None or order.status not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            return [CommandRejected(RejectReason.UNKNOWN_ORDER, now)]
        events: list[Event] = [self._cancel_one(order, now, cmd.new_client_order_id)]
        return events + self._cancel_siblings(order, now)

    def _cancel_one(
        self, order: _Order, now: int, new_client_id: str = "", *, expire: bool = False
    ) -> Event:
        if order.pending is not None:  # a parked stop: off the book
            self._stops[order.spec.symbol].remove(order)
            order.pending = None
        else:
            self._books[order.spec.symbol].side(order.side).remove(order)
        self._open_by_client_id.pop((order.account_id, order.spec.symbol, order.client_order_id))
        if expire:  # ended by its group, not canceled: it keeps its client id
            order.status = OrderStatus.EXPIRED
            self._release(order, now)
            return OrderExpired(order.view(), now)
        order.orig_client_order_id = order.client_order_id
        order.client_order_id = new_client_id or self._generate_client_id()
        order.status = OrderStatus.CANCELED
        self._release(order, now)
        return OrderCanceled(order.view(), now)

    def _cancel_siblings(self, order: _Order, now: int, *, expire: bool = False) -> list[Event]:
        """Cancel the other open orders of ``order``'s one-cancels-the-other group; with
        ``expire`` (``order`` traded or triggered) they end EXPIRED, as Binance ends an OCO's
        other order."""
        events: list[Event] = []
        for order_id in self._groups.get(order.group, ()):
            other = self._orders.get(order_id)
            if other is None or other is order or other.status not in _OPEN:
                continue
            events.append(self._cancel_one(other, now, expire=expire))
        return events

    def amend(
        self,
        account_id: str,
        symbol: str,
        order_id: int,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
    ) -> OrderView | RejectReason:
        """Change a resting LIMIT order's quantity and/or price in place; keep its ids.

        Kraken "amend_order": "Queue priority ... is maintained where possible": a smaller
        quantity at the same price keeps the order's place; a new price or a larger
        quantity sends it to the back of its level. A new price that would trade is refused
        (``WOULD_TAKE``), as is a quantity not above what already executed or an order that
        is not open (``UNKNOWN_ORDER``). What the order locks
        follows the new remainder; a larger lock the account cannot cover is refused.
        """
        order = self._find(account_id, symbol, order_id, "")
        if order is None or order.status not in _OPEN_STATUSES or order.pending is not None:
            return RejectReason.UNKNOWN_ORDER
        new_qty = quantity if quantity is not None else order.orig_qty
        new_price = price if price is not None else order.price
        if new_qty <= order.executed_qty:
            return RejectReason.UNKNOWN_ORDER
        book = self._books[symbol]
        best = book.opposite(order.side).best()
        if best is not None and (
            new_price >= best if order.side is Side.BUY else new_price <= best
        ):
            return RejectReason.WOULD_TAKE
        remaining = new_qty - order.executed_qty
        factor = 1 + self.fees.hold_rate()
        lock_price = new_price * factor if order.side is Side.BUY else ZERO
        needed = lock_price * remaining if order.side is Side.BUY else remaining
        account = self.registry.accounts[account_id]
        if needed > order.locked:
            try:
                account.lock(order.lock_asset, needed - order.locked)
            except InsufficientBalance:
                return RejectReason.INSUFFICIENT_BALANCE
        elif needed < order.locked:
            account.unlock(order.lock_asset, order.locked - needed)
        keeps_place = new_price == order.price and new_qty <= order.orig_qty
        if not keeps_place:
            book.side(order.side).remove(order)
        order.orig_qty, order.price, order.locked = new_qty, new_price, needed
        if order.side is Side.BUY:
            order.lock_price = lock_price
        order.update_time = self._clock()
        if not keeps_place:
            book.side(order.side).add(order)
        return order.view()

    def cancel_all(self, account_id: str, symbol: str) -> list[Event]:
        """Cancel every open order of ``account_id`` on ``symbol``, oldest first."""
        events: list[Event] = []
        for view in self.open_orders(account_id, symbol):
            order = self._orders[view.order_id]
            if order.status in _OPEN:  # not canceled already with its group
                events.extend(self.cancel(CancelOrder(account_id, symbol, order_id=view.order_id)))
        return events

    def forget(self, order_id: int) -> None:
        """Drop the record of a final order (the house's re-quotes churn thousands an hour)."""
        order = self._orders.get(order_id)
        if order is not None and order.status not in (
            OrderStatus.NEW,
            OrderStatus.PARTIALLY_FILLED,
        ):
            del self._orders[order_id]

    # ---------------------------------------------------------------- internals

    def _find(
        self, account_id: str, symbol: str, order_id: int | None, client_order_id: str
    ) -> _Order | None:
        if order_id is not None:
            order = self._orders.get(order_id)
            if order is None or order.account_id != account_id or order.spec.symbol != symbol:
                return None
            # Binance: with both ids, the order found by orderId must carry the client id
            if client_order_id and client_order_id != order.client_order_id:
                return None
            return order
        if client_order_id:
            found = self._open_by_client_id.get((account_id, symbol, client_order_id))
            if found is not None:
                return found
            # closed orders keep their last client id; the newest one wins
            for order in reversed(self._orders.values()):
                if (
                    order.account_id == account_id
                    and order.spec.symbol == symbol
                    and order.client_order_id == client_order_id
                ):
                    return order
        return None

    def _plan(
        self,
        book: _Book,
        side: Side,
        limit: Decimal | None,
        quantity: Decimal | None,
        quote_quantity: Decimal | None,
    ) -> list[tuple[_Order, Decimal, Decimal]]:
        """Walk the opposite side best-first (price, then time) without changing anything."""
        plan: list[tuple[_Order, Decimal, Decimal]] = []
        filled = spent = ZERO
        step = book.spec.step_size
        for price, level in book.opposite(side).best_first():
            if limit is not None and (price > limit if side is Side.BUY else price < limit):
                break
            for maker in level:
                if quantity is not None:
                    take = min(maker.remaining, quantity - filled)
                else:
                    assert quote_quantity is not None
                    take = min(
                        maker.remaining, _floor_to_step((quote_quantity - spent) / price, step)
                    )
                if take <= 0:
                    return plan
                plan.append((maker, take, price))
                filled += take
                spent += take * price
        return plan

    def _fill(
        self, book: _Book, *, taker: _Order, maker: _Order, qty: Decimal, price: Decimal, now: int
    ) -> list[Event]:
        trade_id = self._next_trade_id
        self._next_trade_id += 1
        book.last_price = price
        events: list[Event] = []
        for order, is_maker in ((taker, False), (maker, True)):
            rate = self.fees.maker if is_maker else self.fees.taker
            events.append(
                self._apply_fill(
                    order,
                    trade_id=trade_id,
                    qty=qty,
                    price=price,
                    rate=rate,
                    is_maker=is_maker,
                    now=now,
                )
            )
        if maker.remaining == 0:
            book.opposite(taker.side).remove(maker)
            self._open_by_client_id.pop(
                (maker.account_id, maker.spec.symbol, maker.client_order_id), None
            )
        return events

    def _apply_fill(
        self,
        order: _Order,
        *,
        trade_id: int,
        qty: Decimal,
        price: Decimal,
        rate: Decimal,
        is_maker: bool,
        now: int,
    ) -> OrderTraded:
        account = self.registry.accounts[order.account_id]
        spec = order.spec
        quote_qty = qty * price
        # Binance charges the commission in the asset received (faqs/commission_faq.md):
        # base for a BUY, quote for a SELL (without BNB discounts, which we do not model)
        if order.side is Side.BUY and self.fees.in_quote:
            commission = quote_qty * rate  # exact: the hold covered it (hold_rate)
            consumed = order.lock_price * qty if order.lock_price else quote_qty + commission
            account.settle(spec.quote, consumed, consumed - quote_qty - commission, spec.base, qty)
            commission_asset = spec.quote
        elif order.side is Side.BUY:
            commission = (qty * rate).quantize(_COMMISSION_QUANTUM)
            consumed = (order.lock_price or price) * qty
            account.settle(spec.quote, consumed, consumed - quote_qty, spec.base, qty - commission)
            commission_asset = spec.base
        else:
            commission = quote_qty * rate
            if not self.fees.in_quote:
                commission = commission.quantize(_COMMISSION_QUANTUM)
            consumed = qty
            account.settle(spec.base, consumed, ZERO, spec.quote, quote_qty - commission)
            commission_asset = spec.quote
        order.locked -= consumed
        account.update_time = now
        order.executed_qty += qty
        order.cum_quote_qty += quote_qty
        order.status = OrderStatus.FILLED if order.remaining == 0 else OrderStatus.PARTIALLY_FILLED
        order.update_time = now
        trade = Trade(trade_id, price, qty, quote_qty, commission, commission_asset, is_maker)
        order.trades.append(trade)
        return OrderTraded(order.view(), trade, now)

    def _release(self, order: _Order, now: int) -> None:
        if order.locked:
            self.registry.accounts[order.account_id].unlock(order.lock_asset, order.locked)
            order.locked = ZERO
        order.update_time = now

    def _generate_client_id(self) -> str:
        # Binance generates 22 hex digits ("4d96324ff9d44481926157"); seeded for replay
        return f"{self._rng.getrandbits(88):022x}"

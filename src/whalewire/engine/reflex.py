"""The reflex: an order armed and pre-authorised per route, so a whale only checks and fires.

For each route the strategy trades (venue, symbol, side, fixed size) the reflex keeps an
``Armed`` order: what risk decided for it in advance (every size and position rule passed)
and the headroom that decision holds within, as plain values: the band of marks inside
which the notional and daily-loss rules still pass, the UTC day it was reached on, and the
very objects (limits, position, cost, realised P&L, what open orders hold) it was reached
on. A whale then costs the strategy's per-alert checks (duplicate, threshold, cooldown,
reaction window), identity checks and two comparisons against the armed values, the two
rate windows, and the commit of what the reference path would have counted; no rule is
evaluated. Anything the armed values do not cover (a mark outside the band, a fill or a
limit change not yet re-armed, a new day, HALTED or REDUCING, a denial to come) returns
None before anything is counted, and the caller runs the reference path
(``Pipeline``: strategy → risk), which decides exactly as before.

Re-arming happens after the write, never on the whale: after every order (its reservation
moved), every venue event (fills, cancels, expiries), halt and resume, and whenever asked
(``rearm``). It also pushes marks where no market data does: a venue's own price, once
per update (``venue.last_price`` is read at re-arm time, not per order).

The rules mirrored here are ``WhaleStrategy.on_alert``'s and ``RiskEngine._verdict``'s
(``engine/strategy.py``, ``engine/risk.py``: those files own them); the reflex reads their
state and makes the same mutations in the same order. ``tests/reflex/test_equivalence.py``
drives an engine with and one without the reflex through the same whales, fills, cancels,
marks and limit changes and requires identical orders, ids, journal rows and risk state.
Knows nothing of sockets, journals or wire formats.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import NamedTuple

from whalewire.engine.risk import NS_PER_DAY, NS_PER_S, RiskEngine, SymbolBook, TradingState
from whalewire.engine.strategy import SHADOW_ID, AlertLike, WhaleStrategy
from whalewire.model import Side, SubmitOrder
from whalewire.venues.contract import Venue

_ACTIVE = TradingState.ACTIVE
_BUY = Side.BUY
_MINUTE_NS = 60 * NS_PER_S


class Route(NamedTuple):
    """One order the strategy may send: where, what, which way, how much."""

    venue: str
    symbol: str
    side: Side
    quantity: Decimal


class Armed(NamedTuple):
    """An order risk has passed in advance, and what that verdict holds within."""

    route: Route
    config: object  #: the ``RiskConfig`` the verdict was reached under
    limits: object  #: its ``SymbolLimits`` for the route's symbol
    book: SymbolBook
    position: Decimal
    cost: Decimal
    realized: Decimal
    #: what open orders held on the route's side (None: no ``Reserved`` row yet)
    held: Decimal | None
    day: int  #: the UTC day the daily loss was valued on
    #: the marks for which every mark-dependent rule still passes (None: unbounded)
    low: Decimal | None
    high: Decimal | None


class _Cell:
    """A route's armed order and the state it was armed on (a re-arm overwrites both)."""

    __slots__ = ("armed", "basis")

    def __init__(self) -> None:
        self.armed: Armed | None = None
        #: the objects ``_arm`` read: the verdict is not worked out again while they are
        #: the same
        self.basis: tuple[object, ...] = ()


class _Entity(NamedTuple):
    """An entity's plan, as the reflex reads it per whale (from ``WhaleStrategy._plan``)."""

    kind: object
    name: str
    threshold: int
    route: Route
    #: the route's armed order, shared by its entities: one slot a re-arm overwrites (a
    #: Route is never hashed per whale: its Decimal and enum hash in Python, ~0.5 µs)
    cell: _Cell


class Reflex:
    """Keeps one armed order per route and fires it when a whale allows."""

    def __init__(
        self,
        *,
        strategy: WhaleStrategy,
        risk: RiskEngine,
        venues: Mapping[str, Venue],
        wall_ns: Callable[[], int] | None = None,
    ) -> None:
        self.strategy = strategy
        self.risk = risk
        self.venues = venues
        self._wall = wall_ns or risk.wall_ns
        cfg = strategy.config
        #: the reflex fires only where a route's order is the same for every whale:
        #: fixed size and no live book read (else every whale takes the reference path)
        self.enabled = cfg.size_mode == "fixed" and not (
            cfg.max_spread_bps > 0 or cfg.max_depth_fraction > 0
        )
        #: every route the configuration can send on, each with its cell (``_Cell``)
        self._cells: dict[Route, _Cell] = {route: _Cell() for route in self._configured()}
        # marks are pushed for every configured route, armed or not: with fraction sizing
        # no route is armed, and the reference path's risk check needs the mark all the same
        routes = {cfg.default_route, *cfg.routes.values()}
        self._pairs = sorted({(r.venue, r.symbol) for r in routes})
        self._symbols = sorted({r.symbol for r in routes})
        self._entities: dict[str, _Entity] = {}
        #: per (venue, symbol), the venue price last pushed into risk (pushed once per update)
        self._pushed: dict[tuple[str, str], Decimal] = {}
        #: whales fired by the reflex, and whales handed to the reference path
        self.fired = 0
        self.declined = 0

    # -- arming -------------------------------------------------------------------------
    def _configured(self) -> list[Route]:
        """Every route the strategy's configuration can send an order on."""
        cfg = self.strategy.config
        qty = self.strategy._fixed_qty
        if qty is None or qty <= 0:
            return []
        sides = sorted({s for s in cfg.sides.values()}, key=lambda s: s.value)
        out: list[Route] = []
        for r in sorted(
            {cfg.default_route, *cfg.routes.values()}, key=lambda r: (r.venue, r.symbol)
        ):
            out.extend(Route(r.venue, r.symbol, side, qty) for side in sides)
        return out

    def rearm(self) -> None:
        """Push venue prices where they changed, roll the books' day, re-arm every route.

        Runs after the write (and in both modes: the reference path's risk state moves
        the same way)."""
        risk = self.risk
        for key in self._pairs:
            venue = self.venues.get(key[0])
            price = None if venue is None else venue.last_price(key[1])
            # a venue's price is pushed once per update (a new object): market data, where
            # it runs, pushes its marks in between and is not overwritten by a stale one
            if price is not None and price is not self._pushed.get(key):
                self._pushed[key] = price
                risk.on_trade_price(key[1], price)
        day = self._wall() // NS_PER_DAY
        for symbol in self._symbols:
            book = risk.books.get(symbol)
            if book is not None and book.day != day:
                # risk's own rule (the realised P&L is the current UTC day's), applied now
                # rather than by the first check of the day, so that check can be armed
                risk._roll_day(book)
        if self.enabled:
            for route, cell in self._cells.items():
                basis = self._basis(route)
                old = cell.basis
                # by identity, as ``fire`` checks: an equal value in a new object (a zero
                # added to a reservation) must re-arm, or every whale would be declined
                if len(basis) != len(old) or any(
                    a is not b for a, b in zip(basis, old, strict=True)
                ):
                    cell.armed = self._arm(route)
                    cell.basis = basis

    def _basis(self, route: Route) -> tuple[object, ...]:
        """Everything ``_arm`` reads for ``route``."""
        risk = self.risk
        symbol = route.symbol
        reserved = risk.reserved.get(symbol)
        held = None if reserved is None else (reserved.buy if route.side is _BUY else reserved.sell)
        book = risk.books.get(symbol)
        if book is None:
            return (risk.state, risk.config, None)
        return (
            risk.state,
            risk.config,
            risk.config.symbols.get(symbol),
            book,
            book.position,
            book.cost,
            book.realized_pnl,
            book.day,
            book.last_price,
            held,
        )

    def _arm(self, route: Route) -> Armed | None:
        """Return ``route``'s order pre-authorised now, or None where risk would not pass it
        (or would pass it only on a rule the armed values cannot hold: reducing, a new day)."""
        risk = self.risk
        if risk.state is not _ACTIVE or route.venue not in self.venues:
            return None
        config = risk.config
        symbol = route.symbol
        limits = config.symbols.get(symbol)
        book = risk.books.get(symbol)
        if limits is None or book is None or book.last_price is None:
            return None
        day = self._wall() // NS_PER_DAY
        if day != book.day:
            return None  # the first check of a day resets the realised P&L: risk's to do
        qty = route.quantity
        reserved = risk.reserved.get(symbol)
        if route.side is _BUY:
            held = None if reserved is None else reserved.buy
            worst = book.position + (held or 0) + qty
        else:
            held = None if reserved is None else reserved.sell
            worst = book.position - (held or 0) - qty
        if qty > limits.max_order_qty or abs(worst) > limits.max_position:
            return None
        mark = book.last_price
        position, cost, realized = book.position, book.cost, book.realized_pnl
        if qty * mark > limits.max_order_notional or _loss(book, mark) >= limits.max_daily_loss:
            return None
        # the notional rises with the mark; the loss falls with it when long, rises when
        # short. Each bound is checked with risk's own arithmetic (each rounded Decimal step
        # is monotonic, so a bound that fits holds for every mark on the near side of it)
        limit = limits.max_order_notional
        high = _bound(mark, limit / qty, lambda m: qty * m <= limit, up=True)
        low: Decimal | None = None
        if position:
            edge = (cost - realized - limits.max_daily_loss) / position
            max_loss = limits.max_daily_loss

            def fits(m: Decimal) -> bool:
                return _loss(book, m) < max_loss

            if position > 0:
                low = _bound(mark, edge, fits, up=False)
            else:
                high = min(high, _bound(mark, edge, fits, up=True))
        return Armed(route, config, limits, book, position, cost, realized, held, day, low, high)

    # -- firing -------------------------------------------------------------------------
    def fire(self, alert: AlertLike, *, shadow: bool = False) -> SubmitOrder | None:
        """Return the armed order for ``alert``, counted as the reference path would count it;
        None (nothing counted) when the reference path must decide.

        With ``shadow`` (rehearsals, ``engine/warmup.py``) every read and comparison runs,
        to keep them in cache, and nothing is changed or counted: an armed route's order
        comes back with the id ``SHADOW_ID``, which is never sent. The caller handles
        MINED alerts and an unarmed engine before calling.
        """
        entity = alert.entity
        plan = self._entities.get(entity)
        if plan is None or plan.kind is not alert.kind:
            plan = self._entity(entity, alert.kind)
            if plan is None:
                return self._decline(shadow)
        armed = plan.cell.armed
        if armed is None:
            return self._decline(shadow)
        strategy = self.strategy
        txid = alert.txid
        seen = strategy._seen
        if (txid in seen or alert.value < plan.threshold) and not shadow:
            return self._decline(shadow)
        # the strategy's clock, then its cooldown and reaction window
        now = strategy._now()
        last = strategy._last_by_entity.get(entity)
        if last is not None and now - last < strategy._cooldown_ns and not shadow:
            return self._decline(shadow)
        reactions = strategy._reactions
        window = strategy._window_ns
        while reactions and now - reactions[0] >= window and not shadow:
            reactions.popleft()
        if len(reactions) >= strategy._max_reactions and not shadow:
            return self._decline(shadow)
        # risk: the armed verdict still holds (same objects, same day, mark in the band)
        risk = self.risk
        route = armed.route
        symbol = route.symbol
        book = armed.book
        config = risk.config
        reserved = risk.reserved.get(symbol)
        held = None if reserved is None else (reserved.buy if route.side is _BUY else reserved.sell)
        mark = book.last_price
        if (
            risk.state is not _ACTIVE
            or config is not armed.config
            or config.symbols.get(symbol) is not armed.limits
            or risk.books.get(symbol) is not book
            or book.position is not armed.position
            or book.cost is not armed.cost
            or book.realized_pnl is not armed.realized
            or held is not armed.held
            or mark is None
            or (armed.low is not None and mark < armed.low)
            or (armed.high is not None and mark > armed.high)
            or self._wall() // NS_PER_DAY != armed.day
        ) and not shadow:
            return self._decline(shadow)
        # the rate windows, as risk keeps them (expiring changes no decision)
        t = risk.monotonic_ns()
        minute = risk._last_minute
        while minute and t - minute[0] >= _MINUTE_NS and not shadow:
            minute.popleft()
        second = risk._last_second
        while second and t - second[0] >= NS_PER_S and not shadow:
            second.popleft()
        if (
            len(minute) >= config.max_orders_per_minute
            or len(second) >= config.max_orders_per_second
        ) and not shadow:
            return self._decline(shadow)
        if shadow:
            coid = SHADOW_ID
        else:  # decided: count it where the reference path would have
            seen[txid] = None
            if len(seen) > strategy._seen_capacity:
                seen.popitem(last=False)
            strategy._last_by_entity[entity] = now
            reactions.append(now)
            second.append(t)
            minute.append(t)
            self.fired += 1
            coid = strategy._next_id(route.venue)
        return SubmitOrder(
            client_order_id=coid,
            ts_init=now,
            venue=route.venue,
            symbol=symbol,
            side=route.side,
            quantity=route.quantity,
            reason=f"{plan.name} {alert.value} sat to {entity} in {txid}",
            txid=txid,
        )

    def _decline(self, shadow: bool) -> SubmitOrder | None:
        """Count a whale handed to the reference path (a shadow is not counted): None."""
        if not shadow:
            self.declined += 1
        return None

    def _entity(self, entity: str, kind: object) -> _Entity | None:
        plan = self.strategy._plan(entity, kind)
        qty = self.strategy._fixed_qty
        if plan.side is None or qty is None or not self.enabled:
            return None
        route = Route(plan.venue, plan.symbol, plan.side, qty)
        cell = self._cells.get(route)
        if cell is None:  # not a configured route (cannot happen): the reference decides
            return None
        found = self._entities[entity] = _Entity(kind, plan.name, plan.threshold, route, cell)
        return found

    @property
    def armed(self) -> dict[Route, Armed | None]:
        """Every route's armed order (None: the reference path decides its whales)."""
        return {route: cell.armed for route, cell in self._cells.items()}


def _loss(book: SymbolBook, mark: Decimal) -> Decimal:
    """The day's loss at ``mark``, in ``risk._size_rules``' arithmetic."""
    position = book.position
    unrealized = position * mark - book.cost if position else Decimal(0)
    return -(book.realized_pnl + unrealized)


def _bound(mark: Decimal, edge: Decimal, fits: Callable[[Decimal], bool], *, up: bool) -> Decimal:
    """The farthest mark from ``mark`` towards ``edge`` known to fit (``mark`` itself fits).

    ``edge`` is the rule's boundary by exact arithmetic, where the rule usually just fails
    (a strict comparison), and rounding may put it an ulp either way: step back towards
    ``mark`` a few ulps until it fits.
    """
    for _ in range(4):
        if (edge >= mark if up else edge <= mark) and fits(edge):
            return edge
        edge = edge.next_minus() if up else edge.next_plus()
    return mark

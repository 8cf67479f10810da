"""The whale strategy: turn a whale alert into an order command, or into a reason not to.

A large deposit into an exchange is coins likely to be sold there, so by default we sell
first. Everything the strategy decides is an event with timestamps: ``SubmitOrder`` when it
acts, ``AlertIgnored(reason)`` when it does not. It is pure (clock injected) and knows
nothing of sockets or venues' wire formats: risk checks what it asks, venues send it.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Literal, NamedTuple, Protocol

import msgspec

from whalewire.model import Side, SubmitOrder
from whalewire.venues.books import BookSide, BookView

SATS_PER_BTC = 100_000_000
NS_PER_S = 1_000_000_000
#: the client order id of a shadow decision (``on_alert(shadow=True)``): never sent
SHADOW_ID = "shadow"


class AlertLike(Protocol):
    """What the strategy reads of a whale alert (``whalewire.mempool.whales.WhaleAlert``)."""

    @property
    def txid(self) -> str: ...
    @property
    def kind(self) -> object: ...
    @property
    def entity(self) -> str: ...
    @property
    def value(self) -> int: ...
    @property
    def recv_ns(self) -> int: ...


class Route(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where to trade for one entity: a venue name and its symbol."""

    venue: str
    symbol: str


class StrategyConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Strategy parameters (the ``[strategy]`` table of the configuration)."""

    #: smallest deposit that triggers a reaction, in satoshis (the detector's default too)
    min_value_sats: int = SATS_PER_BTC
    #: per-entity overrides of ``min_value_sats`` (entities of the address book)
    entity_min_value_sats: dict[str, int] = msgspec.field(default_factory=dict)
    #: side to take per alert kind ("deposit", "withdrawal"); a kind not listed is ignored
    sides: dict[str, Side] = msgspec.field(default_factory=lambda: {"deposit": Side.SELL})
    #: "fixed": always ``fixed_qty``; "fraction": ``fraction`` of the whale's BTC value
    size_mode: Literal["fixed", "fraction"] = "fixed"
    fixed_qty: Decimal = Decimal("0.001")
    fraction: Decimal = Decimal("0.001")
    #: quantity step of the symbol: sizes are rounded down to it
    qty_step: Decimal = Decimal("0.00001")
    default_route: Route = Route("binance", "BTCUSDT")
    routes: dict[str, Route] = msgspec.field(default_factory=dict)
    #: no second reaction for the same entity within this many seconds
    cooldown_s: float = 5.0
    #: at most this many reactions in any ``window_s`` seconds, across all entities
    max_reactions: int = 10
    window_s: float = 60.0
    #: skip an alert when the route's live book is wider than this, in basis points of the
    #: mid, or not synced (needs ``[venues.NAME] market_url``); 0: off (no book is read)
    max_spread_bps: float = 0.0
    #: cap an order at this fraction of the quantity the route's visible book holds on the
    #: side it takes (needs market data; a book not synced leaves the size alone); 0: off
    max_depth_fraction: float = 0.0


class IgnoreReason(StrEnum):
    """Why an alert led to no order."""

    DUPLICATE = "DUPLICATE"  #: this txid was already decided on
    MINED = "MINED"  #: the transaction is already in a block: the news is old
    BELOW_THRESHOLD = "BELOW_THRESHOLD"
    KIND_NOT_TRADED = "KIND_NOT_TRADED"
    COOLDOWN = "COOLDOWN"
    WINDOW_FULL = "WINDOW_FULL"
    ZERO_SIZE = "ZERO_SIZE"
    SPREAD_TOO_WIDE = "SPREAD_TOO_WIDE"  #: the live book's spread is over ``max_spread_bps``
    BOOK_NOT_SYNCED = "BOOK_NOT_SYNCED"  #: ``max_spread_bps`` is set and the book is not live


class AlertIgnored(msgspec.Struct, frozen=True, kw_only=True):
    """The strategy decided not to act on an alert."""

    txid: str
    entity: str
    reason: IgnoreReason
    ts_init: int
    ts_event: int


Decision = SubmitOrder | AlertIgnored


class _Plan(NamedTuple):
    """What the strategy does for one (entity, alert kind), whatever the alert: worked out
    from the configuration on the entity's first alert of that kind, not per whale."""

    kind: object  #: the alert kind this plan is for (compared by identity)
    name: str  #: the kind's name as ``sides`` and the order's reason spell it
    side: Side | None  #: None: the kind is not traded
    threshold: int  #: satoshis
    venue: str
    symbol: str


class WhaleStrategy:
    """Decides, per alert, whether and how to counter-trade."""

    def __init__(
        self,
        config: StrategyConfig,
        *,
        monotonic_ns: Callable[[], int],
        next_client_order_id: Callable[[str], str],
        seen_capacity: int = 100_000,
    ) -> None:
        self.config = config
        self._now = monotonic_ns
        self._next_id = next_client_order_id
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_capacity = seen_capacity
        self._last_by_entity: dict[str, int] = {}
        self._reactions: deque[int] = deque()
        # "fixed" sizing does not depend on the alert: round it once, not per whale
        self._fixed_qty = self._round(config.fixed_qty) if config.size_mode == "fixed" else None
        self._fixed_positive = self._fixed_qty is not None and self._fixed_qty > 0
        # the same float products the checks compared against when computed per alert
        self._cooldown_ns = config.cooldown_s * NS_PER_S
        self._window_ns = config.window_s * NS_PER_S
        self._max_reactions = config.max_reactions
        #: per entity, the plan of the last alert kind it had (an entity's alerts are
        #: nearly all one kind; an alert kind is compared by identity, never hashed)
        self._plans: dict[str, _Plan] = {}
        #: live books by (venue, symbol), read only when the book settings are on
        #: (``engine/marketdata.py`` fills it)
        self.books: dict[tuple[str, str], BookView] = {}
        self._uses_books = config.max_spread_bps > 0 or config.max_depth_fraction > 0

    def _plan(self, entity: str, kind: object) -> _Plan:
        cfg = self.config
        name = _kind_name(kind)
        route = cfg.routes.get(entity, cfg.default_route)
        plan = _Plan(
            kind,
            name,
            cfg.sides.get(name),
            cfg.entity_min_value_sats.get(entity, cfg.min_value_sats),
            route.venue,
            route.symbol,
        )
        self._plans[entity] = plan
        return plan

    def on_alert(self, alert: AlertLike, *, mined: bool = False, shadow: bool = False) -> Decision:
        """Return the order to place for ``alert``, or why none is placed.

        With ``shadow`` the whole decision runs (to keep its code and data in cache) but
        nothing is remembered: no seen txid, cooldown, reaction or client order id is
        taken, and a command is returned even where a real alert would be ignored
        (with the id ``SHADOW_ID``, which is never sent).
        """
        now = self._now()
        txid = alert.txid
        entity = alert.entity
        kind = alert.kind
        plan = self._plans.get(entity)
        if plan is None or plan.kind is not kind:
            plan = self._plan(entity, kind)
        # the checks in the order their reasons take precedence (a shadow runs them all)
        reason: IgnoreReason | None = None
        seen = self._seen
        if txid in seen:
            # a txid is decided on once, whatever feed or event brings it again
            reason = IgnoreReason.DUPLICATE
        else:
            if not shadow:
                seen[txid] = None
                if len(seen) > self._seen_capacity:
                    seen.popitem(last=False)
            if mined:
                reason = IgnoreReason.MINED
            elif plan.side is None:
                reason = IgnoreReason.KIND_NOT_TRADED
            elif alert.value < plan.threshold:
                reason = IgnoreReason.BELOW_THRESHOLD
            else:
                last = self._last_by_entity.get(entity)
                if last is not None and now - last < self._cooldown_ns:
                    reason = IgnoreReason.COOLDOWN
                else:
                    reactions = self._reactions
                    window = self._window_ns
                    # expiring what has left the window changes no decision: the next
                    # call would too
                    while reactions and now - reactions[0] >= window:
                        reactions.popleft()
                    if len(reactions) >= self._max_reactions:
                        reason = IgnoreReason.WINDOW_FULL
        book = self.books.get((plan.venue, plan.symbol)) if self._uses_books else None
        if reason is None and self._uses_books:
            reason = self._book_reason(book)
        if reason is not None and not shadow:
            return AlertIgnored(
                txid=txid, entity=entity, reason=reason, ts_init=now, ts_event=alert.recv_ns
            )
        qty = self._fixed_qty
        if qty is None:
            qty = self._size(alert.value)
            positive = qty > 0
        else:
            positive = self._fixed_positive
        if book is not None and self.config.max_depth_fraction > 0:
            qty = self._cap_to_depth(book, plan.side or Side.SELL, qty)
            positive = qty > 0
        if not positive and not shadow:
            return AlertIgnored(
                txid=txid,
                entity=entity,
                reason=IgnoreReason.ZERO_SIZE,
                ts_init=now,
                ts_event=alert.recv_ns,
            )
        if shadow:
            coid = SHADOW_ID
        else:
            self._last_by_entity[entity] = now
            self._reactions.append(now)
            coid = self._next_id(plan.venue)
        return SubmitOrder(
            client_order_id=coid,
            ts_init=now,
            venue=plan.venue,
            symbol=plan.symbol,
            # a kind not traded is decided on only in a shadow, which sells
            side=plan.side or Side.SELL,
            quantity=qty,
            reason=f"{plan.name} {alert.value} sat to {entity} in {txid}",
            txid=txid,
        )

    def remember(self, txids: Iterable[str]) -> None:
        """Count ``txids`` as decided on (restored from the journal before arming).

        A transaction is decided on once, across restarts and feeds: a feed that announces
        it again after a restart (a replay, a mempool snapshot, a P2P ``mempool``) finds it
        here and it is ignored as a duplicate.
        """
        seen = self._seen
        for txid in txids:
            seen[txid] = None
            seen.move_to_end(txid)
        while len(seen) > self._seen_capacity:
            seen.popitem(last=False)

    def _book_reason(self, book: BookView | None) -> IgnoreReason | None:
        limit = self.config.max_spread_bps
        if limit <= 0:
            return None
        if book is None or not book.health().synced:
            return IgnoreReason.BOOK_NOT_SYNCED
        top = book.top()
        spread, mid = top.spread, top.mid
        if spread is None or mid is None or mid <= 0:
            return IgnoreReason.BOOK_NOT_SYNCED
        return IgnoreReason.SPREAD_TOO_WIDE if spread / mid * 10_000 > limit else None

    def _cap_to_depth(self, book: BookView, side: Side, qty: Decimal) -> Decimal:
        if not book.health().synced:
            return qty
        # a SELL takes the bids, a BUY the asks; what the whole visible side holds
        taken = BookSide.BID if side is Side.SELL else BookSide.ASK
        visible = book.depth(taken, float("inf")).filled
        cap = self._round(Decimal(repr(visible * self.config.max_depth_fraction)))
        return min(qty, cap)

    def _size(self, value_sats: int) -> Decimal:
        if self._fixed_qty is not None:
            return self._fixed_qty
        return self._round(Decimal(value_sats) / SATS_PER_BTC * self.config.fraction)

    def _round(self, qty: Decimal) -> Decimal:
        step = self.config.qty_step
        return (qty / step).to_integral_value(rounding=ROUND_DOWN) * step


def _kind_name(kind: object) -> str:
    name = getattr(kind, "name", None) or getattr(kind, "value", None) or str(kind)
    return str(name).lower()

"""Coinbase Exchange bodies: order records, REST order/fill JSON and feed messages.

Pure functions and small records over ``matching.py``'s views and events. The shapes follow
Coinbase Exchange's documentation: "Create a new order" / "Get single order" (order body),
"Get all fills" (fill body) and "Exchange WebSocket Channels", "Full channel" (``received``,
``open``, ``match``, ``done``, and ``activate`` for a stop order when it is placed) with the
user fields of an authenticated ``match``.
Knows nothing of requests, authentication or sessions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from whalewire.emulator.accounts import Registry
from whalewire.emulator.matching import (
    CommandRejected,
    Event,
    Fees,
    MatchingEngine,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderStatus,
    OrderTraded,
    OrderType,
    OrderView,
    Side,
    Trade,
)

ZERO = Decimal(0)


def fmt(value: Decimal, places: int | None = None) -> str:
    """Spell a decimal as Coinbase does: plain digits, ``places`` decimals when given."""
    if places is not None:
        return f"{value:.{places}f}"
    text = format(value.normalize(), "f")
    return text


def iso_time(ms: int, *, millis: bool = False) -> str:
    """Format a millisecond timestamp as ``2014-11-07T08:19:27.028459Z`` (or ``.028Z``)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[:-3] if millis else text) + "Z"


def profile_id(account_id: str) -> str:
    """Return the account's (stable) profile id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"whalewire-profile/{account_id}"))


def quote_fee(trade: Trade, quote: str) -> Decimal:
    """Return a trade's commission in the quote currency (Coinbase charges fees in quote)."""
    if trade.commission_asset == quote:
        return trade.commission
    return trade.commission * trade.price


@dataclass(slots=True)
class OrderRecord:
    """What the venue layer adds to an engine order: ids, funds and how it ended."""

    order_id: str
    engine_id: int
    account_id: str
    product_id: str
    client_oid: str
    funds: Decimal | None
    created_ms: int
    done_ms: int = 0
    done_reason: str = ""
    #: canceled or expired without a fill: "Get single order" may answer 404 for these
    purged: bool = False
    post_only: bool = False

    def view(self, engine: MatchingEngine) -> OrderView:
        """Return the engine's current view of the order."""
        found = engine.get_order(self.account_id, self.product_id, order_id=self.engine_id)
        assert found is not None
        return found

    def is_open(self, engine: MatchingEngine) -> bool:
        """Return whether the order rests on the book."""
        return self.view(engine).is_open

    def note(self, event: Event) -> None:
        """Record how the order ended, from one of its events."""
        if isinstance(event, OrderCanceled | OrderExpired):
            self.done_ms, self.done_reason = event.ts, "canceled"
            self.purged = event.order.executed_qty == 0
        elif isinstance(event, OrderTraded) and event.order.status is OrderStatus.FILLED:
            self.done_ms, self.done_reason = event.ts, "filled"


def order_body(
    record: OrderRecord, engine: MatchingEngine, *, pending: bool = False
) -> dict[str, Any]:
    """Return the order as "Get single order" shows it (``pending`` for the POST answer)."""
    view = record.view(engine)
    spec = engine.specs[record.product_id]
    body: dict[str, Any] = {"id": record.order_id}
    limit = view.order_type is OrderType.LIMIT
    if limit:
        body["price"] = fmt(view.price, 8)
    if record.funds is None:
        body["size"] = fmt(view.orig_qty, 8)
    body.update(
        product_id=record.product_id,
        profile_id=profile_id(record.account_id),
        side=view.side.value.lower(),
        type="limit" if limit else "market",
        post_only=record.post_only,
        created_at=iso_time(record.created_ms),
        stp="dc",
    )
    if limit:
        body["time_in_force"] = view.time_in_force.value
    if record.funds is not None:
        # "funds" is what the order may spend net of the fee, "specified_funds" what was asked
        body["funds"] = fmt(view.orig_quote_qty, 16)
        body["specified_funds"] = fmt(record.funds, 16)
    if record.client_oid:
        body["client_oid"] = record.client_oid
    if view.stop_price:
        body["stop"] = view.label
        body["stop_price"] = fmt(view.stop_price, 8)
    if pending:
        body.update(
            fill_fees=fmt(ZERO, 16),
            filled_size=fmt(ZERO, 8),
            executed_value=fmt(ZERO, 16),
            status="pending",
            settled=False,
        )
        return body
    fees = sum((quote_fee(t, spec.quote) for t in engine.trades_of(record.engine_id)), ZERO)
    body.update(
        fill_fees=fmt(fees, 16),
        filled_size=fmt(view.executed_qty, 8),
        executed_value=fmt(view.cum_quote_qty, 16),
        status="active" if view.parked else "open" if view.is_open else "done",
        settled=not view.is_open,
    )
    if not view.is_open:
        body["done_at"] = iso_time(record.done_ms or view.update_time)
        body["done_reason"] = record.done_reason or "filled"
    return body


#: who owns the orders a message is about: {"order": account} or {"maker", "taker"}
Owners = Mapping[str, str]


class FeedRenderer:
    """Turn engine events into feed messages; keep per-product sequence, last trade, volume."""

    def __init__(self, fees: Fees, registry: Registry) -> None:
        self.fees = fees
        self.registry = registry
        self.sequence: dict[str, int] = {}
        self.last_trade: dict[str, tuple[int, Decimal, Decimal]] = {}
        self.volume: dict[str, Decimal] = {}
        self.trade_ms: dict[int, int] = {}
        #: stop orders announced by ``activate`` and not yet triggered, by engine id
        self.waiting: dict[int, OrderRecord] = {}

    def _base(self, kind: str, product: str, ts: int) -> dict[str, Any]:
        seq = self.sequence[product] = self.sequence.get(product, 0) + 1
        return {"type": kind, "time": iso_time(ts), "product_id": product, "sequence": seq}

    def messages(
        self,
        events: list[Event],
        record_of: Callable[[OrderView], OrderRecord],
        view_of: Callable[[OrderRecord], OrderView],
    ) -> Iterator[tuple[Owners, str, dict[str, Any]]]:
        """Yield (owners, product, message) for one command's events, in venue order.

        "Full channel": ``received`` when the order is taken in, a ``match`` per trade
        (``side`` is the maker's), ``done`` (``filled`` or ``canceled``) when an order
        leaves the book or could not rest, ``open`` when the rest of a taker rests. A stop
        order gets ``activate`` when placed and ``received`` when it triggers ("Activate":
        "When the stop is triggered the order will be placed and go through the order
        lifecycle").
        """
        taker: OrderView | None = None
        pending_taker: dict[int, OrderView] = {}
        for event in events:
            if isinstance(event, CommandRejected):
                continue
            if isinstance(event, OrderAccepted) and event.order.parked:
                record = record_of(event.order)
                self.waiting[event.order.order_id] = record
                yield {"order": record.account_id}, record.product_id, self._activate(event, record)
                continue
            if isinstance(event, OrderAccepted):
                taker = event.order
                record = record_of(event.order)
                yield {"order": record.account_id}, record.product_id, self._received(event, record)
                continue
            stop = self.waiting.pop(event.order.order_id, None)
            if stop is not None and not isinstance(event, OrderCanceled):
                # triggered: the order that set the last price is settled first
                if taker is not None and taker.order_id != event.order.order_id:
                    yield from self._settle(taker, record_of(taker))
                    taker = None
                yield {"order": stop.account_id}, stop.product_id, self._placed(event.order, stop)
            if isinstance(event, OrderTraded):
                if not event.trade.is_maker:
                    pending_taker[event.trade.trade_id] = event.order
                    taker = event.order
                    continue
                taker_view = pending_taker.pop(event.trade.trade_id)
                maker_rec, taker_rec = record_of(event.order), record_of(taker_view)
                owners = {"maker": maker_rec.account_id, "taker": taker_rec.account_id}
                yield owners, maker_rec.product_id, self._match(event, maker_rec, taker_rec)
                if event.order.status is OrderStatus.FILLED:
                    yield (
                        {"order": maker_rec.account_id},
                        maker_rec.product_id,
                        self._done(event.order, maker_rec, "filled", event.ts),
                    )
            elif isinstance(event, OrderCanceled | OrderExpired):
                record = record_of(event.order)
                if taker is not None and taker.order_id == event.order.order_id:
                    taker = None
                yield (
                    {"order": record.account_id},
                    record.product_id,
                    self._done(event.order, record, "canceled", event.ts),
                )
        if taker is not None:
            yield from self._settle(taker, record_of(taker))
        if any(isinstance(e, OrderTraded) for e in events):
            # a stop limit that triggered and rests untouched has no event of its own
            for engine_id, stop in list(self.waiting.items()):
                view = view_of(stop)
                if not view.parked:
                    del self.waiting[engine_id]
                    yield {"order": stop.account_id}, stop.product_id, self._placed(view, stop)
                    yield from self._settle(view, stop)

    def _settle(
        self, taker: OrderView, record: OrderRecord
    ) -> Iterator[tuple[Owners, str, dict[str, Any]]]:
        """``done`` (filled) for a taker that completed, ``open`` for one whose rest rests."""
        ts = taker.update_time
        if taker.status is OrderStatus.FILLED:
            yield (
                {"order": record.account_id},
                record.product_id,
                self._done(taker, record, "filled", ts),
            )
        elif taker.is_open and not taker.parked:  # an untriggered stop is not on the book
            msg = self._base("open", record.product_id, ts)
            msg.update(
                order_id=record.order_id,
                price=fmt(taker.price, 8),
                remaining_size=fmt(taker.orig_qty - taker.executed_qty, 8),
                side=taker.side.value.lower(),
            )
            yield {"order": record.account_id}, record.product_id, msg

    def _received(self, event: OrderAccepted, record: OrderRecord) -> dict[str, Any]:
        return self._placed(event.order, record, event.ts)

    def _placed(self, view: OrderView, record: OrderRecord, ts: int = 0) -> dict[str, Any]:
        """``received`` for an order taken in (a stop's when it triggers, at its update)."""
        msg = self._base("received", record.product_id, ts or view.update_time)
        msg["order_id"] = record.order_id
        if record.funds is not None:
            msg["funds"] = fmt(record.funds, 8)
        else:
            msg["size"] = fmt(view.orig_qty, 8)
        if view.order_type is OrderType.LIMIT:
            msg["price"] = fmt(view.price, 8)
        msg["side"] = view.side.value.lower()
        msg["order_type"] = "limit" if view.order_type is OrderType.LIMIT else "market"
        if record.client_oid:
            msg["client_oid"] = record.client_oid
        return msg

    def _activate(self, event: OrderAccepted, record: OrderRecord) -> dict[str, Any]:
        """``activate`` ("Full channel", "Activate"): a stop order was placed. The documented
        example carries no ``sequence``, a ``timestamp`` in epoch seconds and
        ``private: true``; only the owner's connections see it (``feed.wants``)."""
        view = event.order
        msg: dict[str, Any] = {
            "type": "activate",
            "product_id": record.product_id,
            "timestamp": f"{event.ts / 1000:.6f}",
            "user_id": self.user_id(record.account_id),
            "profile_id": profile_id(record.account_id),
            "order_id": record.order_id,
            "stop_type": view.label,
            "side": view.side.value.lower(),
            "stop_price": fmt(view.stop_price, 8),
        }
        if record.funds is not None:
            msg["funds"] = fmt(record.funds, 8)
        else:
            msg["size"] = fmt(view.orig_qty, 8)
        msg["private"] = True
        return msg

    def _match(
        self, maker_event: OrderTraded, maker: OrderRecord, taker: OrderRecord
    ) -> dict[str, Any]:
        trade = maker_event.trade
        product = maker.product_id
        self.last_trade[product] = (trade.trade_id, trade.price, trade.qty)
        self.volume[product] = self.volume.get(product, ZERO) + trade.qty
        self.trade_ms[trade.trade_id] = maker_event.ts
        msg = self._base("match", product, maker_event.ts)
        msg.update(
            trade_id=trade.trade_id,
            maker_order_id=maker.order_id,
            taker_order_id=taker.order_id,
            size=fmt(trade.qty, 8),
            price=fmt(trade.price, 8),
            side=maker_event.order.side.value.lower(),
        )
        return msg

    def _done(self, view: OrderView, record: OrderRecord, reason: str, ts: int) -> dict[str, Any]:
        msg = self._base("done", record.product_id, ts)
        msg["order_id"] = record.order_id
        if view.order_type is OrderType.LIMIT:
            # "market orders will not have a remaining_size or price field"
            msg["price"] = fmt(view.price, 8)
            msg["remaining_size"] = fmt(view.orig_qty - view.executed_qty, 8)
        msg["reason"] = reason
        msg["side"] = view.side.value.lower()
        return msg

    def user_fields(self, owners: Owners, account_id: str) -> dict[str, str]:
        """Fields an authenticated ``match`` adds for its maker or taker ("Full channel")."""
        uid, pid = self.user_id(account_id), profile_id(account_id)
        for role, rate in (("taker", self.fees.taker), ("maker", self.fees.maker)):
            if owners.get(role) == account_id:
                return {
                    f"{role}_user_id": uid,
                    "user_id": uid,
                    f"{role}_profile_id": pid,
                    "profile_id": pid,
                    f"{role}_fee_rate": fmt(rate),
                }
        return {}

    def user_id(self, account_id: str) -> str:
        """The account's feed ``user_id`` (24 hex digits, as Coinbase's look)."""
        return f"{self.registry.accounts[account_id].uid:024x}"

    def fills(self, record: OrderRecord, engine: MatchingEngine) -> list[dict[str, Any]]:
        """Return the order's fills as "Get all fills" lists them, newest first."""
        spec = engine.specs[record.product_id]
        view = record.view(engine)
        out = []
        for trade in reversed(engine.trades_of(record.engine_id)):
            out.append(
                {
                    "created_at": iso_time(self.trade_ms.get(trade.trade_id, record.created_ms)),
                    "trade_id": trade.trade_id,
                    "product_id": record.product_id,
                    "order_id": record.order_id,
                    "user_id": self.user_id(record.account_id),
                    "profile_id": profile_id(record.account_id),
                    "liquidity": "M" if trade.is_maker else "T",
                    "price": fmt(trade.price, 8),
                    "size": fmt(trade.qty, 8),
                    "fee": fmt(quote_fee(trade, spec.quote), 16),
                    "side": "buy" if view.side is Side.BUY else "sell",
                    "settled": True,
                    "usd_volume": fmt(trade.quote_qty, 16),
                }
            )
        return out

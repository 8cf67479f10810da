"""The order state machine: one table of legal (status, event) edges, and ``Order.apply``.

An order is event-sourced: it is built from ``OrderInitialized`` (or denied before that)
and changed only by ``Order.apply(event)``, which looks the edge up in ``TRANSITIONS``
and refuses anything else without changing the order. Bookkeeping (filled quantity,
average price, seen trade ids) happens only after the edge is accepted, so a replayed
journal rebuilds exactly the same order.

What an order has executed is counted by cumulative quantity, which only grows: every
report says (or implies) how much the order has executed in all, and only what goes beyond
``filled_qty`` is new. A query's fill and a cancel's or expiry's ``executed_qty`` are
cumulative by definition; a trade implies at least the sum of the trades seen so far plus
its own (the trade stream's own cumulative), and may state more (Binance ``z``, Kraken
``cum_qty``: what the venue executed in all, trades not yet reported included). So a
trade a query or a cancel already summed is never counted twice, whatever the channel it
arrives on and whenever.

UNKNOWN is the honest answer to silence (timeout, disconnect, 5xx): no edge leaves it
except what reconciliation with the venue learns, and ``OrderNotFound`` (the venue
confirms the id does not exist) is the only state from which a resend is allowed.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from whalewire.model import (
    OrderAccepted,
    OrderCanceled,
    OrderClosed,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderNotFound,
    OrderRejected,
    OrderStatusUnknown,
    OrderSubmitted,
    SubmitOrder,
)
from whalewire.venues.contract import RECONCILED_FILL_PREFIX


class OrderStatus(StrEnum):
    """Where an order is in its life."""

    INITIALIZED = "INITIALIZED"  #: passed risk, journaled, not yet written to the socket
    DENIED = "DENIED"  #: refused by our risk engine (final)
    SUBMITTED = "SUBMITTED"  #: bytes written, no answer yet
    ACCEPTED = "ACCEPTED"  #: the venue acknowledged it
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"  #: final
    CANCELED = "CANCELED"  #: final
    EXPIRED = "EXPIRED"  #: final
    REJECTED = "REJECTED"  #: refused by the venue (final)
    UNKNOWN = "UNKNOWN"  #: no definite answer: reconcile before anything else
    NOT_FOUND = "NOT_FOUND"  #: the venue confirmed it never got it (final; resend allowed)


FINAL = frozenset(
    {
        OrderStatus.DENIED,
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
        OrderStatus.REJECTED,
        OrderStatus.NOT_FOUND,
    }
)

#: Sentinel target for fills: PARTIALLY_FILLED or FILLED by the quantity filled so far.
FILL = "FILL"

S = OrderStatus
#: (status, event type) -> next status. Anything absent is illegal.
TRANSITIONS: dict[tuple[OrderStatus, type[OrderEvent]], OrderStatus | str] = {
    (S.INITIALIZED, OrderSubmitted): S.SUBMITTED,
    # the venue client refused before any byte left (connection down, rate-limited)
    (S.INITIALIZED, OrderDenied): S.DENIED,
    # the engine may fail to write (socket gone) after journaling: nothing reached the venue
    # for sure only if the write raised before any byte left, so this is UNKNOWN, not REJECTED
    (S.INITIALIZED, OrderStatusUnknown): S.UNKNOWN,
    (S.SUBMITTED, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTED, OrderRejected): S.REJECTED,
    # the user data stream can beat the order response: a fill before the ack is normal
    (S.SUBMITTED, OrderFilled): FILL,
    (S.SUBMITTED, OrderCanceled): S.CANCELED,
    (S.SUBMITTED, OrderExpired): S.EXPIRED,
    (S.SUBMITTED, OrderStatusUnknown): S.UNKNOWN,
    (S.ACCEPTED, OrderFilled): FILL,
    (S.ACCEPTED, OrderCanceled): S.CANCELED,
    (S.ACCEPTED, OrderExpired): S.EXPIRED,
    (S.ACCEPTED, OrderStatusUnknown): S.UNKNOWN,
    # a duplicate ack (response after a reconciliation already saw it) changes nothing
    (S.ACCEPTED, OrderAccepted): S.ACCEPTED,
    (S.PARTIALLY_FILLED, OrderFilled): FILL,
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderStatusUnknown): S.UNKNOWN,
    (S.PARTIALLY_FILLED, OrderAccepted): S.PARTIALLY_FILLED,
    # the cancel's answer and the user stream both confirm it (the later may state more
    # executed quantity than the first)
    (S.CANCELED, OrderCanceled): S.CANCELED,
    # a late ack after the fill that the user stream delivered first
    (S.FILLED, OrderAccepted): S.FILLED,
    # real venues do this: a fill racing a cancel arrives after the cancel's confirmation
    (S.CANCELED, OrderFilled): FILL,
    (S.EXPIRED, OrderFilled): FILL,
    # reconciliation answers: whatever the venue says the order is
    (S.UNKNOWN, OrderAccepted): S.ACCEPTED,
    (S.UNKNOWN, OrderFilled): FILL,
    (S.UNKNOWN, OrderCanceled): S.CANCELED,
    (S.UNKNOWN, OrderExpired): S.EXPIRED,
    (S.UNKNOWN, OrderRejected): S.REJECTED,
    (S.UNKNOWN, OrderNotFound): S.NOT_FOUND,
    (S.UNKNOWN, OrderStatusUnknown): S.UNKNOWN,
}
del S


class InvalidTransition(Exception):
    """An event that is not legal for the order's status; the order is unchanged."""

    def __init__(self, client_order_id: str, status: OrderStatus, event: OrderEvent) -> None:
        super().__init__(client_order_id, status, type(event).__name__)
        self.client_order_id = client_order_id
        self.status = status
        self.event = event

    def __str__(self) -> str:
        return (
            f"order {self.client_order_id}: {type(self.event).__name__} "
            f"is not allowed in status {self.status.value}"
        )


class DuplicateFill(InvalidTransition):
    """A fill whose trade id this order has already applied."""

    def __str__(self) -> str:
        trade = getattr(self.event, "trade_id", "?")
        return f"order {self.client_order_id}: trade {trade} already applied"


class Order:
    """One order, rebuilt from its events; change it only with ``apply``."""

    __slots__ = (
        "avg_px",
        "command",
        "commission",
        "events",
        "filled_qty",
        "status",
        "trade_ids",
        "traded_qty",
        "venue_order_id",
    )

    def __init__(self, initialized: OrderInitialized) -> None:
        self.command: SubmitOrder = initialized.command
        self.status = OrderStatus.INITIALIZED
        self.events: list[OrderEvent] = [initialized]
        self.filled_qty = Decimal(0)
        self.avg_px = Decimal(0)
        self.commission = Decimal(0)
        self.venue_order_id: str | None = None
        self.trade_ids: set[str] = set()
        #: the sum of the trades seen by their own trade id (the trade stream's cumulative)
        self.traded_qty = Decimal(0)

    @classmethod
    def denied(cls, command: SubmitOrder, denial: OrderDenied) -> Order:
        """Build the final record of an order our risk engine refused."""
        order = cls(
            OrderInitialized(
                client_order_id=command.client_order_id,
                ts_init=command.ts_init,
                ts_event=denial.ts_event,
                command=command,
            )
        )
        order.status = OrderStatus.DENIED
        order.events.append(denial)
        return order

    @property
    def client_order_id(self) -> str:
        """The client order id (unique per venue)."""
        return self.command.client_order_id

    @property
    def is_final(self) -> bool:
        """True when no event can change the order except a late fill on a closed one."""
        return self.status in FINAL

    @property
    def leaves_qty(self) -> Decimal:
        """Quantity still open at the venue (zero once final)."""
        return Decimal(0) if self.is_final else self.command.quantity - self.filled_qty

    def executed_after(self, event: OrderEvent) -> Decimal:
        """Return the cumulative quantity this order will have executed once ``event`` applies.

        Never less than ``filled_qty`` (the count only grows); a fill whose trade id was
        applied adds nothing.
        """
        filled = self.filled_qty
        if isinstance(event, OrderFilled):
            if event.trade_id in self.trade_ids:
                return filled
            if event.trade_id.startswith(RECONCILED_FILL_PREFIX):
                if event.cum_qty is not None:  # a query's fill: the cumulative itself
                    return max(filled, event.cum_qty)
                # journaled before fills were counted by cumulative: the unseen part alone
                return filled + event.last_qty
            # the trades seen plus this one executed at least; a stated cumulative may say
            # more (what other channels summed), or less when it arrives late (stale)
            traded = self.traded_qty + event.last_qty
            return max(filled, traded, event.cum_qty or traded)
        if isinstance(event, OrderClosed) and event.executed_qty is not None:
            return max(filled, event.executed_qty)
        return filled

    def apply(self, event: OrderEvent) -> OrderStatus:
        """Apply ``event`` if the table allows it and return the new status.

        Raises:
            InvalidTransition: the edge is not in ``TRANSITIONS``, or the event says more
                executed than the order's quantity; nothing changed.
            DuplicateFill: a fill with a trade id already applied; nothing changed.
        """
        target = TRANSITIONS.get((self.status, type(event)))
        if target is None:
            raise InvalidTransition(self.client_order_id, self.status, event)
        if isinstance(event, OrderFilled) and event.trade_id in self.trade_ids:
            raise DuplicateFill(self.client_order_id, self.status, event)
        executed = self.executed_after(event)
        if executed > self.command.quantity:
            raise InvalidTransition(self.client_order_id, self.status, event)
        if isinstance(event, OrderFilled):
            recon = event.trade_id.startswith(RECONCILED_FILL_PREFIX)
            summed = recon and event.cum_qty is not None
            if summed:
                # a query's commission and price are the order's total and average so far
                self.commission = max(self.commission, event.commission)
            else:
                self.commission += event.commission
                if not recon:
                    self.traded_qty += event.last_qty
            self._advance(executed, event.last_px, average=summed)
            self.trade_ids.add(event.trade_id)
            if executed == self.command.quantity:
                self.status = OrderStatus.FILLED
            elif self.status not in FINAL and executed:
                # a late partial fill on a canceled order keeps it canceled
                self.status = OrderStatus.PARTIALLY_FILLED
        else:
            assert isinstance(target, OrderStatus)
            if isinstance(event, OrderClosed) and executed > self.filled_qty:
                # priced at the venue's stated average, else the order's limit price, else
                # its own average so far (the trades' reports, when they come, add nothing)
                if event.avg_px is not None:
                    self._advance(executed, event.avg_px, average=True)
                else:
                    px = self.command.price or self.avg_px
                    self._advance(executed, px, average=False)
            self.status = target
        if isinstance(event, OrderAccepted):
            self.venue_order_id = event.venue_order_id
        self.events.append(event)
        return self.status

    def _advance(self, executed: Decimal, px: Decimal, *, average: bool) -> None:
        """Count the order executed up to ``executed``; the new part at ``px``, or, with
        ``average``, at the price that makes the order's average ``px`` (a venue's sum)."""
        filled = self.filled_qty
        added = executed - filled
        if added <= 0:
            return
        if average:
            self.avg_px = px
        else:
            self.avg_px = (self.avg_px * filled + px * added) / executed
        self.filled_qty = executed

    def __repr__(self) -> str:
        c = self.command
        return (
            f"Order({c.client_order_id} {c.side.value} {c.quantity} {c.symbol}@{c.venue} "
            f"{self.status.value} filled={self.filled_qty})"
        )


__all__ = [
    "FINAL",
    "TRANSITIONS",
    "DuplicateFill",
    "InvalidTransition",
    "Order",
    "OrderNotFound",
    "OrderStatus",
]

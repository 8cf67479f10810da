"""What every venue client offers the engine: the interface, and its errors.

A client owns one authenticated connection to one venue. ``place`` is the hot path: it
is synchronous, fills a pre-built template, signs it and writes the bytes before it
returns, so the engine knows the order is on the wire (or raises before any byte left).
Everything a venue says about an order afterwards (acks, rejections, fills, cancels,
silence) comes back as ``whalewire.model`` events through ``on_event``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from whalewire.model import OrderEvent, SubmitOrder

#: trade ids of fills a venue client learned by querying an order (``reconcile``): such a
#: fill carries the order's *cumulative* executed quantity and average price, not one trade
RECONCILED_FILL_PREFIX = "recon:"


def discard_event(event: OrderEvent) -> None:
    """Default ``on_event`` until the engine sets its own: drop the event."""


class VenueError(Exception):
    """A venue operation failed."""


class VenueUnavailable(VenueError):
    """Nothing was sent: the connection is down, not yet authenticated, or rate-limited.

    Raised by ``place`` before any byte of the order left, so the order certainly does
    not exist at the venue.
    """

    def __init__(self, venue: str, why: str) -> None:
        super().__init__(venue, why)
        self.venue = venue
        self.why = why

    def __str__(self) -> str:
        return f"{self.venue}: cannot send: {self.why}"


class VenueClient(Protocol):
    """An exchange connection the engine can trade through."""

    #: the venue's configured name ("binance", "kraken", ...)
    name: str
    #: set by the engine before ``start``; called for every order event the venue reports
    on_event: Callable[[OrderEvent], None]

    async def start(self) -> None:
        """Connect, synchronise the clock, authenticate and subscribe to order updates."""
        ...

    async def close(self) -> None:
        """Close the connection; pending orders become UNKNOWN via ``on_event``."""
        ...

    def client_order_id(self, namespace: str, seq: int) -> str:
        """The venue's client order id for journal sequence ``seq`` (``venues.ids``)."""
        ...

    def place(self, command: SubmitOrder) -> int:
        """Write ``command``'s order to the wire; return ``perf_counter_ns`` after the write.

        Raises:
            VenueUnavailable: nothing was sent.
        """
        ...

    async def cancel(self, client_order_id: str, symbol: str) -> None:
        """Ask the venue to cancel one order (the result arrives through ``on_event``)."""
        ...

    async def cancel_all(self, symbol: str) -> int:
        """Cancel every open order on ``symbol``; return how many the venue canceled."""
        ...

    async def reconcile(self, client_order_id: str, symbol: str) -> list[OrderEvent]:
        """Ask the venue what became of an order: the events that bring ours up to date.

        Returns ``[OrderNotFound]`` only when the venue states the id does not exist. What
        has executed comes as one ``OrderFilled`` whose trade id starts with
        ``RECONCILED_FILL_PREFIX``, holding the cumulative quantity and average price (the
        engine applies the part it has not seen).
        Raises ``VenueError`` when the question itself could not be answered.
        """
        ...

    def last_price(self, symbol: str) -> Decimal | None:
        """The venue's last trade price for ``symbol`` (the risk engine's reference)."""
        ...

    def status(self) -> Mapping[str, Any]:
        """A JSON-ready snapshot: connected, endpoint, RTT percentiles, counts."""
        ...

"""The venue contract: what the engine may ask of an exchange connection, and nothing more.

The engine depends on this file only (never on a venue's module): ``Venue`` is the
interface, ``Capabilities`` says what a client offers beyond the core (a dead man's
switch, rehearsal, pre-built templates, a price refresh), and events reach the engine
through the sink it registers with ``set_event_sink``. ``VenueDefaults`` gives a client the
answers for what it does not offer, so every client satisfies the whole interface and the
engine decides by ``capabilities``, never by looking for attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from whalewire.model import OrderEvent, SubmitOrder
from whalewire.venues.base import RECONCILED_FILL_PREFIX, VenueError, VenueUnavailable

#: where a venue client delivers every order event it learns
EventSink = Callable[[OrderEvent], None]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a venue client offers beyond placing, canceling and querying orders."""

    #: ``refresh_dead_man`` arms the venue's cancel-all-after timer (Kraken)
    dead_mans_switch: bool = False
    #: ``rehearse`` runs the order path (fill, sign, frame) into a scratch buffer
    rehearsal: bool = False
    #: ``prepare`` builds an order template ahead of the first whale
    templates: bool = False
    #: ``refresh_price`` asks the venue for the last trade price
    price_refresh: bool = False


class Venue(Protocol):
    """An exchange connection the engine can trade through."""

    #: the venue's configured name ("binance", "kraken", ...)
    name: str
    #: what this client offers beyond the core
    capabilities: Capabilities

    def set_event_sink(self, sink: EventSink) -> None:
        """Deliver every order event the venue reports to ``sink`` (set before ``start``)."""
        ...

    async def start(self) -> None:
        """Connect, synchronise the clock, authenticate and subscribe to order updates."""
        ...

    async def close(self) -> None:
        """Close the connection; pending orders become UNKNOWN through the sink."""
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

    def rehearse(self, command: SubmitOrder) -> None:
        """Run ``place``'s path for ``command`` into a scratch buffer; send nothing."""
        ...

    def prepare(self, symbol: str, side: str) -> None:
        """Build the order template for (``symbol``, ``side``) before the first whale."""
        ...

    async def cancel(self, client_order_id: str, symbol: str) -> None:
        """Ask the venue to cancel one order (the result arrives through the sink)."""
        ...

    async def cancel_all(self, symbol: str) -> int:
        """Cancel every open order on ``symbol``; return how many the venue canceled."""
        ...

    async def reconcile(self, client_order_id: str, symbol: str) -> list[OrderEvent]:
        """Ask the venue what became of an order: the events that bring ours up to date.

        Returns ``[OrderNotFound]`` only when the venue states the id does not exist. What
        has executed comes as one ``OrderFilled`` whose trade id starts with
        ``RECONCILED_FILL_PREFIX``, holding the cumulative quantity (``cum_qty``) and
        average price.

        Raises:
            VenueError: the question itself could not be answered.
        """
        ...

    async def refresh_dead_man(self, timeout_s: int) -> object:
        """Re-arm the venue's cancel-all-after timer for ``timeout_s`` seconds."""
        ...

    async def refresh_price(self, symbol: str) -> Decimal | None:
        """Ask the venue for ``symbol``'s last trade price (off the hot path)."""
        ...

    def last_price(self, symbol: str) -> Decimal | None:
        """The venue's last trade price for ``symbol`` as last heard (no I/O)."""
        ...

    def status(self) -> Mapping[str, Any]:
        """A JSON-ready snapshot: connected, endpoint, RTT percentiles, counts."""
        ...


class VenueDefaults:
    """The contract's answers for what a client does not offer (its ``capabilities`` say so).

    A client inherits this and overrides what it has; ``on_event`` is where its events go.
    """

    name: str
    on_event: EventSink

    def set_event_sink(self, sink: EventSink) -> None:
        """Deliver every order event to ``sink``."""
        self.on_event = sink

    def rehearse(self, command: SubmitOrder) -> None:
        """No rehearsal: nothing to warm."""

    def prepare(self, symbol: str, side: str) -> None:
        """No templates: every order is built when placed."""

    async def refresh_dead_man(self, timeout_s: int) -> object:
        """No dead man's switch at this venue."""
        raise VenueError(f"{self.name}: no dead man's switch")

    async def refresh_price(self, symbol: str) -> Decimal | None:
        """No price query: the last price heard."""
        return self.last_price(symbol)

    def last_price(self, symbol: str) -> Decimal | None:
        """No price heard."""
        return None


__all__ = [
    "RECONCILED_FILL_PREFIX",
    "Capabilities",
    "EventSink",
    "Venue",
    "VenueDefaults",
    "VenueError",
    "VenueUnavailable",
]

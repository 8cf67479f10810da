"""What every venue client offers the engine: the interface, and its errors.

A client owns one authenticated connection to one venue. ``place`` is the hot path: it
is synchronous, fills a pre-built template, signs it and writes the bytes before it
returns, so the engine knows the order is on the wire (or raises before any byte left).
Everything a venue says about an order afterwards (acks, rejections, fills, cancels,
silence) comes back as ``whalewire.model`` events through ``on_event``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from whalewire.model import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStatusUnknown,
    OrderType,
    Side,
    SubmitOrder,
)
from whalewire.net import WebSocket
from whalewire.net.backoff import backoff
from whalewire.net.reconnect import Hook, OpenWS, Supervisor
from whalewire.venues.outcome import Confirmed, Outcome, PendingRequests, Rejected
from whalewire.venues.ratelimit import ConnectionLimiter
from whalewire.venues.templates import empty_pong_frame
from whalewire.ws.exceptions import ConnectionClosed
from whalewire.ws.mask import default_key_pool

log = logging.getLogger("whalewire.venues")

#: trade ids of fills a venue client learned by querying an order (``reconcile``): such a
#: fill carries the order's *cumulative* executed quantity (``cum_qty``, and ``last_qty``)
#: and average price, not one trade
RECONCILED_FILL_PREFIX = "recon:"

#: ``[venues.NAME] pong_interval_ms``'s default: at most 4 warm-up pongs a second. Binance's
#: WebSocket API states no limit on frames (its limits are request weight, orders and
#: connections), but its market-data WebSocket Streams count every PING and PONG frame
#: against "a limit of 5 incoming messages per second" and disconnect, then ban, beyond
#: it (``web-socket-streams.md``, "WebSocket Limits"): staying under the strictest limit a
#: venue of ours documents for the same kind of connection keeps the heartbeat harmless
#: wherever it lands. A deployment that measured its venue may go faster (docs/configuration.md).
DEFAULT_PONG_INTERVAL_MS = 250.0


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """How a venue client verifies a wss:// venue.

    ``ca_file`` replaces the system's trust store (e.g. the emulator's self-signed
    certificate); ``pins`` are base64 SHA-256 SPKI pins checked on the live connection
    before a byte of the request is written (``whalewire.net.tls``).
    """

    ca_file: str | None = None
    pins: tuple[str, ...] = ()
    #: False only outside live trading (the configuration refuses it there)
    verify: bool = True

    def for_url(self, url: str) -> dict[str, Any]:
        """``connect_kwargs`` for a ``wss://`` URL, nothing for ``ws://``."""
        return self.connect_kwargs() if url.startswith("wss://") else {}

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``whalewire.net.client.connect``."""
        if not self.verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return {"ssl": context, "pins": self.pins or None}
        return {"ca_file": self.ca_file, "pins": self.pins or None}


def reconciled_events(
    client_order_id: str,
    *,
    now: int,
    venue_order_id: str,
    executed: Decimal,
    avg_price: Decimal,
    commission: Decimal = Decimal(0),
    commission_asset: str = "",
    ending: type[OrderCanceled] | type[OrderExpired] | None = None,
) -> list[OrderEvent]:
    """Build what a query by client order id says about an order that exists.

    ``OrderAccepted``; then, if anything executed, one cumulative ``OrderFilled`` (trade id
    ``recon:<venue order id>:<executed>``, the order's average price and total commission);
    then ``ending`` (canceled or expired) when the order is closed with a rest, stating
    the same executed quantity and average.
    """
    coid = client_order_id
    events: list[OrderEvent] = [
        OrderAccepted(
            client_order_id=coid, ts_init=now, ts_event=now, venue_order_id=venue_order_id
        )
    ]
    if executed > 0:
        events.append(
            OrderFilled(
                client_order_id=coid,
                ts_init=now,
                ts_event=now,
                trade_id=f"{RECONCILED_FILL_PREFIX}{venue_order_id}:{executed}",
                last_qty=executed,
                last_px=avg_price,
                commission=commission,
                commission_asset=commission_asset,
                cum_qty=executed,
            )
        )
    if ending is not None:
        events.append(
            closed_event(
                ending, coid, now, now, executed=executed, avg_px=avg_price if executed else None
            )
        )
    return events


def closed_event(
    kind: type[OrderCanceled] | type[OrderExpired],
    client_order_id: str,
    now: int,
    ts: int,
    *,
    executed: Decimal | None,
    avg_px: Decimal | None = None,
) -> OrderCanceled | OrderExpired:
    """The engine's event for an order a venue closed with a rest, and what it executed."""
    return kind(
        client_order_id=client_order_id,
        ts_init=now,
        ts_event=ts,
        executed_qty=executed,
        avg_px=avg_px,
    )


def rtt_summary(pending: PendingRequests, count: int) -> dict[str, float]:
    """Send → response latency percentiles in µs, for ``status()``."""
    summary: dict[str, float] = {"count": count}
    p50 = pending.latency_percentile(0.5)
    p99 = pending.latency_percentile(0.99)
    if p50 is not None and p99 is not None:
        summary["p50"] = p50 / 1000
        summary["p99"] = p99 / 1000
    return summary


async def connection_slot(limiter: ConnectionLimiter, venue: str) -> None:
    """Wait until ``limiter`` allows one more connection attempt to ``venue``, and count it.

    Call before every connect, first or re-: every attempt counts against the venue's
    per-IP limit, failed or not, so a burst of reconnects waits here instead of earning
    the IP a ban (``ratelimit`` cites each venue's figure).
    """
    while True:
        now_ms = time.time_ns() // 1_000_000
        verdict = limiter.acquire(now_ms)
        if verdict.allowed:
            return
        assert verdict.retry_at_ms is not None
        wait_s = (verdict.retry_at_ms - now_ms) / 1000
        log.warning("%s: connection attempts held back %.1f s (%s)", venue, wait_s, verdict.reason)
        await asyncio.sleep(wait_s)


def ack_event(
    coid: str, now: int, outcome: Outcome, *, fallback_code: int, code_in_reason: bool = True
) -> OrderEvent:
    """The engine's event for an order request's answer, once ``outcome.py`` has classified it.

    Shared by the three clients so that ACCEPTED / REJECTED / UNKNOWN read the same everywhere;
    each client keeps its own side effects (ids to remember, clock resync, pauses).
    ``fallback_code`` is the rejection code when the venue's own is not a number (Kraken's is
    text); ``code_in_reason`` leaves out an unknown's code where it only repeats the detail.
    """
    if isinstance(outcome, Confirmed):
        return OrderAccepted(
            client_order_id=coid,
            ts_init=now,
            ts_event=now,
            venue_order_id=outcome.venue_order_id or "",
        )
    if isinstance(outcome, Rejected):
        code = outcome.code if isinstance(outcome.code, int) else fallback_code
        return OrderRejected(
            client_order_id=coid, ts_init=now, ts_event=now, code=code, message=outcome.msg
        )
    shown = f"{outcome.code or ''} " if code_in_reason else ""
    return OrderStatusUnknown(
        client_order_id=coid,
        ts_init=now,
        ts_event=now,
        reason=f"{outcome.cause.value} {shown}{outcome.detail}".strip(),
    )


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


@dataclass(frozen=True, slots=True)
class Grid:
    """A symbol's lot and tick grids: Binance's ``LOT_SIZE``/``PRICE_FILTER``, Kraken's
    instrument increments, Coinbase's product increments, one rule for all three."""

    step_size: Decimal
    tick_size: Decimal

    def quantity(self, qty: Decimal) -> bytes:
        """Format ``qty`` as plain decimal ASCII on the lot grid (rounded down)."""
        return _on_grid(qty, self.step_size)

    def price(self, px: Decimal) -> bytes:
        """Format ``px`` as plain decimal ASCII on the tick grid (rounded down)."""
        return _on_grid(px, self.tick_size)


def _on_grid(value: Decimal, step: Decimal) -> bytes:
    steps = (value / step).to_integral_value(rounding="ROUND_DOWN")
    return format((steps * step).normalize(), "f").encode()


def order_shape(venue: str, cid_width: int, symbol: str, side: str, order_type: str) -> SubmitOrder:
    """Return a stand-in order of one shape (``prepare`` builds its template ahead of time)."""
    return SubmitOrder(
        client_order_id="0" * cid_width,
        ts_init=0,
        venue=venue,
        symbol=symbol,
        side=Side(side),
        quantity=Decimal(1),
        order_type=OrderType(order_type),
    )


def order_text(
    venue: str, rules: Mapping[str, Grid], command: SubmitOrder, noun: str = "symbol"
) -> tuple[bytes, bytes]:
    """Return ``command``'s quantity and price (empty for none) as text on its grids.

    Raises:
        VenueUnavailable: the venue does not list ``command.symbol`` (``noun`` names it in
            the venue's words: "symbol", "product").
    """
    grid = rules.get(command.symbol)
    if grid is None:
        raise VenueUnavailable(venue, f"unknown {noun} {command.symbol}")
    price = grid.price(command.price) if command.price is not None else b""
    return grid.quantity(command.quantity), price


class WarmPong:
    """The unsolicited empty Pongs a venue client's rehearsal writes to keep its order path warm.

    Between rare orders the kernel's send path, the socket and the venue's receive path go
    cold: the first ``write(2)`` after a quiet stretch costs several times a warm one. An
    empty Pong written through the very path orders take (``WebSocket.send_prebuilt``: the
    direct write, or the io_uring backend) keeps them warm at no cost to the venue: RFC
    6455 §5.5.3 ("A Pong frame MAY be sent unsolicited. This serves as a unidirectional
    heartbeat. A response to an unsolicited Pong frame is not expected.") and Binance's
    WebSocket API ("Unsolicited pong frames are allowed, but will not prevent
    disconnection. It is recommended that the payload for these pong frames are empty.").

    ``send`` writes one at most every ``interval_ms`` (0: never) and only onto an open
    connection with nothing queued, so a pong never goes ahead of, between or in front of
    anything else, and never waits in a buffer where an order would queue behind it.
    """

    __slots__ = ("_last_ns", "_next_key", "_now", "interval_ns", "sent")

    def __init__(self, interval_ms: float, now_ns: Callable[[], int]) -> None:
        if interval_ms < 0:
            raise ValueError(f"pong interval must be >= 0 ms (0: never), got {interval_ms}")
        self.interval_ns = round(interval_ms * 1_000_000)
        #: pongs written so far
        self.sent = 0
        self._last_ns: int | None = None
        self._now = now_ns
        self._next_key = default_key_pool().next_key  # RFC 6455 §5.3: a fresh key per frame

    def send(self, ws: WebSocket) -> bool:
        """Write one pong onto ``ws`` if one is due and nothing is queued; return whether."""
        interval = self.interval_ns
        if not interval:
            return False
        now = self._now()
        last = self._last_ns
        if (last is not None and now - last < interval) or ws.closed or ws.buffered_amount:
            return False
        try:
            ws.send_prebuilt(empty_pong_frame(self._next_key()))
        except ConnectionClosed:
            return False
        self._last_ns = now
        self.sent += 1
        return True


def venue_supervisor(
    name: str,
    open_ws: OpenWS,
    *,
    on_connected: Hook,
    on_disconnected: Callable[[WebSocket], None],
    retry_on: tuple[type[Exception], ...],
) -> Supervisor:
    """Build the ``net.reconnect.Supervisor`` that keeps a venue client's connection up.

    The venues' reconnect policy: jittered backoff from 0.1 s doubling to 5 s, afresh after
    every connection that warmed up (a venue that drops a working connection is answered
    at once, a venue that is down no faster than every 5 s; Kraken's spot-ws-intro asks for
    both); ``open_ws`` takes a ``connection_slot`` per attempt, so the limiter holds bursts.
    Failures in ``retry_on`` are retried; anything else ends the reconnecting (logged).
    """
    return Supervisor(
        open_ws,
        on_connected=on_connected,
        on_disconnected=on_disconnected,
        delays=functools.partial(backoff, first=0.1, cap=5.0),
        stable_after=0.0,
        retry_on=retry_on,
        name=name,
    )


K = TypeVar("K")
M = TypeVar("M")


class RequestTable(Generic[K, M]):
    """Requests off the hot path (warm-up, cancels, queries) waiting for their answer, by id.

    The WebSocket clients write a request and await its answer here; the read callback
    hands answers in (:meth:`answer`), a malformed answer fails its request (:meth:`fail`)
    and a closed connection fails them all (:meth:`fail_all`). Orders never go through it:
    ``outcome.PendingRequests`` tracks those.
    """

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self._futures: dict[K, asyncio.Future[M]] = {}

    async def send(
        self, ws: WebSocket | None, rid: K, text: str, *, what: str, timeout_s: float
    ) -> M:
        """Write ``text`` (request ``rid``) on ``ws`` and return its answer.

        Raises:
            VenueError: not connected, the connection closed, or no answer in ``timeout_s``.
        """
        if ws is None:
            raise VenueError(f"{self.venue}: not connected")
        fut: asyncio.Future[M] = asyncio.get_running_loop().create_future()
        self._futures[rid] = fut
        try:
            ws.send(text)
        except ConnectionClosed:
            self._futures.pop(rid, None)
            raise VenueError(f"{self.venue}: connection closed") from None
        try:
            return await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            self._futures.pop(rid, None)
            raise VenueError(f"{self.venue}: {what} timed out") from None

    def answer(self, rid: K, message: M) -> bool:
        """Hand ``message`` to the request ``rid``; return whether one was waiting."""
        fut = self._futures.pop(rid, None)
        if fut is None:
            return False
        if not fut.done():
            fut.set_result(message)
        return True

    def fail(self, rid: K | None, error: Exception) -> None:
        """Fail the request ``rid`` (if one is waiting) with ``error``."""
        fut = self._futures.pop(rid, None) if rid is not None else None
        if fut is not None and not fut.done():
            fut.set_exception(error)

    def fail_all(self, error: Exception) -> None:
        """Fail every request still waiting (their connection closed), and forget them."""
        for fut in self._futures.values():
            if not fut.done():
                fut.set_exception(error)
        self._futures.clear()


class MalformedMessages:
    """Count and log what a venue sent that did not decode; the order it names goes UNKNOWN.

    A malformed message never closes the connection it came on (the other orders on it
    are fine); if it concerned an order, that order's state is no longer known, so it is
    reported ``OrderStatusUnknown`` and the engine reconciles it by client order id.
    """

    def __init__(self, venue: str, now: Callable[[], int]) -> None:
        self.venue = venue
        self._now = now
        #: messages refused so far (``status()['malformed']``)
        self.count = 0
        #: the last refusal, for the status view
        self.last = ""

    def report(
        self,
        error: Exception,
        message: str | bytes,
        on_event: Callable[[OrderEvent], None],
        client_order_id: str | None = None,
    ) -> None:
        """Count and log ``error`` about ``message``; report ``client_order_id`` UNKNOWN."""
        self.count += 1
        self.last = str(error)
        log.warning("%s; message %.200r", error, message)
        if client_order_id:
            ts = self._now()
            on_event(
                OrderStatusUnknown(
                    client_order_id=client_order_id,
                    ts_init=ts,
                    ts_event=ts,
                    reason=f"malformed venue message: {error}",
                )
            )


def report_disconnected(
    pending: PendingRequests, now: Callable[[], int], on_event: Callable[[OrderEvent], None]
) -> None:
    """Report every order still waiting for its answer as ``OrderStatusUnknown``.

    The connection it was written on is gone: the venue may or may not have it, so only
    reconciliation by client order id may settle it; nothing is resent here.
    """
    for request, unknown in pending.disconnected():
        ts = now()
        on_event(
            OrderStatusUnknown(
                client_order_id=request.client_order_id,
                ts_init=ts,
                ts_event=ts,
                reason=f"{unknown.cause.value}: {unknown.detail}",
            )
        )

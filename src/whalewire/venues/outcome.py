"""The outcome of a sent order, and the only ways out of UNKNOWN: data and pure functions.

Every order we send ends in exactly one of three outcomes:

- ``Confirmed``: the venue acknowledged it (it exists; fills arrive on the user stream).
- ``Rejected(code, msg)``: the venue definitely did not take it.
- ``Unknown(cause)``: we cannot tell (timeout, disconnect, 5xx, a venue code that says
  "execution status unknown"). The order may exist and may fill.

UNKNOWN is left only by reconciliation: query the order by its client order id. Found
means confirmed; "does not exist" means absent, and only then may the intent be resent,
with a *fresh* client order id (Binance accepts a reused id once the first order is
filled, so reusing it could double-fill). While in doubt, nothing is resent.

This module classifies venue responses into outcomes and reconciliation answers into
findings; it knows nothing of sockets, the journal or the engine's order state machine,
which maps these values to its own events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "BINANCE_ORDER_DOES_NOT_EXIST",
    "BINANCE_STATUS_UNKNOWN_CODES",
    "BINANCE_TIMESTAMP_REJECTED",
    "KRAKEN_STATUS_UNKNOWN_ERRORS",
    "Answered",
    "Confirmed",
    "Finding",
    "InFlight",
    "Outcome",
    "PendingRequests",
    "Reconciled",
    "Rejected",
    "ResendDecision",
    "Unknown",
    "UnknownCause",
    "binance_outcome",
    "binance_reconcile",
    "coinbase_outcome",
    "coinbase_reconcile",
    "decide_resend",
    "kraken_outcome",
    "kraken_reconcile",
    "resolve",
    "transport_failure",
]

#: Binance error codes whose documented meaning is "we do not know whether it executed"
#: (``errors.md``, "10xx - General Server or Network issues"):
#: -1006 UNEXPECTED_RESP "An unexpected response was received from the message bus.
#: Execution status unknown."; -1007 TIMEOUT "Timeout waiting for response from backend
#: server. Send status unknown; execution status unknown."; -1000 UNKNOWN "An unknown error
#: occurred while processing the request."; -1001 DISCONNECTED "Internal error; unable to
#: process your request."; -1008 SERVER_BUSY "Server is currently overloaded". The last three
#: do not promise the request was dropped, so they count as unknown too: a needless
#: reconciliation query is cheap, a wrong "rejected" can double an order.
BINANCE_STATUS_UNKNOWN_CODES = frozenset({-1000, -1001, -1006, -1007, -1008})
#: -1021 INVALID_TIMESTAMP: outside recvWindow or >1 s ahead; the order was not placed,
#: and the clock needs resynchronising before anything else is sent (``clock.py``).
BINANCE_TIMESTAMP_REJECTED = -1021
#: -2013 NO_SUCH_ORDER "Order does not exist." (``errors.md``, 20xx).
BINANCE_ORDER_DOES_NOT_EXIST = -2013

#: Kraken errors that leave the order's fate open (Kraken "Spot REST API" error list:
#: the service was unavailable or busy, or failed internally).
KRAKEN_STATUS_UNKNOWN_ERRORS = frozenset(
    {"EService:Unavailable", "EService:Busy", "EGeneral:Internal error"}
)
_KRAKEN_UNKNOWN_ORDER = "EOrder:Unknown order"
# EService errors that do say the order was not placed: the market is in a restricted mode
# ("EService:Market in cancel_only mode", ...) or the request's deadline had passed.
_KRAKEN_SERVICE_DEFINITE = ("EService:Market in ", "EService:Deadline elapsed")


class UnknownCause(StrEnum):
    """Why an order's outcome is unknown."""

    TIMEOUT = "timeout"  #: no response within our deadline
    DISCONNECT = "disconnect"  #: the connection dropped after the send
    SERVER_ERROR = "server_error"  #: 5xx: Binance says execution status is unknown
    STATUS_UNKNOWN = "status_unknown"  #: a venue code meaning "execution status unknown"
    PARTIAL = "partial"  #: 409: part of a compound request succeeded


@dataclass(frozen=True, slots=True)
class Confirmed:
    """The venue took the order."""

    venue_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """The venue refused the order; ``code`` is its own (int for Binance, text for Kraken)."""

    code: int | str
    msg: str
    http_status: int | None = None


@dataclass(frozen=True, slots=True)
class Unknown:
    """We cannot tell whether the order exists; only reconciliation leaves this state."""

    cause: UnknownCause
    code: int | str | None = None
    detail: str = ""


Outcome = Confirmed | Rejected | Unknown


class Finding(StrEnum):
    """What a query by client order id told us."""

    FOUND = "found"  #: the order exists (whatever its status): the outcome is Confirmed
    NOT_FOUND = "not_found"  #: the venue says it does not exist, and cannot appear later
    STILL_UNKNOWN = "still_unknown"  #: the query itself failed or came too early: ask again


@dataclass(frozen=True, slots=True)
class Reconciled:
    """A reconciliation answer: the finding, and the order's venue status when found."""

    finding: Finding
    venue_status: str | None = None
    venue_order_id: str | None = None


class ResendDecision(StrEnum):
    """What may happen to an intent after its send."""

    DONE = "done"  #: confirmed or rejected: nothing to resend (a new intent is a new order)
    RECONCILE = "reconcile"  #: unknown: query by client order id, resend nothing
    RESEND_WITH_FRESH_ID = "resend_with_fresh_id"  #: confirmed absent: resend, new id


def transport_failure(cause: UnknownCause, detail: str = "") -> Unknown:
    """Return the outcome of a send whose response never came (timeout, disconnect)."""
    return Unknown(cause, None, detail)


# --------------------------------------------------------------------------- Binance


def binance_outcome(
    status: int, error: Mapping[str, object] | None, result: Mapping[str, object] | None
) -> Outcome:
    """Classify a Binance WebSocket API (or REST) response to ``order.place``.

    Args:
        status: the response's ``status`` (HTTP status for REST).
        error: the ``error`` object (``code``, ``msg``) when present.
        result: the ``result`` object when present.

    Rules (``web-socket-api.md`` "Status codes"): 200 is confirmed; 5xx "does not
    necessarily mean that your request has failed. Execution status is unknown"; 409 is a
    partial success; the codes in ``BINANCE_STATUS_UNKNOWN_CODES`` are unknown whatever the
    status; every other 4xx (including 418/429) is a rejection with the venue's code.
    """
    code = error.get("code") if error else None
    msg = str(error.get("msg", "")) if error else ""
    if 200 <= status < 300 and error is None:
        order_id = result.get("orderId") if result else None
        return Confirmed(None if order_id is None else str(order_id))
    if status >= 500:
        return Unknown(UnknownCause.SERVER_ERROR, _int_or_none(code), msg)
    if code in BINANCE_STATUS_UNKNOWN_CODES:
        return Unknown(UnknownCause.STATUS_UNKNOWN, _int_or_none(code), msg)
    if status == 409:
        return Unknown(UnknownCause.PARTIAL, _int_or_none(code), msg)
    int_code = _int_or_none(code)
    return Rejected(int_code if int_code is not None else status, msg, status)


def binance_reconcile(
    status: int,
    error: Mapping[str, object] | None,
    result: Mapping[str, object] | None,
    *,
    order_timestamp_ms: int,
    recv_window_ms: int,
    server_time_ms: int,
    margin_ms: int = 1000,
) -> Reconciled:
    """Classify the answer to ``order.status`` by ``origClientOrderId``.

    -2013 counts as NOT_FOUND only once the order's own validity window has closed (plus
    ``margin_ms``):
    Binance checks ``serverTime - timestamp <= recvWindow`` again before forwarding to the
    matching engine (``rest-api.md`` "Timing security"), so after
    ``timestamp + recvWindow`` an order that is not there can never appear. Asked earlier,
    the order may still be in flight behind a -1007, and the answer is STILL_UNKNOWN.

    Args:
        order_timestamp_ms: the ``timestamp`` the order was signed with.
        recv_window_ms: the ``recvWindow`` it carried (Binance's default is 5000).
        server_time_ms: the venue's time when it answered (our synchronised estimate).
        margin_ms: extra wait beyond the window, for the estimate's error (half a round
            trip plus Binance's millisecond floor); a second of delay costs nothing next to
            a double fill.
    """
    if 200 <= status < 300 and error is None and result is not None:
        order_id = result.get("orderId")
        return Reconciled(
            Finding.FOUND,
            str(result.get("status")) if result.get("status") is not None else None,
            None if order_id is None else str(order_id),
        )
    code = error.get("code") if error else None
    window_closed = server_time_ms > order_timestamp_ms + recv_window_ms + margin_ms
    if code == BINANCE_ORDER_DOES_NOT_EXIST and status < 500 and window_closed:
        return Reconciled(Finding.NOT_FOUND)
    return Reconciled(Finding.STILL_UNKNOWN)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --------------------------------------------------------------------------- Kraken


def kraken_outcome(
    success: bool, error: str | None, result: Mapping[str, object] | None
) -> Outcome:
    """Classify a Kraken WebSocket v2 ``add_order`` response (``success``/``error``/``result``).

    Errors in ``KRAKEN_STATUS_UNKNOWN_ERRORS``, and any other ``EService:`` error except the
    restricted-market and deadline ones, are unknown; every other error is a rejection
    carrying Kraken's error string (its category, e.g. ``EOrder``, as the code).
    """
    if success and not error:
        order_id = result.get("order_id") if result else None
        return Confirmed(None if order_id is None else str(order_id))
    text = error or "unspecified error"
    if text in KRAKEN_STATUS_UNKNOWN_ERRORS or (
        text.startswith("EService:") and not text.startswith(_KRAKEN_SERVICE_DEFINITE)
    ):
        return Unknown(UnknownCause.STATUS_UNKNOWN, text, text)
    return Rejected(text.split(":", 1)[0], text)


def kraken_reconcile(error: str | None, order: Mapping[str, object] | None) -> Reconciled:
    """Classify the answer to a query by ``cl_ord_id`` ("EOrder:Unknown order" is absent).

    Kraken validates ``deadline`` before matching, so an order sent with one is absent for
    good once Kraken says it is unknown after that deadline; the caller queries only then.
    """
    if error is None and order is not None:
        status = order.get("order_status", order.get("status"))
        order_id = order.get("order_id")
        return Reconciled(
            Finding.FOUND,
            None if status is None else str(status),
            None if order_id is None else str(order_id),
        )
    if error == _KRAKEN_UNKNOWN_ORDER:
        return Reconciled(Finding.NOT_FOUND)
    return Reconciled(Finding.STILL_UNKNOWN)


# --------------------------------------------------------------------------- Coinbase


def coinbase_outcome(http_status: int, body: Mapping[str, object] | None) -> Outcome:
    """Classify a Coinbase Exchange ``POST /orders`` response: 2xx, 4xx (rejected) or 5xx."""
    if 200 <= http_status < 300:
        order_id = body.get("id") if body else None
        return Confirmed(None if order_id is None else str(order_id))
    msg = str(body.get("message", "")) if body else ""
    if http_status >= 500:
        return Unknown(UnknownCause.SERVER_ERROR, http_status, msg)
    return Rejected(http_status, msg, http_status)


def coinbase_reconcile(http_status: int, body: Mapping[str, object] | None) -> Reconciled:
    """Classify ``GET /orders/client:<client_oid>``: 200 found, 404 not found, else unknown."""
    if 200 <= http_status < 300 and body is not None:
        status = body.get("status")
        order_id = body.get("id")
        return Reconciled(
            Finding.FOUND,
            None if status is None else str(status),
            None if order_id is None else str(order_id),
        )
    if http_status == 404:
        return Reconciled(Finding.NOT_FOUND)
    return Reconciled(Finding.STILL_UNKNOWN)


# --------------------------------------------------------------------------- the rule


def decide_resend(outcome: Outcome, reconciled: Reconciled | None = None) -> ResendDecision:
    """Decide what may follow a send, given its outcome and the latest reconciliation.

    - Confirmed or Rejected: DONE. A rejected intent is not retried here; trying again is a
      new decision (risk, strategy) with a new id.
    - Unknown, reconciled FOUND: DONE (the order exists; ``resolve`` makes it Confirmed).
    - Unknown, not reconciled yet or STILL_UNKNOWN: RECONCILE (ask again, resend nothing).
    - Unknown, reconciled NOT_FOUND: RESEND_WITH_FRESH_ID, never with the old id.
    """
    if not isinstance(outcome, Unknown):
        return ResendDecision.DONE
    if reconciled is None or reconciled.finding is Finding.STILL_UNKNOWN:
        return ResendDecision.RECONCILE
    if reconciled.finding is Finding.FOUND:
        return ResendDecision.DONE
    return ResendDecision.RESEND_WITH_FRESH_ID


def resolve(outcome: Outcome, reconciled: Reconciled) -> Outcome:
    """Return the outcome after a reconciliation: FOUND confirms an Unknown; else unchanged."""
    if isinstance(outcome, Unknown) and reconciled.finding is Finding.FOUND:
        return Confirmed(reconciled.venue_order_id)
    return outcome


# --------------------------------------------------------------------------- in flight


@dataclass(frozen=True, slots=True)
class InFlight:
    """One sent request awaiting its response."""

    request_id: str
    client_order_id: str
    sent_ns: int


@dataclass(frozen=True, slots=True)
class Answered:
    """A response matched to its request: the send→response latency, and whether it came late.

    ``late`` means the request had already been declared UNKNOWN (timeout); the response is
    then evidence for reconciliation, not a first outcome.
    """

    request: InFlight
    latency_ns: int
    late: bool = False


class PendingRequests:
    """Correlate responses to requests by id; turn silence and disconnects into UNKNOWN.

    Pure: the caller passes monotonic times. Latencies of answered requests are kept (the
    last ``keep`` of them) for percentiles.

    Args:
        timeout_ns: after this long without a response, a request's outcome is UNKNOWN.
        keep: how many latencies (and how many timed-out ids, for late answers) to remember.
    """

    def __init__(self, timeout_ns: int, keep: int = 10_000) -> None:
        if timeout_ns <= 0 or keep <= 0:
            raise ValueError("timeout_ns and keep must be positive")
        self.timeout_ns = timeout_ns
        self._keep = keep
        self._pending: dict[str, InFlight] = {}
        self._timed_out: dict[str, InFlight] = {}
        self._latencies: list[int] = []

    def __len__(self) -> int:
        return len(self._pending)

    def sent(self, request_id: str, client_order_id: str, now_ns: int) -> None:
        """Record a request written to the wire.

        Raises:
            ValueError: ``request_id`` is already in flight (responses could not be told apart).
        """
        if request_id in self._pending:
            raise ValueError(f"request id {request_id!r} is already in flight")
        self._pending[request_id] = InFlight(request_id, client_order_id, now_ns)

    def answered(self, request_id: str, now_ns: int) -> Answered | None:
        """Match a response; return None for an id we never sent (or long forgotten)."""
        request = self._pending.pop(request_id, None)
        late = False
        if request is None:
            request = self._timed_out.pop(request_id, None)
            if request is None:
                return None
            late = True
        latency = now_ns - request.sent_ns
        self._latencies.append(latency)
        if len(self._latencies) > self._keep:
            del self._latencies[: len(self._latencies) - self._keep]
        return Answered(request, latency, late)

    def discard(self, request_id: str) -> InFlight | None:
        """Forget a request whose outcome came another way (e.g. the venue's order stream).

        No latency is recorded: the response, if it ever comes, is no longer awaited.
        """
        return self._pending.pop(request_id, None) or self._timed_out.pop(request_id, None)

    def expire(self, now_ns: int) -> list[tuple[InFlight, Unknown]]:
        """Declare every request older than the timeout UNKNOWN (oldest first)."""
        out: list[tuple[InFlight, Unknown]] = []
        for request_id, request in list(self._pending.items()):
            if now_ns - request.sent_ns >= self.timeout_ns:
                del self._pending[request_id]
                self._remember(request)
                out.append((request, Unknown(UnknownCause.TIMEOUT, None, "no response")))
        return out

    def disconnected(self) -> list[tuple[InFlight, Unknown]]:
        """Declare every request in flight UNKNOWN: the connection dropped under them."""
        out = [
            (r, Unknown(UnknownCause.DISCONNECT, None, "connection lost"))
            for r in self._pending.values()
        ]
        self._pending.clear()
        return out

    def _remember(self, request: InFlight) -> None:
        self._timed_out[request.request_id] = request
        while len(self._timed_out) > self._keep:
            del self._timed_out[next(iter(self._timed_out))]

    def latency_percentile(self, q: float) -> int | None:
        """Return the ``q`` quantile (0..1) of recent send→response latencies, in ns."""
        if not self._latencies:
            return None
        ordered = sorted(self._latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

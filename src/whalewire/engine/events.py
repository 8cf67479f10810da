"""The live event log: what the engine did, one record per event, written off the hot path.

Whales and their decisions, order state changes, fills, denials with their reason code,
reconnects, clock resyncs, halts and resumes. The engine's parts call ``emit`` only after
an order's bytes are out (execution's post-send bookkeeping, the pipeline's whale record):
``emit`` appends a tuple to a deque and returns. ``EventLog.run`` drains the deque every
``interval_s`` on the event loop: each event becomes one JSON line in the log file (logger
``whalewire.events``, formatted by ``engine.logs``), one readable console line when no
terminal dashboard runs, an entry of ``recent`` (for ``/status``, the dashboards) and a
call to each subscriber (the web dashboard's WebSocket, the webhook).

Venue connection changes are seen by diffing each venue's ``status()`` on the same timer:
the venue clients stay unaware of this log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("whalewire.events")

#: every kind of event, for the documentation and the tests
KINDS = (
    "whale",
    "order",
    "fill",
    "denial",
    "reconnect",
    "disconnect",
    "clock",
    "halt",
    "resume",
)

Subscriber = Callable[[Mapping[str, Any]], None]

#: (wall ns, kind, fields or None, then an order's command, status and two values or Nones)
Pending = tuple[int, str, dict[str, Any] | None, Any, Any, Any, Any]

#: names of an order event's two values, by kind
_VALUES = {"order": ("filled", "reason"), "fill": ("qty", "price"), "denial": ("reason", "detail")}


def _order_fields(kind: str, command: Any, status: Any, first: Any, second: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "client_order_id": command.client_order_id,
        "venue": command.venue,
        "symbol": command.symbol,
        "side": command.side.value,
        "quantity": str(command.quantity),
        "status": status.value,
    }
    one, two = _VALUES[kind]
    fields[one] = str(first)
    if second or kind != "order":
        fields[two] = str(second)
    return fields


class EventLog:
    """Collects events from the engine's parts; writes and publishes them on a timer."""

    def __init__(self, *, recent: int = 200, wall_ns: Callable[[], int] = time.time_ns) -> None:
        # bounded: an engine driven without `run` (a test, a bench) must not grow forever
        self._pending: deque[Pending] = deque(maxlen=65536)
        self._wall_ns = wall_ns
        #: the last events written, newest last (``/status``, the dashboards)
        self.recent: deque[dict[str, Any]] = deque(maxlen=recent)
        self.subscribers: list[Subscriber] = []
        self.counts: dict[str, int] = {}
        #: denials by reason code (risk's, routing's, a venue's that could not send)
        self.denials: dict[str, int] = {}
        self._venues: dict[str, tuple[bool, int, str]] = {}

    def order(self, kind: str, command: Any, status: Any, first: Any, second: Any) -> None:
        """Record an order's event (``order``, ``fill``, ``denial``) without formatting it.

        ``first``/``second``: ``order``: filled quantity and reason; ``fill``: quantity and
        price; ``denial``: reason code and detail. The strings are made in ``drain``.
        """
        self._pending.append((self._wall_ns(), kind, None, command, status, first, second))

    def emit(self, kind: str, fields: dict[str, Any], ts_ns: int = 0) -> None:
        """Record one event (cheap: a deque append; formatting happens in ``drain``).

        ``ts_ns``: when it happened (wall clock), if earlier than now: a whale's is when
        its transaction arrived, so it is written before the order it caused.
        """
        self._pending.append((ts_ns or self._wall_ns(), kind, fields, None, None, None, None))

    def drain(self) -> list[dict[str, Any]]:
        """Write every pending event: log line, ``recent``, subscribers; return them."""
        out: list[dict[str, Any]] = []
        pending = self._pending
        batch = []
        while pending:
            batch.append(pending.popleft())
        batch.sort(key=lambda item: item[0])  # stable: same-time events keep their order
        for ts_ns, kind, given, *order in batch:
            fields = given if given is not None else _order_fields(kind, *order)
            ts = datetime.fromtimestamp(ts_ns / 1e9, UTC).isoformat(timespec="microseconds")
            event = {"ts": ts, "event": kind, **fields}
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if kind == "denial":
                reason = str(fields.get("reason", ""))
                self.denials[reason] = self.denials.get(reason, 0) + 1
            line = describe(event)
            log.info(line, extra={"event": kind, "ts_event": ts, **fields})
            event["line"] = line
            self.recent.append(event)
            for subscriber in list(self.subscribers):
                try:
                    subscriber(event)
                except Exception:  # a subscriber's failure never stops the log
                    logging.getLogger("whalewire.engine").exception("event subscriber failed")
            out.append(event)
        return out

    def watch(self, venues: Mapping[str, Mapping[str, Any]]) -> None:
        """Emit reconnects, disconnects and clock changes seen since the last look."""
        for name, status in venues.items():
            now = (
                bool(status.get("connected")),
                int(status.get("reconnects", 0) or 0),
                str(status.get("clock", "")),
            )
            before = self._venues.get(name)
            self._venues[name] = now
            if before is None:
                continue
            if now[1] > before[1] or (now[0] and not before[0]):
                self.emit("reconnect", {"venue": name, "reconnects": now[1]})
            elif before[0] and not now[0]:
                self.emit("disconnect", {"venue": name})
            if now[2] != before[2]:
                self.emit("clock", {"venue": name, "state": now[2], "was": before[2]})

    async def run(
        self,
        venues: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
        interval_s: float = 0.1,
    ) -> None:
        """Drain (and watch ``venues``) every ``interval_s`` until cancelled; drain once more."""
        try:
            while True:
                if venues is not None:
                    self.watch(venues())
                self.drain()
                await asyncio.sleep(interval_s)
        finally:
            with contextlib.suppress(Exception):
                self.drain()


def describe(event: Mapping[str, Any]) -> str:
    """One readable line for an event (the console's, and the JSON line's ``msg``)."""
    kind = event.get("event")
    get = event.get
    if kind == "whale":
        return (
            f"whale {str(get('txid'))[:16]} {get('entity')} {get('kind')} "
            f"{get('value_btc', 0):.4f} BTC -> {get('decision')}"
        )
    if kind == "order":
        return (
            f"order {get('client_order_id')} {get('side')} {get('quantity')} {get('symbol')} "
            f"on {get('venue')}: {get('status')}"
        )
    if kind == "fill":
        return (
            f"fill {get('client_order_id')} {get('side')} {get('qty')} {get('symbol')} "
            f"@ {get('price')}"
        )
    if kind == "denial":
        return (
            f"denied {get('client_order_id')} {get('side')} {get('quantity')} {get('symbol')}: "
            f"{get('reason')} {get('detail', '')}".rstrip()
        )
    if kind in ("reconnect", "disconnect"):
        return f"venue {get('venue')} {kind}" + (
            f" (reconnects {get('reconnects')})" if kind == "reconnect" else ""
        )
    if kind == "clock":
        return f"venue {get('venue')} clock {get('was')} -> {get('state')}"
    if kind in ("halt", "resume"):
        return f"trading {'HALTED' if kind == 'halt' else 'ACTIVE'} by {get('source')}"
    return f"{kind} {dict(event)}"


class ConsoleEvents(logging.Handler):
    """Prints each event's readable line (for runs without the terminal dashboard)."""

    def __init__(self, write: Callable[[str], Any]) -> None:
        super().__init__(logging.INFO)
        self._write = write

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``HH:MM:SS.mmm line``."""
        when = getattr(record, "ts_event", "")  # the event's time, not the drain's
        stamp = (
            when[11:23]
            if when
            else datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        )
        self._write(f"{stamp} {record.getMessage()}")

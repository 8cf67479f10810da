"""The fleet's wire schema: versioned, tagged msgspec Structs, and the subjects they travel on.

Every message a role sends over NATS is one of ``WireMessage``, encoded as JSON with a
``type`` tag and a schema version ``v``. Receivers decode with ``Inbox``, which never
raises: a message that is not JSON, has the wrong shape, or carries a schema version this
whalewire does not speak is counted (per reason) and dropped, so a broken or hostile peer
cannot take a role down. Order events reuse ``whalewire.model``'s tagged Structs unchanged,
and alerts carry ``whalewire.mempool.whales.WhaleAlert``'s fields, so the executor hands the
engine the same facts a local feed would have. This module knows nothing of NATS clients,
engines or feeds.

Subjects (one namespace, ``ww`` by default, so two fleets can share a NATS account):

=========================  =====================================================
``ww.alerts.<entity>``     whale alerts (core NATS: the latency path)
``ww.seen``                optional first-seen stamp of every transaction a sensor sees
``ww.cmd``                 kill / resume broadcast (core NATS)
``ww.ack.<executor>``      an executor's acknowledgement of a kill / resume it applied
``ww.hb.<role>.<name>``    every role's heartbeat (sensor, executor)
``ww.control.hb``          the control plane's heartbeat executors halt without
``ww.orders.<executor>``   JetStream stream ``WW_ORDERS``: every executor's journal
=========================  =====================================================

The kill switch's desired state is the key ``kill`` in the JetStream KV bucket
``ww_control``; its value is an encoded ``Command``.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Any, Final, TypeVar

import msgspec

from whalewire.mempool.whales import AlertKind
from whalewire.model import AnyMessage

#: the schema version every message carries; a receiver drops other versions (counted)
SCHEMA_VERSION: Final = 1

#: the JetStream stream of every executor's order events
ORDERS_STREAM: Final = "WW_ORDERS"
#: the JetStream key-value bucket holding the kill switch's desired state
CONTROL_BUCKET: Final = "ww_control"
#: the key of the desired state in ``CONTROL_BUCKET``
KILL_KEY: Final = "kill"
#: the header carrying a journal record's sequence number in the stream
SEQ_HEADER: Final = "Ww-Journal-Seq"


class Subjects:
    """The subjects of one fleet namespace (``ww`` unless configured)."""

    def __init__(self, prefix: str = "ww") -> None:
        self.prefix = prefix
        self.alerts = f"{prefix}.alerts.*"
        self.seen = f"{prefix}.seen"
        self.commands = f"{prefix}.cmd"
        self.acks = f"{prefix}.ack.*"
        self.heartbeats = f"{prefix}.hb.>"
        self.control_heartbeat = f"{prefix}.control.hb"
        self.orders = f"{prefix}.orders.>"

    def alert(self, entity: str) -> str:
        """Return the subject of alerts about ``entity`` (a token: dots become ``_``)."""
        return f"{self.prefix}.alerts.{_token(entity)}"

    def ack(self, executor: str) -> str:
        """Return the subject ``executor``'s acknowledgements of commands go to."""
        return f"{self.prefix}.ack.{_token(executor)}"

    def heartbeat(self, role: str, name: str) -> str:
        """Return the subject ``name``'s heartbeats go to."""
        return f"{self.prefix}.hb.{_token(role)}.{_token(name)}"

    def order_events(self, executor: str) -> str:
        """Return the stream subject of ``executor``'s journal records."""
        return f"{self.prefix}.orders.{_token(executor)}"


def _token(name: str) -> str:
    # a NATS subject token may not hold '.', '*', '>' or whitespace
    return "".join("_" if c in ".*> \t\r\n" else c for c in name) or "_"


class Role(StrEnum):
    """What a process in the fleet does."""

    SENSOR = "sensor"  #: feeds + detection; publishes alerts
    EXECUTOR = "executor"  #: strategy, risk, journal and venues; trades on alerts
    CONTROL = "control"  #: the operator's control plane (heartbeat, kill, resume)


class Action(StrEnum):
    """What a command asks of every executor."""

    KILL = "kill"  #: halt trading and cancel every open order
    RESUME = "resume"  #: trade again


class Wire(msgspec.Struct, frozen=True, tag_field="type", kw_only=True):
    """Base of every fleet message: its schema version."""

    v: int = SCHEMA_VERSION


class Alert(Wire, frozen=True, tag="alert", kw_only=True):
    """A whale alert as a sensor saw it (``WhaleAlert``'s facts, wall-clock stamps)."""

    #: the sensor that published it
    sensor: str
    txid: str
    kind: AlertKind
    entity: str
    #: satoshis paid to (DEPOSIT) or leaving (WITHDRAWAL) the entity
    value: int
    #: the sensor's feed that delivered the transaction
    feed: str
    #: ``time.time_ns()`` when the sensor's feed received the transaction (first seen)
    seen_wall_ns: int
    #: ``time.time_ns()`` when the sensor published the alert
    sent_wall_ns: int
    #: the transaction was already mined when seen (nothing is traded on it)
    mined: bool = False


class Seen(Wire, frozen=True, tag="seen", kw_only=True):
    """A transaction's first-seen stamp at one sensor (optional, every transaction)."""

    sensor: str
    txid: str
    feed: str
    seen_wall_ns: int


class Command(Wire, frozen=True, tag="command", kw_only=True):
    """Kill or resume, for every executor: broadcast, and the desired state in the KV."""

    action: Action
    #: who asked (operator, host), for the halt's reason and the audit
    source: str
    #: ``time.time_ns()`` when issued: the kill switch's propagation is measured from it
    issued_wall_ns: int


class Ack(Wire, frozen=True, tag="ack", kw_only=True):
    """An executor's answer to a ``Command``: applied, and the state it is in now.

    Sent once per command, whichever way it arrived (broadcast, the KV's desired state, the
    control heartbeat); for a kill, after the engine canceled its open orders.
    """

    executor: str
    action: Action
    #: the command's ``source`` and ``issued_wall_ns``: which command this answers
    source: str
    issued_wall_ns: int
    #: why the executor does not trade now ("" when it trades)
    halted: str
    #: client order ids still open after a kill's cancels (empty when all are gone)
    open_orders: list[str] = msgspec.field(default_factory=list)
    #: per ``venue:symbol``, a cancel that failed and why
    cancel_failures: dict[str, str] = msgspec.field(default_factory=dict)
    #: ``time.time_ns()`` when the executor sent this
    wall_ns: int = 0


class Heartbeat(Wire, frozen=True, tag="heartbeat", kw_only=True):
    """A role's sign of life, with what the operator's view shows of it."""

    role: Role
    name: str
    #: counts up from 1 at each start of the role: a gap means lost heartbeats
    seq: int
    wall_ns: int
    #: "ok", "halted", "degraded" (role-specific: an executor that halted says so)
    state: str = "ok"
    #: a few role-specific figures (alerts published, orders placed, streamed records...)
    stats: dict[str, Any] = msgspec.field(default_factory=dict)


class OrderRecord(Wire, frozen=True, tag="order_record", kw_only=True):
    """One journal record of one executor, as it goes into the ``WW_ORDERS`` stream."""

    executor: str
    #: the record's journal sequence number (unique per executor, never reused)
    seq: int
    #: the journal's message itself (``whalewire.model``'s tagged commands and events)
    message: AnyMessage


WireMessage = Alert | Seen | Command | Ack | Heartbeat | OrderRecord

_encoder = msgspec.json.Encoder(decimal_format="string")


def encode(message: Wire) -> bytes:
    """Serialise a fleet message (JSON, tagged, versioned)."""
    return _encoder.encode(message)


W = TypeVar("W", bound=Wire)


class _Versioned(msgspec.Struct):
    v: int = 0


class Inbox:
    """Decode what arrives over NATS; count and drop what cannot be used, never raise.

    Attributes:
        dropped: per reason (``malformed``, ``version``, ``unexpected``), how many
            messages were dropped.
        received: how many were decoded and returned.
    """

    def __init__(self) -> None:
        self._decoder: msgspec.json.Decoder[WireMessage] = msgspec.json.Decoder(WireMessage)
        self._version = msgspec.json.Decoder(_Versioned)
        self.dropped: Counter[str] = Counter()
        self.received = 0

    def decode(self, data: bytes) -> WireMessage | None:
        """Return the message in ``data``, or None (counted in ``dropped``) if unusable."""
        try:
            message = self._decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self.dropped[self._why(data)] += 1
            return None
        if message.v != SCHEMA_VERSION:
            self.dropped["version"] += 1
            return None
        self.received += 1
        return message

    def expect(self, data: bytes, kind: type[W]) -> W | None:
        """Decode ``data`` as one kind of message; any other kind is dropped as unexpected."""
        message = self.decode(data)
        if message is None:
            return None
        if not isinstance(message, kind):
            self.received -= 1
            self.dropped["unexpected"] += 1
            return None
        return message

    def _why(self, data: bytes) -> str:
        # a message from another schema version may fail to decode as this one's: say so
        try:
            v = self._version.decode(data).v
        except (msgspec.DecodeError, msgspec.ValidationError):
            return "malformed"
        return "version" if v not in (0, SCHEMA_VERSION) else "malformed"

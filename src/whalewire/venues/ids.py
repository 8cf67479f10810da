"""Client order ids: deterministic, unique, and inside each venue's length and alphabet.

An id is a pure function of ``(namespace, seq)``: ``namespace`` names one engine
deployment (so two deployments never collide), ``seq`` is the journal's sequence number of
the intent. Replaying the journal after a crash therefore yields the same ids, which is what
reconciliation by client order id needs. Every id parses back to its ``seq``.

Knows nothing of orders or venues' transports; only the id formats:
- Binance ``newClientOrderId``: ``^[\\.A-Z\\:/a-z0-9_-]{1,36}$`` (``web-socket-api.md``
  and ``rest-api.md`` parameter tables).
- Kraken ``cl_ord_id``: a long UUID, a short UUID (32 hex) or free text of at most 18
  characters (Kraken "Spot Client Order Identifiers" guide); we use the long UUID.
- Coinbase Exchange ``client_oid``: a UUID.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field

__all__ = [
    "BINANCE_ID_PATTERN",
    "BINANCE_ID_WIDTH",
    "MAX_SEQ",
    "ClientOrderIds",
    "binance_client_order_id",
    "binance_seq",
    "kraken_client_order_id",
    "parse_uuid_seq",
    "uuid_client_order_id",
]

#: Binance's documented pattern for ``newClientOrderId``.
BINANCE_ID_PATTERN = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_NAMESPACE_PATTERN = re.compile(r"^[a-z0-9]{1,8}$")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_DIGIT_SET = frozenset(_DIGITS)
_SEQ_WIDTH = 12  # base36 digits: 36**12 > 2**62
#: Largest sequence number an id can carry (62 bits: the UUID layout's limit).
MAX_SEQ = (1 << 62) - 1
#: Every Binance id of one namespace has the same length, so templates use a fixed slot.
BINANCE_ID_WIDTH = {n: 3 + n + 1 + _SEQ_WIDTH for n in range(1, 9)}


def _check(namespace: str, seq: int) -> None:
    if not _NAMESPACE_PATTERN.match(namespace):
        raise ValueError(f"namespace must be 1-8 of [a-z0-9], got {namespace!r}")
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"seq must be in [0, 2**62), got {seq}")


def _base36(value: int) -> str:
    digits = []
    for _ in range(_SEQ_WIDTH):
        value, digit = divmod(value, 36)
        digits.append(_DIGITS[digit])
    return "".join(reversed(digits))


def binance_client_order_id(namespace: str, seq: int) -> str:
    """Return ``ww-<namespace>-<seq as 12 base36 digits>``: fixed width, at most 24 chars."""
    _check(namespace, seq)
    return f"ww-{namespace}-{_base36(seq)}"


def binance_seq(client_order_id: str, namespace: str) -> int | None:
    """Return the ``seq`` an id of ``namespace`` carries, or None if it is not one of ours."""
    prefix = f"ww-{namespace}-"
    tail = client_order_id[len(prefix) :]
    if not client_order_id.startswith(prefix) or len(tail) != _SEQ_WIDTH:
        return None
    # int(..., 36) alone would also take "+", "_" and upper case, which we never emit
    if not set(tail) <= _DIGIT_SET:
        return None
    seq = int(tail, 36)
    return seq if seq <= MAX_SEQ else None


def uuid_client_order_id(namespace: str, seq: int) -> str:
    """Return a version-4-shaped UUID: 62 bits of namespace digest, then 62 bits of ``seq``.

    Shaped as v4 (version and variant bits set) so that validators expecting random UUIDs
    accept it; it is deterministic, not random.
    """
    _check(namespace, seq)
    digest = hashlib.sha256(namespace.encode()).digest()[:8]
    return str(uuid.UUID(bytes=digest + seq.to_bytes(8, "big"), version=4))


def parse_uuid_seq(client_order_id: str, namespace: str) -> int | None:
    """Return the ``seq`` of a ``uuid_client_order_id`` of ``namespace``, else None."""
    try:
        value = uuid.UUID(client_order_id)
    except ValueError:
        return None
    seq = int.from_bytes(value.bytes[8:], "big") & MAX_SEQ
    return seq if uuid_client_order_id(namespace, seq) == str(value) else None


def kraken_client_order_id(namespace: str, seq: int) -> str:
    """Return the Kraken ``cl_ord_id`` for ``(namespace, seq)`` (the long UUID form)."""
    return uuid_client_order_id(namespace, seq)


@dataclass
class ClientOrderIds:
    """Hand out ids for one namespace from a sequence the caller persists (the journal).

    Args:
        namespace: 1-8 of ``[a-z0-9]``, fixed for a deployment.
        next_seq: the first sequence number not yet used (restore it from the journal).
    """

    namespace: str
    next_seq: int = 0
    _binance_width: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _check(self.namespace, self.next_seq)
        self._binance_width = BINANCE_ID_WIDTH[len(self.namespace)]

    @property
    def binance_width(self) -> int:
        """Length of every Binance id of this namespace (the template slot width)."""
        return self._binance_width

    def take(self) -> int:
        """Reserve and return the next sequence number; ids are never reused."""
        seq = self.next_seq
        self.next_seq = seq + 1
        return seq

    def binance(self, seq: int) -> str:
        """Return the Binance id for ``seq``."""
        return binance_client_order_id(self.namespace, seq)

    def kraken(self, seq: int) -> str:
        """Return the Kraken id for ``seq``."""
        return kraken_client_order_id(self.namespace, seq)

    def coinbase(self, seq: int) -> str:
        """Return the Coinbase ``client_oid`` for ``seq``."""
        return uuid_client_order_id(self.namespace, seq)

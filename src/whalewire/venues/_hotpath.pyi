"""Types of the optional C hot path: one order shape (Binance, Kraken) framed in one call."""

from collections.abc import Callable

from whalewire.net._tls import Session as _Session

class BinanceFramer:
    """Check, fill, sign (HMAC-SHA256, keyed once), frame and mask one order shape.

    ``pay`` and ``js`` are ``BinanceOrderTemplate``'s constant segments (5 around the signed
    payload's slots, 7 around the JSON's); ``secret`` is None for a session-authenticated
    (unsigned) shape; ``refuse(cid, quantity, price)`` must raise for slots that fail the
    checks.
    """

    def __init__(
        self,
        *,
        pay: tuple[bytes, bytes, bytes, bytes, bytes],
        js: tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes],
        secret: bytes | None,
        cid_width: int,
        has_price: bool,
        refuse: Callable[[bytes, bytes, bytes], None],
    ) -> None: ...
    def frame(
        self, timestamp_ms: int, client_order_id: bytes, quantity: bytes, price: bytes = ..., /
    ) -> bytes:
        """Return the signed request as one masked text frame (RFC 6455 §5.2, §5.3)."""
    def send(
        self,
        target: int | _Session,
        timestamp_ms: int,
        client_order_id: bytes,
        quantity: bytes,
        price: bytes = ...,
        /,
    ) -> bytes | None:
        """Build ``frame``'s frame on the stack and write it to ``target`` in the same call.

        ``target``: a ``net._tls.Session`` (``SSL_write``: encrypt + one ``write(2)``, the rest
        to its ``overflow``) or a socket fd (one ``write(2)``). Returns None, or the part
        ``write(2)`` did not take (the caller's transport sends it).
        """

class KrakenFramer:
    """Check, fill, frame and mask one Kraken ``add_order`` shape (no signature).

    ``segments`` are ``KrakenOrderTemplate``'s 5 constant segments around ``cl_ord_id``,
    quantity, price and ``req_id``; ``refuse(cl_ord_id, quantity, price)`` must raise for
    slots that fail the checks.
    """

    def __init__(
        self,
        *,
        segments: tuple[bytes, bytes, bytes, bytes, bytes],
        cid_width: int,
        has_price: bool,
        refuse: Callable[[bytes, bytes, bytes], None],
    ) -> None: ...
    def frame(self, req_id: int, cl_ord_id: bytes, quantity: bytes, price: bytes = ..., /) -> bytes:
        """Return the request as one masked text frame (RFC 6455 §5.2, §5.3)."""

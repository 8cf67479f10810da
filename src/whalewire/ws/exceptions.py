"""The WebSocket error tree; each error knows the close code it ends the connection with.

Who is at fault decides the class: the peer broke the protocol (``ProtocolError`` and its
kin, answered with a close frame), or we misused the API (``InvalidState``, never sent
anywhere). Errors hold their facts as fields; the message is built in ``__str__``.

    WebSocketError
    ├── ProtocolError(code, reason)          the peer broke RFC 6455/7692: close with ``code``
    │   ├── InvalidUTF8(reason)              text or close reason not UTF-8: 1007
    │   └── PayloadTooBig(size, limit)       frame or message over our limit: 1009
    ├── InvalidHandshake                     the opening handshake failed: no WebSocket
    │   ├── InvalidHeader(name, value)       a header missing or malformed
    │   ├── InvalidStatus(status, body)      the server answered something other than 101
    │   └── NegotiationError(reason)         extension or subprotocol negotiation failed
    ├── ConnectionClosed(code, reason, rcvd) used after the close handshake (or abort)
    └── InvalidState(message)                local misuse: sending on a closed connection
"""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    """Close status codes, RFC 6455 §7.4.1 and the IANA registry."""

    NORMAL = 1000  #: purpose fulfilled
    GOING_AWAY = 1001  #: endpoint going away (server shutdown, page navigated)
    PROTOCOL_ERROR = 1002  #: peer broke the protocol
    UNSUPPORTED_DATA = 1003  #: data type we cannot accept
    NO_STATUS = 1005  #: reserved: close frame had no code (never sent)
    ABNORMAL = 1006  #: reserved: closed without a close frame (never sent)
    INVALID_DATA = 1007  #: message data inconsistent with its type (bad UTF-8)
    POLICY_VIOLATION = 1008  #: generic policy violation
    MESSAGE_TOO_BIG = 1009  #: message too big to process
    MANDATORY_EXTENSION = 1010  #: client needed an extension the server did not accept
    INTERNAL_ERROR = 1011  #: unexpected condition on the server
    TLS_HANDSHAKE = 1015  #: reserved: TLS handshake failed (never sent)


class WebSocketError(Exception):
    """Base of every error raised by ``whalewire.ws`` and ``whalewire.net``."""


class ProtocolError(WebSocketError):
    """The peer violated the protocol; the connection closes with ``code``."""

    def __init__(self, reason: str, code: int = CloseCode.PROTOCOL_ERROR) -> None:
        super().__init__(reason, code)
        self.reason = reason
        self.code = int(code)

    def __str__(self) -> str:
        return f"{self.reason} (close code {self.code})"


class InvalidUTF8(ProtocolError):
    """A text message or close reason is not valid UTF-8 (RFC 6455 §8.1): close 1007."""

    def __init__(self, reason: str = "invalid UTF-8") -> None:
        super().__init__(reason, CloseCode.INVALID_DATA)


class PayloadTooBig(ProtocolError):
    """A frame or message exceeds the configured limit: close 1009."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"payload of {size} bytes exceeds the limit of {limit}", 1009)
        self.size = size
        self.limit = limit


class InvalidHandshake(WebSocketError):
    """The opening handshake failed; no WebSocket connection exists."""


class InvalidHeader(InvalidHandshake):
    """A handshake header is missing or has a value we cannot accept."""

    def __init__(self, name: str, value: str | None = None, why: str = "") -> None:
        super().__init__(name, value, why)
        self.name = name
        self.value = value
        self.why = why

    def __str__(self) -> str:
        # a peer's value may be huge: the message shows its start
        shown = self.value if self.value is None or len(self.value) <= 80 else self.value[:80]
        what = "missing" if shown is None else f"invalid value {shown!r}"
        if shown is not None and shown != self.value:
            what += f" (first 80 of {len(self.value or '')} characters)"
        return f"{self.name} header {what}" + (f": {self.why}" if self.why else "")


class InvalidStatus(InvalidHandshake):
    """The server answered the upgrade with a status other than 101."""

    def __init__(self, status: int, reason: str = "", body: bytes = b"") -> None:
        super().__init__(status, reason, body)
        self.status = status
        self.reason = reason
        self.body = body

    def __str__(self) -> str:
        text = self.body[:200].decode("utf-8", "replace")
        return f"server rejected the upgrade: HTTP {self.status} {self.reason}" + (
            f": {text}" if text else ""
        )


class NegotiationError(InvalidHandshake):
    """Extension or subprotocol negotiation failed."""


class ConnectionClosed(WebSocketError):
    """The connection is closed; ``code``/``reason`` are the close frame's, if one arrived."""

    def __init__(self, code: int = CloseCode.ABNORMAL, reason: str = "", received: bool = False):
        super().__init__(code, reason, received)
        self.code = int(code)
        self.reason = reason
        self.received = received

    def __str__(self) -> str:
        side = "received" if self.received else "sent"
        return f"connection closed: code {self.code} ({side})" + (
            f" {self.reason!r}" if self.reason else ""
        )


class InvalidState(WebSocketError):
    """Local misuse of the API, such as sending after close; never sent to the peer."""


def close_code_for(exc: BaseException) -> int:
    """Return the close code to answer ``exc`` with (the one place this mapping lives).

    Protocol errors carry their own code; anything unexpected is 1011 without details, so
    internals never leak to the peer.
    """
    if isinstance(exc, ProtocolError):
        return exc.code
    if isinstance(exc, UnicodeDecodeError):
        return CloseCode.INVALID_DATA
    return CloseCode.INTERNAL_ERROR

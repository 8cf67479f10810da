"""The WebSocket opening handshake (RFC 6455 §4), both roles, sans-IO.

``ClientHandshake`` builds the upgrade request and checks the server's answer;
``ServerHandshake`` checks an upgrade request and builds the 101 or an HTTP error response.
Both parse HTTP/1.1 heads by hand, incrementally and within limits, and hand the bytes that
follow the head (``trailing_data``) to the frame machine in ``ws.protocol``. This module
knows nothing of frames or sockets; permessage-deflate's rules live in ``ws.deflate``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus

from whalewire.ws.deflate import (
    EXTENSION_NAME,
    DeflateParams,
    ServerDeflateConfig,
    accept_response,
    client_offer,
    select_offer,
)
from whalewire.ws.exceptions import (
    InvalidHandshake,
    InvalidHeader,
    InvalidStatus,
    NegotiationError,
)
from whalewire.ws.numbers import parse_decimal

__all__ = [
    "GUID",
    "Accepted",
    "ClientHandshake",
    "Established",
    "Headers",
    "HeadersTooLarge",
    "Rejected",
    "Request",
    "Response",
    "ServerHandshake",
    "accept_key",
    "generate_key",
    "parse_extensions",
    "parse_tokens",
]

#: RFC 6455 §1.3: appended to the key before hashing
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: defaults for the limits on an HTTP head
MAX_HEAD_BYTES = 16 * 1024
MAX_HEADERS = 128
#: the most bytes of an error response's body the client keeps
MAX_ERROR_BODY = 64 * 1024

# RFC 7230 §3.2.6: tchar
_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TCHAR_STR = frozenset(chr(c) for c in _TCHAR)


def accept_key(key: str) -> str:
    """Return the Sec-WebSocket-Accept value for ``key`` (RFC 6455 §4.2.2, step 5.4)."""
    digest = hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def generate_key() -> str:
    """Return a fresh Sec-WebSocket-Key: 16 random bytes, base64 (RFC 6455 §4.1)."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


class HeadersTooLarge(InvalidHandshake):
    """The HTTP head exceeds the byte or header-count limit (a server answers 431)."""


class Headers:
    """HTTP header fields in arrival order, looked up case-insensitively."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = list(items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k, _ in self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"

    def get_all(self, name: str) -> list[str]:
        """Return every value of ``name``, in order."""
        low = name.lower()
        return [v for k, v in self._items if k.lower() == low]

    def get(self, name: str, default: str | None = None) -> str | None:
        """Return the single value of ``name``, or ``default`` when absent.

        Raises:
            InvalidHeader: the header appears more than once.
        """
        values = self.get_all(name)
        if len(values) > 1:
            raise InvalidHeader(name, ", ".join(values), "appears more than once")
        return values[0] if values else default


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP upgrade request as the server parsed it."""

    method: str
    target: str
    headers: Headers


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP response as the client parsed it (``body`` only for non-101 answers)."""

    status: int
    reason: str
    headers: Headers
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Established:
    """The client's handshake succeeded; frames start with ``trailing_data``."""

    response: Response
    subprotocol: str | None
    deflate: DeflateParams | None
    trailing_data: bytes


@dataclass(frozen=True, slots=True)
class Accepted:
    """The server accepts: send ``response``, then run frames from ``trailing_data``."""

    request: Request
    response: bytes
    subprotocol: str | None
    deflate: DeflateParams | None
    trailing_data: bytes


@dataclass(frozen=True, slots=True)
class Rejected:
    """The server refuses: send ``response`` and close the connection."""

    status: int
    response: bytes
    error: InvalidHandshake
    request: Request | None = None


def parse_tokens(values: Iterable[str]) -> list[str]:
    """Split comma-separated header values into tokens (RFC 7230 §7 ``#token``)."""
    return [t.strip() for value in values for t in value.split(",") if t.strip()]


def _skip_ows(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _read_token(text: str, i: int, header: str) -> tuple[str, int]:
    start = i
    while i < len(text) and text[i] in _TCHAR_STR:
        i += 1
    if i == start:
        raise InvalidHeader(header, text, f"expected a token at offset {start}")
    return text[start:i], i


def _read_quoted(text: str, i: int, header: str) -> tuple[str, int]:
    # RFC 7230 §3.2.6 quoted-string with quoted-pair; RFC 6455 §9.1 wants a token inside.
    out: list[str] = []
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\" and i + 1 < len(text):
            i += 1
            ch = text[i]
        out.append(ch)
        i += 1
    raise InvalidHeader(header, text, "unterminated quoted string")


def parse_extensions(values: Iterable[str]) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Parse Sec-WebSocket-Extensions values (RFC 6455 §9.1) into (name, params) pairs.

    A quoted parameter value is unquoted; its content must be a token.

    Raises:
        InvalidHeader: the value does not follow the grammar.
    """
    header = "Sec-WebSocket-Extensions"
    result: list[tuple[str, list[tuple[str, str | None]]]] = []
    for text in values:
        i = _skip_ows(text, 0)
        while i < len(text):
            if text[i] == ",":
                i = _skip_ows(text, i + 1)
                continue
            name, i = _read_token(text, i, header)
            params: list[tuple[str, str | None]] = []
            i = _skip_ows(text, i)
            while i < len(text) and text[i] == ";":
                i = _skip_ows(text, i + 1)
                pname, i = _read_token(text, i, header)
                i = _skip_ows(text, i)
                pvalue: str | None = None
                if i < len(text) and text[i] == "=":
                    i = _skip_ows(text, i + 1)
                    if i < len(text) and text[i] == '"':
                        pvalue, i = _read_quoted(text, i, header)
                        if not pvalue or not set(pvalue) <= _TCHAR_STR:
                            raise InvalidHeader(header, text, "quoted value is not a token")
                    else:
                        pvalue, i = _read_token(text, i, header)
                    i = _skip_ows(text, i)
                params.append((pname, pvalue))
            result.append((name, params))
            if i < len(text) and text[i] != ",":
                raise InvalidHeader(header, text, f"unexpected {text[i]!r} at offset {i}")
    return result


class _HeadReader:
    """Collect an HTTP/1.1 head (start line + fields + CRLF) within limits, then parse it."""

    __slots__ = ("_buf", "_max_bytes", "_max_headers", "_scanned")

    def __init__(self, max_bytes: int, max_headers: int) -> None:
        self._buf = bytearray()
        self._max_bytes = max_bytes
        self._max_headers = max_headers
        self._scanned = 0

    def feed(self, data: bytes | bytearray | memoryview) -> tuple[str, Headers, bytes] | None:
        self._buf += data
        end = self._buf.find(b"\r\n\r\n", max(0, self._scanned - 3))
        if end < 0:
            self._scanned = len(self._buf)
            if len(self._buf) > self._max_bytes:
                raise HeadersTooLarge(f"HTTP head longer than {self._max_bytes} bytes")
            return None
        if end + 4 > self._max_bytes:
            raise HeadersTooLarge(f"HTTP head longer than {self._max_bytes} bytes")
        head = bytes(self._buf[:end])
        trailing = bytes(self._buf[end + 4 :])
        self._buf.clear()
        lines = head.split(b"\r\n")
        if len(lines) - 1 > self._max_headers:
            raise HeadersTooLarge(f"more than {self._max_headers} header fields")
        try:
            start = lines[0].decode("ascii")
        except UnicodeDecodeError:
            raise InvalidHandshake("non-ASCII bytes in the HTTP start line") from None
        items: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            # RFC 7230 §3.2.4: no whitespace before the colon, no obs-fold.
            if not sep or not name or not set(name) <= _TCHAR:
                raise InvalidHandshake(f"malformed header line {line[:80]!r}")
            value = value.strip(b" \t")
            if any((c < 0x20 and c != 0x09) or c == 0x7F for c in value):
                raise InvalidHandshake(f"control character in header {name.decode()!r}")
            items.append((name.decode("ascii"), value.decode("latin-1")))
        return start, Headers(items), trailing


def _content_length(headers: Headers) -> int | None:
    """Return the Content-Length of a response, None when it has none.

    RFC 9110 §8.6: ``Content-Length = 1*DIGIT``; a list of identical values (repeated
    fields, or one field with commas) counts as one.

    Raises:
        InvalidHeader: anything else (non-ASCII digits, signs, a number too long to be a
            length, values that differ).
    """
    values = headers.get_all("Content-Length")
    if not values:
        return None
    items = {item.strip(" \t") for value in values for item in value.split(",")}
    length = parse_decimal(items.pop()) if len(items) == 1 else None
    if length is None:
        raise InvalidHeader("Content-Length", ", ".join(values), "not one decimal length")
    return length


def _head(start_line: str, headers: Iterable[tuple[str, str]]) -> bytes:
    lines = [start_line, *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _has_token(headers: Headers, name: str, token: str) -> bool:
    return token in (t.lower() for t in parse_tokens(headers.get_all(name)))


def _check_extra_headers(extra: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    for name, value in extra:
        if not name or not set(name) <= _TCHAR_STR or any(c in value for c in "\r\n\0"):
            raise ValueError(f"invalid extra header {name!r}: {value!r}")
    return list(extra)


class ClientHandshake:
    """Build a client's upgrade request and validate the server's answer (RFC 6455 §4.1).

    Feed the response with ``receive_data``; it returns ``Established`` once the head is
    complete and valid, None while more bytes are needed, and raises otherwise.
    """

    def __init__(
        self,
        host: str,
        path: str = "/",
        *,
        origin: str | None = None,
        subprotocols: Sequence[str] = (),
        deflate: DeflateParams | bool = False,
        extra_headers: Sequence[tuple[str, str]] = (),
        max_head_bytes: int = MAX_HEAD_BYTES,
        max_headers: int = MAX_HEADERS,
        key: str | None = None,
    ) -> None:
        """Prepare a handshake.

        Args:
            host: the Host header value (``host`` or ``host:port``).
            path: the request target (path and query).
            origin: an Origin header, when the server wants one.
            subprotocols: offered subprotocols in our order of preference.
            deflate: offer permessage-deflate: True for the default offer, or the
                parameters to ask for.
            extra_headers: more request header fields, sent as given.
            max_head_bytes / max_headers: limits on the response head.
            key: the Sec-WebSocket-Key to use (tests); a fresh random key by default.
        """
        self.key = key if key is not None else generate_key()
        self.host = host
        self.path = path
        self.origin = origin
        self.subprotocols = list(subprotocols)
        self._deflate: DeflateParams | None = (
            DeflateParams() if deflate is True else (deflate or None)
        )
        self.extra_headers = _check_extra_headers(extra_headers)
        self._reader = _HeadReader(max_head_bytes, max_headers)
        self._error_head: tuple[int, str, Headers] | None = None
        self._error_body = bytearray()
        self._error_length: int | None = None

    def request(self) -> bytes:
        """Return the upgrade request's bytes."""
        fields = [
            ("Host", self.host),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", self.key),
            ("Sec-WebSocket-Version", "13"),
        ]
        if self.origin is not None:
            fields.append(("Origin", self.origin))
        if self.subprotocols:
            fields.append(("Sec-WebSocket-Protocol", ", ".join(self.subprotocols)))
        if self._deflate is not None:
            fields.append(("Sec-WebSocket-Extensions", client_offer(self._deflate)))
        fields.extend(self.extra_headers)
        return _head(f"GET {self.path} HTTP/1.1", fields)

    def receive_data(self, data: bytes | bytearray | memoryview) -> Established | None:
        """Feed response bytes; return the outcome once the head is complete.

        Raises:
            InvalidStatus: the server answered other than 101 (body included once read).
            InvalidHeader: Upgrade, Connection or Sec-WebSocket-Accept is wrong.
            NegotiationError: the subprotocol or extension answer is not acceptable.
            HeadersTooLarge / InvalidHandshake: the response is not valid HTTP.
        """
        if self._error_head is not None:
            self._error_body += data
            self._check_error_body()
            return None
        parsed = self._reader.feed(data)
        if parsed is None:
            return None
        start, headers, trailing = parsed
        version, _, rest = start.partition(" ")
        status_text, _, reason = rest.partition(" ")
        # RFC 9112 §4: status-code = 3DIGIT
        status = parse_decimal(status_text, 3) if len(status_text) == 3 else None
        if version not in ("HTTP/1.1", "HTTP/1.0") or status is None:
            raise InvalidHandshake(f"malformed status line {start[:80]!r}")
        if status != 101:
            try:
                length = _content_length(headers)
            except InvalidHeader as exc:
                # RFC 9112 §6.3: the body's framing is unknown; close and discard it
                raise InvalidStatus(status, reason) from exc
            self._error_head = (status, reason, headers)
            self._error_body += trailing
            if length is not None:
                self._error_length = min(length, MAX_ERROR_BODY)
            self._check_error_body()
            return None
        return self._established(Response(status, reason, headers), trailing)

    def receive_eof(self) -> None:
        """Tell the handshake the server closed the connection; always raises.

        Raises:
            InvalidStatus: a non-101 answer was read, with the body received so far.
            InvalidHandshake: the connection closed before a complete response.
        """
        if self._error_head is not None:
            status, reason, _ = self._error_head
            raise InvalidStatus(status, reason, bytes(self._error_body[:MAX_ERROR_BODY]))
        raise InvalidHandshake("connection closed before the handshake response")

    def _check_error_body(self) -> None:
        assert self._error_head is not None
        status, reason, _ = self._error_head
        want = self._error_length
        if want is None and len(self._error_body) < MAX_ERROR_BODY:
            return  # the body ends with the connection: wait for receive_eof()
        if want is not None and len(self._error_body) < want:
            return
        limit = MAX_ERROR_BODY if want is None else want
        raise InvalidStatus(status, reason, bytes(self._error_body[:limit]))

    def _established(self, response: Response, trailing: bytes) -> Established:
        headers = response.headers
        if not _has_token(headers, "Upgrade", "websocket"):
            raise InvalidHeader("Upgrade", headers.get("Upgrade"), "expected websocket")
        if not _has_token(headers, "Connection", "upgrade"):
            raise InvalidHeader("Connection", headers.get("Connection"), "expected Upgrade")
        got = headers.get("Sec-WebSocket-Accept")
        if got != accept_key(self.key):
            raise InvalidHeader("Sec-WebSocket-Accept", got, "does not match our key")
        subprotocol = None
        chosen = parse_tokens(headers.get_all("Sec-WebSocket-Protocol"))
        if chosen:
            if len(chosen) > 1 or chosen[0] not in self.subprotocols:
                raise NegotiationError(f"server chose a subprotocol we did not offer: {chosen}")
            subprotocol = chosen[0]
        deflate = None
        extensions = parse_extensions(headers.get_all("Sec-WebSocket-Extensions"))
        for name, params in extensions:
            # RFC 6455 §9.1: the server may only answer with extensions we offered, once.
            if name.lower() != EXTENSION_NAME or self._deflate is None or deflate is not None:
                raise NegotiationError(
                    f"server answered with an extension we did not offer: {name}"
                )
            deflate = accept_response(params, self._deflate)
        return Established(response, subprotocol, deflate, trailing)


#: a hook that may answer a request itself: (status, extra headers, body), or None to go on
ProcessRequest = Callable[[Request], tuple[int, Sequence[tuple[str, str]], bytes] | None]


@dataclass(slots=True)
class ServerHandshake:
    """Validate an upgrade request and build the server's answer (RFC 6455 §4.2).

    Feed request bytes with ``receive_data``: None while the head is incomplete, then
    ``Accepted`` or ``Rejected`` (each carrying the response bytes to send).
    """

    #: subprotocols we speak, in our order of preference
    subprotocols: Sequence[str] = ()
    #: accept permessage-deflate offers (True: with default preferences)
    deflate: ServerDeflateConfig | bool = True
    #: more response header fields for the 101 answer
    extra_headers: Sequence[tuple[str, str]] = ()
    #: may answer a request with an HTTP response instead of upgrading
    process_request: ProcessRequest | None = None
    max_head_bytes: int = MAX_HEAD_BYTES
    max_headers: int = MAX_HEADERS
    _reader: _HeadReader = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._reader = _HeadReader(self.max_head_bytes, self.max_headers)
        self.extra_headers = _check_extra_headers(self.extra_headers)

    def receive_data(self, data: bytes | bytearray | memoryview) -> Accepted | Rejected | None:
        """Feed request bytes; return the decision once the head is complete."""
        try:
            parsed = self._reader.feed(data)
        except HeadersTooLarge as exc:
            return self._reject(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, exc)
        except InvalidHandshake as exc:
            return self._reject(HTTPStatus.BAD_REQUEST, exc)
        if parsed is None:
            return None
        start, headers, trailing = parsed
        parts = start.split(" ")
        if len(parts) != 3 or not parts[1]:
            return self._reject(400, InvalidHandshake(f"malformed request line {start[:80]!r}"))
        method, target, version = parts
        request = Request(method, target, headers)
        if version != "HTTP/1.1":
            return self._reject(400, InvalidHandshake(f"unsupported version {version!r}"), request)
        if method != "GET":
            # RFC 6455 §4.1: the method MUST be GET.
            return self._reject(
                HTTPStatus.METHOD_NOT_ALLOWED,
                InvalidHandshake(f"method {method} is not GET"),
                request,
                [("Allow", "GET")],
            )
        try:
            return self._accept(request, trailing)
        except _Refusal as refusal:
            return self._reject(refusal.status, refusal.error, request, refusal.headers)
        except InvalidHandshake as exc:
            return self._reject(400, exc, request)

    def _accept(self, request: Request, trailing: bytes) -> Accepted | Rejected:
        headers = request.headers
        if self.process_request is not None:
            custom = self.process_request(request)
            if custom is not None:
                status, extra, body = custom
                return Rejected(
                    status,
                    _error_response(status, body, extra),
                    InvalidStatus(status, HTTPStatus(status).phrase, body),
                    request,
                )
        if not headers.get("Host"):
            raise InvalidHeader("Host", headers.get("Host"))
        if not _has_token(headers, "Upgrade", "websocket"):
            # RFC 7230 §6.7 / RFC 6455 §4.2.2: tell the client which upgrade we speak.
            raise _Refusal(
                HTTPStatus.UPGRADE_REQUIRED,
                InvalidHeader("Upgrade", headers.get("Upgrade"), "expected websocket"),
                [("Upgrade", "websocket"), ("Connection", "Upgrade")],
            )
        if not _has_token(headers, "Connection", "upgrade"):
            raise InvalidHeader("Connection", headers.get("Connection"), "expected Upgrade")
        version = headers.get("Sec-WebSocket-Version")
        if version is None or version.strip() != "13":
            # RFC 6455 §4.4: answer 426 with the versions we support.
            raise _Refusal(
                HTTPStatus.UPGRADE_REQUIRED,
                InvalidHeader("Sec-WebSocket-Version", version, "we speak 13"),
                [("Sec-WebSocket-Version", "13")],
            )
        key = headers.get("Sec-WebSocket-Key")
        if key is None:
            raise InvalidHeader("Sec-WebSocket-Key")
        try:
            raw = base64.b64decode(key.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raw = b""
        if len(raw) != 16:
            # RFC 6455 §4.1: a base64-encoded 16-byte value.
            raise InvalidHeader("Sec-WebSocket-Key", key, "must be 16 bytes in base64")
        subprotocol = None
        offered = parse_tokens(headers.get_all("Sec-WebSocket-Protocol"))
        for ours in self.subprotocols:
            if ours in offered:
                subprotocol = ours
                break
        deflate = None
        answer = None
        if self.deflate is not False:
            config = self.deflate if isinstance(self.deflate, ServerDeflateConfig) else None
            extensions = parse_extensions(headers.get_all("Sec-WebSocket-Extensions"))
            offers = [p for name, p in extensions if name.lower() == EXTENSION_NAME]
            chosen = select_offer(offers, config) if offers else None
            if chosen is not None:
                deflate, answer = chosen
        fields = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept_key(key)),
        ]
        if subprotocol is not None:
            fields.append(("Sec-WebSocket-Protocol", subprotocol))
        if answer is not None:
            fields.append(("Sec-WebSocket-Extensions", answer))
        fields.extend(self.extra_headers)
        response = _head("HTTP/1.1 101 Switching Protocols", fields)
        return Accepted(request, response, subprotocol, deflate, trailing)

    def _reject(
        self,
        status: int,
        error: InvalidHandshake,
        request: Request | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Rejected:
        body = f"Failed to open a WebSocket connection: {error}.\n".encode()
        return Rejected(int(status), _error_response(status, body, headers), error, request)


class _Refusal(Exception):
    """Internal: a check failed with a status other than 400."""

    def __init__(
        self, status: int, error: InvalidHandshake, headers: Sequence[tuple[str, str]]
    ) -> None:
        super().__init__(status, error)
        self.status = int(status)
        self.error = error
        self.headers = headers


def _error_response(status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    fields = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
        *headers,
    ]
    return _head(f"HTTP/1.1 {int(status)} {phrase}", fields) + body

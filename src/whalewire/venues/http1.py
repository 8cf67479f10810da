"""A minimal, strict HTTP/1.1 client connection whose writes are synchronous.

Why not aiohttp's client: its requests are coroutines (``await session.post(...)``), so an
order could only leave inside a task the event loop schedules later, and the venue
contract (``venues.contract.Venue.place``) is that the bytes are written before ``place`` returns.
Here ``Http1Connection.write`` is ``transport.write``: a pre-built request
(``templates.CoinbaseOrderTemplate``) goes to the (TLS) socket in the caller's stack frame.
One kept-alive connection carries every request; requests may be pipelined, and responses
come back in request order (RFC 9112 §9.3.2), which is how the caller correlates them.

``ResponseParser`` is sans-IO: bytes in, ``Response`` objects out. It accepts only what
this venue client needs and rejects everything else loudly (RFC 9112): a status line,
header fields without obsolete line folding, and a body framed by ``Content-Length`` or
``Transfer-Encoding: chunked`` (§6.3; no framing means "until close", refused here because
it would end keep-alive). Knows nothing of venues, signing or orders.
"""

from __future__ import annotations

import asyncio
import re
import ssl as ssl_module
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, cast

__all__ = ["Http1Connection", "Http1Error", "Response", "ResponseParser", "open_connection"]

_STATUS_LINE: Final = re.compile(rb"HTTP/1\.[01] ([1-9][0-9]{2})(?: [^\r\n]*)?")
_FIELD: Final = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*?)[ \t]*")
_CHUNK_SIZE: Final = re.compile(rb"([0-9A-Fa-f]{1,8})(?:;[^\r\n]*)?")
MAX_HEAD: Final = 64 * 1024
MAX_BODY: Final = 16 * 1024 * 1024


class Http1Error(Exception):
    """The peer broke HTTP/1.1 framing, or the connection is unusable."""


@dataclass(frozen=True, slots=True)
class Response:
    """One response: status, header fields (names lower-case) and the whole body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def closes(self) -> bool:
        """Return whether the server closes the connection after this response."""
        return "close" in self.headers.get("connection", "").lower()


class ResponseParser:
    """Turn a byte stream into ``Response`` objects (sans-IO)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._head: tuple[int, dict[str, str]] | None = None
        self._length = -1  # body bytes expected (Content-Length); -1 while chunked
        self._chunked = False
        self._chunks = bytearray()

    def feed(self, data: bytes) -> list[Response]:
        """Consume ``data``; return every response it completes.

        Raises:
            Http1Error: malformed or unsupported framing (the connection must be dropped).
        """
        self._buf += data
        out: list[Response] = []
        while True:
            response = self._step()
            if response is None:
                return out
            out.append(response)

    def _step(self) -> Response | None:
        buf = self._buf
        if self._head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise Http1Error("response head too large")
                return None
            self._head = self._parse_head(bytes(buf[:end]))
            del buf[: end + 4]
        status, headers = self._head
        if self._chunked:
            body = self._step_chunked()
            if body is None:
                return None
        else:
            if len(buf) < self._length:
                return None
            body = bytes(buf[: self._length])
            del buf[: self._length]
        self._head = None
        return Response(status, headers, body)

    def _parse_head(self, head: bytes) -> tuple[int, dict[str, str]]:
        lines = head.split(b"\r\n")
        match = _STATUS_LINE.fullmatch(lines[0])
        if match is None:
            raise Http1Error(f"bad status line {lines[0][:80]!r}")
        status = int(match.group(1))
        headers: dict[str, str] = {}
        for line in lines[1:]:
            field = _FIELD.fullmatch(line)
            if field is None:  # includes obs-fold (RFC 9112 §5.2: reject)
                raise Http1Error(f"bad header line {line[:80]!r}")
            name = field.group(1).decode("ascii").lower()
            value = field.group(2).decode("latin-1")
            if name in headers and name in ("content-length", "transfer-encoding"):
                raise Http1Error(f"repeated {name}")
            headers[name] = value
        self._chunked = False
        self._length = 0
        if 100 <= status < 200 or status in (204, 304):
            if status < 200:
                raise Http1Error("interim (1xx) responses are not expected")
            return status, headers
        coding = headers.get("transfer-encoding")
        if coding is not None:
            # RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; only chunked here
            if coding.strip().lower() != "chunked":
                raise Http1Error(f"unsupported transfer-encoding {coding!r}")
            self._chunked = True
            self._length = -1
            self._chunks = bytearray()
            return status, headers
        length = headers.get("content-length")
        if length is None or not length.isdigit():
            raise Http1Error("response without Content-Length or chunked framing")
        self._length = int(length)
        if self._length > MAX_BODY:
            raise Http1Error("response body too large")
        return status, headers

    def _step_chunked(self) -> bytes | None:
        buf = self._buf
        while True:
            if self._length == -1:  # expecting a chunk-size line
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > 1024:
                        raise Http1Error("chunk size line too long")
                    return None
                match = _CHUNK_SIZE.fullmatch(bytes(buf[:end]))
                if match is None:
                    raise Http1Error(f"bad chunk size {bytes(buf[:end])[:40]!r}")
                size = int(match.group(1), 16)
                del buf[: end + 2]
                if size == 0:
                    self._length = -2  # trailer section next
                else:
                    if len(self._chunks) + size > MAX_BODY:
                        raise Http1Error("response body too large")
                    self._length = size
            if self._length == -2:
                # trailer fields are dropped; the section ends with an empty line
                end = buf.find(b"\r\n")
                if end < 0:
                    return None
                del buf[: end + 2]
                if end == 0:
                    body = bytes(self._chunks)
                    self._chunks = bytearray()
                    self._chunked = False
                    return body
                continue
            if len(buf) < self._length + 2:
                return None
            if buf[self._length : self._length + 2] != b"\r\n":
                raise Http1Error("chunk not followed by CRLF")
            self._chunks += buf[: self._length]
            del buf[: self._length + 2]
            self._length = -1


class Http1Connection(asyncio.Protocol):
    """One client connection: synchronous ``write``, responses to ``on_response`` in order."""

    def __init__(
        self,
        on_response: Callable[[Response], None],
        on_lost: Callable[[BaseException | None], None],
    ) -> None:
        self._on_response = on_response
        self._on_lost = on_lost
        self._parser = ResponseParser()
        self._transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports (its SSL one included) provide asyncio.Transport's methods
        # without subclassing it: no isinstance check (it failed every start under uvloop)
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            responses = self._parser.feed(data)
        except Http1Error as exc:
            self.abort(exc)
            return
        for response in responses:
            self._on_response(response)

    def eof_received(self) -> bool | None:
        return False  # close our side too

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.closed:
            self.closed = True
            self._on_lost(exc)

    def write(self, data: bytes) -> None:
        """Write ``data`` now (no await); raise ``Http1Error`` when the connection is gone."""
        transport = self._transport
        if self.closed or transport is None or transport.is_closing():
            raise Http1Error("connection closed")
        transport.write(data)

    def abort(self, exc: BaseException | None = None) -> None:
        """Drop the connection at once; ``on_lost`` is told why."""
        if self._transport is not None:
            self._transport.abort()
        if not self.closed:
            self.closed = True
            self._on_lost(exc)

    def close(self) -> None:
        """Close the connection after what is queued has been written."""
        if self._transport is not None:
            self._transport.close()


async def open_connection(
    host: str,
    port: int,
    *,
    ssl: ssl_module.SSLContext | None,
    on_response: Callable[[Response], None],
    on_lost: Callable[[BaseException | None], None],
    timeout: float = 10.0,
) -> Http1Connection:
    """Connect (TCP, then TLS when ``ssl`` is given, verifying as the context says)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        _, protocol = await loop.create_connection(
            lambda: Http1Connection(on_response, on_lost),
            host,
            port,
            ssl=ssl,
            server_hostname=host if ssl is not None else None,
        )
    return protocol

"""TLS with OpenSSL on the socket itself (``net._tls``): the handshake and an asyncio transport.

asyncio's SSL transport encrypts through memory BIOs and hands records to a second
transport, so an order crosses several Python calls before ``write(2)``. Here OpenSSL owns
the connected socket's fd: ``NativeTLSTransport.write`` *is* the C ``Session.send``, which
encrypts and writes the record in one call while nothing is queued, and each readable
event decrypts straight into the protocol's buffer (``get_buffer``/``buffer_updated``, the
same ``BufferedProtocol`` path plain TCP takes, including ``net._io``'s C reader).

Verification is ``net.tls``'s: TLS >= 1.2 (1.3 preferred), ALPN ``http/1.1``, the chain
checked against a CA file or the system's store, the host name (or IP address) checked,
and SPKI pins compared on the peer's DER certificate before a byte of the upgrade is sent.
TLS 1.3 key updates and session tickets are consumed by OpenSSL inside reads; the peer's
close_notify is the protocol's EOF; an alert fails the connection with ``TLSFailure``'s
reason. ``available()`` says whether this path can run (the extension is built and the
speedups switch is on); otherwise callers use asyncio's ``ssl`` (``net.client``,
``net.server``), the reference.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from whalewire import speedups

if TYPE_CHECKING:
    from whalewire.net._tls import Context, Session

__all__ = [
    "NativeTLSServer",
    "NativeTLSTransport",
    "available",
    "client_context",
    "handshake",
    "server_context",
]

log = logging.getLogger("whalewire.net")

_tls = speedups.load("whalewire.net._tls")
#: True when new TLS connections run on OpenSSL directly (``whalewire.speedups``)
ENABLED = False


def _switch(enabled: bool) -> bool:
    global ENABLED
    ENABLED = enabled and _tls is not None
    return ENABLED


speedups.register(__name__, _switch)


def available() -> bool:
    """Return whether new connections may take the native TLS path."""
    return ENABLED


def client_context(cafile: str | None = None) -> Context:
    """Return a native client context: verification on against ``cafile`` (or the system's)."""
    assert _tls is not None
    return cast("Context", _tls.Context(False, cafile=cafile))


def server_context(certfile: str, keyfile: str | None = None) -> Context:
    """Return a native server context with the certificate chain and key loaded."""
    assert _tls is not None
    return cast("Context", _tls.Context(True, certfile=certfile, keyfile=keyfile))


def tls_error() -> type[OSError]:
    """The extension's error type (an ``OSError``), for callers that translate it."""
    assert _tls is not None
    return cast("type[OSError]", _tls.TLSError)


async def handshake(sock: socket.socket, context: Context, server_hostname: str | None) -> Session:
    """Run the TLS handshake on the connected non-blocking ``sock``; return the session.

    The caller bounds it with a timeout and closes the socket on failure.

    Raises:
        TLSError: verification failed or the peer sent an alert (the message says which).
        OSError: the socket failed (a reset during the handshake).
    """
    assert _tls is not None
    loop = asyncio.get_running_loop()
    fd = sock.fileno()
    session = cast("Session", _tls.Session(context, fd, server_hostname))
    while True:
        state = session.handshake()
        if state == 0:
            return session
        waiter: asyncio.Future[None] = loop.create_future()

        def wake(w: asyncio.Future[None] = waiter) -> None:
            if not w.done():
                w.set_result(None)

        if state == 1:
            loop.add_reader(fd, wake)
            try:
                await waiter
            finally:
                loop.remove_reader(fd)
        else:
            loop.add_writer(fd, wake)
            try:
                await waiter
            finally:
                loop.remove_writer(fd)


class NativeTLSTransport(asyncio.Transport):
    """An asyncio transport over a ``Session``: reads decrypt into the protocol's buffer.

    ``write`` is the session's C ``send`` (set on the instance): encrypted and written at
    once while no backlog is queued; what the socket does not take goes to the backlog,
    written on the loop's writable callbacks, in order (OpenSSL wants the rest of a blocked
    write as the next write, unchanged). ``close`` writes the backlog out, sends
    close_notify and closes the socket.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        session: Session,
        protocol: asyncio.BufferedProtocol,
        context: Context,
    ) -> None:
        super().__init__()
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._session = session
        self._protocol = protocol
        self._context = context
        self._backlog: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._high = 64 * 1024
        self._low = 16 * 1024
        self._writing_paused = False
        self._reading = True
        self._closing = False
        self._closed = False
        self._extra = {
            "socket": sock,
            "peername": _name(sock, "getpeername"),
            "sockname": _name(sock, "getsockname"),
            "sslcontext": context,
            # the Session answers version() and selected_alpn_protocol() as SSLObject does
            "ssl_object": session,
            "tls_version": session.version(),
            "alpn_protocol": session.selected_alpn_protocol(),
        }
        session.overflow = self._overflow
        session.blocked = 0
        self.write = session.send  # type: ignore[method-assign,assignment]
        protocol.connection_made(self)
        if self._closing:  # the protocol closed or aborted at once
            return
        loop.add_reader(self._fd, self._on_readable)
        if session.has_pending():  # read ahead with the handshake's last flight
            loop.call_soon(self._on_readable)

    # -- reading --

    def _on_readable(self) -> None:
        try:
            self._read_ready()
        except Exception as exc:  # a protocol callback failed: as asyncio's transports do
            log.error("TLS transport: reading failed", exc_info=exc)
            self._fatal(exc)

    def _read_ready(self) -> None:
        protocol = self._protocol
        session = self._session
        while self._reading and not self._closed:
            buffer = protocol.get_buffer(-1)
            try:
                n = session.read_into(cast(memoryview, buffer))
            except OSError as exc:
                self._fatal(exc)
                return
            if n > 0:
                protocol.buffer_updated(n)
                if session.has_pending():
                    continue
                # OpenSSL read ahead all the kernel had; the reader callback is level-
                # triggered, so a read that would only meet EAGAIN is skipped
                return
            if n == -1:
                self._eof()
            elif n == -2:  # OpenSSL must write first (rare): read again once writable
                self._loop.add_writer(self._fd, self._after_write_wait)
                self._loop.remove_reader(self._fd)
            return

    def _after_write_wait(self) -> None:
        self._loop.remove_writer(self._fd)
        if self._closed:
            return
        if self._reading:
            self._loop.add_reader(self._fd, self._on_readable)
        if self._backlog:
            self._loop.add_writer(self._fd, self._on_writable)
        self._on_readable()

    def _eof(self) -> None:
        self._loop.remove_reader(self._fd)
        self._reading = False
        keep_open = self._protocol.eof_received()
        if not keep_open:
            self.close()

    def pause_reading(self) -> None:
        if self._reading and not self._closed:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if not self._reading and not self._closing and not self._closed:
            self._reading = True
            self._loop.add_reader(self._fd, self._on_readable)
            if self._session.has_pending():  # bytes OpenSSL kept while paused
                self._loop.call_soon(self._on_readable)

    def is_reading(self) -> bool:
        return self._reading

    # -- writing --

    def write(self, data: bytes | bytearray | memoryview) -> None:  # replaced per instance
        self._session.send(data)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def _overflow(self, rest: bytes | BaseException) -> None:
        # The C send could not write everything (or met an error): queue, or fail.
        if isinstance(rest, BaseException):
            self._fatal(rest)
            return
        if self._closing or not rest:
            return  # asyncio drops what is written after close
        start = not self._backlog
        self._backlog.append(bytes(rest))
        self._buffered += len(rest)
        self._session.blocked = 1
        if start:
            self._loop.add_writer(self._fd, self._on_writable)
        if not self._writing_paused and self._buffered > self._high:
            self._writing_paused = True
            self._protocol.pause_writing()

    def _on_writable(self) -> None:
        session = self._session
        backlog = self._backlog
        while backlog:
            head = backlog[0]
            try:
                n = session.write(head)
            except OSError as exc:
                self._fatal(exc)
                return
            if n == 0:
                return
            self._buffered -= n
            if n == len(head):
                backlog.popleft()
            else:
                backlog[0] = head[n:]
        self._loop.remove_writer(self._fd)
        if not self._closing:
            session.blocked = 0
        if self._writing_paused and self._buffered <= self._low:
            self._writing_paused = False
            self._protocol.resume_writing()
        if self._closing:
            self._finish_close()

    def get_write_buffer_size(self) -> int:
        return self._buffered

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low, self._high)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high = 64 * 1024 if high is None else high
        self._low = self._high // 4 if low is None else low

    def can_write_eof(self) -> bool:
        return False

    # -- closing --

    def is_closing(self) -> bool:
        return self._closing or self._closed

    def close(self) -> None:
        """Write out the backlog, send close_notify, close the socket."""
        if self._closing or self._closed:
            return
        self._closing = True
        self._session.blocked = 1  # writes after close are dropped (asyncio's contract)
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)
        if not self._backlog:
            self._finish_close()

    def _finish_close(self) -> None:
        with contextlib.suppress(OSError):
            self._session.shutdown()  # close_notify (RFC 8446 §6.1); the peer's is not awaited
        self._teardown(None)

    def abort(self) -> None:
        """Close the socket now, dropping the backlog and without close_notify."""
        self._teardown(None)

    def _fatal(self, exc: BaseException) -> None:
        log.debug("TLS connection failed: %s", exc)
        self._teardown(exc if isinstance(exc, Exception) else None)

    def _teardown(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing = True
        self._session.blocked = 1
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        self._backlog.clear()
        self._buffered = 0
        self._loop.call_soon(self._lost, exc)

    def _lost(self, exc: Exception | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._sock.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        raise NotImplementedError("the protocol of a native TLS transport is fixed")


def _name(sock: socket.socket, method: str) -> Any:
    try:
        return getattr(sock, method)()
    except OSError:
        return None


class NativeTLSServer:
    """A listening socket whose accepted connections run TLS natively, then the protocol.

    Stands in for ``asyncio.Server`` in ``net.server.Server`` (``sockets``, ``close``,
    ``wait_closed``, ``serve_forever``): asyncio's server would wrap each accepted socket
    in its own transport, with no way to hand the fd to OpenSSL. Each handshake is bounded
    by ``handshake_timeout``; one that fails closes its socket and is logged at debug (a
    scanner's probe is not an error of ours).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        listener: socket.socket,
        context: Context,
        factory: Callable[[], asyncio.BufferedProtocol],
        handshake_timeout: float,
    ) -> None:
        self._loop = loop
        self._listener = listener
        self._context = context
        self._factory = factory
        self._timeout = handshake_timeout
        self._handshakes: set[asyncio.Task[None]] = set()
        self._serving = True
        self._closed: asyncio.Future[None] = loop.create_future()
        listener.setblocking(False)
        loop.add_reader(listener.fileno(), self._accept)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return (self._listener,) if self._serving else ()

    def _accept(self) -> None:
        while self._serving:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and the like: keep listening
                log.warning("accept failed: %s", exc)
                return
            sock.setblocking(False)
            task = self._loop.create_task(self._open(sock))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _open(self, sock: socket.socket) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                session = await handshake(sock, self._context, None)
        except (OSError, TimeoutError) as exc:
            log.debug("TLS handshake from a client failed: %s", exc)
            sock.close()
            return
        except BaseException:
            sock.close()
            raise
        NativeTLSTransport(self._loop, sock, session, self._factory(), self._context)

    def close(self) -> None:
        if not self._serving:
            return
        self._serving = False
        self._loop.remove_reader(self._listener.fileno())
        self._listener.close()
        for task in list(self._handshakes):
            task.cancel()
        if not self._closed.done():
            self._closed.set_result(None)

    async def wait_closed(self) -> None:
        if self._handshakes:
            await asyncio.gather(*self._handshakes, return_exceptions=True)

    async def serve_forever(self) -> None:
        try:
            await asyncio.shield(self._closed)
        finally:
            self.close()


def openssl_version() -> str:
    """The OpenSSL the native path is linked against (benchmarks print it)."""
    return str(_tls.OPENSSL_VERSION) if _tls is not None else "not built"

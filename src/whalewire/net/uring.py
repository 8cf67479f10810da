"""Send pre-built frames on a connected socket through io_uring, with a socket fallback.

It holds `UringSender` (one ring per connection: plain submission or SQPOLL), `SocketSender`
(the ``os.write`` path, used when the ring cannot be made), `available()`, `open_sender()`,
and `use_send_backend()`, which puts a ring under an open ``WebSocket`` (`RingTransport`).
It knows file descriptors, bytes, the event loop's reader callbacks and which transport
attributes ``net._protocol`` writes through; it knows nothing of WebSocket framing, venues or
orders, and `UringSender` does not own or close the socket.

Ordering on one TCP stream: every send carries ``MSG_WAITALL`` (the kernel itself resubmits
the rest of a short write, waiting for room) and, while an earlier send has not completed,
``IOSQE_IO_DRAIN`` (it starts only once the earlier ones completed), so bytes never interleave.
Batches are linked (``IOSQE_IO_LINK``): each starts after the one before completed in full.
The socket is registered as the ring's fixed file 0 (``IORING_REGISTER_FILES``): a send still
in the ring can never land on another socket that reused a closed descriptor number.
When half the ring's capacity is in flight, `send` reaps; when all of it is (the socket is
backed up), it waits for completions. A buffer stays referenced by the ring until its
completion is reaped; mutable buffers are copied first, so a caller reusing its
``bytearray`` cannot change bytes in flight.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import select
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from whalewire.ws.exceptions import CloseCode, ConnectionClosed

if TYPE_CHECKING:
    import asyncio

    from whalewire.net._protocol import WebSocket
    from whalewire.net._uring import Ring

_uring: ModuleType | None
try:
    from whalewire.net import _uring
except ImportError as exc:  # not built (no compiler, not Linux): the socket path stays
    _uring = None
    _IMPORT_ERROR = f"whalewire.net._uring is not built ({exc})"
else:
    _IMPORT_ERROR = ""

Mode = Literal["plain", "sqpoll"]
#: errors that mean the peer or the connection is gone (the socket path's ConnectionClosed)
_CLOSED_ERRNOS = frozenset(
    {errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN, errno.ECANCELED}
)
_probe: tuple[bool, str] | None = None


class UringUnavailable(OSError):
    """io_uring cannot be used here; ``reason`` says why (not built, ENOSYS, EPERM, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Sender(Protocol):
    """What a caller plugs in to send pre-built frames on one connected socket."""

    def send(self, frame: bytes | bytearray | memoryview) -> None: ...
    def send_batch(self, frames: Sequence[bytes | bytearray | memoryview]) -> None: ...
    def poll(self) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class _Loop(Protocol):
    def add_reader(self, fd: int, callback: Callable[[], object]) -> object: ...
    def remove_reader(self, fd: int) -> object: ...


def available() -> tuple[bool, str]:
    """Return whether an io_uring ring can be created here, and if not, why.

    ``WHALEWIRE_NO_URING=1`` forces "unavailable" (to test or to rule the backend out).
    """
    global _probe
    if os.environ.get("WHALEWIRE_NO_URING") == "1":
        return False, "disabled by WHALEWIRE_NO_URING=1"
    if _uring is None:
        return False, _IMPORT_ERROR
    if _probe is None:
        try:
            _uring.Ring(2).close()
        except OSError as exc:
            name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
            hint = {
                "ENOSYS": "the kernel has no io_uring",
                "EPERM": "io_uring is refused (sandbox, seccomp or kernel.io_uring_disabled)",
            }.get(name, exc.strerror or "")
            _probe = (False, f"io_uring_setup failed: {name} ({hint})")
        else:
            _probe = (True, "")
    return _probe


def _owned(frame: bytes | bytearray | memoryview) -> bytes:
    # the kernel reads the buffer after send() returns: it must be immutable
    return frame if type(frame) is bytes else bytes(frame)


class UringSender:
    """Send frames on socket ``fd`` through a private io_uring ring.

    Completions are reaped off the hot path: by `poll()`, which `attach()` has the event
    loop call whenever the ring's eventfd fires, and in passing when half the ring is in
    flight. A failed send makes the sender *broken*: that send's error is raised by the
    next `send()` (``ConnectionClosed`` for a closed peer, the same as the socket path).
    """

    def __init__(
        self,
        fd: int,
        *,
        mode: Mode = "plain",
        entries: int = 64,
        sqpoll_idle_ms: int = 1000,
        sqpoll_cpu: int | None = None,
        fixed_file: bool = True,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Create the ring for ``fd`` (a connected stream socket the caller keeps open).

        ``fixed_file`` registers ``fd`` with the ring, which then holds the socket open
        until `close()`; ``on_error`` is called once with the error that breaks the sender.

        Raises:
            UringUnavailable: io_uring cannot be used here.
        """
        ok, reason = available()
        if not ok or _uring is None:
            raise UringUnavailable(reason)
        try:
            self._ring: Ring = _uring.Ring(
                entries,
                sqpoll=mode == "sqpoll",
                sqpoll_idle_ms=sqpoll_idle_ms,
                sqpoll_cpu=-1 if sqpoll_cpu is None else sqpoll_cpu,
            )
        except OSError as exc:
            raise UringUnavailable(f"io_uring_setup failed: {exc}") from exc
        if fixed_file:
            try:
                self._ring.register_file(fd)
            except OSError as exc:
                self._ring.close()
                raise UringUnavailable(f"IORING_REGISTER_FILES failed: {exc}") from exc
        self.fd = fd
        self.mode: Mode = mode
        self._frames: dict[int, bytes] = {}
        self._error: BaseException | None = None
        self._on_error = on_error
        self._reap_at = self._ring.capacity // 2
        self._efd = -1
        self._loop: _Loop | None = None
        self._watching = False
        #: called after each time the event loop reaped completions (`attach`)
        self.on_reaped: Callable[[], None] | None = None

    @property
    def in_flight(self) -> int:
        """Sends submitted whose completion has not been reaped yet."""
        return self._ring.in_flight

    @property
    def broken(self) -> BaseException | None:
        """The error that stopped this sender, if one did."""
        return self._error

    def send(self, frame: bytes | bytearray | memoryview) -> None:
        """Submit one frame: one ``io_uring_enter`` (plain) or only the ring write (SQPOLL).

        Raises:
            ConnectionClosed: an earlier send found the connection closed, or the sender is closed.
            OSError: an earlier send failed otherwise.
        """
        if self._error is not None:
            raise self._error
        ring = self._ring
        if ring.in_flight >= self._reap_at:
            self._make_room(1)
        data = _owned(frame)
        self._frames[ring.send(self.fd, data, None, True)] = data

    def send_batch(
        self, frames: Sequence[bytes | bytearray | memoryview], *, linked: bool = False
    ) -> None:
        """Submit several frames with one ``io_uring_enter``.

        By default the frames are joined into one send (one SQE); ``linked=True`` submits one
        SQE per frame, linked so each starts after the one before completed in full (slower
        here: see docs/benchmarks.md, "io_uring").

        Raises:
            ConnectionClosed: as for `send`.
        """
        if not linked:
            self.send(b"".join(frames))
            return
        if self._error is not None:
            raise self._error
        ring = self._ring
        if ring.in_flight + len(frames) > self._reap_at:
            self._make_room(len(frames))
        datas = [_owned(f) for f in frames]
        uds = ring.submit_batch(self.fd, datas, None, True, True)
        for ud, data in zip(uds, datas, strict=True):
            self._frames[ud] = data

    def poll(self) -> None:
        """Reap posted completions: release their buffers and record any failure."""
        ring = self._ring
        for ud, res in ring.reap():
            data = self._frames.pop(ud, b"")
            if res == len(data) or self._error is not None:
                continue
            if res >= 0 or -res in (errno.EAGAIN, errno.EINTR):
                # MSG_WAITALL only stops short on an error (or a cancel at close). If it is
                # the last send, resubmitting the rest keeps the stream whole (and meets
                # that error again); if later sends are out, their bytes went after it.
                if ring.in_flight == 0 and not self._frames and not ring.closed:
                    rest = data[max(res, 0) :]
                    self._frames[ring.send(self.fd, rest, None, False)] = rest
                    continue
                self._fail(ConnectionClosed(CloseCode.ABNORMAL, "short write with sends after it"))
            elif -res in _CLOSED_ERRNOS:
                self._fail(ConnectionClosed(CloseCode.ABNORMAL))
            else:
                self._fail(OSError(-res, os.strerror(-res)))

    def _make_room(self, n: int) -> None:
        # a full ring means the socket is backed up by ~capacity frames: wait for
        # completions rather than hold frames the kernel has not seen
        ring = self._ring
        self.poll()
        while ring.in_flight + n > ring.capacity and self._error is None:
            ring.submit(1)
            self.poll()
        if self._error is not None:
            raise self._error

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        if self._on_error is not None:
            self._on_error(exc)

    def flush(self) -> None:
        """Block until every submitted send has completed (for tests and shutdown)."""
        while self._ring.in_flight:
            self._ring.submit(1)
            self.poll()

    def attach(self, loop: _Loop, *, watch: bool = True) -> None:
        """Have ``loop`` reap completions as they are posted (an eventfd on the ring).

        ``watch=False`` registers the eventfd but leaves the loop deaf to it until
        `watch(True)`: the caller reaps by other means meanwhile.
        """
        if self._efd < 0:
            self._efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._ring.register_eventfd(self._efd)
        self._loop = loop
        self._watching = False
        self.watch(watch)

    def watch(self, on: bool) -> None:
        """Start or stop reaping from the event loop when completions are posted."""
        loop = self._loop
        if loop is None or on == self._watching:
            return
        self._watching = on
        if on:
            loop.add_reader(self._efd, self._on_eventfd)
        else:
            loop.remove_reader(self._efd)

    @property
    def ready(self) -> int:
        """Completions posted and not reaped yet (read from the ring: no system call)."""
        return self._ring.ready()

    def _on_eventfd(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._efd)
        self.poll()
        if self.on_reaped is not None:
            self.on_reaped()

    def close(self) -> None:
        """Cancel what is still in flight, wait for it, and release the ring (not the socket)."""
        if self._loop is not None:
            self.watch(False)
            self._loop = None
        if not self._ring.closed:
            self.poll()
            self._ring.close()
        self._frames.clear()
        if self._efd >= 0:
            os.close(self._efd)
            self._efd = -1
        if self._error is None:
            self._error = ConnectionClosed(CloseCode.ABNORMAL, "sender closed")


class SocketSender:
    """Send frames on socket ``fd`` with ``os.write``: the fallback when io_uring is not there.

    A write the socket cannot take whole is kept and finished by `poll()` or `flush()`;
    later frames queue behind it, so bytes never interleave.
    """

    def __init__(self, fd: int) -> None:
        """Wrap ``fd`` (a connected stream socket the caller keeps open)."""
        self.fd = fd
        self.mode = "socket"
        self._pending: list[memoryview] = []
        self._error: BaseException | None = None

    @property
    def broken(self) -> BaseException | None:
        """The error that stopped this sender, if one did."""
        return self._error

    def send(self, frame: bytes | bytearray | memoryview) -> None:
        """Write one frame now if nothing is queued ahead of it; queue the rest.

        Raises:
            ConnectionClosed: the peer has closed the connection.
        """
        if self._error is not None:
            raise self._error
        if self._pending:
            self._pending.append(memoryview(_owned(frame)))
            return
        try:
            sent = os.write(self.fd, frame)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            raise self._closed(exc) from exc
        if sent < len(frame):
            self._pending.append(memoryview(_owned(frame))[sent:])

    def send_batch(self, frames: Sequence[bytes | bytearray | memoryview]) -> None:
        """Write several frames with one ``write`` (joined)."""
        self.send(b"".join(frames))

    def poll(self) -> None:
        """Write what is queued, as far as the socket takes it."""
        while self._pending and self._error is None:
            head = self._pending[0]
            try:
                sent = os.write(self.fd, head)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._closed(exc)
                return
            if sent < len(head):
                self._pending[0] = head[sent:]
                return
            self._pending.pop(0)

    def flush(self) -> None:
        """Block until everything queued is written (for tests and shutdown).

        Raises:
            ConnectionClosed: the peer has closed the connection.
        """
        while self._pending and self._error is None:
            select.select([], [self.fd], [], 1.0)
            self.poll()
        if self._error is not None:
            raise self._error

    def _closed(self, exc: OSError) -> BaseException:
        err: BaseException = (
            ConnectionClosed(CloseCode.ABNORMAL) if exc.errno in _CLOSED_ERRNOS else exc
        )
        self._error = err
        return err

    def close(self) -> None:
        """Drop what is queued; the socket stays the caller's."""
        self._pending.clear()
        if self._error is None:
            self._error = ConnectionClosed(CloseCode.ABNORMAL, "sender closed")


def open_sender(
    fd: int,
    mode: Mode | Literal["socket"] = "plain",
    *,
    entries: int = 64,
    sqpoll_idle_ms: int = 1000,
    sqpoll_cpu: int | None = None,
) -> UringSender | SocketSender:
    """Return an io_uring sender for ``fd`` in ``mode``, else the socket sender.

    The socket sender comes back when io_uring is not there (`available()` says why) or
    when ``mode="socket"`` asks for it outright.
    """
    if mode == "socket":
        return SocketSender(fd)
    try:
        return UringSender(
            fd, mode=mode, entries=entries, sqpoll_idle_ms=sqpoll_idle_ms, sqpoll_cpu=sqpoll_cpu
        )
    except UringUnavailable:
        return SocketSender(fd)


#: posted completions a write leaves for a ``call_soon`` to reap (`RingTransport`)
REAP_BATCH = 16

#: ``venues.<name>.send_backend`` values and the ring mode each one asks for
SEND_BACKENDS: dict[str, Mode | None] = {"socket": None, "uring": "plain", "uring-sqpoll": "sqpoll"}


class RingTransport:
    """Stand in for a connection's asyncio transport so that every write goes through the ring.

    ``net._protocol`` writes pongs, closes and messages through ``transport.write`` and takes
    its direct ``os.write`` only when ``get_write_buffer_size()`` is 0 and it has a socket fd;
    `use_send_backend` installs this with ``WebSocketProtocol.set_writer``, which turns those
    direct paths (and the C send path) off, so each write after it lands here, and one path
    keeps one order. Bytes the transport still buffered when the ring came keep going to the
    transport until it has written them out (its buffer never refills while the ring is in
    use). ``close()`` waits for the ring to finish before closing the transport; ``abort()``
    cancels what is in flight. Everything else is the transport's.

    Reaping: the event loop is not woken for each completion (that cost ~5–15 µs of loop CPU
    per order). A write that finds `REAP_BATCH` completions posted has them reaped by a
    ``call_soon`` in the same loop iteration; the eventfd is watched only while writes wait
    in the backlog or a close waits for the ring. A failed send is therefore seen a few
    sends late, or sooner by the read side (a reset peer closes the connection there).

    Back-pressure: at most half the ring's capacity is in flight; past that, writes wait in
    a backlog that the event loop feeds to the ring as completions arrive (the loop never
    blocks on a peer that stops reading), and the protocol is paused above the transport's
    high-water mark (``await ws.drain()`` works as on the socket path).
    """

    def __init__(
        self,
        transport: asyncio.Transport,
        sender: UringSender,
        backend: str,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """Wrap ``transport``, whose socket ``sender`` writes to (``backend``: its name)."""
        #: the `SEND_BACKENDS` name this ring serves
        self.backend = backend
        self._transport = transport
        self._sender = sender
        self._closing = False
        self._room = max(1, sender._ring.capacity // 2)
        self._backlog: collections.deque[bytes] = collections.deque()
        self._backlog_bytes = 0
        self._paused = False
        self._loop = loop
        self._reap_scheduled = False
        sender.on_reaped = self._reaped
        sender.attach(loop, watch=False)
        #: frames written through the ring (tests check the path was taken)
        self.ring_writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` after everything written before it; never raise for a dead peer.

        A failed ring send aborts the transport (``on_error``), so the connection closes
        and the next send raises ``ConnectionClosed``, as on the socket path.
        """
        sender = self._sender
        if sender.broken is not None or self._transport.get_write_buffer_size():
            self._transport.write(data)
            return
        if sender.in_flight >= self._room:
            sender.poll()  # completions the loop has not reaped yet: no system call
        if self._backlog or sender.in_flight >= self._room:
            self._queue(data)
            return
        try:
            sender.send(data)
        except ConnectionClosed:
            self._transport.abort()
            return
        self.ring_writes += 1
        if sender.ready >= REAP_BATCH and not self._reap_scheduled:
            self._reap_scheduled = True
            self._loop.call_soon(self._reap_soon)

    def _reap_soon(self) -> None:
        self._reap_scheduled = False
        self._sender.poll()
        self._reaped()

    def _queue(self, data: bytes | bytearray | memoryview) -> None:
        self._backlog.append(bytes(data))
        self._backlog_bytes += len(data)
        self._sender.watch(True)  # the loop must feed the ring as room comes
        if not self._paused and self._backlog_bytes > self._transport.get_write_buffer_limits()[1]:
            self._paused = True
            self._transport.get_protocol().pause_writing()

    def _reaped(self) -> None:
        # the event loop reaped completions: move the backlog on, then resume or close
        sender = self._sender
        backlog = self._backlog
        while backlog and sender.in_flight < self._room and sender.broken is None:
            data = backlog.popleft()
            self._backlog_bytes -= len(data)
            try:
                sender.send(data)
            except ConnectionClosed:
                break
            self.ring_writes += 1
        if sender.broken is not None:
            backlog.clear()  # on_error aborts the transport: these can never be sent
            self._backlog_bytes = 0
        if self._paused and self._backlog_bytes <= self._transport.get_write_buffer_limits()[0]:
            self._paused = False
            self._transport.get_protocol().resume_writing()
        done = not backlog and not sender.in_flight
        if self._closing and done:
            self._transport.close()
        sender.watch(not done and (bool(backlog) or self._closing))

    def writelines(self, lines: Sequence[bytes | bytearray | memoryview]) -> None:
        """Write the pieces joined, in order."""
        self.write(b"".join(lines))

    def get_write_buffer_size(self) -> int:
        """Return the transport's and the backlog's bytes plus the sends the ring still holds
        (> 0 while anything is unsent, which keeps ``net._protocol`` off its direct path)."""
        return (
            self._transport.get_write_buffer_size() + self._backlog_bytes + self._sender.in_flight
        )

    def get_queued_size(self) -> int:
        """Return what still waits to reach the socket (0: nothing).

        The transport's and the backlog's bytes, plus the sends the kernel has not
        completed (a send to a peer that stops reading waits in the ring). Sends completed
        but not reaped yet (completions are reaped in batches) are not counted, as
        ``get_write_buffer_size`` counts them to keep ``net._protocol`` off its direct path.
        """
        sender = self._sender
        pending = max(0, sender.in_flight - sender.ready)
        return self._transport.get_write_buffer_size() + self._backlog_bytes + pending

    def is_closing(self) -> bool:
        """Whether `close()` or `abort()` was called (or the transport is closing)."""
        return self._closing or self._transport.is_closing()

    def close(self) -> None:
        """Close the transport once the ring has sent what it holds (a close frame too)."""
        self._closing = True
        self._sender.poll()
        if (self._sender.in_flight or self._backlog) and self._sender.broken is None:
            self._sender.watch(True)  # _reaped closes it once the ring and backlog are empty
            return
        self._transport.close()

    def abort(self) -> None:
        """Drop what is in flight and abort the transport."""
        self._closing = True
        self._backlog.clear()
        self._backlog_bytes = 0
        self._sender.close()
        self._transport.abort()


def use_send_backend(
    ws: WebSocket,
    backend: str,
    *,
    entries: int = 256,
    sqpoll_idle_ms: int = 1000,
    sqpoll_cpu: int | None = None,
) -> str:
    """Send every write of open connection ``ws`` through ``backend`` from now on.

    ``backend`` is a `SEND_BACKENDS` name: ``"socket"`` (keep the transport's path),
    ``"uring"`` (plain io_uring) or ``"uring-sqpoll"``. The ring is for plain TCP: over TLS
    (no kTLS here), or where io_uring is refused, the socket path stays. A connection keeps
    the first ring it got for its lifetime (the ring is released when it closes).

    Returns:
        The backend in effect: ``backend``, or ``"socket"`` after a fallback.

    Raises:
        ValueError: ``backend`` is not a `SEND_BACKENDS` name.
        ConnectionClosed: ``ws`` is not open.
    """
    if backend not in SEND_BACKENDS:
        raise ValueError(f"send_backend must be one of {sorted(SEND_BACKENDS)}, not {backend!r}")
    mode = SEND_BACKENDS[backend]
    proto = ws._proto
    transport = proto.transport
    if transport is None or transport.is_closing() or proto.lost.done():
        raise proto.closed_error()
    if isinstance(transport, RingTransport):
        return transport.backend  # a connection keeps the ring it got first
    if mode is None:
        return "socket"
    fd = proto.socket_fd
    if fd is None:
        return "socket"  # TLS: the ring would write plaintext past the TLS layer
    real = transport

    def broken(exc: BaseException) -> None:
        # the socket path's outcome: the transport dies and the next send raises
        proto.loop.call_soon(real.abort)

    try:
        sender = UringSender(
            fd,
            mode=mode,
            entries=entries,
            sqpoll_idle_ms=sqpoll_idle_ms,
            sqpoll_cpu=sqpoll_cpu,
            on_error=broken,
        )
    except UringUnavailable:
        return "socket"
    # every write from now on goes to the ring (no direct os.write, C sender off)
    proto.set_writer(cast("asyncio.Transport", RingTransport(real, sender, backend, proto.loop)))
    proto.lost.add_done_callback(lambda _: sender.close())
    return backend

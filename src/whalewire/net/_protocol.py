"""The asyncio side of one WebSocket connection, either role: bytes between socket and core.

``WebSocketProtocol`` is an ``asyncio.BufferedProtocol``: the loop reads straight into a
reused per-connection buffer (``recv_into``), which this class hands to the handshake and
then to ``ws.protocol.Connection`` as a ``memoryview``; whatever the core wants sent is
written at once. It makes no protocol decisions: it only writes ``data_to_send()``, closes
the socket when the core says so (``should_close_transport()``), and bounds the wait for
the peer once a close is under way (``close_expected()``). ``WebSocket`` is the
application's handle (send, ``async for``, close). Nothing here parses frames or HTTP:
that is ``whalewire.ws``. With the C extension, the loop's ``buffer_updated`` and
``WebSocket.send`` are ``net._io`` objects (``PlainReader``, ``DirectSender``) that this
class arms only while the core is between messages and has nothing queued; everything else
runs through the Python methods here, which are the reference.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from whalewire import speedups
from whalewire.net.keepalive import Keepalive, KeepaliveOptions, RTTStats
from whalewire.ws import assembly
from whalewire.ws import protocol as core
from whalewire.ws.deflate import DeflateParams, PerMessageDeflate
from whalewire.ws.exceptions import (
    CloseCode,
    ConnectionClosed,
    InvalidHandshake,
    InvalidState,
    close_code_for,
)
from whalewire.ws.handshake import (
    Accepted,
    ClientHandshake,
    Established,
    Headers,
    Rejected,
    ServerHandshake,
)
from whalewire.ws.mask import default_key_pool

if TYPE_CHECKING:
    from whalewire.net._io import DirectSender, PlainReader
    from whalewire.net._tls import Session

__all__ = ["Limits", "MessageCallback", "WebSocket", "WebSocketProtocol"]

# None when not built: the Python reader reads, the core frames what is sent
_io = speedups.load("whalewire.net._io")
# the native TLS session type: a transport whose ssl_object is one (net.nativetls) is an
# order call's target
_tls = speedups.load("whalewire.net._tls")
#: True when new connections read and send through ``net._io`` (``whalewire.speedups``)
SPEEDUPS = False


def _switch(enabled: bool) -> bool:
    # whalewire.speedups calls this (after ws.protocol's: registered first, as imported);
    # the C reader leans on the core's plain-frame hooks. Connections bind the choice when
    # they are created.
    global SPEEDUPS
    SPEEDUPS = enabled and _io is not None and core.SPEEDUPS
    return SPEEDUPS


speedups.register(__name__, _switch)

log = logging.getLogger("whalewire.net")

#: bytes per read at most: large enough for bulk transfer, small enough to stay in cache
READ_SIZE = 256 * 1024
#: the read buffer's base size, all an idle connection holds (1,000 idle connections
#: with a fixed 256 KiB buffer each held 266 KiB of RSS apiece)
READ_MIN = 16 * 1024
#: reads in a row that fill under a quarter of the buffer before it halves again
SHRINK_AFTER = 32

Message = str | bytes


class Limits:
    """Per-connection limits and timeouts shared by client and server."""

    __slots__ = (
        "close_timeout",
        "max_frame_size",
        "max_message_size",
        "max_queue",
        "open_timeout",
        "work_per_turn",
    )

    def __init__(
        self,
        *,
        max_message_size: int = 64 * 1024 * 1024,
        max_frame_size: int | None = None,
        max_queue: int = 64,
        close_timeout: float = 5.0,
        open_timeout: float = 10.0,
        work_per_turn: int = 64 * 1024,
    ) -> None:
        """Set the limits.

        Args:
            max_message_size: largest message accepted (after decompression); 1009 above.
            max_frame_size: largest frame accepted; defaults to ``max_message_size``.
            max_queue: received messages buffered before reading pauses.
            close_timeout: how long to wait for the peer during the closing handshake.
            open_timeout: how long the opening handshake may take.
            work_per_turn: bytes one connection inflates and deflates per turn of the
                event loop (``ws.protocol``'s ``work_budget``); the rest goes on in later
                turns with reading paused, so a peer whose small compressed frames
                inflate to megabytes cannot hold the loop from other connections. 64 KiB
                is about 0.2 ms of zlib on a loaded 2-vCPU machine and costs no
                measurable throughput against 256 KiB (bench/fairness.py).
        """
        self.max_message_size = max_message_size
        self.max_frame_size = max_frame_size if max_frame_size is not None else max_message_size
        self.max_queue = max_queue
        self.close_timeout = close_timeout
        self.open_timeout = open_timeout
        self.work_per_turn = work_per_turn


class WebSocket:
    """An open WebSocket connection: send messages, iterate over received ones, close.

    Sends are synchronous (the bytes go to the socket before the call returns, or to the
    transport's buffer when the socket is full); ``await drain()`` respects back-pressure.
    """

    def __init__(
        self,
        proto: WebSocketProtocol,
        *,
        subprotocol: str | None,
        deflate: DeflateParams | None,
        path: str,
        headers: Headers,
    ) -> None:
        self._proto = proto
        #: the negotiated subprotocol, if any
        self.subprotocol = subprotocol
        #: the negotiated permessage-deflate parameters, if any
        self.deflate = deflate
        #: the request target (server: what the client asked for; client: what we asked)
        self.path = path
        #: the peer's handshake headers (``ws.handshake.Headers``)
        self.headers = headers
        self._messages: collections.deque[Message] = collections.deque()
        # the C sender (or the protocol's method): no Python frame between the caller and
        # the socket on the hot path; same behaviour as the method below
        self.send = proto._sender or proto.send_message  # type: ignore[method-assign,assignment]
        # the order call asks this right before its write: one Python frame, not two
        self.send_target = proto.send_target  # type: ignore[method-assign]
        self._waiter: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] = proto.loop.create_future()
        #: called with each pong's payload and its round-trip time (None when it answers
        #: no keepalive ping of ours), synchronously inside the read that carried it
        self.on_pong: Callable[[bytes, float | None], None] | None = None
        #: the keepalive, once ``start_keepalive`` ran
        self.keepalive: Keepalive | None = None

    # -- keepalive --

    def start_keepalive(self, options: KeepaliveOptions) -> Keepalive:
        """Start pings and/or the liveness deadline (``net.keepalive``) on this connection."""
        if self.keepalive is not None:
            self.keepalive.stop()
        self.keepalive = Keepalive(self._proto, options)
        return self.keepalive

    def mark_alive(self) -> None:
        """Tell keepalive the peer is alive (e.g. a venue heartbeat message arrived)."""
        if self.keepalive is not None:
            self.keepalive.mark_alive()

    @property
    def rtt(self) -> RTTStats | None:
        """Round-trip times of keepalive pings (min/avg/max/percentile), if keepalive runs."""
        return self.keepalive.rtt if self.keepalive is not None else None

    def _pong(self, payload: bytes) -> None:
        rtt = self.keepalive.pong(payload) if self.keepalive is not None else None
        if self.on_pong is not None:
            self.on_pong(payload, rtt)

    # -- receiving --

    async def recv(self) -> Message:
        """Return the next message (``str`` for text, ``bytes`` for binary).

        Raises:
            ConnectionClosed: the connection closed and no message is left.
        """
        while not self._messages:
            if self._closed.done():
                raise self._proto.closed_error()
            self._waiter = self._proto.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        message = self._messages.popleft()
        if len(self._messages) <= self._proto.limits.max_queue // 2:
            self._proto.resume_reading()
        return message

    def __aiter__(self) -> WebSocket:
        return self

    async def __aenter__(self) -> WebSocket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def __anext__(self) -> Message:
        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration from None

    def _deliver(self, message: Message) -> None:
        self._messages.append(message)
        if len(self._messages) >= self._proto.limits.max_queue:
            self._proto.pause_reading()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _mark_closed(self) -> None:
        if not self._closed.done():
            self._closed.set_result(None)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # -- sending --

    def send(self, message: str | bytes | bytearray | memoryview) -> None:
        """Send one message: text for ``str``, binary otherwise.

        Raises:
            ConnectionClosed: the closing handshake has started.
        """
        self._proto.send_message(message)

    def send_prebuilt(self, frame: bytes | bytearray | memoryview) -> None:
        """Write one complete, already framed (and masked) data frame: the order hot path.

        ``venues.templates`` builds the frame in the same pass that fills and signs the
        order; this writes it to the socket before returning (or into the transport's
        buffer when the socket is full), after anything the core had queued.

        Raises:
            ConnectionClosed: the connection is not open.
        """
        self._proto.send_prebuilt(frame)

    def send_target(self) -> int | Session | None:
        """Return where an order call may write a frame itself now, or None (``send_prebuilt``).

        The socket's fd on plain TCP, the native TLS ``Session`` on ``net.nativetls``
        (``BinanceOrderTemplate.send`` writes to either in the same C call that builds the
        frame), only while nothing could be queued ahead of the frame: the connection OPEN
        with no fragmented or compressed send under way, outside a read (what a callback
        sends waits for the read's end), the transport's buffer empty and not closing.
        None under asyncio's ``ssl``, after ``set_writer`` (io_uring) and otherwise. Ask
        right before the write: anything sent in between voids the answer.
        """
        return self._proto.send_target()

    def send_rest(self, rest: bytes | bytearray | memoryview) -> None:
        """Queue the part of a frame that ``send_target()``'s fd did not take, in order.

        The transport was empty when the target was handed out, so the rest goes first. A
        TLS session never hands back a rest: its ``send`` queues it in the transport's
        backlog itself, which retries OpenSSL's blocked write with the same bytes.
        """
        transport = self._proto.transport
        if transport is not None:
            transport.write(rest)

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        await self._proto.drain()

    @property
    def buffered_amount(self) -> int:
        """Bytes accepted for sending but not yet handed to the kernel (0: nothing queued).

        The transport's buffer (with io_uring, also its backlog and the sends the kernel has
        not completed, not those merely unreaped); inside a read (a message callback),
        what the core queued waits for the read to end and counts as at least 1. A sender
        that must never queue behind other data (the venues' warm-up pong) writes only when
        this is 0.
        """
        proto = self._proto
        transport = proto.transport
        queued = 0
        if transport is not None:
            ring_queued = getattr(transport, "get_queued_size", None)  # net.uring.RingTransport
            queued = ring_queued() if ring_queued is not None else transport.get_write_buffer_size()
        return queued + 1 if proto._receiving else queued

    def ping(self, payload: bytes = b"") -> None:
        """Send a ping (at most 125 bytes of payload, RFC 6455 §5.5)."""
        self._proto.send_ping(payload)

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Start the closing handshake (if not started) and wait until the socket closes."""
        self._proto.start_close(code, reason)
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Wait until the TCP connection has closed."""
        await asyncio.shield(self._closed)

    @property
    def closed(self) -> bool:
        """Whether the TCP connection has closed."""
        return self._closed.done()

    @property
    def close_code(self) -> int | None:
        """The close code the peer sent (1005 if none, 1006 if no close frame), once closed."""
        return self._proto.close_code if self._closed.done() else None

    @property
    def close_reason(self) -> str:
        """The close reason the peer sent, once closed."""
        return self._proto.close_reason

    @property
    def remote_address(self) -> Any:
        """The peer's socket address."""
        return self._proto.peername


#: the synchronous receive path: called with each whole message as it completes
MessageCallback = Callable[[WebSocket, Message], None]


class WebSocketProtocol(asyncio.BufferedProtocol):
    """Move bytes between one socket and one handshake-then-``Connection`` (either role).

    Two receive paths, as in ``ws.protocol``: by default whole messages are queued for
    ``WebSocket.recv``; with ``on_message`` the core's frame path is used and the callback
    runs synchronously as each message completes, inside the read that completed it, so
    whatever it sends goes out in that same write, ahead of anything the rest of the read
    causes (such as the close after a protocol error).
    """

    def __init__(
        self,
        handshake: ClientHandshake | ServerHandshake,
        *,
        limits: Limits | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        on_open: Callable[[WebSocket], None] | None = None,
        on_handshake_error: Callable[[BaseException], None] | None = None,
        on_message: MessageCallback | None = None,
        on_frame: core.FrameCallback | None = None,
        on_transport: Callable[[asyncio.BaseTransport], None] | None = None,
    ) -> None:
        self.loop = loop or asyncio.get_running_loop()
        self._fd = -1  # the socket's fd for direct writes (plain TCP), set on connect
        self._session: Session | None = None  # the native TLS session (net.nativetls)
        # Runs before a byte is written (TLS pin check); raising fails the handshake.
        self._on_transport = on_transport
        self.limits = limits or Limits()
        self._handshake: ClientHandshake | ServerHandshake | None = handshake
        self._is_client = isinstance(handshake, ClientHandshake)
        self._on_open = on_open
        self._on_handshake_error = on_handshake_error
        self._on_message = on_message
        # the raw frame path: the core calls it directly (no layer, no copy)
        self._on_frame = on_frame
        self._buffer = bytearray(READ_MIN)
        self._view = memoryview(self._buffer)
        self._small_reads = 0
        self.transport: asyncio.Transport | None = None
        self.conn: core.Connection | None = None
        self.ws: WebSocket | None = None
        self.peername: Any = None
        self._timer: asyncio.TimerHandle | None = None
        self._receiving = False
        self._reading_paused = False
        # reads stopped while the core has work left for later turns (Limits.work_per_turn)
        self._work: asyncio.Handle | None = None
        self._writing_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._lost = False
        #: done when the TCP connection is gone (whatever the phase)
        self.lost: asyncio.Future[None] = self.loop.create_future()
        self._reads = 0
        # frame path: the message in progress, assembled as its pieces arrive, and its
        # opcode
        self._msg = assembly.new_buffer()
        self._opcode = 0
        # a whole text message decoded over turns (work_per_turn bytes each), the core
        # paused behind it (core.PAUSE) so nothing after it is delivered first
        self._decoding = False
        # the per-read path in C (the picows model): the loop calls the reader as
        # buffer_updated; armed, it hands each plain frame of a read to the callback with
        # no Python frame between, and the Python reader below takes anything else
        self._reader: PlainReader | None = None
        if SPEEDUPS and _io is not None and (on_frame or on_message):
            self._reader = _io.PlainReader(self._read, self._read_rest, READ_MIN)
            self._reader.set_view(self._view)
            # it keeps an incomplete plain frame at the buffer's start and hands the loop
            # the space behind it, so a stream of small frames stays in C
            self.get_buffer = self._reader.get_buffer  # type: ignore[method-assign,assignment]
            self.buffer_updated = self._reader  # type: ignore[method-assign,assignment]  # C, same contract
        # the send path in C: WebSocket.send is this sender; armed, a message is framed,
        # masked and written with one write(2) when nothing is queued ahead of it
        self._sender: DirectSender | None = None
        if SPEEDUPS and _io is not None:
            self._sender = _io.DirectSender(self.send_message)

    # -- asyncio.BufferedProtocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport but provide its methods.
        self.transport = cast(asyncio.Transport, transport)
        self.peername = transport.get_extra_info("peername")
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # the order hot path writes straight to the socket when nothing is buffered (the
        # picows model): uvloop's transport.write defers the syscall to the end of the loop
        # iteration, after whatever bookkeeping follows the send. Plain TCP only.
        plain = sock is not None and transport.get_extra_info("sslcontext") is None
        self._fd = sock.fileno() if plain else -1
        tls = transport.get_extra_info("ssl_object")
        self._session = tls if _tls is not None and type(tls) is _tls.Session else None
        if self._on_transport is not None:
            try:
                self._on_transport(transport)
            except Exception as exc:
                self._handshake_failed(exc)
                self.transport.abort()
                return
        if isinstance(self._handshake, ClientHandshake):
            self.transport.write(self._handshake.request())
        self._arm_timer(self.limits.open_timeout)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    @property
    def reads(self) -> int:
        """Reads completed (keepalive counts any arrival as a sign of life)."""
        reader = self._reader
        return self._reads if reader is None else self._reads + reader.reads

    def buffer_updated(self, nbytes: int) -> None:
        self._reads += 1
        self._read(nbytes)

    def _read(self, nbytes: int) -> None:
        # One whole read, the reference path (and the C reader's fallback when unarmed).
        if self._handshake is not None:
            self._handshake_data(bytes(self._view[:nbytes]))
        elif self.conn is not None:
            # The core parses in place (and unmasks in place on the frame path); it copies
            # only an incomplete frame's bytes before we reuse the buffer.
            self._receive(self._view[:nbytes])
            self._rearm()
        self._size(nbytes)

    def _read_rest(self, nbytes: int, pos: int, exc: BaseException | None) -> None:
        # The C reader took the plain frames before pos; the Python reader takes the rest.
        if exc is not None:
            self._callback_failed(exc)
        if pos < nbytes:
            self._receive(self._view[pos:nbytes])
            self._rearm()
        elif exc is not None:
            self._after_receive()
        self._size(nbytes)

    def _rearm(self) -> None:
        # Armed only while the core is between frames and messages (it says when).
        reader = self._reader
        if reader is not None:
            conn = self.conn
            if conn is None or self._lost:
                reader.armed = False
                return
            if not reader.pending:
                # An incomplete plain frame left by the Python reader moves to the
                # buffer's start, so a stream of small frames returns to the C path.
                part = conn.take_partial_frame(len(self._view) // 2)
                if part is not None:
                    self._view[: len(part)] = part
                    reader.pending = len(part)
            reader.armed = conn.plain_ready()

    def _size(self, nbytes: int) -> None:
        # Grow on a full read (more is waiting: fewer, larger reads in a burst), shrink
        # after a run of small ones, so a quiet connection returns to READ_MIN.
        size = len(self._buffer)
        if nbytes == size:
            self._small_reads = 0
            if size < READ_SIZE:
                self._new_buffer(size * 2)
        elif nbytes < size >> 2 and size > READ_MIN:
            self._small_reads += 1
            if self._small_reads >= SHRINK_AFTER:
                self._small_reads = 0
                self._new_buffer(size // 2)
        else:
            self._small_reads = 0

    def _new_buffer(self, size: int) -> None:
        # A new buffer rather than a resize: nothing may still view the old one's bytes.
        old = self._view
        self._buffer = bytearray(size)
        self._view = memoryview(self._buffer)
        if self._reader is not None:
            kept = self._reader.pending  # an incomplete frame at the start moves along
            self._view[:kept] = old[:kept]
            self._reader.set_view(self._view)

    def eof_received(self) -> bool | None:
        if isinstance(self._handshake, ClientHandshake):
            try:
                self._handshake.receive_eof()
            except InvalidHandshake as exc:
                self._handshake_failed(exc)
        elif self.conn is not None and not self._lost:
            self.conn.receive_eof()
            self._rearm()
            self._after_receive()
        return None  # let asyncio close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._work is not None:
            self._work.cancel()
            self._work = None
        self._rearm()
        if self._sender is not None:
            self._sender.armed = False
        if not self.lost.done():
            self.lost.set_result(None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._handshake is not None:
            self._handshake_failed(
                InvalidHandshake("connection closed during the opening handshake")
            )
        self._wake_drainers()
        if self.ws is not None:
            self.ws._mark_closed()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_drainers()

    def _wake_drainers(self) -> None:
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()

    # -- opening handshake --

    def _handshake_data(self, data: bytes) -> None:
        hs = self._handshake
        assert hs is not None and self.transport is not None
        if isinstance(hs, ClientHandshake):
            try:
                established = hs.receive_data(data)
            except InvalidHandshake as exc:
                self._handshake_failed(exc)
                return
            if established is not None:
                self._open(established)
            return
        outcome = hs.receive_data(data)
        if outcome is None:
            return
        self.transport.write(outcome.response)
        if isinstance(outcome, Rejected):
            self._handshake_failed(outcome.error)
        else:
            self._open(outcome)

    def _handshake_failed(self, exc: BaseException) -> None:
        self._handshake = None
        if self._on_handshake_error is not None:
            callback, self._on_handshake_error = self._on_handshake_error, None
            callback(exc)
        if self.transport is not None and not self._lost:
            self.transport.close()

    def _open(self, outcome: Established | Accepted) -> None:
        self._handshake = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        codec = None
        if outcome.deflate is not None:
            codec = PerMessageDeflate(outcome.deflate, is_client=self._is_client)
        self.conn = core.Connection(
            core.Role.CLIENT if self._is_client else core.Role.SERVER,
            deflate=codec,
            max_frame_size=self.limits.max_frame_size,
            max_message_size=self.limits.max_message_size,
            on_frame=self._on_frame or (self._frame if self._on_message is not None else None),
            work_budget=self.limits.work_per_turn,
        )
        if isinstance(outcome, Established):
            path, headers = "", outcome.response.headers
        else:
            path, headers = outcome.request.target, outcome.request.headers
        self.ws = WebSocket(
            self,
            subprotocol=outcome.subprotocol,
            deflate=outcome.deflate,
            path=path,
            headers=headers,
        )
        if self._reader is not None:
            want_mask, limit, check_utf8 = self.conn.plain_params()
            if self._on_frame is not None:
                self._reader.arm(want_mask, limit, check_utf8, self._on_frame, None)
            elif self._on_message is not None:
                self._reader.arm(want_mask, limit, check_utf8, self._on_message, self.ws)
        if self._sender is not None:
            keys = self.conn.mask_keys
            # the process-wide pool's keys come from os.urandom; the sender's own pool
            # reads the same kernel CSPRNG without a Python call per key. Without a socket
            # of ours (TLS) it frames in C and hands the frame to transport.write.
            fd = self._fd if self._fd >= 0 else None
            pool = True if keys is default_key_pool() else keys
            self._sender.bind(fd, self.transport, self.conn, pool)
            self._sender.armed = True
        if self._on_open is not None:
            self._on_open(self.ws)
        if outcome.trailing_data:
            self._receive(bytearray(outcome.trailing_data))
        self._rearm()

    # -- open connection --

    def _receive(self, data: bytearray | memoryview | None) -> None:
        # data None: go on with the work the core left for this turn (conn.resume)
        conn = self.conn
        assert conn is not None
        # While the core reads, what callbacks send is queued behind what the read causes
        # (pongs, a close): the direct sender waits. Outside a read nothing is queued.
        self._receiving = True
        sender = self._sender
        if sender is not None and not sender.armed:
            sender = None
        if sender is not None:
            sender.armed = False
        try:
            if data is None:
                if not self._decoding or self._decode_more():
                    conn.resume()
            else:
                conn.receive_data(data)
        except Exception as exc:
            self._callback_failed(exc)
        finally:
            self._receiving = False
            if sender is not None and not self._lost:
                sender.armed = True
        self._after_receive()

    def _callback_failed(self, exc: BaseException) -> None:
        # Only a frame callback can raise here (the core never raises protocol errors);
        # answer 1011 without details, as close_code_for does.
        log.error("WebSocket message callback failed", exc_info=exc)
        conn = self.conn
        if conn is not None and conn.state is core.State.OPEN:
            conn.send_close(close_code_for(RuntimeError()))

    def _frame(self, opcode: int, payload: memoryview, fin: bool) -> object:
        # Frame path: reassemble (the view is only valid during this call). Each piece is
        # copied into the message's buffer in the turn it arrived, so completing a message
        # of many megabytes copies nothing more, and a large text is decoded over turns
        # (ws.assembly; issue 21).
        if opcode:
            self._opcode = opcode
        msg = self._msg
        text = self._opcode == 1
        if not fin:
            if text:
                msg.append_text(payload)
            else:
                msg.append(payload)
            return None
        assert self._on_message is not None and self.ws is not None
        message: Message
        if len(msg):
            if not text:
                msg.append(payload)
                message = msg.take()
            else:
                # the core validated the UTF-8 piece by piece before handing out this one
                msg.append_text(payload)
                self._decoding = True
                return None if self._decode_more() else core.PAUSE
        elif text:
            message = str(payload, "utf-8")
        else:
            # an inflated frame comes as a view of a bytes of its own: no second copy
            obj = payload.obj
            message = obj if type(obj) is bytes and len(obj) == payload.nbytes else bytes(payload)
        self._on_message(self.ws, message)
        return None

    def _decode_more(self) -> bool:
        # One turn's worth of decoding the text message in progress; deliver it when whole.
        text = self._msg.decode_step(self.limits.work_per_turn)
        if text is None:
            return False
        self._decoding = False
        assert self._on_message is not None and self.ws is not None
        self._on_message(self.ws, text)
        return True

    def _after_receive(self) -> None:
        conn = self.conn
        ws = self.ws
        assert conn is not None and ws is not None and self.transport is not None
        events = conn.events_received()
        if events:
            for event in events:
                if isinstance(event, core.TextMessage | core.BinaryMessage):
                    ws._deliver(event.data)
                elif isinstance(event, core.Pong):
                    ws._pong(event.payload)
        data = conn.data_to_send()
        if data and not self._lost:
            self._write_now(data)
        if conn.work_pending():
            self._schedule_work()
        # Both close conditions imply the core has left OPEN; skip the calls otherwise.
        if conn.state is not core.State.OPEN:
            self._check_close()

    def _schedule_work(self) -> None:
        # The core stopped at its budget: stop reading (the bytes wait in the kernel) and
        # go on next turn, after the loop has served every other ready connection.
        if self._work is None and not self._lost:
            self._work = self.loop.call_soon(self._do_work)
            if not self._reading_paused and self.transport is not None:
                self.transport.pause_reading()

    def _do_work(self) -> None:
        self._work = None
        conn = self.conn
        if conn is None or self._lost:
            return
        self._receive(None)
        self._rearm()
        if self._work is None and not self._reading_paused and self.transport is not None:
            self.transport.resume_reading()

    def _write_now(self, data: bytes) -> None:
        # One write(2) now when nothing is queued ahead (plain TCP): uvloop's
        # transport.write would defer it to the end of the loop iteration.
        transport = self.transport
        assert transport is not None
        if self._fd >= 0 and not transport.get_write_buffer_size() and not transport.is_closing():
            try:
                sent = os.write(self._fd, data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # the transport's own write meets and reports the failure
            if sent == len(data):
                return
            data = data[sent:]
        transport.write(data)

    def _flush(self) -> None:
        conn = self.conn
        assert conn is not None and self.transport is not None
        data = conn.data_to_send()
        if data and not self._lost:
            self.transport.write(data)
        if conn.work_pending():
            self._schedule_work()

    def _check_close(self) -> None:
        conn = self.conn
        assert conn is not None and self.transport is not None
        if self._lost:
            return
        if conn.should_close_transport():
            # asyncio writes out what is buffered before closing.
            self.transport.close()
        elif conn.close_expected() and self._timer is None:
            # RFC 6455 §7.1.1: the server closes TCP first; bound the wait for the peer.
            self._arm_timer(self.limits.close_timeout)

    def _arm_timer(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(delay, self._timeout)

    def _timeout(self) -> None:
        self._timer = None
        if self.transport is not None and not self._lost:
            self.transport.abort()

    # -- the writer --

    @property
    def socket_fd(self) -> int | None:
        """Return the socket fd this protocol writes to itself, or None.

        On plain TCP the protocol (and its C sender) write(2) straight to the socket when
        nothing is queued, skipping the transport. None under TLS (the bytes must go
        through the TLS layer), before the connection is made, and after `set_writer`.
        """
        return self._fd if self._fd >= 0 else None

    def set_writer(self, writer: asyncio.Transport) -> None:
        """Send every later write of this open connection through ``writer``.

        ``writer`` stands in for the transport from now on (``write``, ``writelines``,
        ``get_write_buffer_size``, ``is_closing``, ``close``, ``abort`` and whatever else the
        protocol calls) and takes over the socket, e.g. ``net.uring.RingTransport`` wrapping
        the transport. The direct paths that write to the socket themselves, the Python
        ``os.write`` and the C ``DirectSender``, are switched off for good: each pong,
        close, message and prebuilt frame then goes to ``writer.write`` in the order it was
        written, so two paths can never interleave their bytes on the wire (RFC 6455 §5.4).
        Reading is unchanged. A disarmed ``DirectSender`` hands each message to
        `send_message` (the core frames it, ``writer`` writes it); the protocol re-arms it
        only after a read that found it armed, so it stays off.

        Raises:
            ConnectionClosed: the connection is not open (closing, closed or lost).
        """
        transport = self.transport
        if transport is None or transport.is_closing() or self._lost:
            raise self.closed_error()
        self.transport = writer
        self._fd = -1
        self._session = None
        if self._sender is not None:
            self._sender.armed = False

    # -- used by WebSocket --

    def send_message(self, message: str | bytes | bytearray | memoryview) -> None:
        conn = self.conn
        if conn is None or self._lost or conn.state is not core.State.OPEN:
            raise self.closed_error()
        if isinstance(message, str):
            conn.send_text(message)
        else:
            conn.send_binary(message)
        if not self._receiving:
            self._flush()

    def send_prebuilt(self, frame: bytes | bytearray | memoryview) -> None:
        conn = self.conn
        if conn is None or self._lost or self.transport is None:
            raise self.closed_error()
        try:
            data = conn.send_prebuilt(frame)
        except InvalidState:
            raise self.closed_error() from None
        transport = self.transport
        if self._fd >= 0 and not transport.get_write_buffer_size() and not transport.is_closing():
            # nothing queued ahead of it: one write(2) now; the transport takes any rest
            try:
                sent = os.write(self._fd, data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # the transport's own write will meet and report the failure
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
        transport.write(data)

    def send_target(self) -> int | Session | None:
        # WebSocket.send_target; plain_send: OPEN, uncompressed, no fragmented send (outside
        # a read the core's own output has been flushed: send_message, ping, close do it)
        conn = self.conn
        if conn is None or not conn.plain_send or self._receiving or self._lost:
            return None
        session = self._session
        if session is not None:
            # one C attribute: set while the transport has a backlog or is closing
            return None if session.blocked else session
        transport = self.transport
        if (
            self._fd < 0
            or transport is None
            or transport.get_write_buffer_size()
            or transport.is_closing()
        ):
            return None
        return self._fd

    def send_ping(self, payload: bytes) -> None:
        conn = self.conn
        if conn is None or self._lost or conn.state is not core.State.OPEN:
            raise self.closed_error()
        conn.send_ping(payload)
        if not self._receiving:
            self._flush()

    def start_close(self, code: int, reason: str) -> None:
        conn = self.conn
        if self.transport is None or self._lost:
            return
        if conn is None:
            self.transport.close()
            return
        if conn.state is core.State.OPEN:
            conn.send_close(code, reason)
        if not self._receiving:
            self._flush()
            self._check_close()

    def fail(self, code: int, reason: str) -> None:
        """Send a close frame if still open, then abort the socket without waiting."""
        conn = self.conn
        if self.transport is None or self._lost:
            return
        if conn is not None and conn.state is core.State.OPEN:
            conn.send_close(code, reason)
            self._flush()
        self.transport.abort()

    async def drain(self) -> None:
        if self._writing_paused and not self._lost:
            waiter = self.loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    def pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None and not self._lost:
            self._reading_paused = True
            if self._work is None:  # else reading is paused for the work already
                self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self._lost:
            self._reading_paused = False
            if self._work is None:  # else _do_work resumes it when the work is done
                self.transport.resume_reading()

    @property
    def close_code(self) -> int:
        """The peer's close code: 1005 for an empty close, 1006 when none arrived."""
        code = self.conn.close_code if self.conn is not None else None
        return CloseCode.ABNORMAL if code is None else code

    @property
    def close_reason(self) -> str:
        """The peer's close reason."""
        return self.conn.close_reason if self.conn is not None else ""

    def closed_error(self) -> ConnectionClosed:
        received = self.conn is not None and self.conn.close_code not in (None, 1006)
        return ConnectionClosed(self.close_code, self.close_reason, received)

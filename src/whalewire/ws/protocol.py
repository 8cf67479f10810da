"""The WebSocket connection state machine (RFC 6455 §5–§7, RFC 7692 §6), sans-IO.

``Connection`` takes the bytes that follow the opening handshake and turns them into
events, and turns ``send_*`` calls into bytes. All state transitions live in this module,
in ``_TRANSITIONS``. Two receive paths share one frame reader:

* the message path (default): fragments are reassembled, text is validated and decoded,
  compressed messages are inflated, and ``events_received()`` returns ``TextMessage`` /
  ``BinaryMessage`` events;
* the frame path (``on_frame=``, the picows model): each data frame is handed to the
  callback as ``(opcode, payload: memoryview, fin)``, parsed in place over the receive
  buffer and unmasked in place, with no object allocated per frame. The view is valid only
  during the call.

Control frames are handled here on both paths: pings are answered with a pong carrying the
same payload, a close is echoed, and a protocol violation queues a close frame with its
code (1002, 1007, 1009) and stops all further processing (§7.1.7). Errors are sticky and
never raised by ``receive_data``: read ``error`` and ``close_expected()``.

This module knows nothing of sockets, asyncio or the handshake; the codec for
permessage-deflate is passed in (``MessageCodec``).

State transitions (``_TRANSITIONS``)::

    OPEN ──send_close──> CLOSING ──close received──> CLOSED
    OPEN ──close received (echoed at once)─────────> CLOSED
    OPEN ──protocol error (close queued)──> CLOSING
    any  ──receive_eof──> CLOSED
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final, Protocol

from whalewire import speedups
from whalewire.ws import assembly as _assembly
from whalewire.ws import frames as _frames
from whalewire.ws import mask as _mask
from whalewire.ws import utf8 as _utf8
from whalewire.ws.exceptions import (
    CloseCode,
    InvalidState,
    InvalidUTF8,
    PayloadTooBig,
    ProtocolError,
)
from whalewire.ws.frames import (
    HEADROOM,
    MAX_CONTROL_PAYLOAD,
    BytesLike,
    Opcode,
    build_close_payload,
    parse_close_payload,
)
from whalewire.ws.mask import MaskKeyPool, default_key_pool

# None when not built: the Python reader does everything
_speedups = speedups.load("whalewire.ws._speedups")

__all__ = [
    "PAUSE",
    "BinaryMessage",
    "CloseReceived",
    "Connection",
    "Event",
    "FrameCallback",
    "MessageCodec",
    "Ping",
    "Pong",
    "Role",
    "State",
    "TextMessage",
]

#: default limit on a message (and on a frame): 1 MiB
DEFAULT_MAX_MESSAGE_SIZE: Final = 1 << 20
#: a data frame with at least this many payload bytes is taken piece by piece as its bytes
#: arrive (as if the peer had fragmented it, RFC 6455 §5.4), so that no turn copies,
#: unmasks or validates more than the bytes it received
STREAM_FROM: Final = 64 * 1024

ScanFrames = Callable[
    [memoryview, int, bool, int, bool, "FrameCallback"], "int | tuple[int, BaseException]"
]
ScanMessages = Callable[
    [memoryview, int, bool, int, bool, "list[Event]", "type[TextMessage]", "type[BinaryMessage]"],
    int,
]
_scan_frames: ScanFrames | None = None
_scan_messages: ScanMessages | None = None
#: True when plain frames are read in C (``_speedups.scan_frames``/``scan_messages``)
SPEEDUPS = False


def _switch(enabled: bool) -> bool:
    # whalewire.speedups calls this. The C scanners take only complete, unfragmented,
    # uncompressed TEXT/BINARY frames with valid UTF-8 and stop at anything else, which the
    # Python reader below (the reference) then handles. Connections bind the choice when
    # they are created.
    global _scan_frames, _scan_messages, SPEEDUPS
    SPEEDUPS = enabled and _speedups is not None
    _scan_frames = _speedups.scan_frames if SPEEDUPS and _speedups else None
    _scan_messages = _speedups.scan_messages if SPEEDUPS and _speedups else None
    return SPEEDUPS


class Role(Enum):
    """Which end of the connection we are; it decides the masking direction (§5.1)."""

    CLIENT = "client"  #: masks what it sends, refuses masked frames
    SERVER = "server"  #: refuses unmasked frames, never masks


class State(IntEnum):
    """Connection states, RFC 6455 §4.1 and §7."""

    #: the opening handshake is in progress; the business of ``ws.handshake``, never a
    #: ``Connection``'s state
    CONNECTING = 0
    #: the handshake succeeded; messages flow both ways (§4.1)
    OPEN = 1
    #: one close frame has been sent (by us or after a protocol error), the peer's is due
    CLOSING = 2
    #: close frames went both ways, or the transport ended (§7.1.4)
    CLOSED = 3


_OPEN: Final = State.OPEN


class _Trigger(Enum):
    SEND_CLOSE = "send_close"
    RECEIVE_CLOSE = "receive_close"
    FAIL = "fail"
    EOF = "eof"


#: every legal transition; a step not listed raises InvalidState and changes nothing
_TRANSITIONS: Final[dict[tuple[State, _Trigger], State]] = {
    (State.OPEN, _Trigger.SEND_CLOSE): State.CLOSING,
    # We echo the close at once (§5.5.1), which completes the close handshake.
    (State.OPEN, _Trigger.RECEIVE_CLOSE): State.CLOSED,
    (State.CLOSING, _Trigger.RECEIVE_CLOSE): State.CLOSED,
    # §7.1.7: fail the connection: queue a close frame, process nothing more.
    (State.OPEN, _Trigger.FAIL): State.CLOSING,
    (State.CLOSING, _Trigger.FAIL): State.CLOSING,
    (State.OPEN, _Trigger.EOF): State.CLOSED,
    (State.CLOSING, _Trigger.EOF): State.CLOSED,
    (State.CLOSED, _Trigger.EOF): State.CLOSED,
}


@dataclass(frozen=True, slots=True)
class TextMessage:
    """A whole text message, decoded from UTF-8."""

    data: str


@dataclass(frozen=True, slots=True)
class BinaryMessage:
    """A whole binary message."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Ping:
    """A ping arrived (already answered with a pong unless we are closing)."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    """A pong arrived."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The peer's close frame arrived; ``code`` is 1005 when it carried no status."""

    code: int
    reason: str


Event = TextMessage | BinaryMessage | Ping | Pong | CloseReceived


class _Pause:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PAUSE"


#: what a frame callback returns, for a continuation frame (opcode 0), to stop the reader
#: after that frame as if the work budget had run out: ``work_pending()`` is then True and
#: the bytes that follow wait for ``resume()`` (``net`` decodes a large text message over
#: several turns this way before anything after it is read)
PAUSE: Final = _Pause()

#: ``on_frame(opcode, payload, fin)``: opcode is the frame's own (0 for a continuation).
#: A frame of ``STREAM_FROM`` bytes or more (after inflating: more than one call's work
#: budget) may come in several calls, as if the peer had fragmented it: the first with the
#: frame's opcode, the next ones with 0, the last with the frame's FIN. Frame boundaries
#: carry no meaning for the application (RFC 6455 §5.4); a message ends at ``fin=True``.
FrameCallback = Callable[[int, memoryview, bool], object]


class MessageCodec(Protocol):
    """A per-message compression codec (``ws.deflate.PerMessageDeflate`` implements it)."""

    def compress(self, payload: BytesLike) -> bytes:
        """Return one whole message compressed, the deflate tail stripped (RFC 7692 §7.2.1)."""

    def compress_step(self, chunk: BytesLike, *, fin: bool) -> bytes:
        """Compress the next part of a message sent as fragments; ``fin`` ends it."""

    def decompress_step(
        self, fragment: BytesLike | None, *, fin: bool, max_size: int, budget: int
    ) -> tuple[bytes, bool]:
        """Inflate at most ``budget`` bytes of one frame (None: go on with the last one).

        Return the bytes and whether the frame is done. Raise ``PayloadTooBig`` above
        ``max_size`` and ``ProtocolError`` on corrupt data; anything else is treated as
        our own failure (1011).
        """


class _TxJob:
    """A message whose compression goes on over later calls (``Connection.resume``)."""

    __slots__ = ("compress", "data", "opcode", "pos")

    def __init__(self, opcode: int, data: bytes | str, compress: bool) -> None:
        self.opcode = opcode
        self.data = data  # a str only when ASCII: encoded a budget's worth at a time
        self.compress = compress
        self.pos = 0  # bytes of data compressed and queued so far


def _is_writable(data: BytesLike) -> bool:
    return isinstance(data, bytearray) or (isinstance(data, memoryview) and not data.readonly)


speedups.register(__name__, _switch)


class Connection:
    """One WebSocket connection after the handshake: bytes in, events out, sends to bytes.

    Not thread-safe. Callbacks must not call ``receive_data`` again (they may send).
    """

    def __init__(
        self,
        role: Role,
        *,
        deflate: MessageCodec | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_frame_size: int | None = None,
        on_frame: FrameCallback | None = None,
        check_utf8: bool = True,
        mask_keys: MaskKeyPool | None = None,
        work_budget: int | None = None,
    ) -> None:
        """Start an OPEN connection.

        Args:
            role: our end; the client masks, the server requires masked frames.
            deflate: the negotiated permessage-deflate codec, or None (RSV1 then fails 1002).
            max_message_size: the most bytes of one message (after inflating): 1009 above.
            max_frame_size: the most payload bytes of one frame (default: the message limit).
            on_frame: take data frames on the frame path (see the module docstring).
            check_utf8: validate text (off only for a frame-path peer you trust).
            mask_keys: where a client's mask keys come from (default: a process-wide pool).
            work_budget: the most bytes one call (``receive_data``, ``resume``) inflates
                and deflates; the rest waits for ``resume`` (``work_pending()``), so one
                peer's compressed messages cannot hold the caller for long. None: no bound.
        """
        self.role = role
        #: the current state; only this module changes it
        self.state = State.OPEN
        #: the protocol violation that failed the connection, if any
        self.error: ProtocolError | None = None
        #: the peer's close code (1005: none given; 1006: the transport ended without one)
        self.close_code: int | None = None
        #: the peer's close reason
        self.close_reason = ""
        #: the code of the close frame we sent, if any (None inside means an empty close)
        self.sent_close_code: int | None = None
        self._server = role is Role.SERVER
        self._want_mask = 0x80 if self._server else 0
        self._deflate = deflate
        self._max_msg = max_message_size
        self._max_frame = max_message_size if max_frame_size is None else max_frame_size
        self._on_frame = on_frame
        self._scan = None if on_frame is None else _scan_frames
        self._plain_c = on_frame is not None and SPEEDUPS
        self._scan_messages = None if on_frame is not None else _scan_messages
        self._scan_limit = min(self._max_frame, self._max_msg)
        self._check_utf8 = check_utf8
        self._keys = None if self._server else (mask_keys or default_key_pool())
        #: where a client's mask keys come from (None for a server, which never masks)
        self.mask_keys = self._keys
        #: whether a whole message may go out now as one plain frame that the transport
        #: frames itself (OPEN, no compression negotiated, no fragmented send under way);
        #: with nothing queued in ``data_to_send()`` the order on the wire still holds
        self.plain_send = deflate is None
        self._events: list[Event] = []
        self._out: list[bytes] = []
        self._close_sent = False
        self._eof = False
        # receive side
        self._buf = bytearray()  # the bytes of a frame not yet complete
        self._rx_stopped = False  # close received, failed or EOF: ignore further bytes
        self._rx_opcode = 0  # first opcode of the fragmented message in progress, 0 if none
        self._rx_compressed = False
        # the fragmented message in progress (message path), assembled as it arrives
        self._rx_msg: _assembly.MessageBuffer = _assembly.new_buffer()
        self._rx_size = 0
        # a large frame taken piece by piece (STREAM_FROM): its payload bytes still to
        # come, first byte, mask key (None unmasked) and payload bytes already taken
        self._rx_left = 0
        self._rx_frame = 0
        self._rx_key: bytes | None = None
        self._rx_off = 0
        self._rx_utf8: _utf8.Utf8Validator | None = None
        self._rx_checked = 0  # payload bytes of the incomplete frame already UTF-8 checked
        self._rx_resume = 0  # where parsing resumes if the frame callback raises
        # send side: the opcode of the fragmented message we are sending, 0 if none
        self._tx_opcode = 0
        # bounded work (work_budget): what one call may still inflate and deflate, a frame
        # inflated in part (opcode, first byte, whether a piece of it was handed on),
        # messages still to compress (in order, behind which every data message waits)
        # and a close waiting for them
        self._budget_size = (1 << 62) if work_budget is None else max(1, work_budget)
        self._budget = self._budget_size
        self._rx_suspended = False
        self._rx_held: tuple[int, int, bool] | None = None
        self._rx_decoding = False  # a whole text message is being decoded (ws.assembly)
        self._tx_jobs: collections.deque[_TxJob] = collections.deque()
        self._tx_close: bytes | None = None

    # ---- state ---------------------------------------------------------------------------

    def _transition(self, trigger: _Trigger) -> None:
        try:
            self.state = _TRANSITIONS[self.state, trigger]
        except KeyError:
            raise InvalidState(f"cannot {trigger.value} in state {self.state.name}") from None
        if self.state is not _OPEN:
            self.plain_send = False

    def close_expected(self) -> bool:
        """Return whether the transport should close soon (arm a timer if it is still open).

        True once a close frame went either way or the connection failed.
        """
        return self.state is not State.OPEN

    def should_close_transport(self) -> bool:
        """Return whether we should close the transport ourselves once our bytes are sent.

        The server closes first after the close handshake (RFC 6455 §7.1.1); either side
        closes after failing the connection (§7.1.7) or after the peer's EOF. A client
        whose close handshake completed waits for the server to close.
        """
        if self._eof or self.error is not None:
            return True
        return self._server and self.state is State.CLOSED

    # ---- receiving -----------------------------------------------------------------------

    def events_received(self) -> list[Event]:
        """Return the events parsed since the last call."""
        events = self._events
        if events:
            self._events = []
        return events

    def receive_eof(self) -> None:
        """Record that the transport ended; a missing close frame means code 1006."""
        self._eof = True
        self._rx_stopped = True
        self._buf = bytearray()
        self._rx_left = 0
        self._rx_decoding = False
        if self.close_code is None:
            self.close_code = CloseCode.ABNORMAL
        self._transition(_Trigger.EOF)

    def receive_data(self, data: BytesLike) -> None:
        """Parse ``data``, the next bytes from the peer; any split gives the same events.

        A protocol violation is not raised: it fails the connection (``error`` set, close
        frame queued, ``close_expected()`` true). On the frame path a server unmasks a
        writable ``data`` in place. Exceptions raised by ``on_frame`` propagate; the frames
        before and including that one count as consumed.
        """
        if self._rx_stopped or not data:
            return
        if self._rx_suspended:
            # work left for resume(): these bytes wait behind it, in order
            self._append(data)
            return
        self._budget = self._budget_size
        self._receive(data)

    def work_pending(self) -> bool:
        """Return whether the last call left work for ``resume`` (its ``work_budget`` ran out).

        While it does, bytes given to ``receive_data`` are only stored: call ``resume``
        (on a later turn of your loop, after stopping reads) until this is False.
        """
        return self._rx_suspended or bool(self._tx_jobs)

    def resume(self) -> None:
        """Go on with the work an earlier call left (``work_pending()``), within a fresh budget.

        Messages waiting to be compressed go first, then the frame being inflated, then the
        bytes stored behind it. Errors and callbacks behave as in ``receive_data``.
        """
        self._budget = self._budget_size
        self._run_tx()
        if not self._rx_suspended or self._rx_stopped:
            return
        self._rx_suspended = False
        try:
            if self._rx_decoding and not self._decode_more():
                return
            if self._rx_held is not None and not self._inflate_more(None):
                return
        except ProtocolError as exc:
            self._fail(exc)
            return
        except Exception:
            if self._on_frame is None:
                self._fail(ProtocolError("internal error", CloseCode.INTERNAL_ERROR))
            raise
        if self._buf and not self._rx_stopped and not self._rx_suspended:
            self._receive(b"")

    def _append(self, data: BytesLike) -> None:
        try:
            self._buf += data
        except BufferError:  # a frame callback kept a view of the old buffer
            self._buf = self._buf + data

    def _receive(self, data: BytesLike) -> None:
        own = True
        if self._buf:
            self._append(data)
            buf: BytesLike = self._buf
        elif self._server and self._on_frame is not None and not _is_writable(data):
            buf = bytearray(data)
        else:
            buf, own = data, False
        view = memoryview(buf)
        self._rx_resume = 0
        try:
            pos = self._parse(view)
        except ProtocolError as exc:
            self._fail(exc)
            return
        except BaseException as exc:
            if self._on_frame is not None:
                self._keep(buf, view, own, self._rx_resume)
            elif isinstance(exc, Exception):
                # Not the peer's fault and not a callback's: answer 1011 without details.
                self._fail(ProtocolError("internal error", CloseCode.INTERNAL_ERROR))
            raise
        self._keep(buf, view, own, pos)

    def plain_ready(self) -> bool:
        """Return whether the next bytes may go to a C plain-frame reader first.

        True when the C reader is on for this frame-path connection and the reader here is
        between frames and messages (nothing partial, no fragmented message, not stopped).
        Such a reader (``net._io.PlainReader``) takes only complete, unfragmented,
        uncompressed TEXT/BINARY frames (valid UTF-8 for text), unmasks them in place and
        hands them out as ``on_frame`` would; everything from the first other byte on must
        come back to ``receive_data``. Ask again after every ``receive_data``.
        """
        return (
            self._plain_c
            and not self._buf
            and not self._rx_opcode
            and not self._rx_stopped
            and self._rx_utf8 is None
            and not self._rx_suspended
            and not self._rx_left
        )

    def take_partial_frame(self, limit: int) -> bytearray | None:
        """Give back the bytes of an incomplete plain-looking frame for a C reader to keep.

        Only when ``plain_ready()`` would hold but for those bytes: no fragmented message,
        not stopped, the frame starts like a plain TEXT/BINARY frame (0x81/0x82) and is at
        most ``limit`` bytes so far. The reader here forgets them (and its UTF-8 check of
        them); the caller must parse them first next time. None when that is not so.
        """
        buf = self._buf
        if (
            not self._plain_c
            or not buf
            or len(buf) > limit
            or buf[0] not in (0x81, 0x82)
            or self._rx_opcode
            or self._rx_stopped
            or self._rx_suspended
            or self._rx_left
        ):
            return None
        self._buf = bytearray()
        self._rx_utf8 = None
        self._rx_checked = 0
        return buf

    def plain_params(self) -> tuple[int, int, bool]:
        """Return what a C plain-frame reader checks: (mask bit wanted, size limit, UTF-8)."""
        return self._want_mask, self._scan_limit, self._check_utf8

    def _keep(self, buf: BytesLike, view: memoryview, own: bool, pos: int) -> None:
        end = len(view)
        if self._rx_stopped:
            self._buf = bytearray()
        elif own and isinstance(buf, bytearray):
            try:
                view.release()
                del buf[:pos]
                self._buf = buf
            except BufferError:  # a frame callback kept a view into it
                self._buf = buf[pos:]
        elif pos < end:
            self._buf = bytearray(view[pos:])
        else:
            self._buf = bytearray()

    def _parse(self, mv: memoryview) -> int:
        # Return how many bytes were consumed; raise ProtocolError on a violation.
        end = len(mv)
        pos = 0
        if self._rx_left:
            pos = self._piece(mv, 0, end)
            if self._rx_left or self._rx_suspended:
                return pos
        want_mask = self._want_mask
        on_frame = self._on_frame
        scan = self._scan
        scan_messages = self._scan_messages
        while end - pos >= 2:
            if scan is not None and not self._rx_opcode and self._rx_utf8 is None:
                assert on_frame is not None
                r = scan(mv, pos, bool(want_mask), self._scan_limit, self._check_utf8, on_frame)
                if r.__class__ is not int:
                    assert isinstance(r, tuple)
                    self._rx_resume = r[0]
                    raise r[1]
                pos = r
                if end - pos < 2:
                    break
            elif scan_messages is not None and not self._rx_opcode and self._rx_utf8 is None:
                pos = scan_messages(
                    mv,
                    pos,
                    bool(want_mask),
                    self._scan_limit,
                    True,
                    self._events,
                    TextMessage,
                    BinaryMessage,
                )
                if end - pos < 2:
                    break
            b0 = mv[pos]
            b1 = mv[pos + 1]
            opcode = b0 & 0x0F
            # Check all of the first two bytes before waiting for more (fail fast).
            if opcode >= 8:
                if opcode > 10:
                    raise ProtocolError(f"reserved opcode {opcode:#x}")
                if not b0 & 0x80:
                    raise ProtocolError("fragmented control frame")  # §5.5
                if b1 & 0x7F > MAX_CONTROL_PAYLOAD:
                    raise ProtocolError("control frame payload over 125 bytes")  # §5.5
            elif opcode == 0:
                if not self._rx_opcode:
                    raise ProtocolError("continuation frame without a message to continue")
            elif opcode <= 2:
                if self._rx_opcode:
                    raise ProtocolError("new data frame inside a fragmented message")  # §5.4
            else:
                raise ProtocolError(f"reserved opcode {opcode:#x}")
            if b0 & 0x70:
                self._check_rsv(b0)
            if b1 & 0x80 != want_mask:
                # §5.1: clients mask every frame, servers mask none.
                if want_mask:
                    raise ProtocolError("unmasked frame from a client")
                raise ProtocolError("masked frame from a server")
            length = b1 & 0x7F
            p = pos + 2
            if length >= 126:
                if length == 126:
                    if end - pos < 4:
                        break
                    length = (mv[p] << 8) | mv[p + 1]
                    if length < 126:
                        raise ProtocolError("non-minimal 16-bit payload length")  # §5.2
                    p += 2
                else:
                    if end - pos < 10:
                        break
                    length = int.from_bytes(mv[p : p + 8], "big")
                    if length >> 63:
                        raise ProtocolError("64-bit payload length with the high bit set")
                    if length < 65536:
                        raise ProtocolError("non-minimal 64-bit payload length")  # §5.2
                    p += 8
                if opcode < 8:
                    self._check_size(opcode, b0, length)
            elif opcode < 8 and (
                self._rx_size + length > self._max_msg or length > self._max_frame
            ):
                self._check_size(opcode, b0, length)
            if want_mask:
                p += 4
            q = p + length
            if q > end:
                if opcode < 8 and length >= STREAM_FROM and p <= end:
                    # take the header now and the payload piece by piece as it arrives
                    self._rx_left, self._rx_frame, self._rx_off = length, b0, 0
                    self._rx_key = bytes(mv[p - 4 : p]) if want_mask else None
                    return self._piece(mv, p, end)
                if self._check_utf8 and end > p:
                    self._check_partial(mv, opcode, b0, p, end)
                break
            if opcode >= 8:
                payload = (
                    _mask.apply_mask(mv[p:q], mv[p - 4 : p]) if want_mask else mv[p:q].tobytes()
                )
                pos = q
                self._control(opcode, payload)
                if self._rx_stopped:
                    return pos
                continue
            if ((b0 & 0x40) if opcode else self._rx_compressed) and self._budget <= 0:
                self._rx_suspended = True  # inflated on resume: this frame is parsed again
                break
            self._rx_resume = pos = q
            self._data(mv, p, q, b0, mv[p - 4 : p] if want_mask else None)
            if self._rx_suspended:
                return pos
        return pos

    def _piece(self, mv: memoryview, start: int, end: int) -> int:
        # Take the next piece of a large frame (STREAM_FROM), up to end; return where it
        # stopped. Pieces go on as fragments would: the frame's opcode and RSV1 on the
        # first, its FIN on the last.
        n = min(self._rx_left, end - start)
        if not n:
            return start
        b0, off = self._rx_frame, self._rx_off
        opcode = 0 if off else b0 & 0x0F
        compressed = (b0 & 0x40) if opcode else self._rx_compressed
        if compressed and self._budget <= 0:
            self._rx_suspended = True  # the rest waits in _buf for resume
            return start
        key = self._rx_key
        if key is not None and off & 3:
            key = key[off & 3 :] + key[: off & 3]
        self._rx_left -= n
        self._rx_off += n
        first = (b0 & 0x40) | opcode if not off else 0
        self._rx_resume = q = start + n
        self._data(mv, start, q, first | (0 if self._rx_left else b0 & 0x80), key)
        return q

    def _data(self, mv: memoryview, p: int, q: int, b0: int, key: BytesLike | None) -> None:
        # One data frame (or piece) at mv[p:q]: unmask it (in place on the frame path),
        # inflate it if compressed, hand it on.
        opcode = b0 & 0x0F
        payload: BytesLike
        if self._on_frame is not None:
            payload = mv[p:q]
            if key is not None and q > p:
                _mask.apply_mask_inplace(payload, key)
        else:
            payload = _mask.apply_mask(mv[p:q], key) if key is not None else mv[p:q].tobytes()
        if (b0 & 0x40) if opcode else self._rx_compressed:
            self._rx_held = (opcode, b0, False)
            self._inflate_more(payload)
        else:
            self._plain(opcode, b0 & 0x40, b0 & 0x80, payload)

    def _plain(self, opcode: int, rsv1: int, fin: int, payload: BytesLike) -> None:
        # Hand on the unmasked, uncompressed payload of a frame or piece.
        on_frame = self._on_frame
        if on_frame is None:
            if opcode and fin and not self._rx_checked:
                self._message(opcode, payload)
            else:
                self._fragment(opcode, rsv1, fin, payload)
            return
        if self._check_utf8 and (opcode or self._rx_opcode) == 1:
            self._check_text(payload, fin, opcode)
        if not fin:
            if opcode:
                self._rx_opcode = opcode
                self._rx_compressed = bool(rsv1)
            self._rx_size += len(payload)
        elif self._rx_opcode:
            self._rx_opcode = 0
            self._rx_size = 0
        view = payload if type(payload) is memoryview else memoryview(payload)
        if on_frame(opcode, view, bool(fin)) is PAUSE and not opcode:
            self._rx_suspended = True

    def _check_rsv(self, b0: int) -> None:
        # RFC 6455 §5.2: RSV bits need a negotiated extension. RFC 7692 §6: permessage-
        # deflate uses RSV1, on the first frame of a data message only.
        if b0 & 0x70 != 0x40 or self._deflate is None:
            raise ProtocolError("reserved bits set without a negotiated extension")
        if b0 & 0x0F not in (1, 2):
            raise ProtocolError("RSV1 set on a control or continuation frame")

    def _check_size(self, opcode: int, b0: int, length: int) -> None:
        if length > self._max_frame:
            raise PayloadTooBig(length, self._max_frame)
        # A compressed message's size is known only once inflated (checked there).
        compressed = (b0 & 0x40) if opcode else self._rx_compressed
        if not compressed and self._rx_size + length > self._max_msg:
            raise PayloadTooBig(self._rx_size + length, self._max_msg)

    def _check_partial(self, mv: memoryview, opcode: int, b0: int, p: int, end: int) -> None:
        # Validate the part of a text frame received so far, so that a frame cut by TCP
        # fails on the chunk that breaks it (Autobahn 6.4.3/6.4.4), not at its end.
        if (opcode or self._rx_opcode) != 1 or ((b0 & 0x40) if opcode else self._rx_compressed):
            return
        start = p + self._rx_checked
        if start >= end:
            return
        chunk: BytesLike = mv[start:end]
        if self._want_mask:
            k = self._rx_checked & 3
            key = bytes(mv[p - 4 : p])
            chunk = _mask.apply_mask(chunk, key[k:] + key[:k])
        if self._rx_utf8 is None:
            self._rx_utf8 = _utf8.new_validator()
        self._rx_utf8.feed(chunk)
        self._rx_checked = end - p

    def _check_text(self, data: BytesLike, fin: int, opcode: int) -> None:
        # Feed the unchecked rest of a text frame to the message's validator.
        validator = self._rx_utf8
        if validator is None:
            if fin and opcode:
                if not _utf8.validate_utf8(data):
                    raise InvalidUTF8()
                return
            validator = self._rx_utf8 = _utf8.new_validator()
        checked = self._rx_checked
        validator.feed(data[checked:] if checked else data)
        self._rx_checked = 0
        if fin:
            self._rx_utf8 = None
            validator.finish()

    def _inflate_more(self, packed: BytesLike | None) -> bool:
        # Inflate the held frame (its payload first, None after) within the budget, each
        # step's output handed on as an uncompressed piece would go (nothing is kept to be
        # joined); return True once the frame is done, False when the budget ran out.
        assert self._deflate is not None and self._rx_held is not None  # RSV1 passed
        opcode, b0, given = self._rx_held
        fin = b0 & 0x80
        done = False
        while not done:
            if self._budget <= 0:
                self._rx_held = (opcode, b0, given)
                self._rx_suspended = True
                return False
            limit = self._max_msg - self._rx_size
            out, done = self._deflate.decompress_step(
                packed, fin=bool(fin), max_size=limit, budget=self._budget
            )
            packed = None
            if len(out) > limit:  # the codec should have raised; do not trust it blindly
                raise PayloadTooBig(self._rx_size + len(out), self._max_msg)
            self._budget -= len(out)
            if not out and not done:
                continue
            first = 0 if given else opcode
            self._rx_held = None if done else (opcode, b0, True)
            try:
                self._plain(first, 0 if given else 0x40, fin if done else 0, out)
            except BaseException:
                # a frame callback raised: the rest of the frame waits for resume
                self._rx_suspended = self._rx_held is not None
                raise
            given = True
        return True

    def _message(self, opcode: int, payload: BytesLike) -> None:
        if opcode == 1:
            try:
                text = str(payload, "utf-8")
            except UnicodeDecodeError:
                raise InvalidUTF8() from None
            self._events.append(TextMessage(text))
        else:
            data = payload if type(payload) is bytes else bytes(payload)
            self._events.append(BinaryMessage(data))

    def _fragment(self, opcode: int, rsv1: int, fin: int, payload: BytesLike) -> None:
        # A part of a message: copied into the message's buffer now, so that completing
        # the message copies nothing more (ws.assembly).
        if opcode:
            self._rx_opcode = opcode
            self._rx_compressed = bool(rsv1)
        if self._rx_opcode == 1 and self._check_utf8:
            self._check_text(payload, fin, 0)
        self._rx_size += len(payload)
        msg = self._rx_msg
        text = self._rx_opcode == 1
        if text:
            msg.append_text(payload)
        else:
            msg.append(payload)
        if fin:
            self._rx_opcode = 0
            self._rx_size = 0
            if not text:
                self._events.append(BinaryMessage(msg.take()))
            elif self._check_utf8:  # validated: decoded within the budget, over calls
                self._rx_decoding = True
                self._decode_more()
            else:
                try:
                    self._events.append(TextMessage(msg.take_text()))
                except UnicodeDecodeError:
                    raise InvalidUTF8() from None

    def _decode_more(self) -> bool:
        # Decode the whole text message at most a budget's worth per call (its str is
        # sized once, ws.assembly); True once it is whole and queued as an event.
        msg = self._rx_msg
        while self._budget > 0:
            step = min(self._budget, len(msg))  # len: what is left at most
            text = msg.decode_step(step)
            self._budget -= step
            if text is not None:
                self._rx_decoding = False
                self._events.append(TextMessage(text))
                return True
        self._rx_suspended = True
        return False

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == Opcode.PING:
            self._events.append(Ping(payload))
            if not self._close_sent:
                self._queue(Opcode.PONG, payload)  # §5.5.2: same payload
        elif opcode == Opcode.PONG:
            self._events.append(Pong(payload))
        else:
            code, reason = parse_close_payload(payload)
            self.close_code, self.close_reason = code, reason
            self._events.append(CloseReceived(code, reason))
            self._rx_stopped = True
            self._abort_tx()
            if not self._close_sent:
                # §5.5.1: answer with a close, typically echoing the code.
                echo = None if code == CloseCode.NO_STATUS else code
                self._queue(Opcode.CLOSE, build_close_payload(echo))
                self._close_sent = True
                self.sent_close_code = echo
            self._transition(_Trigger.RECEIVE_CLOSE)

    def _fail(self, exc: ProtocolError) -> None:
        self.error = exc
        self._rx_stopped = True
        self._rx_suspended = False
        self._rx_held = None
        self._abort_tx()
        self._buf = bytearray()
        self._rx_msg = _assembly.new_buffer()
        self._rx_left = 0
        self._rx_decoding = False
        self._rx_utf8 = None
        if not self._close_sent:
            reason = exc.reason.encode("utf-8")[:123].decode("utf-8", "ignore")
            self._queue(Opcode.CLOSE, build_close_payload(exc.code, reason))
            self._close_sent = True
            self.sent_close_code = exc.code
        self._transition(_Trigger.FAIL)

    # ---- sending -------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Return the bytes to write to the transport now (empty when there are none)."""
        out = self._out
        if not out:
            return b""
        self._out = []
        return out[0] if len(out) == 1 else b"".join(out)

    def _send_compressed(self, opcode: int, payload: BytesLike) -> None:
        # A message over one call's budget is compressed over several (resume), sent as
        # fragments (RFC 7692 §6.1); anything sent meanwhile waits behind it.
        assert self._deflate is not None
        if not self._tx_jobs and len(payload) <= self._budget_size:
            self._budget -= len(payload)
            self._queue(opcode, self._deflate.compress(payload), rsv1=True)
            return
        self._tx_jobs.append(_TxJob(opcode, bytes(payload), True))
        self._run_tx()

    def _run_tx(self) -> None:
        jobs = self._tx_jobs
        while jobs and self._budget > 0:
            job = jobs[0]
            if not job.compress:
                jobs.popleft()
                key = None if self._keys is None else self._keys.next_key()
                assert not isinstance(job.data, str)  # only compressed jobs keep a str
                self._out.append(_frames.pack_frame(0x80 | job.opcode, job.data, key))
                continue
            assert self._deflate is not None
            start = job.pos
            data = job.data
            end = min(len(data), start + self._budget)
            fin = end == len(data)
            if isinstance(data, str):
                out = self._deflate.compress_step(data[start:end].encode("ascii"), fin=fin)
            else:
                with memoryview(data) as view:
                    out = self._deflate.compress_step(view[start:end], fin=fin)
            self._budget -= end - start
            job.pos = end
            self._queue(job.opcode if start == 0 else Opcode.CONTINUATION, out, fin, start == 0)
            if fin:
                jobs.popleft()
        if not jobs and self._tx_close is not None:
            payload, self._tx_close = self._tx_close, None
            self._queue(Opcode.CLOSE, payload)

    def _finish_tx(self) -> None:
        # a frame the caller builds itself must not overtake a message being compressed
        budget, self._budget = self._budget, 1 << 62
        self._run_tx()
        self._budget = budget

    def _abort_tx(self) -> None:
        # closing: a message still being compressed is dropped, a close waiting behind
        # it goes now (a control frame may follow a fragment, RFC 6455 §5.4)
        self._tx_jobs.clear()
        if self._tx_close is not None:
            payload, self._tx_close = self._tx_close, None
            self._queue(Opcode.CLOSE, payload)

    def _queue(self, opcode: int, payload: BytesLike, fin: bool = True, rsv1: bool = False) -> None:
        key = None if self._keys is None else self._keys.next_key()
        first_byte = opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
        self._out.append(_frames.pack_frame(first_byte, payload, key))

    def _check_open(self) -> None:
        if self.state is not _OPEN:
            raise InvalidState(f"cannot send in state {self.state.name}")

    def _check_message_start(self) -> None:
        # one test on the hot path; the reason is worked out only when refusing
        if self.state is not _OPEN or self._tx_opcode:
            self._check_open()
            raise InvalidState("a fragmented message is in progress; finish it first")

    def send_text(self, data: str | BytesLike, *, compress: bool = True) -> None:
        """Queue a text message; ``bytes`` are sent as they are (you vouch for the UTF-8).

        Args:
            compress: deflate it when permessage-deflate was negotiated (False skips it,
                e.g. for a small latency-critical message).

        Raises:
            InvalidState: the connection is not OPEN or a fragmented message is in progress.
        """
        if self.state is not _OPEN or self._tx_opcode:
            self._check_message_start()
        if (
            compress
            and self._deflate is not None
            and isinstance(data, str)
            and len(data) > self._budget_size
            and data.isascii()  # O(1); ASCII cannot fail to encode, so it can wait
        ):
            self._tx_jobs.append(_TxJob(Opcode.TEXT, data, True))
            self._run_tx()
            return
        payload = data.encode("utf-8") if isinstance(data, str) else data
        if compress and self._deflate is not None:
            self._send_compressed(Opcode.TEXT, payload)
            return
        if self._tx_jobs:
            self._tx_jobs.append(_TxJob(Opcode.TEXT, bytes(payload), False))
            return
        key = None if self._keys is None else self._keys.next_key()
        self._out.append(_frames.pack_frame(0x81, payload, key))

    def send_binary(self, data: BytesLike, *, compress: bool = True) -> None:
        """Queue a binary message (see ``send_text`` for ``compress`` and errors)."""
        if self.state is not _OPEN or self._tx_opcode:
            self._check_message_start()
        if compress and self._deflate is not None:
            self._send_compressed(Opcode.BINARY, data)
            return
        if self._tx_jobs:
            self._tx_jobs.append(_TxJob(Opcode.BINARY, bytes(data), False))
            return
        key = None if self._keys is None else self._keys.next_key()
        self._out.append(_frames.pack_frame(0x82, data, key))

    def send_frame(self, opcode: int, payload: BytesLike, *, fin: bool = True) -> None:
        """Queue one frame of a fragmented message (RFC 6455 §5.4), never compressed.

        Start with TEXT or BINARY and ``fin=False``, go on with CONTINUATION, end with
        ``fin=True``. Control opcodes go to ``send_ping``/``send_pong``/``send_close``.

        Raises:
            InvalidState: out-of-order fragments, or the connection is not OPEN.
            ValueError: a control frame with ``fin=False`` or an unknown opcode.
        """
        if opcode >= 8:
            if not fin:
                raise ValueError("control frames cannot be fragmented")
            if opcode == Opcode.PING:
                self.send_ping(payload)
            elif opcode == Opcode.PONG:
                self.send_pong(payload)
            elif opcode == Opcode.CLOSE:
                code, reason = parse_close_payload(payload)
                self.send_close(None if code == CloseCode.NO_STATUS else code, reason)
            else:
                raise ValueError(f"unknown opcode {opcode:#x}")
            return
        self._check_open()
        self._finish_tx()
        if opcode == Opcode.CONTINUATION:
            if not self._tx_opcode:
                raise InvalidState("continuation frame without a message in progress")
        elif opcode in (Opcode.TEXT, Opcode.BINARY):
            if self._tx_opcode:
                raise InvalidState("a fragmented message is in progress; finish it first")
        else:
            raise ValueError(f"unknown opcode {opcode:#x}")
        self._queue(opcode, payload, fin)
        self._tx_opcode = 0 if fin else (opcode or self._tx_opcode)
        self.plain_send = not self._tx_opcode and self._deflate is None

    def _send_control(self, opcode: int, payload: BytesLike) -> None:
        if len(payload) > MAX_CONTROL_PAYLOAD:
            raise ValueError("control frame payload over 125 bytes")
        self._check_open()
        self._queue(opcode, payload)

    def send_ping(self, payload: BytesLike = b"") -> None:
        """Queue a ping (at most 125 bytes)."""
        self._send_control(Opcode.PING, payload)

    def send_pong(self, payload: BytesLike = b"") -> None:
        """Queue an unsolicited pong (at most 125 bytes); pings are answered automatically."""
        self._send_control(Opcode.PONG, payload)

    def send_close(self, code: int | None = CloseCode.NORMAL, reason: str = "") -> None:
        """Queue a close frame and move to CLOSING (RFC 6455 §5.5.1, §7.1.2).

        Args:
            code: a sendable close code (see ``frames.is_valid_close_code``), or None for
                an empty close frame.
            reason: UTF-8 text of at most 123 bytes.

        Raises:
            InvalidState: a close frame was already sent or received.
            ValueError: an invalid code or an over-long reason.
        """
        payload = build_close_payload(code, reason)
        self._check_open()
        if self._tx_jobs:
            self._tx_close = payload  # after the messages still being compressed
        else:
            self._queue(Opcode.CLOSE, payload)
        self._close_sent = True
        self.sent_close_code = code
        self._transition(_Trigger.SEND_CLOSE)

    def send_in_place(
        self, buf: bytearray, length: int, opcode: int = Opcode.TEXT, *, offset: int = HEADROOM
    ) -> memoryview:
        """Frame a message the caller wrote at ``buf[offset:offset + length]``; return the frame.

        The hot path for pre-serialised messages: the header goes into the headroom in
        front of the payload and a client masks the payload where it lies, so nothing is
        copied. Write the returned view to the transport yourself; anything queued for
        ``data_to_send()`` is put in front of it (copied, rare) so the order on the wire
        holds. Never compressed.

        Raises:
            InvalidState: the connection is not OPEN or a fragmented message is in progress.
        """
        if self.state is not _OPEN or self._tx_opcode:
            self._check_message_start()
        if self._tx_jobs:
            self._finish_tx()
        key = None if self._keys is None else self._keys.next_key()
        start = _frames.pack_in_place(buf, offset, length, 0x80 | opcode, key)
        frame = memoryview(buf)[start : offset + length]
        if self._out:
            pending = self.data_to_send()
            return memoryview(pending + frame)
        return frame

    def send_prebuilt(self, frame: BytesLike) -> BytesLike:
        """Take one complete data frame the caller built itself; return the bytes to write.

        For pre-signed order templates that frame (and, as a client, mask with a key from
        the pool) in the same pass that fills them. The caller vouches that ``frame`` is a
        single unfragmented, uncompressed (RSV1 clear) data frame masked as our role
        requires. Anything already queued for ``data_to_send()`` goes in front of it.

        Raises:
            InvalidState: the connection is not OPEN or a fragmented message is in progress.
        """
        if self.state is not _OPEN or self._tx_opcode:
            self._check_message_start()
        if self._tx_jobs:
            self._finish_tx()
        if self._out:
            return self.data_to_send() + frame
        return frame

"""Types of net's optional C objects that touch the socket: reader, sender, write_frame."""

from collections.abc import Callable
from typing import Any

class PlainReader:
    """A protocol's ``buffer_updated(nbytes)`` in C (see ``_io.c``).

    Unarmed, every read goes to ``fallback(nbytes)``. Armed, the plain frames at the start
    of the view (as ``ws._speedups.scan_frames`` takes them) go to the callback: ``callback(opcode,
    payload_view, True)`` when ``ws`` is None, else ``callback(ws, str | bytes)``; then
    ``rest(nbytes, pos, exc)`` gets whatever is left (bytes from ``pos``, a callback's
    exception, or a read to size the buffer by: full, or into a buffer over ``min_size``).
    An incomplete plain frame at the end of a read is kept at the start of the view
    (``pending``) and the next read lands behind it (``get_buffer``); ``nbytes`` given to
    ``rest`` counts from the view's start.
    """

    armed: bool
    @property
    def reads(self) -> int:
        """Reads seen, armed or not."""

    #: bytes of an incomplete plain frame kept at the start of the view (set it after
    #: writing such bytes there; at most half the view)
    pending: int

    def get_buffer(self, sizehint: int, /) -> memoryview:
        """Return the view after the ``pending`` bytes (the protocol's ``get_buffer``)."""

    def __init__(
        self,
        fallback: Callable[[int], object],
        rest: Callable[[int, int, BaseException | None], object],
        min_size: int,
        /,
    ) -> None: ...
    def __call__(self, nbytes: int, /) -> None: ...
    def arm(
        self,
        want_mask: int,
        limit: int,
        check_utf8: bool,
        callback: Callable[..., object],
        ws: object,
        /,
    ) -> None:
        """Set what the scan needs; then set ``armed``."""

    def set_view(self, view: memoryview, /) -> None:
        """Scan this writable byte view (the loop's read buffer) from now on."""

def write_frame(
    fd: int,
    b0: int,
    payload: str | bytes | bytearray | memoryview,
    keys: Any,
    /,
) -> bytes | None:
    """Frame ``payload`` and write it to ``fd`` with one system call.

    ``keys``: None (no mask), True (a key from the module's ``getrandom`` pool) or an
    object whose ``next_key()`` returns the 4-byte key.

    Return None when all of it was written, else the bytes left for the transport.
    """

class DirectSender:
    """A connection's ``send(message)`` in C (see ``_io.c``).

    Armed and bound, with ``conn.plain_send`` true and nothing in the transport's buffer,
    it frames the message (TEXT for ``str``, else BINARY), masks it with a key from
    ``keys`` as ``write_frame`` does, and writes it with one system call, handing any rest
    to ``transport.write``; otherwise it calls ``fallback(message)``.
    """

    armed: bool
    def __init__(self, fallback: Callable[[Any], object], /) -> None: ...
    def __call__(self, message: str | bytes | bytearray | memoryview, /) -> None: ...
    def bind(self, fd: int | None, transport: Any, conn: Any, keys: Any, /) -> None:
        """Write to socket ``fd`` (None: every frame to ``transport.write``, e.g. TLS).

        ``conn.plain_send`` is checked on every send.
        """

"""Helpers shared by the transport tests and the fuzz harnesses.

``Transport`` plays the host of ``net._io.PlainReader`` exactly as ``net._protocol`` does, so
the C reader can be compared with the Python reader without sockets.
"""

from __future__ import annotations

from collections.abc import Callable

from whalewire.ws.protocol import Connection


class Transport:
    """The reader's host, as ``net._protocol.WebSocketProtocol`` drives it (no sockets)."""

    def __init__(self, conn: Connection, size: int, callback: Callable[..., object], ws: object):
        self.conn = conn
        self.view = memoryview(bytearray(size))
        self.errors: list[BaseException] = []
        from whalewire.net import _io  # C only: a caller skips when it is absent

        self.reader = _io.PlainReader(self.fallback, self.rest, size)
        self.reader.set_view(self.view)
        want_mask, limit, check_utf8 = conn.plain_params()
        self.reader.arm(want_mask, limit, check_utf8, callback, ws)
        self.rearm()

    def rearm(self) -> None:
        if not self.reader.pending:
            part = self.conn.take_partial_frame(len(self.view) // 2)
            if part is not None:
                self.view[: len(part)] = part
                self.reader.pending = len(part)
        self.reader.armed = self.conn.plain_ready()

    def fallback(self, nbytes: int) -> None:
        self.conn.receive_data(self.view[:nbytes])
        self.rearm()

    def rest(self, nbytes: int, pos: int, exc: BaseException | None) -> None:
        if exc is not None:
            self.errors.append(exc)
        if pos < nbytes:
            self.conn.receive_data(self.view[pos:nbytes])
            self.rearm()

    def feed(self, data: bytes) -> None:
        """Deliver ``data`` as the loop would: into get_buffer(), then buffer_updated(n)."""
        while data:
            space = self.reader.get_buffer(-1)
            n = min(len(space), len(data))
            space[:n] = data[:n]
            data = data[n:]
            self.reader(n)


def outcome(conn: Connection) -> tuple[object, ...]:
    code = None if conn.error is None else conn.error.code
    return conn.events_received(), conn.data_to_send(), code, conn.state

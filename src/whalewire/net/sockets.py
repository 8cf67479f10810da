"""Plain TCP for ``whalewire.net``: resolve, connect, and set socket options, with stage errors.

``open_tcp`` resolves the host (a failure is ``DNSFailure``), tries each address in the
resolver's order (a refusal is ``Refused``) and returns a connected non-blocking socket with
``SocketOptions`` applied before ``connect`` (buffer sizes must be set before the handshake to
affect TCP window scaling). Nothing here knows TLS, proxies or WebSocket.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from dataclasses import dataclass

from whalewire.net.errors import ConnectFailed, DNSFailure, Refused

__all__ = ["SocketOptions", "open_tcp"]

#: Linux ``SO_BUSY_POLL`` (socket(7)); not exported by Python's ``socket`` module
SO_BUSY_POLL = getattr(socket, "SO_BUSY_POLL", 46)


@dataclass(frozen=True, slots=True)
class SocketOptions:
    """Socket options for a connection (client or accepted server socket)."""

    #: disable Nagle: small frames (orders) leave at once instead of waiting for an ACK
    nodelay: bool = True
    #: ``SO_SNDBUF`` / ``SO_RCVBUF`` in bytes; None keeps the kernel's autotuning
    sndbuf: int | None = None
    rcvbuf: int | None = None
    #: ``SO_BUSY_POLL`` in microseconds (Linux; raising it above the sysctl needs
    #: CAP_NET_ADMIN); refused quietly and listed in ``apply``'s result
    busy_poll_us: int | None = None
    #: any more ``(level, option, value)`` triples
    extra: tuple[tuple[int, int, int], ...] = ()

    def apply(self, sock: socket.socket) -> tuple[str, ...]:
        """Set the options on ``sock``; return the names of those the kernel refused.

        ``SO_BUSY_POLL`` may be refused (EPERM without CAP_NET_ADMIN, ENOPROTOOPT off Linux)
        and is then skipped; any other refusal raises ``OSError``.
        """
        refused: list[str] = []
        is_tcp = sock.family in (socket.AF_INET, socket.AF_INET6)
        if self.nodelay and is_tcp:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.sndbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sndbuf)
        if self.rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        if self.busy_poll_us is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_BUSY_POLL, self.busy_poll_us)
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EACCES, errno.ENOPROTOOPT, errno.EINVAL):
                    raise
                refused.append(f"SO_BUSY_POLL ({errno.errorcode.get(exc.errno or 0, exc)})")
        for level, option, value in self.extra:
            sock.setsockopt(level, option, value)
        return tuple(refused)


async def open_tcp(
    host: str, port: int, options: SocketOptions | None = None
) -> tuple[socket.socket, tuple[str, ...]]:
    """Connect to ``host``:``port``; return the socket and the options the kernel refused.

    Raises:
        DNSFailure: the name did not resolve.
        Refused: every address refused the connection.
        ConnectFailed: another socket error (unreachable, reset), naming the last one.
    """
    loop = asyncio.get_running_loop()
    opts = options or SocketOptions()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DNSFailure(host, port, exc.strerror or str(exc)) from exc
    last: OSError | None = None
    for family, type_, proto, _, address in infos:
        sock = socket.socket(family, type_, proto)
        try:
            sock.setblocking(False)
            refused = opts.apply(sock)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock, refused
    if isinstance(last, ConnectionRefusedError):
        raise Refused(host, port, str(last)) from last
    raise ConnectFailed(host, port, str(last)) from last

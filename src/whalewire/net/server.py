"""A minimal asyncio WebSocket server: accept, handshake, run a handler per connection.

``serve`` listens and gives each connection a ``WebSocketProtocol`` with a
``ServerHandshake``. Once open, either a handler coroutine runs with the ``WebSocket``
(the connection closes with 1000 when it returns, 1011 when it raises), or a synchronous
``on_message`` callback gets each message as it completes (the fast path; the peer closes).
``echo`` and ``echo_on_message`` are the two echo handlers. TLS, keepalive and graceful
drain belong to later layers.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

from whalewire.net import nativetls
from whalewire.net._protocol import (
    Limits,
    Message,
    MessageCallback,
    WebSocket,
    WebSocketProtocol,
)
from whalewire.net.keepalive import KeepaliveOptions
from whalewire.net.sockets import SocketOptions
from whalewire.net.tls import server_context
from whalewire.ws.deflate import ServerDeflateConfig
from whalewire.ws.exceptions import CloseCode, ConnectionClosed
from whalewire.ws.handshake import ProcessRequest, ServerHandshake

__all__ = ["Server", "echo", "echo_on_message", "serve"]

log = logging.getLogger(__name__)

Handler = Callable[[WebSocket], Awaitable[None]]


async def echo(ws: WebSocket) -> None:
    """Send every received message back unchanged (text as text, binary as binary)."""
    try:
        async for message in ws:
            ws.send(message)
            await ws.drain()
    except ConnectionClosed:
        pass


def echo_on_message(ws: WebSocket, message: Message) -> None:
    """Send ``message`` back at once, inside the read that completed it (the fast path)."""
    ws.send(message)


class Server:
    """A listening WebSocket server; use ``async with`` or ``close()`` + ``wait_closed()``."""

    def __init__(
        self,
        server: asyncio.Server | nativetls.NativeTLSServer,
        tasks: set[asyncio.Task[None]],
        connections: set[WebSocketProtocol],
    ) -> None:
        self._server = server
        self._tasks = tasks
        self._connections = connections

    @property
    def port(self) -> int:
        """The bound port of the first listening socket (useful with port 0)."""
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def sockets(self) -> tuple[object, ...]:
        """The listening sockets."""
        return tuple(self._server.sockets)

    def close(self) -> None:
        """Stop listening, cancel running handlers and close every connection with 1001."""
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for proto in list(self._connections):
            # RFC 6455 §7.4.1: 1001, the server is going away; the close timer bounds it.
            proto.start_close(CloseCode.GOING_AWAY, "")

    async def wait_closed(self) -> None:
        """Wait until the listener, every handler and every connection have finished."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._connections:
            await asyncio.gather(*(p.lost for p in list(self._connections)))
        await self._server.wait_closed()

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        await self._server.serve_forever()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()


async def serve(
    handler: Handler | None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    on_message: MessageCallback | None = None,
    subprotocols: Sequence[str] = (),
    deflate: ServerDeflateConfig | bool = True,
    process_request: ProcessRequest | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
    limits: Limits | None = None,
    backlog: int = 128,
    ssl: ssl_module.SSLContext | None = None,
    keepalive: KeepaliveOptions | None = None,
    socket_options: SocketOptions | None = None,
    write_limits: tuple[int, int] | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    native_tls: bool | None = None,
) -> Server:
    """Listen on ``host``:``port`` and run ``handler`` for every WebSocket connection.

    Args:
        handler: coroutine function given each open ``WebSocket``; the connection is
            closed with 1000 when it returns and 1011 when it raises. None with
            ``on_message``.
        host, port: where to listen; port 0 picks a free port (see ``Server.port``).
        on_message: instead of a handler, called synchronously with each whole message
            (``str`` or ``bytes``) inside the read that completed it.
        subprotocols: subprotocols we speak, by preference.
        deflate: accept permessage-deflate (True, or our preferences); False declines.
        process_request: may answer a request with plain HTTP instead of upgrading.
        extra_headers: added to every 101 response.
        limits: message sizes, queue length and timeouts.
        backlog: the listen queue length.
        ssl: serve ``wss://`` with this server context (``net.tls.server_context`` makes
            one with TLS >= 1.2 and ALPN ``http/1.1``).
        keepalive: pings and/or a liveness timeout on every connection (``net.keepalive``);
            ``WebSocket.on_pong`` sees each pong either way.
        socket_options: set on every accepted socket (TCP_NODELAY is on regardless);
            options the kernel refuses (``SO_BUSY_POLL`` without privilege) are logged once.
        write_limits: the write-buffer (high, low) water marks ``ws.drain()`` waits on.
        tls_cert, tls_key: serve ``wss://`` with this PEM certificate chain and key (the
            key may sit in ``tls_cert``); instead of ``ssl``.
        native_tls: with ``tls_cert``, run TLS with OpenSSL on each accepted socket
            (``net.nativetls``) instead of asyncio's ``ssl``: None (default) when built and
            the speedups are on, True insists (``ValueError`` otherwise), False refuses.
    """
    if (handler is None) == (on_message is None):
        raise ValueError("give exactly one of handler and on_message")
    if tls_cert is not None and ssl is not None:
        raise ValueError("give ssl or tls_cert, not both")
    if tls_cert is None and (tls_key is not None or native_tls):
        raise ValueError("tls_key and native_tls need tls_cert")
    if native_tls and not nativetls.available():
        raise ValueError("native_tls=True but whalewire.net._tls is not built or speedups are off")
    native = tls_cert is not None and native_tls is not False and nativetls.available()
    if tls_cert is not None and not native:
        ssl = server_context(tls_cert, tls_key)
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    connections: set[WebSocketProtocol] = set()
    lim = limits or Limits()

    async def run(ws: WebSocket) -> None:
        assert handler is not None
        try:
            await handler(ws)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("WebSocket handler failed")
            await ws.close(CloseCode.INTERNAL_ERROR)
            return
        await ws.close()

    def on_open(ws: WebSocket) -> None:
        if keepalive is not None:
            ws.start_keepalive(keepalive)
        if handler is None:
            return
        task = loop.create_task(run(ws))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    refusals_logged = False

    def accepted(proto: WebSocketProtocol, transport: asyncio.BaseTransport) -> None:
        nonlocal refusals_logged
        connections.add(proto)
        sock = transport.get_extra_info("socket")
        if socket_options is not None and sock is not None:
            refused = socket_options.apply(sock)
            if refused and not refusals_logged:
                refusals_logged = True
                log.warning("socket options refused by the kernel: %s", ", ".join(refused))
        if write_limits is not None:
            cast(asyncio.WriteTransport, transport).set_write_buffer_limits(*write_limits)

    def factory() -> WebSocketProtocol:
        handshake = ServerHandshake(
            subprotocols=subprotocols,
            deflate=deflate,
            extra_headers=extra_headers,
            process_request=process_request,
        )
        proto = WebSocketProtocol(
            handshake,
            limits=lim,
            loop=loop,
            on_open=on_open,
            on_message=on_message,
            # Counted from connection_made: a failed TLS handshake never calls it, nor
            # connection_lost, so a protocol counted earlier would never leave the set.
            on_transport=lambda transport: accepted(proto, transport),
        )
        proto.lost.add_done_callback(lambda _: connections.discard(proto))
        return proto

    if native:
        assert tls_cert is not None
        context = nativetls.server_context(tls_cert, tls_key)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, port), family=family, backlog=backlog)
        native_server = nativetls.NativeTLSServer(
            loop, listener, context, factory, lim.open_timeout
        )
        return Server(native_server, tasks, connections)
    server = await loop.create_server(factory, host, port, backlog=backlog, ssl=ssl)
    return Server(server, tasks, connections)

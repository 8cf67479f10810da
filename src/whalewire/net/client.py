"""The asyncio WebSocket client: dial, tunnel, TLS, handshake, return an open ``WebSocket``.

``connect`` opens TCP to the URL's host (or a tunnel through a proxy, ``net.proxy``), runs
TLS for ``wss://`` (``net.tls``: verification, SNI, pins checked before a byte is sent),
then ``ClientHandshake`` through a ``WebSocketProtocol``, and returns once the server's 101
has been checked. Reconnection belongs to a later layer of ``whalewire.net``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl as ssl_module
from collections.abc import Callable, Iterable, Sequence
from typing import cast

from whalewire.net import nativetls
from whalewire.net._protocol import Limits, MessageCallback, WebSocket, WebSocketProtocol
from whalewire.net.errors import ConnectFailed, OpenTimeout, PinMismatch, TLSFailure
from whalewire.net.keepalive import KeepaliveOptions
from whalewire.net.proxy import open_tunnel
from whalewire.net.sockets import SocketOptions, open_tcp
from whalewire.net.tls import (
    check_pins,
    client_context,
    normalize_pins,
    prepare_client_context,
    spki_pin,
)
from whalewire.net.urls import WebSocketURL, parse_url
from whalewire.ws.deflate import DeflateParams
from whalewire.ws.handshake import ClientHandshake
from whalewire.ws.protocol import FrameCallback

__all__ = ["connect", "install_uvloop"]

log = logging.getLogger("whalewire.net")


def install_uvloop() -> bool:
    """Make uvloop the event-loop policy when it is installed; return whether it is."""
    try:
        import uvloop  # noqa: PLC0415 - optional dependency
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


async def connect(
    url: str,
    *,
    origin: str | None = None,
    subprotocols: Sequence[str] = (),
    deflate: DeflateParams | bool = True,
    extra_headers: Sequence[tuple[str, str]] = (),
    limits: Limits | None = None,
    on_message: MessageCallback | None = None,
    open_timeout: float = 10.0,
    ssl: ssl_module.SSLContext | None = None,
    ca_file: str | None = None,
    pins: Iterable[str] | None = None,
    server_hostname: str | None = None,
    socket_options: SocketOptions | None = None,
    proxy: str | None = None,
    keepalive: KeepaliveOptions | None = None,
    write_limits: tuple[int, int] | None = None,
    on_frame: FrameCallback | None = None,
    native_tls: bool | None = None,
) -> WebSocket:
    """Open a WebSocket connection to ``url`` (``ws://`` or ``wss://``).

    Opening runs in stages, each with its own error: name resolution (``DNSFailure``),
    TCP (``Refused``, ``ConnectFailed``), the proxy tunnel when ``proxy`` is given
    (``ProxyFailure``), TLS for ``wss://`` (``TLSFailure``, ``PinMismatch``), then the
    HTTP upgrade. ``open_timeout`` bounds them all; ``OpenTimeout.stage`` names the one
    that ran out.

    Args:
        url: ``ws://`` or ``wss://host[:port]/path[?query]``.
        origin: an Origin header, when the server wants one.
        subprotocols: offered subprotocols, by preference.
        deflate: offer permessage-deflate (True: the default offer; or parameters to ask
            for); False offers nothing.
        extra_headers: more request headers.
        limits: message sizes, queue length and timeouts.
        on_message: take messages synchronously, each inside the read that completed it,
            instead of through ``recv()``/``async for``.
        open_timeout: seconds for everything up to the server's 101.
        ssl: the client ``SSLContext`` for ``wss://`` (raised to TLS 1.2 and ALPN
            ``http/1.1``; its verification settings are kept). Default: verification on
            against ``ca_file`` or the system's trust store. A self-signed server is
            trusted only by opting in: its certificate as ``ca_file`` or in this context.
        ca_file: a PEM file of CAs to trust instead of the system's.
        pins: base64 SHA-256 SPKI pins (``net.tls``); the server's key must be one of
            them, checked after the TLS handshake and before the upgrade request is sent.
        server_hostname: the name for SNI and certificate checks (default: the URL host).
        socket_options: TCP_NODELAY (on by default), buffer sizes, ``SO_BUSY_POLL``.
        proxy: ``http://host:port`` (HTTP CONNECT) or ``socks5://host:port`` to tunnel through.
        keepalive: pings every ``interval`` s with RTTs in ``ws.rtt``, and a liveness
            ``timeout`` that a busy loop does not trip (``net.keepalive``).
        on_frame: the raw frame path, for market data: ``on_frame(opcode, payload, fin)``
            for each data frame, called by the parser itself inside the read; ``payload``
            is a ``memoryview`` valid only during the call (copy what you keep); opcode is
            0 for a continuation; the core has checked text frames' UTF-8 (RFC 6455
            §8.1) and unmasked/inflated the payload. A frame of 64 KiB or more, or one
            that inflates past ``Limits.work_per_turn``, may come in several calls as if
            fragmented (``ws.protocol.FrameCallback``): a message ends at ``fin``.
            Replaces ``on_message``; pings are still answered by the core.
        write_limits: the transport's write-buffer (high, low) water marks in bytes:
            ``await ws.drain()`` waits while more than ``high`` is buffered, until it is
            down to ``low`` (asyncio's default: 64 KiB, 16 KiB).
        native_tls: for ``wss://``, run TLS with OpenSSL on the socket itself
            (``net.nativetls``: the order's record is encrypted and written in the send's
            one C call) instead of asyncio's ``ssl``. None (default): native when built and
            the speedups are on and no ``ssl`` context is given (a caller's
            ``SSLContext`` can only be honoured by asyncio's ``ssl``); True: native or
            ``ValueError``; False: asyncio's ``ssl``.

    Raises:
        ConnectFailed: a stage before the upgrade failed (see ``net.errors``).
        InvalidHandshake: the server refused or answered wrongly (``InvalidStatus`` with
            the response body, ``InvalidHeader`` for a bad accept key, ``NegotiationError``).
    """
    where = parse_url(url)
    if not where.secure and (ssl is not None or ca_file is not None or pins is not None):
        raise ValueError("ssl, ca_file and pins need a wss:// URL")
    native = where.secure and _use_native(native_tls, ssl)
    context: ssl_module.SSLContext | None = None
    if where.secure and not native:
        context = ssl if ssl is not None else client_context(cafile=ca_file)
        prepare_client_context(context)
    pin_set = normalize_pins(pins) if pins is not None else None
    tls_name = server_hostname or where.host
    loop = asyncio.get_running_loop()
    handshake = ClientHandshake(
        where.host_header,
        where.target,
        origin=origin,
        subprotocols=subprotocols,
        deflate=deflate,
        extra_headers=extra_headers,
    )
    opened: asyncio.Future[WebSocket] = loop.create_future()

    def on_open(ws: WebSocket) -> None:
        if not opened.done():
            opened.set_result(ws)

    def on_error(exc: BaseException) -> None:
        if not opened.done():
            opened.set_exception(exc)

    def check_transport(transport: asyncio.BaseTransport) -> None:
        if write_limits is not None:
            cast(asyncio.WriteTransport, transport).set_write_buffer_limits(*write_limits)
        if pin_set is not None and not native:  # native: checked right after the handshake
            check_pins(transport.get_extra_info("ssl_object"), pin_set, where.host, where.port)

    def factory() -> WebSocketProtocol:
        return WebSocketProtocol(
            handshake,
            limits=limits,
            loop=loop,
            on_open=on_open,
            on_handshake_error=on_error,
            on_message=on_message,
            on_frame=on_frame,
            on_transport=check_transport,
        )

    stage = "tcp connect"
    try:
        async with asyncio.timeout(open_timeout):
            if proxy is not None:
                stage = "proxy tunnel"
                sock = await open_tunnel(proxy, where.host, where.port, socket_options)
            else:
                sock, refused = await open_tcp(where.host, where.port, socket_options)
                if refused:
                    log.warning("socket options refused by the kernel: %s", ", ".join(refused))
            if native:
                stage = "tls handshake"
                native_transport = await _native_open(
                    sock, factory, ca_file=ca_file, name=tls_name, pins=pin_set, where=where
                )
                stage = "upgrade"
                try:
                    ws = await opened
                except BaseException:
                    native_transport.abort()
                    raise
                ws.path = where.target
                if keepalive is not None:
                    ws.start_keepalive(keepalive)
                return ws
            stage = "tls handshake" if context is not None else "upgrade"
            try:
                transport, _ = await loop.create_connection(
                    factory,
                    sock=sock,
                    ssl=context,
                    server_hostname=tls_name if context is not None else None,
                    ssl_handshake_timeout=open_timeout if context is not None else None,
                )
            except ssl_module.SSLCertVerificationError as exc:
                sock.close()
                raise TLSFailure(where.host, where.port, exc.verify_message or str(exc)) from exc
            except ssl_module.SSLError as exc:
                sock.close()
                raise TLSFailure(where.host, where.port, exc.reason or str(exc)) from exc
            except BaseException:
                sock.close()
                raise
            stage = "upgrade"
            try:
                ws = await opened
            except BaseException:
                transport.abort()
                raise
    except TimeoutError as exc:
        if isinstance(exc, ConnectFailed):
            raise
        raise OpenTimeout(where.host, where.port, stage, open_timeout) from exc
    ws.path = where.target
    if keepalive is not None:
        ws.start_keepalive(keepalive)
    return ws


def _use_native(native_tls: bool | None, ssl: ssl_module.SSLContext | None) -> bool:
    # None: native where it can honour every setting; True insists; False refuses.
    if native_tls is False:
        return False
    if native_tls is None:
        return ssl is None and nativetls.available()
    if ssl is not None:
        raise ValueError("native_tls=True cannot honour an ssl.SSLContext; give ca_file")
    if not nativetls.available():
        raise ValueError("native_tls=True but whalewire.net._tls is not built or speedups are off")
    return True


async def _native_open(
    sock: socket.socket,
    factory: Callable[[], WebSocketProtocol],
    *,
    ca_file: str | None,
    name: str,
    pins: frozenset[str] | None,
    where: WebSocketURL,
) -> nativetls.NativeTLSTransport:
    # TLS by OpenSSL on the socket (net.nativetls); pins checked before the upgrade is sent.
    host, port = where.host, where.port
    try:
        context = nativetls.client_context(ca_file)
        session = await nativetls.handshake(sock, context, name)
        if pins is not None:
            der = session.peer_certificate()
            if der is None:
                raise TLSFailure(host, port, "the server sent no certificate to check the pins")
            seen = spki_pin(der)
            if seen not in pins:
                raise PinMismatch(host, port, pins, seen)
    except ConnectFailed:
        sock.close()
        raise
    except OSError as exc:
        sock.close()
        if isinstance(exc, nativetls.tls_error()):
            raise TLSFailure(host, port, str(exc)) from exc
        raise ConnectFailed(host, port, f"during the TLS handshake: {exc}") from exc
    except BaseException:
        sock.close()
        raise
    loop = asyncio.get_running_loop()
    return nativetls.NativeTLSTransport(loop, sock, session, factory(), context)

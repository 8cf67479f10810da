"""A minimal asyncio WebSocket client: dial, handshake, return an open ``WebSocket``.

``connect`` opens TCP to the URL's host, runs ``ClientHandshake`` through a
``WebSocketProtocol`` and returns once the server's 101 has been checked. ``wss://``, proxies
and reconnection belong to later layers of ``whalewire.net``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from whalewire.net._protocol import Limits, MessageCallback, WebSocket, WebSocketProtocol
from whalewire.net.urls import parse_url
from whalewire.ws.deflate import DeflateParams
from whalewire.ws.handshake import ClientHandshake

__all__ = ["connect", "install_uvloop"]


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
) -> WebSocket:
    """Open a WebSocket connection to ``url`` (``ws://`` only in this minimal client).

    Args:
        url: ``ws://host[:port]/path[?query]``.
        origin: an Origin header, when the server wants one.
        subprotocols: offered subprotocols, by preference.
        deflate: offer permessage-deflate (True: the default offer; or parameters to ask
            for); False offers nothing.
        extra_headers: more request headers.
        limits: message sizes, queue length and timeouts.
        on_message: take messages synchronously, each inside the read that completed it,
            instead of through ``recv()``/``async for``.
        open_timeout: seconds for TCP connect plus the opening handshake.

    Raises:
        InvalidHandshake: the server refused or answered wrongly (``InvalidStatus``,
            ``InvalidHeader``, ``NegotiationError``).
        OSError / TimeoutError: the connection could not be made in time.
    """
    where = parse_url(url)
    if where.secure:
        raise ValueError("wss:// is not supported by the minimal client yet")
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

    def factory() -> WebSocketProtocol:
        return WebSocketProtocol(
            handshake,
            limits=limits,
            loop=loop,
            on_open=on_open,
            on_handshake_error=on_error,
            on_message=on_message,
        )

    async with asyncio.timeout(open_timeout):
        transport, _ = await loop.create_connection(factory, where.host, where.port)
        try:
            ws = await opened
        except BaseException:
            transport.abort()
            raise
    ws.path = where.target
    return ws

"""asyncio transports for ``whalewire.ws``: the public WebSocket, connect/serve and their errors.

Import the public names from here (``from whalewire.net import WebSocket, connect``); the
modules behind them (``_protocol``, ``client``, ``server``, ...) may move. The errors a
caller branches on come with them: opening fails with a ``ConnectFailed`` naming its stage
(``net.errors``), the handshake with ``InvalidHandshake``/``InvalidStatus``/``InvalidHeader``
and a closed connection with ``ConnectionClosed`` (``ws.exceptions``).
"""

from whalewire.net._protocol import Limits, Message, MessageCallback, WebSocket
from whalewire.net.client import connect, install_uvloop
from whalewire.net.errors import (
    ConnectFailed,
    DNSFailure,
    OpenTimeout,
    PinMismatch,
    ProxyFailure,
    Refused,
    TLSFailure,
)
from whalewire.net.keepalive import KeepaliveOptions, RTTStats
from whalewire.net.reconnect import ClosedDuringSetup, Supervisor
from whalewire.net.server import Server, echo, echo_on_message, serve
from whalewire.net.sockets import SocketOptions
from whalewire.ws.exceptions import (
    CloseCode,
    ConnectionClosed,
    InvalidHandshake,
    InvalidHeader,
    InvalidStatus,
    WebSocketError,
)

__all__ = [
    "CloseCode",
    "ClosedDuringSetup",
    "ConnectFailed",
    "ConnectionClosed",
    "DNSFailure",
    "InvalidHandshake",
    "InvalidHeader",
    "InvalidStatus",
    "KeepaliveOptions",
    "Limits",
    "Message",
    "MessageCallback",
    "OpenTimeout",
    "PinMismatch",
    "ProxyFailure",
    "RTTStats",
    "Refused",
    "Server",
    "SocketOptions",
    "Supervisor",
    "TLSFailure",
    "WebSocket",
    "WebSocketError",
    "connect",
    "echo",
    "echo_on_message",
    "install_uvloop",
    "serve",
]

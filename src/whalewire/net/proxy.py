"""Tunnels through proxies: HTTP CONNECT (RFC 9110 §9.3.6) and SOCKS5 (RFC 1928, RFC 1929).

``open_tunnel(proxy_url, host, port)`` connects to the proxy (``net.sockets``), asks it for
a tunnel to ``host``:``port`` and returns the socket once the tunnel stands; TLS and the
WebSocket upgrade then run through it as over a direct connection. The target name goes
to the proxy unresolved (SOCKS5 address type 3), so DNS happens at the proxy. A refusal or
a broken answer is ``ProxyFailure`` naming the proxy and what it said. Nothing here knows
TLS or WebSocket.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import struct
from urllib.parse import unquote, urlsplit

from whalewire.net.errors import ProxyFailure
from whalewire.net.sockets import SocketOptions, open_tcp
from whalewire.ws.numbers import parse_decimal

__all__ = ["open_tunnel"]

#: RFC 1928 §6 reply codes
SOCKS5_REPLIES = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}

#: the most a CONNECT response head may take before we give up on the proxy
MAX_HEAD = 16 * 1024


async def open_tunnel(
    proxy_url: str, host: str, port: int, options: SocketOptions | None = None
) -> socket.socket:
    """Return a socket tunnelled through ``proxy_url`` to ``host``:``port``.

    Args:
        proxy_url: ``http://[user:pass@]host:port`` or ``socks5://[user:pass@]host:port``
            (``socks5h`` is accepted as a synonym: the name always resolves at the proxy).

    Raises:
        ProxyFailure: the proxy refused the tunnel or answered outside its protocol.
        ConnectFailed: the proxy itself could not be reached (``DNSFailure``, ``Refused``).
    """
    parts = urlsplit(proxy_url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "socks5", "socks5h") or not parts.hostname:
        raise ValueError(f"a proxy is http://host:port or socks5://host:port: {proxy_url!r}")
    default_port = 8080 if scheme == "http" else 1080
    proxy_host, proxy_port = parts.hostname, parts.port or default_port
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password or "")
    sock, _ = await open_tcp(proxy_host, proxy_port, options)
    try:
        if scheme == "http":
            await _http_connect(
                sock, proxy_host, proxy_port, host, port, user=user, password=password
            )
        else:
            await _socks5_connect(
                sock, proxy_host, proxy_port, host, port, user=user, password=password
            )
    except BaseException:
        sock.close()
        raise
    return sock


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _http_connect(
    sock: socket.socket,
    proxy_host: str,
    proxy_port: int,
    host: str,
    port: int,
    *,
    user: str | None,
    password: str,
) -> None:
    loop = asyncio.get_running_loop()
    target = _authority(host, port)
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        lines.append(f"Proxy-Authorization: Basic {token}")
    await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    head = bytearray()
    # Read byte-wise past the head only: anything after it belongs to the tunnel (TLS).
    while not head.endswith(b"\r\n\r\n"):
        chunk = await loop.sock_recv(sock, 1)
        if not chunk:
            raise ProxyFailure(proxy_host, proxy_port, "closed before answering CONNECT")
        head += chunk
        if len(head) > MAX_HEAD:
            raise ProxyFailure(proxy_host, proxy_port, "CONNECT response head too long")
    status_line = bytes(head).split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    # RFC 9112 §4: status-code = 3DIGIT
    status = parse_decimal(fields[1], 3) if len(fields) >= 2 and len(fields[1]) == 3 else None
    if status is None or not fields[0].startswith("HTTP/1."):
        raise ProxyFailure(proxy_host, proxy_port, f"not an HTTP answer: {status_line[:80]!r}")
    # RFC 9110 §9.3.6: any 2xx means the tunnel stands.
    if not 200 <= status < 300:
        raise ProxyFailure(proxy_host, proxy_port, f"CONNECT {target} refused: {status_line}")


async def _recv_exactly(sock: socket.socket, n: int, proxy_host: str, proxy_port: int) -> bytes:
    loop = asyncio.get_running_loop()
    data = bytearray()
    while len(data) < n:
        chunk = await loop.sock_recv(sock, n - len(data))
        if not chunk:
            raise ProxyFailure(proxy_host, proxy_port, "SOCKS5 proxy closed mid-answer")
        data += chunk
    return bytes(data)


async def _socks5_connect(
    sock: socket.socket,
    proxy_host: str,
    proxy_port: int,
    host: str,
    port: int,
    *,
    user: str | None,
    password: str,
) -> None:
    loop = asyncio.get_running_loop()
    # RFC 1928 §3: offer "no authentication" (0) and, with credentials, user/password (2).
    methods = b"\x00\x02" if user is not None else b"\x00"
    await loop.sock_sendall(sock, bytes([5, len(methods)]) + methods)
    version, method = await _recv_exactly(sock, 2, proxy_host, proxy_port)
    if version != 5:
        raise ProxyFailure(proxy_host, proxy_port, f"not a SOCKS5 proxy (version {version})")
    if method == 2 and user is not None:
        # RFC 1929 §2: VER=1, ULEN, UNAME, PLEN, PASSWD; status 0 is success.
        name, secret = user.encode(), password.encode()
        await loop.sock_sendall(sock, bytes([1, len(name)]) + name + bytes([len(secret)]) + secret)
        _, status = await _recv_exactly(sock, 2, proxy_host, proxy_port)
        if status != 0:
            raise ProxyFailure(proxy_host, proxy_port, "SOCKS5 user/password refused")
    elif method != 0:
        raise ProxyFailure(proxy_host, proxy_port, "SOCKS5 proxy accepts none of our methods")
    # RFC 1928 §4: CONNECT (1) to an IPv4 (1), IPv6 (4) or domain name (3) address.
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        name = host.encode("idna")
        address = b"\x03" + bytes([len(name)]) + name
    else:
        address = (b"\x01" if ip.version == 4 else b"\x04") + ip.packed
    await loop.sock_sendall(sock, b"\x05\x01\x00" + address + struct.pack("!H", port))
    version, reply, _, atyp = await _recv_exactly(sock, 4, proxy_host, proxy_port)
    if version != 5:
        raise ProxyFailure(proxy_host, proxy_port, "SOCKS5 reply has the wrong version")
    if reply != 0:
        why = SOCKS5_REPLIES.get(reply, f"reply code {reply}")
        raise ProxyFailure(proxy_host, proxy_port, f"SOCKS5 CONNECT {host}:{port}: {why}")
    # RFC 1928 §6: skip the bound address (BND.ADDR, BND.PORT).
    if atyp == 1:
        skip = 4
    elif atyp == 4:
        skip = 16
    elif atyp == 3:
        skip = (await _recv_exactly(sock, 1, proxy_host, proxy_port))[0]
    else:
        raise ProxyFailure(proxy_host, proxy_port, f"SOCKS5 reply address type {atyp}")
    await _recv_exactly(sock, skip + 2, proxy_host, proxy_port)

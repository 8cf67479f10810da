"""WebSocket URLs (RFC 6455 §3): parse ``ws://`` and ``wss://`` into host, port, target.

Knows nothing of sockets or the handshake; ``net.client`` uses it to dial and to fill
the Host header and the request target.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["WebSocketURL", "parse_url"]


@dataclass(frozen=True, slots=True)
class WebSocketURL:
    """A parsed WebSocket URL."""

    secure: bool
    host: str
    port: int
    #: the request target: path plus ``?query`` (RFC 6455 §3: no fragment)
    target: str

    @property
    def host_header(self) -> str:
        """Return the Host header value (RFC 7230 §5.4: port only when not the default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.secure else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str) -> WebSocketURL:
    """Parse a ``ws://`` or ``wss://`` URL.

    Raises:
        ValueError: another scheme, a fragment, user info, or no host.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise ValueError(f"not a WebSocket URL (ws:// or wss://): {url!r}")
    if parts.fragment or "#" in url:
        raise ValueError(f"a WebSocket URL has no fragment (RFC 6455 §3): {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"user info in a WebSocket URL is not supported: {url!r}")
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    secure = scheme == "wss"
    port = parts.port if parts.port is not None else (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebSocketURL(secure, parts.hostname, port, target)

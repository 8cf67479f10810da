"""Why a connection could not be made: one error per stage of ``connect``, each with its data.

```
ConnectionError
└── ConnectFailed(host, port, detail)        any stage before the WebSocket is open
    ├── DNSFailure                           the host name did not resolve
    ├── Refused                              nothing listens there (TCP RST)
    ├── ProxyFailure                         the HTTP CONNECT / SOCKS5 proxy refused or failed
    ├── OpenTimeout (also TimeoutError)      a stage ran past its deadline; ``stage`` names it
    └── TLSFailure                           the TLS handshake failed (``detail``: why)
        └── PinMismatch(expected, seen)      the server's key is not one of the pins
```
The opening handshake's own errors (``InvalidStatus`` with the response body, a bad accept
key as ``InvalidHeader``) stay those of ``whalewire.ws.exceptions``. Nothing here knows
sockets; ``net.client``, ``net.tls`` and ``net.proxy`` raise these.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ConnectFailed",
    "DNSFailure",
    "OpenTimeout",
    "PinMismatch",
    "ProxyFailure",
    "Refused",
    "TLSFailure",
]


class ConnectFailed(ConnectionError):
    """The connection to ``host``:``port`` failed before the WebSocket opened."""

    def __init__(self, host: str, port: int, detail: str) -> None:
        self.host = host
        self.port = port
        self.detail = detail
        # One argument: OSError would read (host, port, detail) as (errno, strerror, filename).
        super().__init__(str(self))

    def _what(self) -> str:
        return "connection failed"

    def __str__(self) -> str:
        return f"{self._what()} to {self.host}:{self.port}: {self.detail}"


class DNSFailure(ConnectFailed):
    """The host name could not be resolved."""

    def _what(self) -> str:
        return "name resolution failed"


class Refused(ConnectFailed):
    """The peer refused the TCP connection (nothing listening)."""

    def _what(self) -> str:
        return "connection refused"


class ProxyFailure(ConnectFailed):
    """The proxy refused the tunnel or broke its protocol; ``host``/``port`` are the proxy's."""

    def _what(self) -> str:
        return "proxy failed"


class OpenTimeout(ConnectFailed, TimeoutError):
    """A stage of opening (``stage``: dns+tcp, proxy, tls, upgrade) did not finish in time."""

    def __init__(self, host: str, port: int, stage: str, timeout: float) -> None:
        self.stage = stage
        self.timeout = timeout
        super().__init__(host, port, f"{stage} did not finish within {timeout:g} s")

    def _what(self) -> str:
        return "timed out opening"


class TLSFailure(ConnectFailed):
    """The TLS handshake failed: verification (expired, wrong host, untrusted) or protocol."""

    def _what(self) -> str:
        return "TLS failed"


class PinMismatch(TLSFailure):
    """The server's public key (SPKI SHA-256) is none of the pinned ones."""

    def __init__(self, host: str, port: int, expected: Iterable[str], seen: str) -> None:
        self.expected = frozenset(expected)
        self.seen = seen
        pins = ", ".join(sorted(self.expected))
        super().__init__(
            host, port, f"server key pin-sha256={seen!r} is not one of the pins [{pins}]"
        )

    def _what(self) -> str:
        return "certificate pin mismatch"

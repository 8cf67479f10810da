"""The Coinbase Exchange emulator on the network: REST over aiohttp (TLS), the feed over ours.

Two listeners, as Coinbase has two hosts (``api.exchange.coinbase.com`` and
``ws-feed.exchange.coinbase.com``): an aiohttp low-level HTTP/1.1 server for the REST API
(keep-alive, pipelined requests answered in order, TLS when given an ``ssl`` context), and
``whalewire.net.server.serve`` for the WebSocket feed (``wss://`` when given a
``feed_ssl`` context, as the venue's is). Every REST connection accepted is counted
(``rest_connections``), so tests can prove a client reuses one. A
:class:`~whalewire.emulator.faults.FaultPlan` applies per REST request (delay, 5xx, 429,
dropped answer, cut connection, clock skew). Makes no venue decisions: every answer comes
from the sans-IO :mod:`whalewire.emulator.coinbase.exchange`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import ssl as ssl_module
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from whalewire.emulator.coinbase.exchange import (
    CoinbaseConfig,
    CoinbaseCredentials,
    CoinbaseExchange,
)
from whalewire.emulator.coinbase.feed import CoinbaseFeedSession
from whalewire.emulator.faults import FaultInjector, FaultKind, FaultPlan
from whalewire.emulator.front import Front, RestListener, wall_clock
from whalewire.emulator.matching import Clock
from whalewire.net import WebSocket
from whalewire.net.server import Server, serve


@dataclass(frozen=True, slots=True)
class LoopbackTls:
    """A server TLS context and the PEM certificate clients must trust to verify it."""

    server: ssl_module.SSLContext
    cert_pem: str

    def client_context(self) -> ssl_module.SSLContext:
        """Return a verifying client context that trusts exactly this certificate."""
        return ssl_module.create_default_context(cadata=self.cert_pem)


def loopback_tls(hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> LoopbackTls:
    """Make a self-signed certificate (P-256, one day) for ``hosts`` and a server context.

    For ``whalewire emulator --venue coinbase`` outside the tests (``trustme`` is a test
    dependency): print ``cert_pem`` and point the client's ``ssl_context`` at it.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whalewire emulator")])
    now = datetime.now(UTC)
    alt: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt.append(x509.DNSName(host))
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    server = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as tmp:  # load_cert_chain reads files only
        cert_path, key_path = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert_path.write_text(cert_pem)
        key_path.write_text(key_pem)
        key_path.chmod(0o600)
        server.load_cert_chain(cert_path, key_path)
    return LoopbackTls(server, cert_pem)


def _json(status: int, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode(),
        content_type="application/json",
    )


class CoinbaseEmulator(Front[CoinbaseFeedSession]):
    """A running emulated Coinbase Exchange: state, the REST listener and the feed listener."""

    def __init__(
        self,
        config: CoinbaseConfig | None = None,
        *,
        faults: FaultPlan | None = None,
        clock: Clock = wall_clock,
        idle_timeout_s: float = 75.0,
    ) -> None:
        super().__init__(clock)
        #: an idle REST connection is closed after this long (aiohttp's keep-alive timeout)
        self.idle_timeout_s = idle_timeout_s
        self.exchange = CoinbaseExchange(self.venue_time, config)
        self.exchange.on_push = self._schedule_flush
        self._flush_due: set[CoinbaseFeedSession] = set()
        self._rest = RestListener(self._handle_rest, keepalive_timeout=idle_timeout_s)
        self._host = "127.0.0.1"
        self._tls = False
        self._feed_tls = False
        self._feed: Server | None = None
        self._injector: FaultInjector | None = None
        self.set_faults(faults)

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Apply ``plan`` to REST requests from the next one on (None: no faults)."""
        self._skew_ms = plan.clock_skew_ms if plan is not None else 0
        self._injector = FaultInjector(replace(plan)) if plan is not None else None

    def open_default_account(self, account_id: str = "default") -> CoinbaseCredentials:
        """Open a funded account (BTC 10, ETH 100, USD 1,000,000) and return its key set."""
        return self.exchange.open_default_account(account_id)

    # ------------------------------------------------------------------ lifecycle

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl: ssl_module.SSLContext | None = None,
        *,
        feed_port: int = 0,
        feed_ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        """Listen for REST on ``host``:``port`` (TLS with ``ssl``) and the feed on ``feed_port``
        (``wss://`` with ``feed_ssl``, as ``whalewire emulator`` serves it; plain ``ws://``
        without)."""
        self._host, self._tls, self._feed_tls = host, ssl is not None, feed_ssl is not None
        await self._rest.start(host, port, ssl)
        self._feed = await serve(self._handle_feed, host, feed_port, deflate=False, ssl=feed_ssl)

    async def close(self) -> None:
        """Stop both listeners and close every connection."""
        await self._rest.close()
        if self._feed is not None:
            self._feed.close()
            await self._feed.wait_closed()

    @property
    def port(self) -> int:
        """Return the REST port."""
        return self._rest.port

    @property
    def rest_connections(self) -> int:
        """Return how many REST (TCP, and TLS when on) connections were accepted so far."""
        return self._rest.connections

    @property
    def feed_port(self) -> int:
        """Return the feed port."""
        assert self._feed is not None, "start() first"
        return self._feed.port

    @property
    def rest_url(self) -> str:
        """Return the REST base URL (``https://`` when started with TLS)."""
        scheme = "https" if self._tls else "http"
        prefix = self.exchange.config.path_prefix.rstrip("/")
        return f"{scheme}://{self._host}:{self.port}{prefix}"

    @property
    def ws_url(self) -> str:
        """Return the feed URL (Coinbase's is ``wss://ws-feed.exchange.coinbase.com``)."""
        scheme = "wss" if self._feed_tls else "ws"
        return f"{scheme}://{self._host}:{self.feed_port}"

    async def disconnect_feeds(self) -> None:
        """Close every feed connection now (1001 going away)."""
        await self._close_all()

    # ------------------------------------------------------------------ REST

    async def _handle_rest(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        peer = request.transport.get_extra_info("peername") if request.transport else None
        ip = str(peer[0]) if peer else ""
        decision = self._injector.next_decision() if self._injector is not None else None
        if decision is not None and decision.delay_ms:
            await asyncio.sleep(decision.delay_ms / 1000)
        kind = decision.kind if decision is not None else None
        if kind is FaultKind.SERVER_ERROR:
            return _json(503, "Service Unavailable")
        if kind in (FaultKind.RATE_LIMITED, FaultKind.BANNED):
            return _json(429, "Rate limit exceeded")
        answer = self.exchange.handle(request.method, request.raw_path, headers, body, ip)
        if kind is FaultKind.UNKNOWN:
            return _json(500, "Internal Server Error")
        if kind is FaultKind.DROP:
            await asyncio.Event().wait()  # never answered; ends when the server closes
        if kind is FaultKind.DISCONNECT and request.transport is not None:
            request.transport.abort()
        response = web.Response(
            status=answer.status, body=answer.body, content_type="application/json"
        )
        if kind is FaultKind.SHUTDOWN:
            response.force_close()
        return response

    # ------------------------------------------------------------------ feed

    def _schedule_flush(self, session: CoinbaseFeedSession) -> None:
        # publish on the next loop turn: the REST answer that caused the messages is
        # written first, as the Binance emulator answers before its user-stream events
        if session not in self._flush_due:
            self._flush_due.add(session)
            asyncio.get_running_loop().call_soon(self._flush, session)

    def _flush(self, session: CoinbaseFeedSession) -> None:
        self._flush_due.discard(session)
        ws = self._sockets.get(session)
        texts = session.data_to_send()
        if ws is None or ws.closed:
            return
        for text in texts:
            with contextlib.suppress(Exception):  # closing: the messages die with it
                ws.send(text)

    async def _handle_feed(self, ws: WebSocket) -> None:
        session = self.exchange.connect()
        self._sockets[session] = ws
        try:
            async for message in ws:
                if not isinstance(message, str):
                    continue
                for text in session.handle(message):
                    ws.send(text)
                await ws.drain()
        finally:
            self._sockets.pop(session, None)
            self.exchange.disconnect(session)

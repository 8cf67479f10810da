"""``wss://`` over real loopback TLS with ``trustme`` certificates (net.tls, net.client):
verification on by default, host names, expiry, opting in to a self-signed server, ALPN and
TLS 1.2+, and SPKI pins (RFC 7469 §2.4 ``pin-sha256``) checked before a byte of the upgrade.
Every test runs on both client TLS paths: OpenSSL on the socket (``net.nativetls``) and
asyncio's ``ssl``."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from whalewire.net import nativetls
from whalewire.net.client import connect
from whalewire.net.errors import PinMismatch, TLSFailure
from whalewire.net.server import echo, serve
from whalewire.net.tls import client_context, normalize_pins, spki_of_certificate, spki_pin

TIMEOUT = 20


def independent_pin(cert_pem: bytes) -> str:
    """The pin as cryptography computes it (not ``net.tls``): SHA-256 of the SPKI, base64."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def server_ctx(cert: trustme.LeafCert) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self-signed test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "self.pem", tmp_path / "self.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@asynccontextmanager
async def wss_echo(ctx: ssl.SSLContext) -> AsyncIterator[int]:
    server = await serve(echo, "127.0.0.1", 0, ssl=ctx)
    async with server:
        yield server.port


@asynccontextmanager
async def raw_tls_server(ctx: ssl.SSLContext) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A TLS server that records every byte the client sends after the TLS handshake."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            received.append(await reader.read())
        except (ConnectionError, ssl.SSLError):
            received.append(b"")
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    async with server:
        yield server.sockets[0].getsockname()[1], received


@pytest.fixture(autouse=True, params=["native", "asyncio-ssl"])
def tls_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on the native client path (where built) and on asyncio's ``ssl``."""
    if request.param == "asyncio-ssl":
        monkeypatch.setattr(nativetls, "ENABLED", False)
    elif not nativetls.available():
        pytest.skip("whalewire.net._tls is not built")
    return str(request.param)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def test_spki_of_certificate_matches_cryptography(ca: trustme.CA) -> None:
    cert_pem = ca.issue_cert("127.0.0.1").cert_chain_pems[0].bytes()
    der = ssl.PEM_cert_to_DER_cert(cert_pem.decode())
    expected = (
        x509.load_pem_x509_certificate(cert_pem)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert spki_of_certificate(der) == expected
    assert spki_pin(der) == independent_pin(cert_pem)


def test_normalize_pins_refuses_what_is_not_a_sha256_pin() -> None:
    good = base64.b64encode(bytes(32)).decode()
    assert normalize_pins([f"sha256/{good}"]) == {good}
    for bad in ([], ["abc"], [base64.b64encode(bytes(20)).decode()]):
        with pytest.raises(ValueError):
            normalize_pins(bad)


async def test_wss_round_trip_with_ca_file_and_good_pin(ca: trustme.CA, ca_file: str) -> None:
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    pin = independent_pin(leaf.cert_chain_pems[0].bytes())
    async with wss_echo(server_ctx(leaf)) as port, asyncio.timeout(TIMEOUT):
        ws = await connect(f"wss://127.0.0.1:{port}/", ca_file=ca_file, pins=[pin, "A" * 43 + "="])
        ws.send("over tls")
        assert await ws.recv() == "over tls"
        transport = ws._proto.transport
        assert transport is not None
        ssl_object = transport.get_extra_info("ssl_object")
        assert ssl_object.selected_alpn_protocol() == "http/1.1"
        assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
        await ws.close()


async def test_wss_sends_sni_for_a_host_name(ca: trustme.CA, ca_file: str) -> None:
    leaf = ca.issue_cert("localhost")
    names: list[str | None] = []
    ctx = server_ctx(leaf)

    def on_sni(_obj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name)  # returning None lets the handshake go on

    ctx.sni_callback = on_sni
    async with wss_echo(ctx) as port, asyncio.timeout(TIMEOUT):
        ws = await connect(f"wss://localhost:{port}/", ca_file=ca_file)
        await ws.close()
    assert names == ["localhost"]


async def test_wrong_pin_aborts_before_the_upgrade_request(ca: trustme.CA, ca_file: str) -> None:
    leaf = ca.issue_cert("127.0.0.1")
    wrong = base64.b64encode(hashlib.sha256(b"another key").digest()).decode()
    async with raw_tls_server(server_ctx(leaf)) as (port, received), asyncio.timeout(TIMEOUT):
        with pytest.raises(PinMismatch) as info:
            await connect(f"wss://127.0.0.1:{port}/", ca_file=ca_file, pins=[wrong])
        while not received:
            await asyncio.sleep(0.01)
    assert info.value.expected == {wrong}
    assert info.value.seen == independent_pin(leaf.cert_chain_pems[0].bytes())
    assert wrong in str(info.value) and info.value.seen in str(info.value)
    assert received == [b""]  # not one byte of HTTP reached the server


async def test_expired_certificate_is_refused(ca: trustme.CA, ca_file: str) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
    leaf = ca.issue_cert("127.0.0.1", not_before=past, not_after=past + datetime.timedelta(days=1))
    async with wss_echo(server_ctx(leaf)) as port, asyncio.timeout(TIMEOUT):
        with pytest.raises(TLSFailure, match="expired"):
            await connect(f"wss://127.0.0.1:{port}/", ca_file=ca_file)


async def test_wrong_host_name_is_refused(ca: trustme.CA, ca_file: str) -> None:
    leaf = ca.issue_cert("exchange.example")
    async with wss_echo(server_ctx(leaf)) as port, asyncio.timeout(TIMEOUT):
        with pytest.raises(TLSFailure, match="mismatch"):
            await connect(f"wss://127.0.0.1:{port}/", ca_file=ca_file)


async def test_untrusted_ca_is_refused_by_default(ca: trustme.CA) -> None:
    leaf = ca.issue_cert("127.0.0.1")
    async with wss_echo(server_ctx(leaf)) as port, asyncio.timeout(TIMEOUT):
        with pytest.raises(TLSFailure, match="unable to get local issuer"):
            await connect(f"wss://127.0.0.1:{port}/")


async def test_self_signed_needs_opt_in(tmp_path: Path) -> None:
    cert_path, key_path = self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_path, key_path)
    async with wss_echo(ctx) as port, asyncio.timeout(TIMEOUT):
        with pytest.raises(TLSFailure, match="self-signed"):
            await connect(f"wss://127.0.0.1:{port}/")
        ws = await connect(f"wss://127.0.0.1:{port}/", ssl=client_context(cafile=str(cert_path)))
        ws.send(b"trusted by opt-in")
        assert await ws.recv() == b"trusted by opt-in"
        await ws.close()


async def test_caller_context_is_raised_to_tls12(ca: trustme.CA, ca_file: str) -> None:
    leaf = ca.issue_cert("127.0.0.1")
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    async with wss_echo(server_ctx(leaf)) as port, asyncio.timeout(TIMEOUT):
        ws = await connect(f"wss://127.0.0.1:{port}/", ssl=ctx)
        await ws.close()
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2


def test_pins_under_uvloop(ca: trustme.CA, ca_file: str) -> None:
    uvloop = pytest.importorskip("uvloop")
    leaf = ca.issue_cert("127.0.0.1")
    pin = independent_pin(leaf.cert_chain_pems[0].bytes())
    wrong = base64.b64encode(bytes(32)).decode()

    async def main() -> tuple[str | bytes, str]:
        async with wss_echo(server_ctx(leaf)) as port, asyncio.timeout(TIMEOUT):
            url = f"wss://127.0.0.1:{port}/"
            with pytest.raises(PinMismatch) as info:
                await connect(url, ca_file=ca_file, pins=[wrong])
            ws = await connect(url, ca_file=ca_file, pins=[pin])
            ws.send("uvloop tls")
            reply = await ws.recv()
            await ws.close()
            return reply, info.value.seen

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(main()) == ("uvloop tls", pin)

"""TLS by OpenSSL on the socket (``net.nativetls``) against asyncio's ``ssl``, both roles.

Every pairing of client path and server path (native or asyncio's ``ssl``) carries small
and multi-megabyte messages (the write backlog under a full socket), the order path's
prebuilt frames and the closing handshake; TLS 1.3 key updates from either side leave the
connection working; the peer's close_notify ends it cleanly and garbage in place of a
record fails it; the speedups switch and ``native_tls=False`` fall back to asyncio's path.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trustme

from whalewire import speedups
from whalewire.net import nativetls
from whalewire.net._protocol import Limits, WebSocket
from whalewire.net.client import connect
from whalewire.net.errors import PinMismatch, TLSFailure
from whalewire.net.server import Server, echo, serve
from whalewire.net.uring import use_send_backend
from whalewire.ws.exceptions import ConnectionClosed

pytestmark = pytest.mark.skipif(
    not nativetls.available(), reason="net._tls is not built or speedups are off"
)

TIMEOUT = 30


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    """(CA file, server certificate chain, server key) as PEM files."""
    root = tmp_path_factory.mktemp("native")
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca_path, cert_path, key_path = root / "ca.pem", root / "cert.pem", root / "key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert_path.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key_path))
    return str(ca_path), str(cert_path), str(key_path)


def is_native(ws: WebSocket) -> bool:
    return isinstance(ws._proto.transport, nativetls.NativeTLSTransport)


@asynccontextmanager
async def tls_server(files: tuple[str, str, str], native: bool) -> AsyncIterator[Server]:
    _, cert, key = files
    server = await serve(echo, "127.0.0.1", 0, tls_cert=cert, tls_key=key, native_tls=native)
    async with server:
        yield server


PAIRS = [(c, s) for c in (True, False) for s in (True, False)]


@pytest.mark.parametrize(("client_native", "server_native"), PAIRS)
async def test_echo_both_ways_in_every_pairing(
    files: tuple[str, str, str], client_native: bool, server_native: bool
) -> None:
    ca_file = files[0]
    async with tls_server(files, server_native) as server, asyncio.timeout(TIMEOUT):
        ws = await connect(
            f"wss://127.0.0.1:{server.port}/", ca_file=ca_file, native_tls=client_native
        )
        assert is_native(ws) is client_native
        ws.send("small")
        assert await ws.recv() == "small"
        big = os.urandom(3 * 1024 * 1024)  # far beyond one socket buffer: the backlog
        ws.send(big)
        await ws.drain()
        assert await ws.recv() == big
        for i in range(200):
            ws.send(f"burst {i}")
        for i in range(200):
            assert await ws.recv() == f"burst {i}"
        await ws.close()
        assert ws.close_code == 1000


async def test_prebuilt_frame_goes_out_through_openssl(files: tuple[str, str, str]) -> None:
    ca_file = files[0]
    async with tls_server(files, True) as server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"wss://127.0.0.1:{server.port}/", ca_file=ca_file, native_tls=True)
        payload = b'{"method":"order.place"}'
        key = b"\x01\x02\x03\x04"
        masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        frame = struct.pack("!BB", 0x81, 0x80 | len(payload)) + key + masked
        ws.send_prebuilt(frame)
        assert await ws.recv() == payload.decode()
        await ws.close()


@pytest.mark.parametrize("requester", ["client", "server"])
async def test_key_update_keeps_the_connection(files: tuple[str, str, str], requester: str) -> None:
    """RFC 8446 §4.6.3: either side renews its keys (and asks the peer to); data flows on."""
    ca_file, cert, key = files
    server_ws: list[WebSocket] = []

    async def handler(ws: WebSocket) -> None:
        server_ws.append(ws)
        await echo(ws)

    server = await serve(handler, "127.0.0.1", 0, tls_cert=cert, tls_key=key, native_tls=True)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"wss://127.0.0.1:{server.port}/", ca_file=ca_file, native_tls=True)
        ws.send("before")
        assert await ws.recv() == "before"
        side = ws if requester == "client" else server_ws[0]
        session = side._proto.transport.get_extra_info("ssl_object")  # type: ignore[union-attr]
        assert session.version() == "TLSv1.3"
        for round_ in range(3):
            session.key_update(request_peer=True)
            if requester == "server":
                server_ws[0].send(f"pushed {round_}")  # the update goes out with this write
                assert await ws.recv() == f"pushed {round_}"
            ws.send(f"after {round_}")
            assert await ws.recv() == f"after {round_}"
        await ws.close()
        assert ws.close_code == 1000


async def test_close_notify_without_a_close_frame_is_an_eof(files: tuple[str, str, str]) -> None:
    """The server ends TLS (close_notify, then TCP) without a WebSocket close: 1006, clean."""
    ca_file, cert, key = files
    async with asyncio.timeout(TIMEOUT):

        async def handler(ws: WebSocket) -> None:
            ws._proto.transport.close()  # type: ignore[union-attr]  # close_notify + FIN
            await ws.wait_closed()

        server = await serve(handler, "127.0.0.1", 0, tls_cert=cert, tls_key=key, native_tls=True)
        async with server:
            ws = await connect(f"wss://127.0.0.1:{server.port}/", ca_file=ca_file, native_tls=True)
            await ws.wait_closed()
            assert ws.close_code == 1006
            with pytest.raises(ConnectionClosed):
                ws.send("late")


async def test_garbage_instead_of_a_record_fails_the_connection(
    files: tuple[str, str, str],
) -> None:
    """Bytes that are no TLS record: OpenSSL alerts, the connection is lost (1006)."""
    ca_file, cert, key = files

    async def handler(ws: WebSocket) -> None:
        sock = ws._proto.transport.get_extra_info("socket")  # type: ignore[union-attr]
        os.write(sock.fileno(), b"\x17\x03\x03\x00\x05garbage-not-a-record")
        await ws.wait_closed()

    server = await serve(handler, "127.0.0.1", 0, tls_cert=cert, tls_key=key, native_tls=True)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"wss://127.0.0.1:{server.port}/", ca_file=ca_file, native_tls=True)
        await ws.wait_closed()
        assert ws.close_code == 1006


async def test_native_client_refuses_a_wrong_pin_and_an_unknown_ca(
    files: tuple[str, str, str], tmp_path: Path
) -> None:
    ca_file = files[0]
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    async with tls_server(files, True) as server, asyncio.timeout(TIMEOUT):
        url = f"wss://127.0.0.1:{server.port}/"
        with pytest.raises(PinMismatch):
            await connect(url, ca_file=ca_file, pins=["A" * 43 + "="], native_tls=True)
        with pytest.raises(TLSFailure, match="unable to get local issuer"):
            await connect(url, ca_file=str(other), native_tls=True)
        with pytest.raises(TLSFailure, match="mismatch"):
            await connect(url, ca_file=ca_file, server_hostname="exchange.example")
        # the server survived the failed handshakes
        ws = await connect(url, ca_file=ca_file, native_tls=True)
        ws.send("still serving")
        assert await ws.recv() == "still serving"
        await ws.close()


async def test_fallback_when_switched_off_and_when_a_context_is_given(
    files: tuple[str, str, str],
) -> None:
    ca_file = files[0]
    async with tls_server(files, True) as server, asyncio.timeout(TIMEOUT):
        url = f"wss://127.0.0.1:{server.port}/"
        old = speedups.use(False)
        try:
            assert not nativetls.available()
            ws = await connect(url, ca_file=ca_file)
            assert not is_native(ws)
            with pytest.raises(ValueError, match="native_tls=True"):
                await connect(url, ca_file=ca_file, native_tls=True)
            await ws.close()
        finally:
            speedups.use(old)
        context = ssl.create_default_context(cafile=ca_file)
        ws = await connect(url, ssl=context)
        assert not is_native(ws)
        await ws.close()
        with pytest.raises(ValueError, match="SSLContext"):
            await connect(url, ssl=context, native_tls=True)


async def test_server_falls_back_to_asyncio_ssl_when_switched_off(
    files: tuple[str, str, str],
) -> None:
    ca_file, cert, key = files
    old = speedups.use(False)
    try:
        server = await serve(echo, "127.0.0.1", 0, tls_cert=cert, tls_key=key)
    finally:
        speedups.use(old)
    async with server, asyncio.timeout(TIMEOUT):
        assert isinstance(server._server, asyncio.Server)
        ws = await connect(f"wss://127.0.0.1:{server.port}/", ca_file=ca_file)
        ws.send("via asyncio ssl")
        assert await ws.recv() == "via asyncio ssl"
        await ws.close()


@pytest.mark.parametrize("backend", ["uring", "uring-sqpoll"])
async def test_io_uring_backend_stays_on_the_socket_path_over_native_tls(
    files: tuple[str, str, str], backend: str
) -> None:
    """A ring would write plaintext past OpenSSL (no kTLS here): the TLS transport keeps it."""
    ca_file = files[0]
    async with tls_server(files, True) as server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"wss://127.0.0.1:{server.port}/", ca_file=ca_file, native_tls=True)
        assert use_send_backend(ws, backend) == "socket"
        assert is_native(ws)
        ws.send("still TLS")
        assert await ws.recv() == "still TLS"
        await ws.close()


async def test_native_server_drops_silent_and_plaintext_clients_and_keeps_serving(
    files: tuple[str, str, str],
) -> None:
    """A client that never speaks TLS is cut at open_timeout; one that speaks HTTP, at once."""
    ca_file, cert, key = files
    server = await serve(
        echo,
        "127.0.0.1",
        0,
        tls_cert=cert,
        tls_key=key,
        native_tls=True,
        limits=Limits(open_timeout=0.5),
    )
    async with server, asyncio.timeout(TIMEOUT):
        silent_r, silent_w = await asyncio.open_connection("127.0.0.1", server.port)
        plain_r, plain_w = await asyncio.open_connection("127.0.0.1", server.port)
        plain_w.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await plain_r.read() == b""  # closed without an HTTP answer
        ws = await connect(f"wss://127.0.0.1:{server.port}/", ca_file=ca_file, native_tls=True)
        ws.send("served meanwhile")
        assert await ws.recv() == "served meanwhile"
        await ws.close()
        assert await silent_r.read() == b""  # the handshake timer closed it
        for writer in (silent_w, plain_w):
            writer.close()

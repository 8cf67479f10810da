"""The order call (``BinanceOrderTemplate.send``): fill, sign, frame, mask and write in one call.

Issue 18 item 2: the armed order's frame is written by the same native call that builds it,
over TLS by ``SSL_write`` on the connection's session. Each case checks, C and Python paths
alike, that what a real peer reads is the exact request ``request()`` gives (RFC 6455 §5.2
framing, §5.3 masking with a fresh key): over a socket pair by fd, and over a loopback
``wss://`` connection from ``net.nativetls`` into our own server. A socket that takes only
part of the frame hands back the rest, byte for byte.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import trustme

from whalewire import speedups
from whalewire.net import WebSocket, nativetls
from whalewire.net.client import connect
from whalewire.net.server import serve
from whalewire.venues import templates
from whalewire.venues.templates import BinanceOrderTemplate

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
IMPLS = ["c", "python"] if templates._hotpath is not None else ["python"]
ORDERS = [
    (1_700_000_000_000 + i, b"ww-b-%014d" % i, q)
    for i, q in enumerate([b"0.01000000", b"1.5", b"0.00120000"])
]


def template(impl: str) -> BinanceOrderTemplate:
    old = speedups.use(impl == "c")
    try:
        tpl = BinanceOrderTemplate(
            symbol="BTCUSDT",
            side="SELL",
            order_type="MARKET",
            cid_width=19,
            recv_window_ms=1000,
            api_key=KEY,
            secret=SECRET,
        )
    finally:
        speedups.use(old)
    assert (tpl.send == tpl._send_py) is (impl == "python")
    return tpl


def unframe(data: bytes) -> tuple[bytes, bytes]:
    """Split one masked client text frame (RFC 6455 §5.2) into (payload, the bytes after)."""
    assert data[0] == 0x81 and data[1] & 0x80
    length, pos = data[1] & 0x7F, 2
    if length == 126:
        length, pos = int.from_bytes(data[2:4], "big"), 4
    key = data[pos : pos + 4]
    body = data[pos + 4 : pos + 4 + length]
    assert len(body) == length
    return bytes(c ^ key[i % 4] for i, c in enumerate(body)), data[pos + 4 + length :]


@pytest.mark.parametrize("impl", IMPLS)
def test_send_to_an_fd_writes_the_signed_request_as_one_frame(impl: str) -> None:
    tpl = template(impl)
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        for ts, cid, qty in ORDERS:
            assert tpl.send(a.fileno(), ts, cid, qty) is None
        data = b.recv(65536)
    for ts, cid, qty in ORDERS:
        payload, data = unframe(data)
        assert payload == tpl.request(ts, cid, qty)
    assert data == b""


@pytest.mark.parametrize("impl", IMPLS)
def test_send_to_a_full_socket_returns_the_rest_of_the_frame(impl: str) -> None:
    tpl = template(impl)
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        while True:  # fill the socket, then one order must come back whole or in part
            try:
                a.send(b"x" * 4096)
            except BlockingIOError:
                break
        rest = tpl.send(a.fileno(), *ORDERS[0])
        assert rest is not None
        b.setblocking(False)
        sent = b""
        while True:
            try:
                sent += b.recv(1 << 20)
            except BlockingIOError:
                break
    payload, after = unframe(sent.lstrip(b"x") + rest)
    assert payload == tpl.request(*ORDERS[0])
    assert after == b""


@pytest.mark.parametrize("impl", IMPLS)
def test_send_rejects_slots_before_writing(impl: str) -> None:
    tpl = template(impl)
    a, b = socket.socketpair()
    with a, b:
        with pytest.raises(ValueError, match="client order id"):
            tpl.send(a.fileno(), ORDERS[0][0], b"short", b"1")
        b.setblocking(False)
        with pytest.raises(BlockingIOError):
            b.recv(1)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    root = tmp_path_factory.mktemp("order-call")
    paths = [root / "ca.pem", root / "cert.pem", root / "key.pem"]
    ca.cert_pem.write_to_path(str(paths[0]))
    paths[1].write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(paths[2]))
    return str(paths[0]), str(paths[1]), str(paths[2])


@pytest.mark.skipif(not nativetls.available(), reason="net._tls is not built")
@pytest.mark.parametrize("impl", IMPLS)
async def test_send_to_a_native_tls_session_delivers_the_request_to_the_server(
    impl: str, certs: tuple[str, str, str]
) -> None:
    ca, cert, key = certs
    tpl = template(impl)
    got: list[bytes] = []
    arrived = asyncio.Event()

    def on_message(ws: WebSocket, message: str | bytes) -> None:
        got.append(message.encode() if isinstance(message, str) else message)
        if len(got) == len(ORDERS):
            arrived.set()

    server = await serve(None, "127.0.0.1", 0, on_message=on_message, tls_cert=cert, tls_key=key)
    async with server, asyncio.timeout(30):
        ws = await connect(f"wss://127.0.0.1:{server.port}/", ca_file=ca, native_tls=True)
        session = ws._proto.transport.get_extra_info("ssl_object")  # type: ignore[union-attr]
        assert type(session).__name__ == "Session"
        for ts, cid, qty in ORDERS:
            assert tpl.send(session, ts, cid, qty) is None
        await arrived.wait()
        await ws.close()
    assert got == [tpl.request(ts, cid, qty) for ts, cid, qty in ORDERS]


def test_send_refuses_a_target_that_is_neither_fd_nor_session() -> None:
    if "c" not in IMPLS:
        pytest.skip("the C path is not built")
    with pytest.raises(TypeError, match=r"socket fd or a net\._tls\.Session"):
        template("c").send(Path("/"), *ORDERS[0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="file descriptor"):
        template("c").send(-1, *ORDERS[0])

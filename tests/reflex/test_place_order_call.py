"""``BinanceClient.place`` through the order call, against the emulator on loopback.

Issue 18: the order leaves through ``BinanceOrderTemplate.send`` (fill, sign, frame, mask and
``write(2)`` or ``SSL_write`` in one C call) to the connection's ``send_target()``, over
``ws://`` and native ``wss://``; where the connection has no target (bytes queued, the
io_uring backend, asyncio's ``ssl``) it takes the frame + ``send_prebuilt`` path. Every case
checks that the venue answers each order, which it can only do if every frame reached it
whole and in order (a lost or reordered byte breaks the stream of frames).
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import trustme
from tests.venues.support import Events
from tests.venues.support import binance_order as sell_order
from tests.venues.support import binance_tls_client as client

from whalewire import speedups
from whalewire.emulator.binance.exchange import BinanceConfig
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.limits import Interval, RateLimit
from whalewire.model import OrderAccepted, OrderRejected, OrderStatusUnknown, SubmitOrder
from whalewire.net import WebSocket, nativetls, uring
from whalewire.net._tls import Session
from whalewire.venues.base import TlsSettings
from whalewire.venues.binance import BinanceClient
from whalewire.venues.ids import binance_client_order_id

NS = "pc"
_seq = iter(range(1, 10**6))
#: order limits no test here reaches: the full-socket case places thousands
LOOSE = BinanceConfig(
    request_weight=RateLimit("REQUEST_WEIGHT", Interval.MINUTE, 1, 10**7),
    orders=(
        RateLimit("ORDERS", Interval.SECOND, 10, 10**7),
        RateLimit("ORDERS", Interval.DAY, 1, 10**8),
    ),
)


@pytest.fixture
async def plain() -> AsyncIterator[BinanceEmulator]:
    emu = BinanceEmulator(LOOSE)
    await emu.start()
    yield emu
    await emu.close()


@pytest.fixture
async def secure(tmp_path: Path) -> AsyncIterator[tuple[BinanceEmulator, Path]]:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    emu = BinanceEmulator(LOOSE)
    await emu.start(ssl=server_ctx)
    yield emu, ca_file
    await emu.close()


async def started(
    emu: BinanceEmulator, tls: TlsSettings | None = None, send_backend: str = "socket"
) -> tuple[BinanceClient, Events, WebSocket]:
    c = client(emu, tls or TlsSettings())  # HMAC per request, ids of width BINANCE_ID_WIDTH[2]
    c.send_backend = send_backend
    events = Events()
    c.on_event = events
    await c.start()
    assert c._ws is not None
    return c, events, c._ws


def order() -> SubmitOrder:
    """A market sell with an id of our client's width (the emulator's account may reject it)."""
    cid = binance_client_order_id(NS, next(_seq))
    return msgspec.structs.replace(sell_order("0.001"), client_order_id=cid)


def answered(events: Events) -> list[str]:
    """The client order ids the venue answered, in the order of their first answer."""
    seen: dict[str, None] = {}
    for e in events.items:
        if isinstance(e, OrderAccepted | OrderRejected):
            seen.setdefault(e.client_order_id, None)
    return list(seen)


async def wait_answered(events: Events, coids: list[str]) -> None:
    async with asyncio.timeout(20):
        while len(set(answered(events)) & set(coids)) < len(coids):
            await asyncio.sleep(0.01)


async def place_and_check(client: BinanceClient, events: Events, n: int = 3) -> None:
    sent = client.sent
    cmds = [order() for _ in range(n)]
    for cmd in cmds:
        client.place(cmd)
    await wait_answered(events, [c.client_order_id for c in cmds])
    assert client.sent == sent + n
    for cmd in cmds:
        assert events.of(OrderAccepted, cmd.client_order_id), events.of(
            OrderRejected, cmd.client_order_id
        )


async def test_place_over_ws_writes_to_the_socket_fd_and_the_venue_accepts(
    plain: BinanceEmulator,
) -> None:
    client, events, ws = await started(plain)
    target = ws.send_target()
    assert isinstance(target, int) and target == ws._proto.socket_fd
    await place_and_check(client, events)
    await client.close()


async def test_place_over_ws_with_the_python_paths_writes_by_the_reference_send(
    plain: BinanceEmulator,
) -> None:
    old = speedups.use(False)  # connections and templates bind their path when built
    try:
        client, events, ws = await started(plain)
        assert isinstance(ws.send_target(), int)
        await place_and_check(client, events)
    finally:
        speedups.use(old)
    (template,) = client._templates.values()
    assert template.send == template._send_py
    await client.close()


@pytest.mark.skipif(not nativetls.available(), reason="net._tls not built")
async def test_place_over_native_wss_writes_to_the_tls_session_and_the_venue_accepts(
    secure: tuple[BinanceEmulator, Path],
) -> None:
    emu, ca_file = secure
    client, events, ws = await started(emu, TlsSettings(ca_file=str(ca_file)))
    assert isinstance(ws.send_target(), Session)
    await place_and_check(client, events)
    await client.close()


async def test_asyncio_ssl_has_no_target_and_place_takes_send_prebuilt(
    secure: tuple[BinanceEmulator, Path],
) -> None:
    emu, _ = secure
    # verify=False hands connect an ssl.SSLContext: asyncio's TLS layer, not the native one
    client, events, ws = await started(emu, TlsSettings(verify=False))
    assert ws.send_target() is None
    await place_and_check(client, events)
    await client.close()


@pytest.mark.skipif(not uring.available()[0], reason=f"no io_uring: {uring.available()[1]}")
async def test_io_uring_backend_has_no_target_and_place_takes_send_prebuilt(
    plain: BinanceEmulator,
) -> None:
    client, events, ws = await started(plain, send_backend="uring")
    assert client.send_backend_in_use == "uring"
    assert ws.send_target() is None
    await place_and_check(client, events)
    await client.close()


@pytest.mark.parametrize("secure_too", [False, True], ids=["ws", "native-wss"])
async def test_a_full_socket_hands_the_rest_to_the_transport_and_later_orders_queue_behind_it(
    plain: BinanceEmulator, secure: tuple[BinanceEmulator, Path], secure_too: bool
) -> None:
    if secure_too and not nativetls.available():
        pytest.skip("net._tls not built")
    emu, tls = (secure[0], TlsSettings(ca_file=str(secure[1]))) if secure_too else (plain, None)
    client, events, ws = await started(emu, tls)
    # the venue stops reading; small buffers both ways so the socket fills within the run
    (venue_ws,) = emu._sockets.values()
    venue = venue_ws._proto.transport
    assert venue is not None
    venue.pause_reading()
    venue.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ws._proto.transport.get_extra_info("socket").setsockopt(  # type: ignore[union-attr]
        socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
    )
    coids: list[str] = []
    direct = fallback = 0
    while fallback < 50:
        assert len(coids) < 20_000, "the socket never filled"
        if ws.send_target() is None:
            fallback += 1
        else:
            direct += 1
        cmd = order()
        client.place(cmd)
        coids.append(cmd.client_order_id)
    assert direct > 0 and ws.buffered_amount > 0
    venue.resume_reading()
    await wait_answered(events, coids)
    assert answered(events) == coids  # each whole, none lost, in the order placed
    assert client.sent == len(coids)
    assert ws.send_target() is not None  # drained: the order call is back
    await place_and_check(client, events, 1)
    await client.close()


async def test_a_failed_socket_gives_the_frame_to_the_transport_as_send_prebuilt_does(
    plain: BinanceEmulator,
) -> None:
    client, events, ws = await started(plain)
    fd = ws.send_target()
    assert isinstance(fd, int)
    # our side of the socket shut for writing: the order call's write(2) fails with EPIPE
    with socket.socket(fileno=os.dup(fd)) as ours:
        ours.shutdown(socket.SHUT_WR)
    cmd = order()
    client.place(cmd)  # nothing raised: the transport met the failure, as on the old path
    assert client.sent == 1
    # the connection drops, and with it the order's answer: UNKNOWN until reconciled
    unknown = await events.wait_for(OrderStatusUnknown, cmd.client_order_id)
    assert unknown[0].client_order_id == cmd.client_order_id
    await client.close()

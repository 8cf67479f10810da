"""Pre-built frames (the order hot path) over a real loopback connection, both directions."""

from __future__ import annotations

import asyncio

import pytest

from whalewire.net.client import connect
from whalewire.net.server import echo, serve
from whalewire.venues.templates import mask_text_frame
from whalewire.ws import protocol as core
from whalewire.ws.exceptions import ConnectionClosed, InvalidState
from whalewire.ws.mask import default_key_pool


async def test_prebuilt_masked_frame_reaches_the_server_as_one_text_message() -> None:
    async with await serve(echo, "127.0.0.1", 0) as server:
        ws = await connect(f"ws://127.0.0.1:{server.port}/", deflate=True)
        body = b'{"id":"ww1","method":"order.place"}' * 5  # 180 bytes: 16-bit length
        ws.send("queued first")  # goes out before the pre-built frame
        ws.send_prebuilt(mask_text_frame(body, default_key_pool().next_key()))
        assert await asyncio.wait_for(ws.recv(), 5) == "queued first"
        assert await asyncio.wait_for(ws.recv(), 5) == body.decode()
        await ws.close()


async def test_prebuilt_frame_after_close_raises_connection_closed() -> None:
    async with await serve(echo, "127.0.0.1", 0) as server:
        ws = await connect(f"ws://127.0.0.1:{server.port}/")
        await ws.close()
        with pytest.raises(ConnectionClosed):
            ws.send_prebuilt(mask_text_frame(b"{}", b"abcd"))


def test_core_refuses_a_prebuilt_frame_inside_a_fragmented_message() -> None:
    conn = core.Connection(core.Role.CLIENT)
    conn.send_frame(1, b"part", fin=False)
    with pytest.raises(InvalidState):
        conn.send_prebuilt(mask_text_frame(b"{}", b"abcd"))


def test_core_puts_queued_bytes_in_front_of_a_prebuilt_frame() -> None:
    conn = core.Connection(core.Role.CLIENT)
    conn.send_ping(b"p")
    queued = bytes(conn.data_to_send())
    conn.send_ping(b"p")
    frame = mask_text_frame(b"{}", b"abcd")
    out = bytes(conn.send_prebuilt(frame))
    assert out[: len(queued)][:2] == queued[:2]  # the ping's header comes first
    assert out.endswith(bytes(frame))
    assert conn.data_to_send() == b""

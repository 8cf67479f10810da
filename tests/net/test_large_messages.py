"""Large messages over real sockets: whole, in order, on both receive paths (issue 21).

A message of megabytes is now taken piece by piece as it arrives (``ws.protocol``'s
``STREAM_FROM``), assembled in ``ws.assembly``'s buffer, and a large text is decoded over
several turns while the reader waits behind it (``core.PAUSE`` on the server's
``on_message`` path, ``work_pending``/``resume`` on the client's ``recv`` path). What the
application sees must not change: each message whole and equal to what was sent, and a
small message sent after a large one arriving after it. Server (``on_message``, echoing)
and client (``recv``), plain and permessage-deflate, C and pure Python.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from whalewire import speedups
from whalewire.net import Message, WebSocket, connect, serve
from whalewire.net._protocol import Limits
from whalewire.ws import protocol

TIMEOUT = 60
SIZE = 6 << 20
#: 1-, 2-, 3- and 4-byte characters (the widest str kind), more than a budget's worth
TEXT = "a é € 😀 " * (SIZE // 16)
BINARY = bytes(range(256)) * (SIZE // 256)


@pytest.fixture(params=["c", "python"])
def impl(request: pytest.FixtureRequest) -> Iterator[str]:
    """Build the connections with the C speedups, then with pure Python."""
    if request.param == "c" and protocol._speedups is None:
        pytest.skip("whalewire.ws._speedups is not built")
    old = speedups.use(request.param == "c")
    try:
        yield request.param
    finally:
        speedups.use(old)


@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "deflate"])
async def test_large_messages_echo_whole_and_in_order(impl: str, deflate: bool) -> None:
    got: list[Message] = []

    def on_message(ws: WebSocket, message: Message) -> None:
        got.append(message)
        ws.send(message)

    limits = Limits(max_message_size=64 << 20)
    server = await serve(None, "127.0.0.1", 0, on_message=on_message, limits=limits)
    async with server, asyncio.timeout(TIMEOUT):
        ws = await connect(f"ws://127.0.0.1:{server.port}/", deflate=deflate, limits=limits)
        sent: list[Message] = [TEXT, "after the text", BINARY, "after the binary", TEXT]
        for message in sent:
            ws.send(message)
        echoed = [await ws.recv() for _ in sent]
        await ws.close()
    assert [type(m) for m in got] == [type(m) for m in sent]
    assert got == sent  # the server's on_message: whole, in order
    assert echoed == sent  # the client's recv

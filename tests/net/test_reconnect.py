"""The reconnect supervisor over real loopback connections (net.reconnect): it comes back
after the server cuts it, retries failed opens with the backoff delays, re-runs the setup
hook on every connection, and a planned rollover opens the new connection before it
closes the old one."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator

from whalewire.net._protocol import WebSocket
from whalewire.net.backoff import backoff
from whalewire.net.client import connect
from whalewire.net.errors import Refused
from whalewire.net.reconnect import Supervisor
from whalewire.net.server import serve

TIMEOUT = 20


def quick() -> Iterator[float]:
    return backoff(0.001, cap=0.01, jitter=False)


async def wait_for(condition: Callable[[], bool], step: float = 0.01) -> None:
    while not condition():
        await asyncio.sleep(step)


async def test_server_cut_is_followed_by_a_reconnect_and_a_new_login() -> None:
    async def handler(ws: WebSocket) -> None:
        async for message in ws:
            if message == "bye":
                return  # the server closes this connection (1000)
            ws.send(f"ack {message!s}")

    logins: list[int] = []

    async def login(ws: WebSocket) -> None:
        ws.send("login")
        assert await ws.recv() == "ack login"
        logins.append(len(logins))

    server = await serve(handler, "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):
        sup = Supervisor(
            functools.partial(connect, f"ws://127.0.0.1:{server.port}/"),
            on_connected=login,
            delays=quick,
        )
        task = asyncio.create_task(sup.run())
        first = await sup.wait_connected()
        first.send("bye")
        await first.wait_closed()
        await wait_for(lambda: sup.generation == 2 and sup.ws is not None)
        assert sup.ws is not first
        assert logins == [0, 1]
        await sup.close()
        task.cancel()


async def test_failed_opens_are_retried_until_one_works() -> None:
    attempts: list[int] = []
    server = await serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0)

    async def flaky_open() -> WebSocket:
        attempts.append(1)
        if len(attempts) < 3:
            raise Refused("127.0.0.1", server.port, "not yet")
        return await connect(f"ws://127.0.0.1:{server.port}/")

    async with server, asyncio.timeout(TIMEOUT):
        sup = Supervisor(flaky_open, delays=quick)
        task = asyncio.create_task(sup.run())
        await sup.wait_connected()
        assert (len(attempts), sup.failures, sup.generation) == (3, 2, 1)
        await sup.close()
        task.cancel()


async def test_rejected_login_closes_that_connection_and_retries() -> None:
    opened: list[WebSocket] = []

    async def login(ws: WebSocket) -> None:
        opened.append(ws)
        if len(opened) == 1:
            raise PermissionError("invalid signature")

    server = await serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):
        sup = Supervisor(
            functools.partial(connect, f"ws://127.0.0.1:{server.port}/"),
            on_connected=login,
            delays=quick,
        )
        task = asyncio.create_task(sup.run())
        ws = await sup.wait_connected()
        assert ws is opened[1] and opened[0].closed and sup.failures == 1
        await sup.close()
        task.cancel()


async def test_rollover_opens_the_new_connection_before_closing_the_old() -> None:
    history: list[str] = []

    async def handler(ws: WebSocket) -> None:
        history.append(f"open {ws.path}")
        await ws.wait_closed()
        history.append(f"closed {ws.path}")

    paths = iter(["/a", "/b"])
    server = await serve(handler, "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):

        async def open_next() -> WebSocket:
            return await connect(f"ws://127.0.0.1:{server.port}{next(paths)}")

        async def ready(ws: WebSocket) -> None:
            await wait_for(lambda: f"open {ws.path}" in history)

        sup = Supervisor(open_next, on_connected=ready, delays=quick)
        task = asyncio.create_task(sup.run())
        old = await sup.wait_connected()
        new = await sup.rollover()
        assert sup.ws is new and old.closed and old.close_code == 1000
        await wait_for(lambda: "closed /a" in history)
        assert history[:3] == ["open /a", "open /b", "closed /a"]
        assert sup.generation == 2  # the run loop followed the rollover, no reconnect
        await sup.close()
        task.cancel()

"""The reconnect supervisor over real loopback connections (net.reconnect): it comes back
after the server cuts it, retries failed opens with the backoff delays, re-runs the setup
hook on every connection, and a planned rollover opens the new connection before it
closes the old one; ``start()`` fails loudly on the first connection and keeps later ones
up in the background until ``close()``; every connection's close is reported once."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterator

import pytest

from whalewire.net import WebSocket
from whalewire.net.backoff import backoff
from whalewire.net.client import connect
from whalewire.net.errors import Refused
from whalewire.net.reconnect import OpenWS, Supervisor
from whalewire.net.server import serve

TIMEOUT = 20


def quick() -> Iterator[float]:
    return backoff(0.001, cap=0.01, jitter=False)


def one_after_another(*opens: Callable[[], Awaitable[WebSocket]]) -> OpenWS:
    """An ``open_ws`` that calls each of ``opens`` in turn, one per attempt."""
    pending = iter(opens)

    async def open_ws() -> WebSocket:
        return await next(pending)()

    return open_ws


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


# -- start(): the first connection fails loudly, later ones are kept up in the background --


async def test_start_raises_the_first_failure_and_leaves_nothing_running() -> None:
    attempts: list[int] = []

    async def refused() -> WebSocket:
        attempts.append(1)
        raise Refused("127.0.0.1", 9, "nobody there")

    sup = Supervisor(refused, delays=quick)
    with pytest.raises(Refused):
        await sup.start()
    await asyncio.sleep(0.05)  # a (wrong) background retry would have tried again by now
    assert (len(attempts), sup.failures, sup.generation, sup.running) == (1, 0, 0, False)


async def test_start_reconnects_in_the_background_until_close() -> None:
    async def handler(ws: WebSocket) -> None:
        async for message in ws:
            if message == "bye":
                return

    server = await serve(handler, "127.0.0.1", 0)
    opened: list[WebSocket] = []

    async def open_ws() -> WebSocket:
        ws = await connect(f"ws://127.0.0.1:{server.port}/")
        opened.append(ws)
        return ws

    async with server, asyncio.timeout(TIMEOUT):
        sup = Supervisor(open_ws, delays=quick, stable_after=0.0)
        first = await sup.start()
        assert sup.ws is first and sup.running
        first.send("bye")
        await wait_for(lambda: sup.generation == 2 and sup.ws is not None)
        await sup.close()
        assert not sup.running and sup.ws is None and opened[1].closed
        await asyncio.sleep(0.05)
        assert len(opened) == 2  # nothing reconnected after close


async def test_close_stops_an_attempt_waiting_to_connect() -> None:
    waiting = asyncio.Event()

    async def held_back() -> WebSocket:
        waiting.set()
        await asyncio.Event().wait()  # e.g. a connection limiter holding the attempt
        raise AssertionError("never released")

    server = await serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):
        url = f"ws://127.0.0.1:{server.port}/"
        opens = one_after_another(functools.partial(connect, url), held_back)
        sup = Supervisor(opens, delays=quick)
        first = await sup.start()
        await first.close()
        await waiting.wait()
        assert sup.running
        await sup.close()
        assert not sup.running and sup.error is None


# -- on_disconnected: every connection, once, before the supervisor reacts -----------------


async def test_every_connection_is_reported_once_when_it_closes() -> None:
    async def handler(ws: WebSocket) -> None:
        async for message in ws:
            if message == "bye":
                return

    reported: list[WebSocket] = []
    opened: list[WebSocket] = []

    async def login(ws: WebSocket) -> None:
        opened.append(ws)
        if len(opened) == 1:
            raise PermissionError("invalid signature")

    server = await serve(handler, "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):
        sup = Supervisor(
            functools.partial(connect, f"ws://127.0.0.1:{server.port}/"),
            on_connected=login,
            on_disconnected=reported.append,
            delays=quick,
        )
        task = asyncio.create_task(sup.run())
        cut = await sup.wait_connected()  # opened[1]: opened[0] failed its login
        await wait_for(lambda: len(reported) == 1)
        assert reported == [opened[0]]
        cut.send("bye")  # the server ends it: reported before the reconnect
        await wait_for(lambda: sup.generation == 2)
        assert reported == [opened[0], cut]
        replaced = await sup.wait_connected()
        current = await sup.rollover()
        await wait_for(lambda: len(reported) == 3)
        assert reported[2] is replaced
        await sup.close()  # reported by the time close returns, not on a later step
        assert reported[3:] == [current]
        await asyncio.sleep(0.05)
        assert len(reported) == len(opened) == 4  # each once
        task.cancel()


async def test_connection_closed_during_setup_is_retried_not_made_current() -> None:
    async def handler(ws: WebSocket) -> None:
        if ws.path == "/cut":
            return  # closes at once: the setup below sees it closed
        await ws.wait_closed()

    paths = iter(["/cut", "/ok"])
    reported: list[str] = []
    server = await serve(handler, "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):

        async def open_next() -> WebSocket:
            return await connect(f"ws://127.0.0.1:{server.port}{next(paths)}")

        async def setup(ws: WebSocket) -> None:
            if ws.path == "/cut":
                await ws.wait_closed()  # the hook itself does not notice

        sup = Supervisor(
            open_next,
            on_connected=setup,
            on_disconnected=lambda ws: reported.append(ws.path),
            delays=quick,
        )
        task = asyncio.create_task(sup.run())
        ws = await sup.wait_connected()
        assert ws.path == "/ok" and (sup.failures, sup.generation) == (1, 1)
        assert reported == ["/cut"]
        await sup.close()
        task.cancel()


async def test_a_failure_outside_retry_on_ends_the_supervision() -> None:
    async def misconfigured() -> WebSocket:
        raise ValueError("bad configuration")

    with pytest.raises(ValueError, match="bad configuration"):
        await Supervisor(misconfigured, delays=quick, retry_on=(OSError,)).run()

    server = await serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0)
    async with server, asyncio.timeout(TIMEOUT):
        url = f"ws://127.0.0.1:{server.port}/"
        opens = one_after_another(functools.partial(connect, url), misconfigured)
        sup = Supervisor(opens, delays=quick, retry_on=(OSError,))
        first = await sup.start()
        await first.close()
        await wait_for(lambda: not sup.running)
        assert isinstance(sup.error, ValueError) and sup.failures == 0

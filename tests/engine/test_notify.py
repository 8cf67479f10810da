"""Webhook notifications against a real HTTP receiver on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from whalewire.commands.embedded import build
from whalewire.engine.config import parse_config
from whalewire.engine.events import EventLog
from whalewire.engine.notify import Webhook
from whalewire.engine.runner import run


class Receiver:
    """Answers the first ``failures`` POSTs with ``status``, then 200; keeps what came."""

    def __init__(self, failures: int = 0, status: int = 503) -> None:
        self.failures = failures
        self.status = status
        self.attempts = 0
        self.received: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    async def _hook(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.attempts <= self.failures:
            return web.Response(status=self.status)
        self.received.append(await request.json())
        return web.Response(status=204)


async def until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_chosen_events_are_posted_in_order_with_retries() -> None:
    receiver = Receiver(failures=2)
    await receiver.start()
    events = EventLog()
    hook = Webhook(receiver.url, engine="ww", backoff_s=0.01)
    events.subscribers.append(hook.offer)
    hook.start()
    try:
        events.emit("whale", {"txid": "ab" * 32, "decision": "SELL 0.001"})
        events.emit("order", {"status": "SUBMITTED"})  # not a default kind
        events.emit("halt", {"source": "cli"})
        events.drain()
        await until(lambda: len(receiver.received) == 2)
    finally:
        await hook.stop()
        await receiver.stop()
    assert [r["event"] for r in receiver.received] == ["whale", "halt"]
    assert receiver.received[0]["decision"] == "SELL 0.001"
    assert receiver.received[1]["message"] == "trading HALTED by cli"
    assert receiver.received[1]["engine"] == "ww"
    assert receiver.attempts == 4  # two 503s for the whale, then one each
    assert (hook.sent, hook.failed) == (2, 0)


async def test_a_client_error_is_not_retried_and_the_next_event_goes() -> None:
    receiver = Receiver(failures=1, status=400)
    await receiver.start()
    hook = Webhook(receiver.url, backoff_s=0.01)
    hook.start()
    try:
        hook.offer({"event": "fill", "line": "first"})
        hook.offer({"event": "fill", "line": "second"})
        await until(lambda: len(receiver.received) == 1)
    finally:
        await hook.stop()
        await receiver.stop()
    assert [r["message"] for r in receiver.received] == ["second"]
    assert (receiver.attempts, hook.sent, hook.failed) == (2, 1, 1)


async def test_an_engine_with_notify_posts_its_whales(tmp_path: Path) -> None:
    receiver = Receiver()
    await receiver.start()
    config = parse_config(
        f'[engine]\njournal = "{tmp_path / "j.db"}"\n[control]\nport = 0\n'
        f'kill_file = "{tmp_path / "kill"}"\n[[feeds]]\ntype = "replay"\nspeed = 20.0\n'
        f'[notify]\nwebhook_url = "{receiver.url}"\n'
    )
    running = await build(config)
    try:
        await run(running, seconds=4.0, dashboard=False)
    finally:
        await running.close()
        await receiver.stop()
    kinds = [r["event"] for r in receiver.received]
    assert "whale" in kinds and "fill" in kinds
    assert all(k in ("whale", "fill", "denial", "halt", "resume") for k in kinds)

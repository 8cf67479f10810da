"""The operator's handles on a running engine: HTTP on loopback, SIGUSR1, a kill file.

Every kill switch ends in the same call, ``EngineHandle.kill(source)``: halt trading,
cancel every open order on every venue, and report what was done. The HTTP endpoint
serves ``GET /status`` (JSON), ``POST /kill`` (JSON report) and ``GET /metrics``
(Prometheus text); it binds to loopback only, which the configuration enforces.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web


class EngineHandle(Protocol):
    """What the control plane needs of the engine."""

    def status(self) -> Mapping[str, Any]:
        """A JSON-serialisable snapshot: trading state, orders, positions, feeds."""
        ...

    async def kill(self, source: str) -> Mapping[str, Any]:
        """Halt trading and cancel all open orders; return what was done."""
        ...

    def metrics_text(self) -> str:
        """The Prometheus exposition of the engine's metrics."""
        ...


class ControlServer:
    """Serves the control endpoint and watches the other kill switches."""

    def __init__(
        self,
        engine: EngineHandle,
        *,
        host: str = "127.0.0.1",
        port: int = 8787,
        kill_file: str | Path | None = None,
        kill_file_poll_s: float = 0.1,
    ) -> None:
        self.engine = engine
        self.host = host
        self.port = port
        self.kill_file = Path(kill_file) if kill_file else None
        self._poll_s = kill_file_poll_s
        self._runner: web.AppRunner | None = None
        self._watch: asyncio.Task[None] | None = None
        self._signal_installed = False
        self.kills: list[Mapping[str, Any]] = []

    async def start(self) -> None:
        """Bind the HTTP endpoint, install SIGUSR1 and start watching the kill file."""
        app = web.Application()
        app.router.add_get("/status", self._status)
        app.router.add_post("/kill", self._kill)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            await self._runner.cleanup()
            raise OSError(
                exc.errno, f"control endpoint cannot bind {self.host}:{self.port}: {exc.strerror}"
            ) from None
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGUSR1, self._on_signal)
            self._signal_installed = True
        if self.kill_file is not None:
            self._watch = asyncio.create_task(self._watch_kill_file())

    async def stop(self) -> None:
        """Stop serving and watching."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._signal_installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGUSR1)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """Base URL of the endpoint."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def trigger(self, source: str) -> Mapping[str, Any]:
        """Run the kill switch on behalf of ``source`` and remember its report."""
        report = await self.engine.kill(source)
        self.kills.append(report)
        return report

    def _on_signal(self) -> None:
        asyncio.get_running_loop().create_task(self.trigger("signal SIGUSR1"))

    async def _watch_kill_file(self) -> None:
        assert self.kill_file is not None
        while True:
            if self.kill_file.exists():
                await self.trigger(f"kill file {self.kill_file}")
                # keep halted; do not re-trigger on every poll while the file stays
                while self.kill_file.exists():
                    await asyncio.sleep(self._poll_s)
            await asyncio.sleep(self._poll_s)

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.engine.status()))

    async def _kill(self, request: web.Request) -> web.Response:
        who = request.query.get("by", "http")
        return web.json_response(dict(await self.trigger(f"http ({who})")))

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            text=self.engine.metrics_text(), content_type="text/plain", charset="utf-8"
        )

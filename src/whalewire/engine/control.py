"""The operator's handles on a running engine: HTTP on loopback, SIGUSR1, a kill file.

Every kill switch ends in the same call, ``EngineHandle.kill(source)``: halt trading,
cancel every open order on every venue, and report what was done. The HTTP endpoint
serves ``GET /status`` (JSON), ``POST /kill`` and ``POST /resume`` (JSON reports) and
``GET /metrics`` (Prometheus text); it binds to loopback only, which the configuration
enforces. Loopback is not a user boundary (any local account can connect), so the two
POSTs need the token made at start: ``Authorization: Bearer TOKEN``. The token is written,
mode 0600, to ``token_file`` (next to the journal), where ``whalewire kill/resume
--config`` read it; reads (status, metrics) need none.

A resume is refused while the kill file exists: the file is the operator's standing order
to stay halted, and it must be removed first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import secrets
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

    def resume(self, source: str) -> Mapping[str, Any]:
        """Move a HALTED engine back to ACTIVE; report what was done."""
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
        token: str | None = None,
        token_file: str | Path | None = None,
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
        #: what POST /kill and /resume must carry (``Authorization: Bearer TOKEN``)
        self.token = token or secrets.token_urlsafe(24)
        self.token_file = Path(token_file) if token_file else None
        #: more routes on the same app (the web dashboard's), added before ``start``
        self.app = web.Application()

    async def start(self) -> None:
        """Bind the HTTP endpoint, install SIGUSR1 and start watching the kill file."""
        app = self.app
        app.router.add_get("/status", self._status)
        app.router.add_post("/kill", self._kill)
        app.router.add_post("/resume", self._resume)
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
        if self.token_file is not None:
            write_token(self.token_file, self.token)
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
        if self.token_file is not None:
            with contextlib.suppress(OSError):
                self.token_file.unlink()

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

    def authorized(self, request: web.Request) -> bool:
        """Whether ``request`` carries the token (header, or ``token`` query for a page)."""
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        given = given or request.query.get("token", "")
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    async def _kill(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            return _refused()
        who = request.query.get("by", "http")
        return web.json_response(dict(await self.trigger(f"http ({who})")))

    def resume(self, source: str) -> Mapping[str, Any]:
        """Resume trading on behalf of ``source``, unless the kill file says to stay halted."""
        if self.kill_file is not None and self.kill_file.exists():
            return {
                "resumed": False,
                "why": f"the kill file {self.kill_file} exists: remove it, then resume",
            }
        return self.engine.resume(source)

    async def _resume(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            return _refused()
        report = self.resume(f"http ({request.query.get('by', 'http')})")
        return web.json_response(dict(report), status=200 if report.get("resumed") else 409)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            text=self.engine.metrics_text(), content_type="text/plain", charset="utf-8"
        )


def _refused() -> web.Response:
    return web.json_response(
        {
            "error": "the control token is required: Authorization: Bearer TOKEN (printed at "
            "start, and in the token file next to the journal)"
        },
        status=401,
    )


def write_token(path: Path, token: str) -> None:
    """Write ``token`` to ``path`` readable by this user only (mode 0600, even if it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, token.encode() + b"\n")
    finally:
        os.close(fd)


def token_path(journal: str | Path) -> Path:
    """Where the engine with journal ``journal`` writes its control token."""
    return Path(f"{journal}.token")

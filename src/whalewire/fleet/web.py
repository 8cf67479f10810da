"""The fleet's web dashboard: the control plane's page over every executor and sensor.

``whalewire fleet control --web HOST:PORT`` serves it beside the control heartbeat, as
the engine's control endpoint serves its own (``engine/web.py``), with the same rules:

- ``GET /?token=TOKEN``: one self-contained page (``web_dashboard.html``); it opens a
  WebSocket to whalewire's own server (``whalewire.net.serve``, on a free port of the same
  loopback host, named in the page) at ``/ws?token=TOKEN``, on which the fleet's survey
  (``Operator.survey``) is pushed every ``interval_s``.
- ``GET /status``: the survey as JSON (a read: no token, as the engine's ``/status``).
- ``POST /kill`` and ``POST /resume`` with ``Authorization: Bearer TOKEN``: the fleet-wide
  command of ``whalewire kill|resume --nats``, answered with its report (who acknowledged,
  who did not); 200 when every executor heard reached the state, else 409.

Loopback only, and the token even there: loopback is no user boundary. Knows nothing of
engines: all it shows and does goes through the ``Operator``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import secrets
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from whalewire.fleet.control import operator
from whalewire.fleet.operator import Operator
from whalewire.fleet.wire import Action
from whalewire.net import Server, WebSocket, serve
from whalewire.ws.handshake import Request

#: the page (one file, no external resource), shipped beside this module
PAGE = resources.files("whalewire.fleet").joinpath("web_dashboard.html").read_text("utf-8")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class FleetDashboard:
    """The fleet's page, its JSON and its token-protected kill and resume."""

    def __init__(
        self,
        operator: Operator,
        *,
        host: str = "127.0.0.1",
        port: int = 8788,
        token: str | None = None,
        interval_s: float = 1.0,
        wait_s: float = 2.5,
        timeout_s: float = 10.0,
    ) -> None:
        if not _loopback(host):
            raise ValueError(f"the fleet dashboard listens on loopback only, not {host}")
        self.operator = operator
        self.host = host
        self.port = port
        #: what the page, its socket and the POSTs must carry
        self.token = token or secrets.token_urlsafe(24)
        self.interval_s = interval_s
        self.wait_s = wait_s
        self.timeout_s = timeout_s
        self._runner: web.AppRunner | None = None
        self.server: Server | None = None

    @property
    def url(self) -> str:
        """The page's URL, with its token."""
        return f"http://{self.host}:{self.port}/?token={self.token}"

    async def start(self) -> None:
        """Bind the page's HTTP endpoint and its WebSocket server."""
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/status", self._status)
        app.router.add_post("/kill", self._kill)
        app.router.add_post("/resume", self._resume)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.server = await serve(self._session, self.host, 0, process_request=self._admit)

    async def stop(self) -> None:
        """Close the WebSocket server and the HTTP endpoint."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        if self._runner is not None:
            await self._runner.cleanup()

    def _authorized(self, given: str) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def _admit(self, request: Request) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """Refuse the upgrade (401) unless its query carries the token."""
        parts = urlsplit(request.target)
        if parts.path == "/ws" and self._authorized(parse_qs(parts.query).get("token", [""])[0]):
            return None
        return 401, [("Content-Type", "text/plain")], b"token required\n"

    async def _page(self, request: web.Request) -> web.Response:
        if not self._authorized(request.query.get("token", "")):
            return web.Response(
                status=401,
                text="whalewire fleet: open this page with ?token=TOKEN (printed at start)\n",
            )
        page = PAGE.replace("__WS_PORT__", str(self.server.port if self.server else 0))
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(await self.operator.survey())

    async def _kill(self, request: web.Request) -> web.Response:
        return await self._command(request, Action.KILL)

    async def _resume(self, request: web.Request) -> web.Response:
        return await self._command(request, Action.RESUME)

    async def _command(self, request: web.Request, action: Action) -> web.Response:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not self._authorized(bearer):
            return web.json_response(
                {"error": "the token is required: Authorization: Bearer TOKEN"}, status=401
            )
        report = await self.operator.command(
            action,
            wait_s=self.wait_s,
            timeout_s=self.timeout_s,
            source=f"{operator()} (web {request.query.get('by', 'http')})",
        )
        return web.json_response(report, status=200 if report["ok"] else 409)

    async def _session(self, ws: WebSocket) -> None:
        """Push the fleet's survey every ``interval_s`` until the page goes."""
        while not ws.closed:
            survey: dict[str, Any] = await self.operator.survey()
            with contextlib.suppress(Exception):
                ws.send(json.dumps({"type": "status", "status": survey}, default=str))
                await ws.drain()
            await asyncio.sleep(self.interval_s)

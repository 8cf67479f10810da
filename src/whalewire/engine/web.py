"""The web dashboard: a page served by the control endpoint, updated live over a WebSocket.

``GET /?token=TOKEN`` serves one self-contained page (no external script or style); the
page opens a WebSocket to whalewire's own server (``whalewire.net.serve``, on a free port
of the same loopback host, named in the page) at ``/ws?token=TOKEN``, on which the engine
pushes a snapshot every ``interval_s`` (the ``/status`` snapshot plus latency histograms
and risk-limit usage) and every event of the event log as it is written. The page's kill
and resume buttons POST to ``/kill`` and ``/resume`` with the token. Without the token the
page, the socket and the POSTs are refused: loopback is no user boundary. Everything here
runs on the event loop between hot-path events, reading the snapshot the terminal
dashboard draws.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from whalewire.engine.app import Engine
from whalewire.engine.control import ControlServer
from whalewire.net import ConnectionClosed, Server, WebSocket, serve
from whalewire.ws.handshake import Request


class WebDashboard:
    """The page on the control endpoint, and its WebSocket on whalewire's own server."""

    def __init__(self, engine: Engine, control: ControlServer, *, interval_s: float = 0.5):
        self.engine = engine
        self.control = control
        self.interval_s = interval_s
        self.sockets: set[WebSocket] = set()
        self.server: Server | None = None

    def install(self) -> None:
        """Route the page ``/`` (before the control server starts); follow the event log."""
        self.control.app.router.add_get("/", self._page)
        self.engine.events.subscribers.append(self._on_event)

    async def start(self) -> None:
        """Listen for the page's WebSocket on a free port of the control endpoint's host."""
        self.server = await serve(self._session, self.control.host, 0, process_request=self._admit)

    async def stop(self) -> None:
        """Close the WebSocket server and every page's connection."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    @property
    def ws_port(self) -> int:
        """The WebSocket server's port (0 before ``start``)."""
        return self.server.port if self.server is not None else 0

    def snapshot(self) -> dict[str, Any]:
        """The status snapshot, plus latency histograms and risk-limit usage."""
        status = dict(self.engine.status())
        status["histograms"] = {
            name: [[upper / 1000, count] for upper, count in lat.buckets(16)]
            for name, lat in self.engine.metrics.latencies.items()
        }
        status["limits"] = limit_usage(self.engine, status)
        return status

    def _on_event(self, event: Mapping[str, Any]) -> None:
        text = json.dumps({"type": "event", "event": event}, default=str)
        for ws in list(self.sockets):
            with contextlib.suppress(ConnectionClosed):
                ws.send(text)  # synchronous: the bytes go to the socket now

    def _admit(self, request: Request) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """Refuse the upgrade (401) unless its query carries the token."""
        parts = urlsplit(request.target)
        given = parse_qs(parts.query).get("token", [""])[0]
        if (
            parts.path == "/ws"
            and given
            and hmac.compare_digest(given.encode(), self.control.token.encode())
        ):
            return None
        return 401, [("Content-Type", "text/plain")], b"token required\n"

    async def _page(self, request: web.Request) -> web.Response:
        if not self.control.authorized(request):
            return web.Response(
                status=401,
                text="whalewire: open this page with ?token=TOKEN (printed at start; also in "
                "the token file next to the journal)\n",
            )
        page = PAGE.replace("__WS_PORT__", str(self.ws_port))
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def _session(self, ws: WebSocket) -> None:
        """Push the recent events, then a snapshot every ``interval_s`` until the page goes."""
        self.sockets.add(ws)
        try:
            recent = list(self.engine.events.recent)[-50:]
            ws.send(json.dumps({"type": "events", "events": recent}, default=str))
            while not ws.closed:
                ws.send(json.dumps({"type": "status", "status": self.snapshot()}, default=str))
                await ws.drain()
                await asyncio.sleep(self.interval_s)
        finally:
            self.sockets.discard(ws)


def limit_usage(engine: Engine, status: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per symbol, how much of each risk limit the position and P&L use (0..1+)."""
    out: dict[str, dict[str, float]] = {}
    for symbol, limits in engine.config.risk.symbols.items():
        p = status.get("positions", {}).get(symbol)
        if p is None:
            continue
        try:
            position = abs(Decimal(p["position"]))
            loss = -min(Decimal(0), Decimal(p["realized_pnl"]) + Decimal(p["unrealized_pnl"]))
        except (InvalidOperation, KeyError):
            continue
        out[symbol] = {
            "position": float(position / limits.max_position),
            "daily_loss": float(loss / limits.max_daily_loss),
        }
    return out


#: the page (one file, no external resource), shipped beside this module
PAGE = resources.files("whalewire.engine").joinpath("web_dashboard.html").read_text("utf-8")

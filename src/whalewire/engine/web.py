"""The web dashboard: a page served by the control endpoint, updated live over a WebSocket.

``GET /?token=TOKEN`` serves one self-contained page (no external script or style);
``GET /ws?token=TOKEN`` upgrades to a WebSocket on which the engine pushes a snapshot every
``interval_s`` (the ``/status`` snapshot plus latency histograms and risk-limit usage) and
every event of the event log as it is written. The page's kill and resume buttons POST to
``/kill`` and ``/resume`` with the token. Without the token the page, the socket and the
POSTs are refused: loopback is no user boundary. Everything here runs on the event loop
between hot-path events, reading the same snapshot the terminal dashboard draws.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from whalewire.engine.app import Engine
from whalewire.engine.control import ControlServer


class WebDashboard:
    """Adds the page and its WebSocket to a ``ControlServer`` (before it starts)."""

    def __init__(self, engine: Engine, control: ControlServer, *, interval_s: float = 0.5):
        self.engine = engine
        self.control = control
        self.interval_s = interval_s
        self.sockets: set[web.WebSocketResponse] = set()

    def install(self) -> None:
        """Route ``/`` and ``/ws``; subscribe to the event log."""
        self.control.app.router.add_get("/", self._page)
        self.control.app.router.add_get("/ws", self._socket)
        self.engine.events.subscribers.append(self._on_event)

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
            if not ws.closed:
                asyncio.get_running_loop().create_task(_send(ws, text))

    async def _page(self, request: web.Request) -> web.Response:
        if not self.control.authorized(request):
            return web.Response(
                status=401,
                text="whalewire: open this page with ?token=TOKEN (printed at start; also in "
                "the token file next to the journal)\n",
            )
        return web.Response(text=PAGE, content_type="text/html", charset="utf-8")

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if not self.control.authorized(request):
            return web.Response(status=401, text="token required\n")
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        self.sockets.add(ws)
        pusher = asyncio.create_task(self._push(ws))
        try:
            async for message in ws:  # the page sends nothing; this waits for its close
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
            self.sockets.discard(ws)
        return ws

    async def _push(self, ws: web.WebSocketResponse) -> None:
        recent = list(self.engine.events.recent)[-50:]
        await ws.send_str(json.dumps({"type": "events", "events": recent}, default=str))
        while not ws.closed:
            text = json.dumps({"type": "status", "status": self.snapshot()}, default=str)
            await ws.send_str(text)
            await asyncio.sleep(self.interval_s)


async def _send(ws: web.WebSocketResponse, text: str) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(text)


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

"""What every venue's market-data client shares: one supervised public connection.

``binance/market.py``, ``kraken/market.py`` and ``coinbase/market.py`` subclass
:class:`StreamClient` and say only how to open their connection and what to subscribe on
it; the reconnect policy is the venue clients' (``base.venue_supervisor``), so every new
connection subscribes again and refetches its books before it counts.
"""

from __future__ import annotations

from whalewire.net import WebSocket
from whalewire.venues.base import venue_supervisor
from whalewire.ws.exceptions import WebSocketError


class StreamClient:
    """A public market-data connection kept up by a supervisor."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.supervisor = venue_supervisor(
            name,
            self._open,
            on_connected=self._on_connected,
            on_disconnected=lambda ws: None,
            retry_on=(OSError, TimeoutError, WebSocketError),
        )

    async def start(self) -> None:
        """Connect, subscribe and sync every book; reconnect in the background after that.

        Raises:
            whatever the first connection or its subscription raise: nothing is retried then.
        """
        await self.supervisor.start()

    async def close(self) -> None:
        """Stop for good."""
        await self.supervisor.close()

    async def _open(self) -> WebSocket:
        raise NotImplementedError

    async def _on_connected(self, ws: WebSocket) -> None:
        raise NotImplementedError

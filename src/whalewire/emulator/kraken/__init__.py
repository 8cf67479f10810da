"""The emulated Kraken Spot API: ``exchange`` (state, REST and WebSocket v2 sessions),
``render`` (message bodies) and ``server`` (the WebSocket and REST listeners). The main
names are re-exported here."""

from whalewire.emulator.kraken import rest as _rest  # noqa: F401 - registers REST calls
from whalewire.emulator.kraken import trading as _trading  # noqa: F401 - registers methods
from whalewire.emulator.kraken.exchange import (
    KrakenConfig,
    KrakenCredentials,
    KrakenExchange,
    KrakenSession,
)
from whalewire.emulator.kraken.server import KrakenEmulator

__all__ = [
    "KrakenConfig",
    "KrakenCredentials",
    "KrakenEmulator",
    "KrakenExchange",
    "KrakenSession",
]

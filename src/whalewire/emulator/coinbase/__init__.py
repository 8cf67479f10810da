"""The emulated Coinbase Exchange: ``exchange`` (state and REST), ``feed`` (WebSocket feed
sessions), ``render`` (order bodies and feed messages) and ``server`` (the listeners). The
main names are re-exported here."""

from whalewire.emulator.coinbase.exchange import (
    CoinbaseConfig,
    CoinbaseCredentials,
    CoinbaseExchange,
)
from whalewire.emulator.coinbase.feed import CoinbaseFeedSession
from whalewire.emulator.coinbase.server import CoinbaseEmulator

__all__ = [
    "CoinbaseConfig",
    "CoinbaseCredentials",
    "CoinbaseEmulator",
    "CoinbaseExchange",
    "CoinbaseFeedSession",
]

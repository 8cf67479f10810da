"""Kraken Spot: ``decode`` (every WebSocket v2 message, typed) and ``client``.

``from whalewire.venues.kraken import KrakenClient`` is the way in; ``decode`` is sans-IO.
"""

from whalewire.venues.kraken.client import KrakenClient, KrakenError

__all__ = ["KrakenClient", "KrakenError"]

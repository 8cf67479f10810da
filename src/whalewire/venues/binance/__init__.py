"""Binance Spot: ``decode`` (every message the WebSocket API sends, typed) and ``client``.

``from whalewire.venues.binance import BinanceClient`` is the way in; ``decode`` is sans-IO.
"""

from whalewire.venues.binance.client import BinanceClient, BinanceError

__all__ = ["BinanceClient", "BinanceError"]

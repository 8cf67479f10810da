"""Coinbase Exchange: ``decode`` (feed messages and order answers, typed) and ``client``.

``from whalewire.venues.coinbase import CoinbaseClient`` is the way in; ``decode`` is sans-IO.
"""

from whalewire.venues.coinbase.client import CoinbaseClient, CoinbaseError

__all__ = ["CoinbaseClient", "CoinbaseError"]

"""whalewire: watch the Bitcoin mempool for whale deposits and counter-trade on exchanges.

Layers, lowest first (a layer never imports one above it): ``ws`` (sans-IO RFC 6455),
``net`` (asyncio transport), ``mempool`` (feeds, parser, whale detection), ``venues``
(exchange clients), ``emulator`` (local exchanges), ``engine`` (wiring, risk, journal).
"""

__version__ = "0.1.0"

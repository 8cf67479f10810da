"""The emulated Binance Spot WebSocket API: ``exchange`` (state and sessions), ``methods``,
``rules`` (errors, parameters, filters), ``render`` (answers and events), ``server``.

Importing the package registers the methods with the sessions (``methods`` fills
``exchange.METHODS``), so ``from whalewire.emulator.binance.exchange import BinanceExchange``
gives sessions that answer every method. The main names are re-exported here.
"""

from whalewire.emulator.binance import lists as _lists  # noqa: F401 - registers them
from whalewire.emulator.binance import market as _market  # noqa: F401 - registers them
from whalewire.emulator.binance import methods as _methods  # noqa: F401 - registers them
from whalewire.emulator.binance.exchange import BinanceConfig, BinanceExchange, BinanceSession
from whalewire.emulator.binance.server import BinanceEmulator

__all__ = ["BinanceConfig", "BinanceEmulator", "BinanceExchange", "BinanceSession"]

"""The engine's live books: a market-data client per venue that asks for one, wired in.

For every ``[venues.NAME]`` with a ``market_url``, the venue's market-data client
(``venues/<venue>/market.py``) follows the routed symbols. Each change of a book's top
marks the risk engine at the mid (``RiskEngine.on_trade_price``: the price band's
reference and the unrealized P&L follow the live book instead of the polled last price),
and the strategy reads the books (``[strategy] max_spread_bps``, ``max_depth_fraction``).
With no ``market_url`` nothing here runs and the engine behaves as before. Off the hot
path: the clients' callbacks run on the event loop between feed events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from whalewire.engine.config import Config, ConfigError, VenueSection
from whalewire.engine.risk import RiskEngine
from whalewire.engine.strategy import WhaleStrategy
from whalewire.venues.binance.market import BinanceMarketData
from whalewire.venues.books import Book, Top, status_row
from whalewire.venues.coinbase.market import CoinbaseMarketData
from whalewire.venues.endpoints import endpoints
from whalewire.venues.kraken.market import KrakenMarketData
from whalewire.venues.market import StreamClient

log = logging.getLogger("whalewire.engine.marketdata")


def _routed(name: str, config: Config) -> list[str]:
    strategy = config.strategy
    return sorted(
        {r.symbol for r in [strategy.default_route, *strategy.routes.values()] if r.venue == name}
    )


def _binance_api(name: str, section: VenueSection) -> str:
    if section.endpoint.startswith(("ws://", "wss://")):
        return section.endpoint
    if section.endpoint != "emulator":
        ws_api = endpoints(name, section.endpoint).ws_api
        if ws_api is not None:
            return ws_api
    raise ConfigError(
        f"venues.{name}.market_url: Binance books take their snapshot from the WebSocket "
        "API; give endpoint as its ws(s):// URL"
    )


def market_client(
    name: str, section: VenueSection, symbols: list[str], on_top: Callable[[str, Top], None]
) -> StreamClient:
    """Return the market-data client of ``[venues.NAME]`` (not started)."""
    url = section.market_url
    if name == "binance":
        return BinanceMarketData(
            url, _binance_api(name, section), symbols, on_top=on_top, name=f"{name}-market"
        )
    if name == "kraken":
        return KrakenMarketData(url, symbols, on_top=on_top, name=f"{name}-market")
    if name == "coinbase":
        return CoinbaseMarketData(url, symbols, on_top=on_top, name=f"{name}-market")
    raise ConfigError(f"venues.{name}.market_url: no market-data client for this venue")


@dataclass
class MarketData:
    """The running market-data clients and their books, by (venue, symbol)."""

    clients: list[StreamClient] = field(default_factory=list)
    books: dict[tuple[str, str], Book] = field(default_factory=dict)

    def status(self) -> dict[str, dict[str, object]]:
        """Return each book's top and health, keyed ``venue:symbol`` (status, dashboards)."""
        return {f"{v}:{s}": status_row(book) for (v, s), book in sorted(self.books.items())}

    async def close(self) -> None:
        """Stop every client."""
        for client in self.clients:
            await client.close()


def _marker(risk: RiskEngine) -> Callable[[str, Top], None]:
    def on_top(symbol: str, top: Top) -> None:
        mid = top.mid
        if mid is not None:
            risk.on_trade_price(symbol, Decimal(repr(mid)))

    return on_top


async def start_market_data(
    config: Config, risk: RiskEngine, strategy: WhaleStrategy
) -> MarketData:
    """Start a market-data client for every venue with a ``market_url``; wire its books.

    Raises:
        ConfigError: a venue without a market-data client, or Binance without a URL endpoint.
        whatever the first connection of a client raises (nothing started is left running).
    """
    running = MarketData()
    try:
        for name, section in sorted(config.venues.items()):
            symbols = _routed(name, config)
            if not section.market_url or not symbols:
                continue
            client = market_client(name, section, symbols, _marker(risk))
            await client.start()
            running.clients.append(client)
            books: dict[str, Book] = client.books  # type: ignore[attr-defined]
            for symbol, book in books.items():
                running.books[(name, symbol)] = book
                strategy.books[(name, symbol)] = book
            log.info("%s: market data for %s from %s", name, ", ".join(symbols), section.market_url)
    except BaseException:
        await running.close()
        raise
    return running

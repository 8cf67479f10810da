"""The embedded exchanges: where the commands start an emulator for ``endpoint = "emulator"``.

The composition root's one place that knows both the engine and the emulator: for each
venue configured with ``endpoint = "emulator"`` it starts that venue's emulated exchange on
loopback, opens a paper account and connects the venue's real client to it; ``build`` is
the runner's, with these exchanges plugged in. Each emulated venue also publishes its
public market data (Binance on a stream host of its own, ``binance/streams.py``; Kraken and
Coinbase on their feed), and the engine's market-data clients (``engine/marketdata.py``)
follow it as they would the venue's: live books mark P&L and the price band and show on
the dashboards. The engine itself stands on venues only.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from whalewire.emulator.accounts import open_default_account
from whalewire.emulator.binance import BinanceConfig
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.binance.streams import BinanceStreams
from whalewire.emulator.coinbase.server import CoinbaseEmulator, loopback_tls
from whalewire.emulator.kraken import KrakenConfig
from whalewire.emulator.kraken.server import KrakenEmulator
from whalewire.engine.config import Config, VenueSection
from whalewire.engine.marketdata import start_market_data
from whalewire.engine.runner import Emulator, Running, routed_symbols, tls_settings
from whalewire.engine.runner import build as build_engine
from whalewire.venues.binance import BinanceClient
from whalewire.venues.coinbase import CoinbaseClient
from whalewire.venues.contract import Venue
from whalewire.venues.credentials import Credentials, Secret
from whalewire.venues.ids import BINANCE_ID_WIDTH
from whalewire.venues.kraken import KrakenClient

#: sigma per second, in basis points, of the embedded emulators' random walk: a paper
#: position needs a moving market to be marked at (a static book shows a P&L of 0 forever)
PAPER_WALK_BPS = 5.0


@dataclass(frozen=True, slots=True)
class MarketHost:
    """Where an emulated venue publishes market data: ``market_url``, and the URL Binance's
    books take their snapshot from (its WebSocket API; the others' feed sends its own)."""

    market_url: str
    api_url: str = ""


class _BinanceWithStreams:
    """The emulated Binance and its stream host, closed together."""

    def __init__(self, emulator: BinanceEmulator, streams: BinanceStreams) -> None:
        self.emulator = emulator
        self.streams = streams

    async def close(self) -> None:
        await self.streams.close()
        await self.emulator.close()


async def build(config: Config, *, journal_path: str | None = None) -> Running:
    """Start the engine the configuration describes, with its embedded exchanges; the
    engine follows each embedded exchange's market data."""
    hosts: dict[str, MarketHost] = {}

    async def embedded(name: str, section: VenueSection, cfg: Config) -> tuple[Venue, Emulator]:
        client, emulator, host = await start_venue(name, section, cfg)
        hosts[name] = host
        return client, emulator

    # an emulated venue's market data is its emulator's, wherever market_url points
    emulated = {n for n, s in config.venues.items() if s.endpoint == "emulator"}
    running = await build_engine(
        _with_market_urls(config, {n: MarketHost("") for n in emulated}),
        journal_path=journal_path,
        embedded=embedded,
    )
    try:
        extra = await start_market_data(
            _with_market_urls(config, hosts, only=True),
            running.engine.risk,
            running.engine.strategy,
        )
    except BaseException:
        await running.close()
        raise
    running.market.clients += extra.clients
    running.market.books.update(extra.books)
    return running


def _with_market_urls(
    config: Config, hosts: dict[str, MarketHost], *, only: bool = False
) -> Config:
    """Return ``config`` with the market data of ``hosts``' venues pointed at them (Binance's
    snapshot endpoint too); with ``only``, the other venues' market data off."""
    venues = dict(config.venues)
    for name, section in config.venues.items():
        host = hosts.get(name)
        if host is not None:
            endpoint = host.api_url or section.endpoint
            venues[name] = msgspec.structs.replace(
                section, market_url=host.market_url, endpoint=endpoint
            )
        elif only:
            venues[name] = msgspec.structs.replace(section, market_url="")
    return msgspec.structs.replace(config, venues=venues)


async def start_venue(
    name: str, section: VenueSection, config: Config
) -> tuple[Venue, Emulator, MarketHost]:
    """Start venue ``name``'s emulated exchange; return a client on it, the exchange, and
    where it publishes market data."""
    dry_run = config.engine.mode == "dry-run"
    if name == "coinbase":
        tls = loopback_tls()
        coinbase = CoinbaseEmulator()
        await coinbase.start(ssl=tls.server)
        keys = coinbase.open_default_account("paper")
        credentials = Credentials(
            venue=name,
            api_key=Secret(keys.api_key),
            api_secret=Secret(keys.secret),
            passphrase=Secret(keys.passphrase),
        )
        client: Venue = CoinbaseClient(
            coinbase.rest_url,
            coinbase.ws_url,
            credentials,
            name=name,
            ssl_context=tls.client_context(),
            dry_run=dry_run,
        )
        return client, coinbase, MarketHost(coinbase.ws_url)
    if name == "kraken":
        kraken = KrakenEmulator(KrakenConfig(walk_bps=PAPER_WALK_BPS))
        await kraken.start()
        kraken_keys = kraken.open_default_account("paper")
        client = KrakenClient(
            kraken.url,
            kraken.rest_url,
            Credentials(
                venue=name,
                api_key=Secret(kraken_keys.api_key),
                api_secret=Secret(kraken_keys.secret),
            ),
            symbols=routed_symbols(name, config) or ("BTC/USD",),
            name=name,
            dry_run=dry_run,
            pong_interval_ms=section.pong_interval_ms,
        )
        return client, kraken, MarketHost(kraken.url)
    binance = BinanceEmulator(BinanceConfig(walk_bps=PAPER_WALK_BPS))
    await binance.start()
    streams = BinanceStreams(binance.exchange)
    try:
        await streams.start()
    except BaseException:
        await binance.close()
        raise
    binance_keys = open_default_account(binance.exchange.registry, "paper")
    client = BinanceClient(
        binance.url,
        Credentials(
            venue=name,
            api_key=Secret(binance_keys.ed25519_api_key),
            private_key_pem=Secret(binance_keys.ed25519_private_key_pem),
        ),
        name=name,
        recv_window_ms=section.recv_window_ms,
        cid_width=BINANCE_ID_WIDTH[len(config.engine.namespace)],
        dry_run=dry_run,
        tls=tls_settings(section),
        send_backend=section.send_backend,
        pong_interval_ms=section.pong_interval_ms,
    )
    return client, _BinanceWithStreams(binance, streams), MarketHost(streams.url, binance.url)

"""The embedded exchanges: where the commands start an emulator for ``endpoint = "emulator"``.

The composition root's one place that knows both the engine and the emulator: for each
venue configured with ``endpoint = "emulator"`` it starts that venue's emulated exchange on
loopback, opens a paper account and connects the venue's real client to it; ``build`` is
the runner's, with these exchanges plugged in. The engine itself stands on venues only.
"""

from __future__ import annotations

from whalewire.emulator.accounts import open_default_account
from whalewire.emulator.binance import BinanceConfig
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.coinbase.server import CoinbaseEmulator, loopback_tls
from whalewire.emulator.kraken import KrakenConfig
from whalewire.emulator.kraken.server import KrakenEmulator
from whalewire.engine.config import Config, VenueSection
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


async def build(config: Config, *, journal_path: str | None = None) -> Running:
    """Start the engine the configuration describes, with its embedded exchanges."""
    return await build_engine(config, journal_path=journal_path, embedded=embedded_venue)


async def embedded_venue(
    name: str, section: VenueSection, config: Config
) -> tuple[Venue, Emulator]:
    """Start venue ``name``'s emulated exchange; return a client on it, and the exchange."""
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
        return client, coinbase
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
        return client, kraken
    binance = BinanceEmulator(BinanceConfig(walk_bps=PAPER_WALK_BPS))
    await binance.start()
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
    return client, binance

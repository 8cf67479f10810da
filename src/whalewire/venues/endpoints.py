"""Where each venue lives: production, testnet/sandbox and demo URLs, and the local default.

Only constants and one lookup. The default environment is ``emulator`` (the local exchange on
loopback): a real venue is reached only when configuration names it explicitly. Nothing in
the test suite uses the real URLs. Knows nothing of connections.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ENDPOINTS", "Endpoints", "Environment", "endpoints"]


class Environment(StrEnum):
    """Which deployment of a venue to talk to."""

    EMULATOR = "emulator"  #: the local exchange (default)
    TESTNET = "testnet"  #: the venue's test network / sandbox
    DEMO = "demo"  #: the venue's demo trading (real market data, fake balances)
    PRODUCTION = "production"  #: real money


@dataclass(frozen=True, slots=True)
class Endpoints:
    """One venue deployment's URLs (None where the deployment has no such service)."""

    ws_api: str | None  #: order entry over WebSocket
    rest: str | None  #: REST base URL
    user_stream: str | None = None  #: private WebSocket feed when separate from ``ws_api``


EMULATOR_HOST = "127.0.0.1"
EMULATOR_PORT = 8765

ENDPOINTS: dict[str, dict[Environment, Endpoints]] = {
    "binance": {
        # web-socket-api.md "General API Information"; rest-api.md; testnet.binance.vision;
        # demo-mode/general-info.md
        Environment.PRODUCTION: Endpoints(
            "wss://ws-api.binance.com:443/ws-api/v3", "https://api.binance.com"
        ),
        Environment.TESTNET: Endpoints(
            "wss://ws-api.testnet.binance.vision/ws-api/v3", "https://testnet.binance.vision"
        ),
        Environment.DEMO: Endpoints(
            "wss://demo-ws-api.binance.com/ws-api/v3", "https://demo-api.binance.com"
        ),
        Environment.EMULATOR: Endpoints(
            f"ws://{EMULATOR_HOST}:{EMULATOR_PORT}/binance/ws-api/v3",
            f"http://{EMULATOR_HOST}:{EMULATOR_PORT}/binance",
        ),
    },
    "kraken": {
        # Kraken "Spot WebSocket" overview: v2 private endpoint; beta shares production's
        # engine, so there is no testnet for spot.
        Environment.PRODUCTION: Endpoints(
            "wss://ws-auth.kraken.com/v2", "https://api.kraken.com", "wss://ws-auth.kraken.com/v2"
        ),
        Environment.EMULATOR: Endpoints(
            f"ws://{EMULATOR_HOST}:{EMULATOR_PORT}/kraken/v2",
            f"http://{EMULATOR_HOST}:{EMULATOR_PORT}/kraken",
            f"ws://{EMULATOR_HOST}:{EMULATOR_PORT}/kraken/v2",
        ),
    },
    "coinbase": {
        # Coinbase Exchange REST and the authenticated feed; the sandbox is public-testable.
        Environment.PRODUCTION: Endpoints(
            None, "https://api.exchange.coinbase.com", "wss://ws-direct.exchange.coinbase.com"
        ),
        Environment.TESTNET: Endpoints(
            None,
            "https://api-public.sandbox.exchange.coinbase.com",
            "wss://ws-direct.sandbox.exchange.coinbase.com",
        ),
        Environment.EMULATOR: Endpoints(
            None,
            f"http://{EMULATOR_HOST}:{EMULATOR_PORT}/coinbase",
            f"ws://{EMULATOR_HOST}:{EMULATOR_PORT}/coinbase/feed",
        ),
    },
}


def endpoints(venue: str, environment: Environment | str = Environment.EMULATOR) -> Endpoints:
    """Return a venue's URLs for an environment (the emulator unless told otherwise).

    Raises:
        KeyError: naming the venue and environment when the venue has no such deployment.
    """
    env = Environment(environment)
    try:
        return ENDPOINTS[venue][env]
    except KeyError:
        known = {name: [e.value for e in envs] for name, envs in ENDPOINTS.items()}
        raise KeyError(f"no {env.value} endpoints for venue {venue!r}; known: {known}") from None

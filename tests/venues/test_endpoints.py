"""Endpoints (venues/endpoints.py): documented URLs, and the emulator as the default."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from whalewire.venues.endpoints import ENDPOINTS, Environment, endpoints


def test_default_is_the_local_emulator_on_loopback() -> None:
    for venue in ENDPOINTS:
        chosen = endpoints(venue)
        for url in (chosen.ws_api, chosen.rest, chosen.user_stream):
            if url is not None:
                assert urlsplit(url).hostname == "127.0.0.1"


@pytest.mark.parametrize(
    ("venue", "env", "ws_api"),
    [
        # web-socket-api.md "General API Information"
        ("binance", "production", "wss://ws-api.binance.com:443/ws-api/v3"),
        ("binance", "testnet", "wss://ws-api.testnet.binance.vision/ws-api/v3"),
        # demo-mode/general-info.md
        ("binance", "demo", "wss://demo-ws-api.binance.com/ws-api/v3"),
        # Kraken "Spot WebSocket": v2 private endpoint
        ("kraken", "production", "wss://ws-auth.kraken.com/v2"),
    ],
)
def test_documented_ws_api_urls(venue: str, env: str, ws_api: str) -> None:
    assert endpoints(venue, env).ws_api == ws_api


def test_coinbase_production_and_sandbox_rest() -> None:
    # Coinbase Exchange "Sandbox" page and runbook
    assert endpoints("coinbase", "production").rest == "https://api.exchange.coinbase.com"
    assert endpoints("coinbase", Environment.TESTNET).rest == (
        "https://api-public.sandbox.exchange.coinbase.com"
    )


def test_missing_deployment_names_venue_and_environment() -> None:
    with pytest.raises(KeyError, match="no testnet endpoints for venue 'kraken'"):
        endpoints("kraken", "testnet")
    with pytest.raises(ValueError):
        endpoints("binance", "mainnet")

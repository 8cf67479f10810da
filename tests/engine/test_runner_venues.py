"""Which URLs ``[venues.NAME]`` gives a two-connection venue (engine/runner.py).

Kraken needs a WebSocket API and a REST base (its WebSocket token); Coinbase Exchange a REST
API and a feed. Either both come from a named endpoint (``venues.endpoints``) or the
endpoint is a URL and the second URL is configured beside it.
"""

from __future__ import annotations

import pytest

from whalewire.engine.config import ConfigError, parse_config
from whalewire.engine.runner import venue_client
from whalewire.venues.coinbase import CoinbaseClient
from whalewire.venues.kraken import KrakenClient

KEYS = {
    "WHALEWIRE_KRAKEN_API_KEY": "key",
    "WHALEWIRE_KRAKEN_API_SECRET": "c2VjcmV0",
    "WHALEWIRE_COINBASE_API_KEY": "key",
    "WHALEWIRE_COINBASE_API_SECRET": "c2VjcmV0",
    "WHALEWIRE_COINBASE_PASSPHRASE": "pass",
}


def config(venue: str, lines: str) -> str:
    return f"""
[engine]
namespace = "rv"
[strategy]
default_route = {{ venue = "{venue}", symbol = "BTCUSDT" }}
[risk.symbols.BTCUSDT]
max_order_qty = 1
max_order_notional = 1000
max_position = 1
max_daily_loss = 100
[venues.{venue}]
{lines}
"""


@pytest.mark.parametrize(
    ("venue", "lines", "message"),
    [
        ("kraken", 'endpoint = "ws://127.0.0.1:1/v2"', "a URL endpoint needs rest_endpoint"),
        ("coinbase", 'endpoint = "http://127.0.0.1:1"', "a URL endpoint needs feed_endpoint"),
    ],
)
async def test_url_endpoint_without_its_second_url_is_refused_naming_the_field(
    venue: str, lines: str, message: str
) -> None:
    parsed = parse_config(config(venue, lines))
    with pytest.raises(ConfigError, match=message):
        await venue_client(venue, parsed.venues[venue], parsed, [])


async def test_url_endpoints_are_taken_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    kraken = parse_config(
        config("kraken", 'endpoint = "ws://127.0.0.1:1/v2"\nrest_endpoint = "http://127.0.0.1:2"')
    )
    client = await venue_client("kraken", kraken.venues["kraken"], kraken, [])
    assert isinstance(client, KrakenClient)
    coinbase = parse_config(
        config("coinbase", 'endpoint = "http://127.0.0.1:1"\nfeed_endpoint = "ws://127.0.0.1:2"')
    )
    cb = await venue_client("coinbase", coinbase.venues["coinbase"], coinbase, [])
    assert isinstance(cb, CoinbaseClient)
    assert (cb.rest_url, cb.ws_url) == ("http://127.0.0.1:1", "ws://127.0.0.1:2")

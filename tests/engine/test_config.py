"""Configuration loading (engine/config.py): safe defaults, and errors that name the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from whalewire.engine.config import ConfigError, ReplayFeed, ZmqFeed, load_config, parse_config


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(text, source="w.toml")
    return str(exc.value)


def test_empty_file_is_paper_trading_on_the_emulator_with_the_replay_feed() -> None:
    config = parse_config("")
    assert config.engine.mode == "paper"
    assert config.venues["binance"].endpoint == "emulator"
    assert config.venues["binance"].tls_verify is True
    assert config.feeds == [ReplayFeed()]


def test_full_example_parses_with_exact_decimals_and_tagged_feeds() -> None:
    config = parse_config(
        """
        [engine]
        mode = "dry-run"
        [strategy]
        min_value_sats = 500_000_000
        default_route = { venue = "binance", symbol = "BTCUSDT" }
        [risk]
        max_orders_per_second = 2
        [risk.symbols.BTCUSDT]
        max_order_qty = 0.01
        max_order_notional = "1000"
        max_position = 0.1
        max_daily_loss = 250
        [[feeds]]
        type = "zmq"
        rawtx = "tcp://127.0.0.1:28332"
        [venues.binance]
        endpoint = "testnet"
        credentials_file = "/etc/whalewire/keys.toml"
        """
    )
    assert config.risk.symbols["BTCUSDT"].max_order_qty == Decimal("0.01")
    assert config.feeds == [ZmqFeed(rawtx="tcp://127.0.0.1:28332")]
    assert config.strategy.min_value_sats == 500_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[engine]\nmode = 'yolo'", "Invalid enum value 'yolo' - at `$.engine.mode`"),
        ("[engine]\njournl = 'x.db'", "unknown field `journl` - at `$.engine`"),
        ("[risk]\nmax_orders_per_second = 'x'", "Expected `int`, got `str` - at `$.risk"),
        ("[[feeds]]\ntype = 'zmq'\nrawtx = 1", "Expected `str`, got `int` - at `$.feeds[0].rawtx`"),
        (
            "[[feeds]]\ntype = 'carrier-pigeon'",
            "Invalid value 'carrier-pigeon' - at `$.feeds[0].type`",
        ),
        (
            "[venues.binance]\nendpoint = 'ftp://x'",
            "endpoint must be one of emulator, testnet, demo, production or a ws(s):// or"
            " http(s):// URL"
            " - at `$.venues.binance`",
        ),
        (
            "[risk.symbols.BTCUSDT]\nmax_order_qty = 'lots'\nmax_order_notional = 1\n"
            "max_position = 1\nmax_daily_loss = 1",
            "Invalid decimal string - at `$.risk.symbols.BTCUSDT.max_order_qty`",
        ),
        ("[control]\nhost = '0.0.0.0'", "loopback only - at `$.control`"),
        (
            "[venues.binance]\npong_interval_ms = 0.01",
            "pong_interval_ms must be 0 (never) or in [0.1, 60000] - at `$.venues.binance`",
        ),
        ("[engine\n", "not valid TOML"),
    ],
)
def test_bad_field_is_named_with_its_path_and_why(text: str, expected: str) -> None:
    message = error_of(text)
    assert message.startswith("w.toml: ")
    assert expected in message


def test_route_to_a_venue_without_a_section_is_refused() -> None:
    message = error_of("[strategy]\ndefault_route = { venue = 'kraken', symbol = 'BTCUSDT' }")
    assert "no [venues.kraken]" in message


def test_route_to_a_symbol_without_risk_limits_is_refused() -> None:
    message = error_of("[strategy]\ndefault_route = { venue = 'binance', symbol = 'ETHUSDT' }")
    assert "no [risk.symbols.ETHUSDT] limits" in message


def test_live_mode_refuses_the_emulator_and_disabled_tls_verification() -> None:
    assert "cannot trade on the emulator" in error_of("[engine]\nmode = 'live'")
    message = error_of(
        "[engine]\nmode = 'live'\n[venues.binance]\nendpoint = 'production'\ntls_verify = false"
    )
    assert "refuses venues.binance.tls_verify = false" in message


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read configuration .*nope\.toml"):
        load_config(tmp_path / "nope.toml")


def test_paper_mode_refuses_a_real_venue_endpoint() -> None:
    message = error_of("[venues.binance]\nendpoint = 'testnet'")
    assert "paper mode trades on the emulator only (venues.binance.endpoint:" in message


@pytest.mark.parametrize("namespace", ["", "Prod", "way-too-long", "a_b"])
def test_namespace_outside_the_client_order_id_alphabet_is_refused(namespace: str) -> None:
    message = error_of(f"[engine]\nnamespace = '{namespace}'")
    assert "namespace must be 1-8 characters of a-z and 0-9 - at `$.engine`" in message


def test_paper_mode_accepts_a_standalone_emulator_on_loopback() -> None:
    config = parse_config("[venues.binance]\nendpoint = 'ws://127.0.0.1:9443/ws-api/v3'")
    assert config.venues["binance"].endpoint.startswith("ws://127.0.0.1")
    assert "paper mode" in error_of("[venues.binance]\nendpoint = 'ws://10.0.0.5:9443/ws-api/v3'")

"""Configuration loading (engine/config.py): safe defaults, and errors that name the field."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from whalewire.engine.config import (
    RANGES,
    Config,
    ConfigError,
    ReplayFeed,
    ZmqFeed,
    load_config,
    parse_config,
)


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
            "0.01 is out of range; allowed: 0 (off) or a finite number >= 0.1 and <= 60000"
            " - at `$.venues.binance.pong_interval_ms`",
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


#: risk limits that are valid, to which a test adds one bad line
SYMBOL = (
    "[risk.symbols.BTCUSDT]\nmax_order_qty = 1\nmax_order_notional = 1\nmax_position = 1\n"
    "max_daily_loss = 1\n"
)
RISK = "[risk]\n{line}\n" + SYMBOL


@pytest.mark.parametrize(
    ("text", "path", "allowed"),
    [
        ("[strategy]\nqty_step = 0", "$.strategy.qty_step", ">= 0.000000000001"),
        ("[strategy]\nqty_step = '-0'", "$.strategy.qty_step", ">= 0.000000000001"),
        ("[strategy]\nfixed_qty = -1", "$.strategy.fixed_qty", "a finite number > 0"),
        ("[strategy]\nfixed_qty = 'NaN'", "$.strategy.fixed_qty", "a finite number > 0"),
        ("[strategy]\nfixed_qty = 'sNaN'", "$.strategy.fixed_qty", "a finite number > 0"),
        ("[strategy]\nfixed_qty = nan", "$.strategy.fixed_qty", "a finite number > 0"),
        ("[strategy]\nfixed_qty = '-Infinity'", "$.strategy.fixed_qty", "a finite number"),
        ("[strategy]\nfixed_qty = '1e999999'", "$.strategy.fixed_qty", "<= 1000000000000"),
        ("[strategy]\nfraction = 2", "$.strategy.fraction", "> 0 and <= 1"),
        ("[strategy]\ncooldown_s = nan", "$.strategy.cooldown_s", "a finite number >= 0"),
        ("[strategy]\ncooldown_s = -1", "$.strategy.cooldown_s", "a finite number >= 0"),
        ("[strategy]\ncooldown_s = inf", "$.strategy.cooldown_s", "a finite number >= 0"),
        ("[strategy]\nwindow_s = 0", "$.strategy.window_s", "a finite number > 0"),
        ("[strategy]\nmax_reactions = 0", "$.strategy.max_reactions", "an integer >= 1"),
        ("[strategy]\nmin_value_sats = -5", "$.strategy.min_value_sats", "an integer >= 1"),
        (
            "[strategy]\nentity_min_value_sats = { binance = -5 }",
            "$.strategy.entity_min_value_sats.binance",
            "an integer >= 1 and <= 2100000000000000",
        ),
        (
            SYMBOL.replace("max_position = 1", "max_position = 'Infinity'"),
            "$.risk.symbols.BTCUSDT.max_position",
            "a finite number > 0",
        ),
        (
            SYMBOL.replace("max_position = 1", "max_position = -inf"),
            "$.risk.symbols.BTCUSDT.max_position",
            "a finite number > 0",
        ),
        (
            SYMBOL.replace("max_order_qty = 1", "max_order_qty = -1"),
            "$.risk.symbols.BTCUSDT.max_order_qty",
            "a finite number > 0",
        ),
        (
            SYMBOL + "price_band = 0",
            "$.risk.symbols.BTCUSDT.price_band",
            "a finite number > 0 and <= 1",
        ),
        (
            RISK.format(line="max_orders_per_second = -1"),
            "$.risk.max_orders_per_second",
            "an integer >= 1",
        ),
        (
            RISK.format(line="max_orders_per_minute = 0"),
            "$.risk.max_orders_per_minute",
            "an integer >= 1",
        ),
        ("[control]\nport = 99999", "$.control.port", "an integer >= 0 and <= 65535"),
        ("[control]\nport = -1", "$.control.port", "an integer >= 0 and <= 65535"),
        ("[[feeds]]\ntype = 'p2p'\nport = 99999", "$.feeds[0].port", ">= 1 and <= 65535"),
        ("[[feeds]]\ntype = 'p2p'\nport = 0", "$.feeds[0].port", ">= 1 and <= 65535"),
        ("[[feeds]]\ntype = 'replay'\nspeed = -1", "$.feeds[0].speed", "a finite number >= 0"),
        ("[[feeds]]\ntype = 'replay'\nspeed = nan", "$.feeds[0].speed", "a finite number >= 0"),
        ("[engine]\ncpu = 4096", "$.engine.cpu", "one of this machine's CPUs"),
        ("[engine]\ncpu = -1", "$.engine.cpu", "one of this machine's CPUs"),
        ("[engine]\nack_timeout_s = 0", "$.engine.ack_timeout_s", "> 0 and <= 300"),
        ("[engine]\nack_timeout_s = nan", "$.engine.ack_timeout_s", "> 0 and <= 300"),
        ("[engine]\nrehearse_interval_ms = inf", "$.engine.rehearse_interval_ms", "0 (off)"),
        ("[venues.binance]\nrecv_window_ms = -1", "$.venues.binance.recv_window_ms", ">= 1"),
        ("[venues.binance]\npong_interval_ms = nan", "$.venues.binance.pong_interval_ms", "0"),
    ],
)
def test_number_out_of_range_is_refused_naming_its_path_and_what_is_allowed(
    text: str, path: str, allowed: str
) -> None:
    message = error_of(text)
    assert message.startswith("w.toml: ")
    assert f"- at `{path}`" in message
    assert "is out of range; allowed: " in message
    assert allowed in message


@pytest.mark.parametrize(
    "text",
    [
        "[control]\nport = 0",
        "[control]\nport = 65535",
        "[[feeds]]\ntype = 'replay'\nspeed = 0",
        "[[feeds]]\ntype = 'p2p'\nport = 18444",
        "[engine]\nrehearse_interval_ms = 0\ncpu = 0",
        "[strategy]\ncooldown_s = 0\nqty_step = '0.00000001'\nfixed_qty = '1e-8'",
        "[venues.binance]\npong_interval_ms = 0",
        RISK.format(line="max_orders_per_second = 1"),
    ],
)
def test_values_at_the_edges_of_their_ranges_are_accepted(text: str) -> None:
    parse_config(text)


def test_every_value_out_of_range_in_a_file_is_reported_at_once() -> None:
    message = error_of(
        "[engine]\nack_timeout_s = -1\n[control]\nport = 99999\n"
        "[strategy]\nqty_step = 0\ncooldown_s = nan\n"
        "[[feeds]]\ntype = 'replay'\nspeed = -1\n"
    )
    assert message.startswith("w.toml: 5 values out of range:\n")
    for path in (
        "$.engine.ack_timeout_s",
        "$.control.port",
        "$.strategy.qty_step",
        "$.strategy.cooldown_s",
        "$.feeds[0].speed",
    ):
        assert f"- at `{path}`" in message


def _numeric_fields(struct: type, seen: set[type]) -> list[tuple[type, str]]:
    """List (Struct, field) for every number-typed field under ``struct``, recursively."""
    numbers = (msgspec.inspect.IntType, msgspec.inspect.FloatType, msgspec.inspect.DecimalType)
    found: list[tuple[type, str]] = []

    def leaves(t: msgspec.inspect.Type) -> list[msgspec.inspect.Type]:
        if isinstance(t, msgspec.inspect.UnionType):
            return [leaf for member in t.types for leaf in leaves(member)]
        if isinstance(t, msgspec.inspect.DictType | msgspec.inspect.ListType):
            return leaves(t.value_type if isinstance(t, msgspec.inspect.DictType) else t.item_type)
        return [t]

    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    seen.add(struct)
    for field in info.fields:
        for leaf in leaves(field.type):
            if isinstance(leaf, numbers):
                found.append((struct, field.name))
            elif isinstance(leaf, msgspec.inspect.StructType) and leaf.cls not in seen:
                found.extend(_numeric_fields(leaf.cls, seen))
    return found


def test_every_number_of_the_configuration_has_a_range() -> None:
    fields = _numeric_fields(Config, set())
    assert len(fields) >= 20
    missing = [f"{t.__name__}.{name}" for t, name in fields if name not in RANGES.get(t, {})]
    assert missing == []


def _run_cli(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "whalewire", "run", "--config", str(config), "--no-dashboard"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
        check=False,
    )


def test_run_with_qty_step_zero_exits_2_naming_the_field_without_a_traceback(
    tmp_path: Path,
) -> None:
    result = _run_cli(tmp_path, "[strategy]\nqty_step = 0\n")
    assert result.returncode == 2
    assert "- at `$.strategy.qty_step`" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_run_with_several_bad_values_exits_2_naming_each_without_a_traceback(
    tmp_path: Path,
) -> None:
    result = _run_cli(
        tmp_path,
        "[engine]\ncpu = 4096\n[control]\nport = 99999\n"
        "[strategy]\nfixed_qty = 'NaN'\ncooldown_s = -1\nmin_value_sats = -5\n"
        "[[feeds]]\ntype = 'replay'\nspeed = -1\n"
        "[[feeds]]\ntype = 'p2p'\nport = 99999\n"
        "[risk]\nmax_orders_per_second = -1\n"
        + SYMBOL.replace("max_position = 1", "max_position = 'Infinity'").replace(
            "max_order_qty = 1", "max_order_qty = -1"
        ),
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    for path in (
        "$.engine.cpu",
        "$.control.port",
        "$.strategy.fixed_qty",
        "$.strategy.cooldown_s",
        "$.strategy.min_value_sats",
        "$.feeds[0].speed",
        "$.feeds[1].port",
        "$.risk.max_orders_per_second",
        "$.risk.symbols.BTCUSDT.max_order_qty",
        "$.risk.symbols.BTCUSDT.max_position",
    ):
        assert f"- at `{path}`" in result.stderr

"""fleet/config.py: the [fleet] table out of the run configuration, strict; deploy's files parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from whalewire.engine.config import ConfigError
from whalewire.fleet.config import FleetSection, parse

DEPLOY = Path(__file__).parents[2] / "deploy" / "fleet" / "config"

ENGINE = """
[engine]
mode = "paper"

[strategy]
min_value_sats = 25_000_000
"""


def test_fleet_table_is_taken_out_and_the_rest_is_the_engine_config() -> None:
    fleet, config = parse(ENGINE + '\n[fleet]\nname = "tokyo-1"\nhalt_after_s = 9\n')
    assert fleet == FleetSection(name="tokyo-1", halt_after_s=9)
    assert config.strategy.min_value_sats == 25_000_000


def test_no_fleet_table_gives_the_defaults() -> None:
    fleet, _ = parse(ENGINE)
    assert fleet == FleetSection()


@pytest.mark.parametrize(
    ("fleet", "field"),
    [
        ('nme = "x"', "unknown field `nme` - at `$.fleet`"),
        ('name = "a.b"', "name must be non-empty"),
        ('nats = ["http://x:4222"]', "is not a nats://"),
        ("heartbeat_interval_s = 2\nhalt_after_s = 1", "halt_after_s must exceed"),
        ("replicas = 7", "replicas must be in 1..5"),
    ],
)
def test_a_bad_fleet_field_is_named(fleet: str, field: str) -> None:
    with pytest.raises(ConfigError, match=r"f\.toml") as info:
        parse(ENGINE + "\n[fleet]\n" + fleet + "\n", source="f.toml")
    assert field in str(info.value)


def test_engine_errors_keep_their_field_paths() -> None:
    with pytest.raises(ConfigError, match=r"unknown field `typo` - at `\$.engine`"):
        parse('[fleet]\nname = "x"\n[engine]\ntypo = 1\n')


def test_inline_fleet_table_is_refused_with_a_reason() -> None:
    with pytest.raises(ConfigError, match="one plain table"):
        parse('fleet = { name = "x" }\n' + ENGINE)


@pytest.mark.parametrize("path", sorted(DEPLOY.glob("*.toml")), ids=lambda p: p.name)
def test_deploy_configurations_parse(path: Path) -> None:
    fleet, _ = parse(path.read_text(), source=str(path))
    assert fleet.name == path.stem

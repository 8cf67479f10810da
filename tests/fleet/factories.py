"""Configurations of fleet roles for the tests: paper engines on embedded emulators."""

from __future__ import annotations

from pathlib import Path

ROLE = """
[engine]
mode = "paper"
namespace = "{namespace}"
journal = "{journal}"
rehearse_interval_ms = 0

[control]
port = 0
kill_file = ""

[strategy]
min_value_sats = 25_000_000
cooldown_s = 0.5

[[feeds]]
type = "replay"
speed = {speed}

[fleet]
name = "{name}"
nats = [{nats}]
heartbeat_interval_s = {heartbeat}
halt_after_s = {halt_after}
delay_ms = {delay_ms}
replicas = {replicas}
"""


def role_config(
    tmp: Path,
    name: str,
    nats: list[str],
    *,
    speed: float = 0.0,
    delay_ms: float = 0.0,
    heartbeat: float = 0.2,
    halt_after: float = 1.5,
    replicas: int = 1,
) -> str:
    """The TOML of one role named ``name`` (sensor or executor: the same file works for both)."""
    return ROLE.format(
        namespace=name.replace("-", "")[:8].lower(),
        journal=tmp / f"{name}.db",
        speed=speed,
        name=name,
        nats=", ".join(f'"{u}"' for u in nats),
        heartbeat=heartbeat,
        halt_after=halt_after,
        delay_ms=delay_ms,
        replicas=replicas,
    )


def write_role(tmp: Path, name: str, nats: list[str], **kw: float) -> Path:
    """Write ``role_config`` to ``tmp/<name>.toml`` and return its path."""
    path = tmp / f"{name}.toml"
    path.write_text(role_config(tmp, name, nats, **kw))  # type: ignore[arg-type]
    return path

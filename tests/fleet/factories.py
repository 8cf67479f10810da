"""Configurations of fleet roles for the tests: the demo's, with quick heartbeats."""

from __future__ import annotations

from pathlib import Path

from whalewire.fleet.demo import role_text


def role_config(
    tmp: Path,
    name: str,
    nats: list[str],
    *,
    speed: float = 50.0,
    delay_ms: float = 0.0,
    heartbeat: float = 0.2,
    halt_after: float = 1.5,
    replicas: int = 1,
) -> str:
    """The TOML of one role named ``name`` (sensor or executor: the same file works for both)."""
    return role_text(
        tmp, name, nats, speed, delay_ms=delay_ms, heartbeat=heartbeat,
        halt_after=halt_after, replicas=replicas,
    )  # fmt: skip


def write_role(tmp: Path, name: str, nats: list[str], **kw: float) -> Path:
    """Write ``role_config`` to ``tmp/<name>.toml`` and return its path."""
    path = tmp / f"{name}.toml"
    path.write_text(role_config(tmp, name, nats, **kw))  # type: ignore[arg-type]
    return path

"""The ``[fleet]`` table: how a role reaches NATS and names itself, read from the engine's file.

A sensor or executor is configured by the same TOML file as ``whalewire run`` plus one
``[fleet]`` table. The engine's ``Config`` refuses unknown tables (a typo fails at
startup), so ``load`` takes the ``[fleet]`` table (and any ``[fleet.*]``) out of the text,
blanking its lines so that the engine's own errors keep their line numbers, checks that
nothing else was taken, and parses the rest with ``engine.config.parse_config``. The fleet
table is as strict as the engine's: a frozen Struct with ``forbid_unknown_fields``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

from whalewire.engine.config import Config, ConfigError, parse_config

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")


class FleetSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``[fleet]``: one role's place in the fleet."""

    #: this role's name, unique in the fleet (heartbeats, dedup's winners, stream subjects)
    name: str = "whalewire"
    #: NATS servers to connect to (any of them; the client moves between them)
    nats: list[str] = msgspec.field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    #: the first token of every subject: two fleets may share one NATS account
    subject_prefix: str = "ww"
    #: seconds between two heartbeats of this role
    heartbeat_interval_s: float = 1.0
    #: executor: halt (kill switch) when the control heartbeat is silent this long
    halt_after_s: float = 5.0
    #: executor: trade again by itself when the control heartbeat comes back (else an
    #: operator's ``whalewire fleet resume`` is needed after a heartbeat halt)
    resume_on_heartbeat: bool = False
    #: executor: how many txids the cross-sensor dedup remembers
    dedup_capacity: int = 100_000
    #: executor: replicas of the order stream and the control bucket when it creates them
    #: (3 on a three-node cluster; existing ones are used as they are)
    replicas: int = 1
    #: executor: seconds between two looks at the journal for records to stream
    stream_poll_s: float = 0.05
    #: sensor: also publish every transaction's first-seen stamp on ``<prefix>.seen``
    publish_seen: bool = False
    #: sensor: Bitcoin P2P peers ("host:port") to connect to at once, besides [[feeds]]
    p2p_peers: list[str] = msgspec.field(default_factory=list)
    #: sensor: the peers' network
    p2p_network: Literal["mainnet", "testnet", "signet", "regtest"] = "mainnet"
    #: sensor: how many peers to keep connected (the list first, then discovered ones)
    p2p_max_peers: int = 8
    #: sensor: also connect to addresses the peers announce (addr / addrv2)
    p2p_discover: bool = True
    #: sensor: hold each alert this long before publishing (tests and the demo: a sensor
    #: farther from where transactions are first announced)
    delay_ms: float = 0.0

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in ".*> \t"):
            raise ValueError("name must be non-empty, without '.', '*', '>' or spaces")
        if not self.nats:
            raise ValueError("nats must list at least one server URL")
        for url in self.nats:
            if not url.startswith(("nats://", "tls://", "ws://", "wss://")):
                raise ValueError(f"nats: {url!r} is not a nats:// (or tls://) URL")
        if not 0.01 <= self.heartbeat_interval_s <= 60:
            raise ValueError("heartbeat_interval_s must be in [0.01, 60]")
        if not self.heartbeat_interval_s < self.halt_after_s <= 3600:
            raise ValueError("halt_after_s must exceed heartbeat_interval_s (and be <= 3600)")
        if not 1 <= self.replicas <= 5:
            raise ValueError("replicas must be in 1..5")
        if self.dedup_capacity < 1:
            raise ValueError("dedup_capacity must be at least 1")
        for peer in self.p2p_peers:
            host, _, port = peer.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"p2p_peers: {peer!r} is not host:port")
        if not 1 <= self.p2p_max_peers <= 125:
            raise ValueError("p2p_max_peers must be in 1..125")
        if not 0 <= self.delay_ms <= 60_000:
            raise ValueError("delay_ms must be in [0, 60000]")


def split_text(text: str) -> tuple[str, str]:
    """Return (the text without ``[fleet]`` tables, lines blanked; the fleet tables' text)."""
    engine_lines: list[str] = []
    fleet_lines: list[str] = []
    in_fleet = False
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header is not None:
            table = header.group(1).strip().strip("\"'")
            in_fleet = table == "fleet" or table.startswith("fleet.")
        (fleet_lines if in_fleet else engine_lines).append(line)
        (engine_lines if in_fleet else fleet_lines).append("")
    return "\n".join(engine_lines) + "\n", "\n".join(fleet_lines) + "\n"


def parse(text: str, *, source: str = "<config>") -> tuple[FleetSection, Config]:
    """Parse a role's configuration text into its ``[fleet]`` table and the engine's Config.

    Raises:
        ConfigError: naming ``source``, the field and why.
    """
    try:
        whole = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    engine_text, fleet_text = split_text(text)
    try:
        rest: dict[str, Any] = tomllib.loads(engine_text)
        fleet_raw: dict[str, Any] = tomllib.loads(fleet_text)
    except tomllib.TOMLDecodeError as exc:  # a multi-line value spanning tables: refuse
        raise ConfigError(f"{source}: cannot separate the [fleet] table: {exc}") from None
    expected = {k: v for k, v in whole.items() if k != "fleet"}
    if rest != expected or fleet_raw.get("fleet", {}) != whole.get("fleet", {}):
        raise ConfigError(f"{source}: write [fleet] as one plain table (no inline or dotted keys)")
    try:
        fleet = msgspec.convert(fleet_raw.get("fleet", {}), FleetSection)
    except msgspec.ValidationError as exc:
        message = str(exc).replace("at `$", "at `$.fleet", 1)
        if "at `$" not in message:
            message += " - at `$.fleet`"
        raise ConfigError(f"{source}: {message}") from None
    return fleet, parse_config(engine_text, source=source)


def load(path: str | Path) -> tuple[FleetSection, Config]:
    """Read a role's configuration file (``parse`` on its text)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {p}: {exc.strerror}") from None
    return parse(text, source=str(p))


def peer_addresses(fleet: FleetSection) -> list[tuple[str, int]]:
    """The ``p2p_peers`` as (host, port) pairs (``[v6]:port`` accepted)."""
    out = []
    for peer in fleet.p2p_peers:
        host, _, port = peer.rpartition(":")
        out.append((host.strip("[]"), int(port)))
    return out

"""The engine's configuration: one TOML file, validated strictly on load.

Every table is a frozen msgspec Struct with ``forbid_unknown_fields``: a typo fails at
startup, and the error names the field's path (``$.risk.symbols.BTCUSDT.max_position``)
and what was wrong. Secrets are never in this file: it names the environment variable or
the 0600 file that holds each one. Everything has a safe default: an empty file is the
demo's paper-trading setup against the embedded emulator.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import msgspec

from whalewire.engine.risk import RiskConfig, SymbolLimits
from whalewire.engine.strategy import Route, StrategyConfig
from whalewire.venues.base import DEFAULT_PONG_INTERVAL_MS


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, field and reason."""


def _default_risk() -> RiskConfig:
    return RiskConfig(
        symbols={
            "BTCUSDT": SymbolLimits(
                max_order_qty=Decimal("0.01"),
                max_order_notional=Decimal("2000"),
                max_position=Decimal("0.05"),
                max_daily_loss=Decimal("500"),
            )
        }
    )


class EngineSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``[engine]``: how orders leave the process and where they are journaled."""

    #: "paper": send to the embedded emulator; "dry-run": build and sign, never send;
    #: "live": send to the configured venues (needs ``--live`` on the command line too)
    mode: Literal["paper", "dry-run", "live"] = "paper"
    #: names this deployment in every client order id (1-8 of a-z, 0-9): two engines
    #: sharing an account must use different ones
    namespace: str = "ww"
    journal: str = "whalewire-journal.db"
    #: "process": a row survives a crash of the process (~4 µs); "full": also power loss
    journal_durability: Literal["process", "full"] = "process"
    #: an order with no answer after this long is UNKNOWN and gets reconciled
    ack_timeout_s: float = 5.0
    #: every this many ms, rehearse the decision path on a shadow alert (nothing is sent,
    #: journaled or counted) so its code and data are in cache when a whale comes; 0: never
    rehearse_interval_ms: float = 2.0
    #: pin the engine's event-loop thread to this CPU (give it a core of its own)
    cpu: int | None = None
    #: never let the event loop sleep: poll for I/O without blocking, so the core stays
    #: awake and its caches warm between transactions (costs the whole core)
    busy_poll: bool = False

    def __post_init__(self) -> None:
        if not (
            1 <= len(self.namespace) <= 8
            and self.namespace.isalnum()
            and self.namespace == self.namespace.lower()
            and self.namespace.isascii()
        ):
            raise ValueError("namespace must be 1-8 characters of a-z and 0-9")
        if not 0 < self.ack_timeout_s <= 300:
            raise ValueError("ack_timeout_s must be in (0, 300]")
        if not (self.rehearse_interval_ms == 0 or 0.1 <= self.rehearse_interval_ms <= 60_000):
            raise ValueError("rehearse_interval_ms must be 0 (off) or in [0.1, 60000]")
        if self.cpu is not None and self.cpu < 0:
            raise ValueError("cpu must be a CPU number (0, 1, ...)")


class ControlSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``[control]``: the operator's handles on a running engine (loopback only)."""

    host: str = "127.0.0.1"
    #: HTTP port for /status, /kill and /metrics (0: pick a free one)
    port: int = 8787
    #: creating this file halts trading (the file kill switch)
    kill_file: str = "whalewire.kill"

    def __post_init__(self) -> None:
        if self.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the control endpoint listens on loopback only")


class ReplayFeed(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="replay"):
    """A replay file of raw transactions (the embedded default when ``file`` is empty)."""

    file: str = ""
    #: 1.0 plays at the recorded pace, 10.0 ten times faster, 0 as fast as possible
    speed: float = 1.0
    loop: bool = False


class ZmqFeed(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="zmq"):
    """bitcoind's ZMQ publisher (``-zmqpubrawtx``, ``-zmqpubsequence``)."""

    rawtx: str = "tcp://127.0.0.1:28332"
    sequence: str = ""
    hashblock: str = ""


class P2PFeed(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="p2p"):
    """A Bitcoin P2P peer (your own node)."""

    host: str = "127.0.0.1"
    port: int = 8333
    network: Literal["mainnet", "testnet", "signet", "regtest"] = "mainnet"


class MempoolSpaceFeed(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="mempool_space"
):
    """A mempool.space (or self-hosted instance) WebSocket."""

    url: str = "wss://mempool.space/api/v1/ws"


Feed = ReplayFeed | ZmqFeed | P2PFeed | MempoolSpaceFeed


class VenueSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``[venues.NAME]``: one exchange account."""

    #: "emulator" (embedded), "testnet", "demo", "production", or a URL: ws(s):// for a
    #: WebSocket venue (Binance, Kraken), http(s):// for Coinbase Exchange's REST API
    endpoint: str = "emulator"
    #: Coinbase Exchange: the feed's wss:// URL when ``endpoint`` is a URL
    feed_endpoint: str = ""
    #: Kraken: the REST base URL (WebSocket token) when ``endpoint`` is a URL
    rest_endpoint: str = ""
    #: a TOML file of mode 0600 with a [NAME] table (api_key, api_secret, private_key_pem);
    #: empty: the environment's WHALEWIRE_<NAME>_API_KEY, _API_SECRET, _PRIVATE_KEY_FILE...
    credentials_file: str = ""
    recv_window_ms: int = 1000
    #: SHA-256 SPKI pins (base64) checked on the live TLS connection
    tls_pins: list[str] = msgspec.field(default_factory=list)
    tls_verify: bool = True
    #: a PEM file of CA certificates to trust instead of the system's (e.g. the
    #: certificate `whalewire emulator --venue coinbase` prints)
    tls_ca_file: str = ""
    #: how order frames reach the socket: "socket" (write(2)), "uring" or "uring-sqpoll"
    #: (io_uring, plain TCP only; see docs/transport.md). Binance only.
    send_backend: Literal["socket", "uring", "uring-sqpoll"] = "socket"
    #: the rehearsal (``[engine] rehearse_interval_ms``) writes an unsolicited empty Pong
    #: through the order path at most this often, keeping it warm; 0: never. Binance and
    #: Kraken (WebSocket venues); the default stays under 5 frames a second (venues.base)
    pong_interval_ms: float = DEFAULT_PONG_INTERVAL_MS

    def __post_init__(self) -> None:
        named = ("emulator", "testnet", "demo", "production")
        schemes = ("ws://", "wss://", "http://", "https://")
        if self.endpoint not in named and not self.endpoint.startswith(schemes):
            raise ValueError(
                f"endpoint must be one of {', '.join(named)} or a ws(s):// or http(s):// URL"
            )
        if not 0 < self.recv_window_ms <= 60_000:
            raise ValueError("recv_window_ms must be in 1..60000")
        if not (self.pong_interval_ms == 0 or 0.1 <= self.pong_interval_ms <= 60_000):
            raise ValueError("pong_interval_ms must be 0 (never) or in [0.1, 60000]")


class AddressBookSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``[address_book]``: which exchange addresses to watch."""

    #: CSV files (address, entity, label, source); empty: the shipped demo book
    files: list[str] = msgspec.field(default_factory=list)
    #: bitcoin network of the addresses (mainnet, testnet, signet, regtest)
    network: Literal["mainnet", "testnet", "signet", "regtest"] = "mainnet"
    #: a ``whalewire addresses learn`` store: its deposit addresses are watched too, and
    #: new ones picked up while running; empty: none
    learned_store: str = ""


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The whole configuration file."""

    engine: EngineSection = msgspec.field(default_factory=EngineSection)
    control: ControlSection = msgspec.field(default_factory=ControlSection)
    strategy: StrategyConfig = msgspec.field(default_factory=StrategyConfig)
    risk: RiskConfig = msgspec.field(default_factory=_default_risk)
    feeds: list[Feed] = msgspec.field(default_factory=lambda: [ReplayFeed()])
    venues: dict[str, VenueSection] = msgspec.field(
        default_factory=lambda: {"binance": VenueSection()}
    )
    address_book: AddressBookSection = msgspec.field(default_factory=AddressBookSection)

    def __post_init__(self) -> None:
        for route in [self.strategy.default_route, *self.strategy.routes.values()]:
            if route.venue not in self.venues:
                raise ValueError(
                    f"strategy routes to venue {route.venue!r}, which has no [venues.{route.venue}]"
                )
            if route.symbol not in self.risk.symbols:
                raise ValueError(
                    f"strategy trades {route.symbol!r}, which has no [risk.symbols.{route.symbol}]"
                    " limits"
                )
        if self.engine.mode == "paper":
            for name, venue in self.venues.items():
                if venue.endpoint != "emulator" and not _is_loopback_ws(venue.endpoint):
                    raise ValueError(
                        f"paper mode trades on the emulator only (venues.{name}.endpoint: "
                        '"emulator" or a ws:// loopback URL of `whalewire emulator`); '
                        'use mode = "dry-run" to connect to a real venue without sending'
                    )
        if self.engine.mode == "live":
            for name, venue in self.venues.items():
                if venue.endpoint == "emulator":
                    raise ValueError(f"live mode cannot trade on the emulator (venues.{name})")
                if venue.endpoint.startswith(("ws://", "http://")):
                    raise ValueError(f"live mode needs TLS: venues.{name}.endpoint is plaintext")
                if not venue.tls_verify:
                    raise ValueError(f"live mode refuses venues.{name}.tls_verify = false")


def _is_loopback_ws(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("ws", "http", "https") and parts.hostname in (
        "127.0.0.1",
        "::1",
        "localhost",
    )


def parse_config(text: str | bytes, *, source: str = "<config>") -> Config:
    """Parse and validate TOML configuration text.

    Raises:
        ConfigError: naming ``source``, the field path and why.
    """
    try:
        return msgspec.toml.decode(text, type=Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_name_keys(text, exc)}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None


#: tables keyed by a user-chosen name, and the type of each entry
_KEYED: list[tuple[tuple[str, ...], type]] = [
    (("venues",), VenueSection),
    (("risk", "symbols"), SymbolLimits),
    (("strategy", "routes"), Route),
]


def _name_keys(text: str | bytes, exc: msgspec.ValidationError) -> str:
    """Rewrite msgspec's ``$.venues[...]`` into ``$.venues.binance`` by re-checking entries."""
    message = str(exc)
    if "[...]" not in message:
        return message
    raw = tomllib.loads(text.decode() if isinstance(text, bytes) else text)
    for path, entry_type in _KEYED:
        table: object = raw
        for part in path:
            table = table.get(part, {}) if isinstance(table, dict) else {}
        if not isinstance(table, dict):
            continue
        for key, value in table.items():
            try:
                msgspec.convert(value, entry_type, strict=False)
            except msgspec.ValidationError as inner:
                where = "$." + ".".join((*path, key))
                text_ = str(inner)
                if " - at `$" in text_:
                    return text_.replace(" - at `$", f" - at `{where}", 1)
                return f"{text_} - at `{where}`"
    return message


def load_config(path: str | Path) -> Config:
    """Read and validate the configuration file at ``path``."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {p}: {exc.strerror}") from None
    return parse_config(data, source=str(p))

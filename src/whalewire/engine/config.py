"""The engine's configuration: one TOML file, validated strictly on load.

Every table is a frozen msgspec Struct with ``forbid_unknown_fields``: a typo fails at
startup, and the error names the field's path (``$.risk.symbols.BTCUSDT.max_position``)
and what was wrong. Secrets are never in this file: it names the environment variable or
the 0600 file that holds each one. Everything has a safe default: an empty file is the
demo's paper-trading setup against the embedded emulator.

msgspec checks the types; ``RANGES`` then holds the range of every number in the file, in
one table (the strategy's and risk's Structs included, whose modules stay free of config
policy). NaN, infinities, negatives and zeros that would divide or mean nothing are refused
there, and every out-of-range value of a file is reported at once, each with its path.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


def check_url(field: str, url: str, schemes: tuple[str, ...]) -> None:
    """Refuse a URL the engine could not connect to: its scheme, host and port (1-65535).

    Empty means "not set" and passes. Raises ValueError naming ``field`` (msgspec adds the
    table's path), which is how a port of 99999 is an error at load, not a crash at start.
    """
    if not url:
        return
    parts = urlsplit(url)
    wanted = " or ".join(f"{s}://" for s in schemes)
    if parts.scheme not in schemes:
        raise ValueError(f"{field} = {url!r}: expected a {wanted} URL")
    if parts.scheme == "ipc":
        return
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{field} = {url!r}: the port must be 1-65535") from None
    if not parts.hostname:
        raise ValueError(f"{field} = {url!r}: no host; expected {wanted}HOST[:PORT]/...")
    if port == 0:
        raise ValueError(f"{field} = {url!r}: the port must be 1-65535")


class NotifySection(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``[notify]``: optional webhook notifications (JSON POST, retried; off the hot path)."""

    #: http(s):// URL to POST each chosen event to; empty: no notifications
    webhook_url: str = ""
    #: which events: whale, order, fill, denial, reconnect, disconnect, clock, halt, resume
    events: list[
        Literal[
            "whale", "order", "fill", "denial", "reconnect", "disconnect", "clock", "halt", "resume"
        ]
    ] = msgspec.field(default_factory=lambda: ["whale", "fill", "denial", "halt", "resume"])
    #: tries per event (the waits between them double from 0.5 s)
    max_attempts: int = 5

    def __post_init__(self) -> None:
        check_url("webhook_url", self.webhook_url, ("http", "https"))


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

    def __post_init__(self) -> None:
        for name in ("rawtx", "sequence", "hashblock"):
            check_url(name, getattr(self, name), ("tcp", "ipc"))


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

    def __post_init__(self) -> None:
        check_url("url", self.url, ("ws", "wss"))


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
    #: the venue's public market data, ws(s)://: Binance's stream host
    #: (wss://stream.binance.com:9443), Kraken's wss://ws.kraken.com/v2, Coinbase's feed.
    #: Live books of the routed symbols then mark P&L and the price band at their mid and
    #: feed the strategy's book settings (engine/marketdata.py); empty: no market data
    market_url: str = ""

    def __post_init__(self) -> None:
        named = ("emulator", "testnet", "demo", "production")
        schemes = ("ws://", "wss://", "http://", "https://")
        if self.endpoint not in named and not self.endpoint.startswith(schemes):
            raise ValueError(
                f"endpoint must be one of {', '.join(named)} or a ws(s):// or http(s):// URL"
            )
        if self.market_url and not self.market_url.startswith(("ws://", "wss://")):
            raise ValueError("market_url must be a ws(s):// URL")
        if self.endpoint not in named:
            check_url("endpoint", self.endpoint, ("ws", "wss", "http", "https"))
        check_url("feed_endpoint", self.feed_endpoint, ("ws", "wss"))
        check_url("rest_endpoint", self.rest_endpoint, ("http", "https"))


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
    notify: NotifySection = msgspec.field(default_factory=NotifySection)

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


Number = int | float | Decimal


@dataclass(frozen=True, slots=True)
class Range:
    """The values a number of the configuration may take: finite, within bounds.

    ``zero`` names what 0 means where 0 is allowed outside the bounds (an "off" switch);
    ``allowed`` gives the only values a field may take, computed when the file is checked
    (this machine's CPUs). ``integer`` only words the description: msgspec has already
    checked the type. ``describe()`` is the "allowed:" part of an error.
    """

    low: Decimal | None = None
    high: Decimal | None = None
    low_open: bool = False
    integer: bool = False
    zero: str = ""
    allowed: Callable[[], frozenset[int]] | None = None

    def admits(self, value: Number) -> bool:
        """Say whether ``value`` is a finite number within this range."""
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if isinstance(value, Decimal) and not value.is_finite():
            return False
        if self.zero and value == 0:
            return True
        if self.allowed is not None:
            return value in self.allowed()
        number = Decimal(value)
        if self.low is not None and (number <= self.low if self.low_open else number < self.low):
            return False
        return self.high is None or number <= self.high

    def describe(self) -> str:
        """Say in words which values are allowed."""
        if self.allowed is not None:
            return "one of this machine's CPUs: " + ", ".join(map(str, sorted(self.allowed())))
        kind = "an integer" if self.integer else "a finite number"
        low = "" if self.low is None else f"{'>' if self.low_open else '>='} {self.low:f}"
        high = "" if self.high is None else f"<= {self.high:f}"
        bounds = " and ".join(b for b in (low, high) if b)
        text = f"{kind} {bounds}" if bounds else kind
        return f"0 ({self.zero}) or {text}" if self.zero else text


def _within(low: str | None, high: str | None, *, low_open: bool = False, zero: str = "") -> Range:
    return Range(
        None if low is None else Decimal(low),
        None if high is None else Decimal(high),
        low_open=low_open,
        zero=zero,
    )


def _ints(low: int, high: int) -> Range:
    return Range(Decimal(low), Decimal(high), integer=True)


def _machine_cpus() -> frozenset[int]:
    # the machine's, not this process's affinity: `whalewire kill` run under taskset must
    # still load the file; the engine's start refuses a CPU outside its affinity itself
    return frozenset(range(os.cpu_count() or 1))


#: a TCP port to connect to, and one to listen on (0: the system picks a free one)
_PORT = _ints(1, 65535)
_LISTEN_PORT = _ints(0, 65535)
#: amounts (quantities, notionals, losses): positive, and small enough that sizing's
#: arithmetic (``amount / qty_step``) stays exact in Decimal's default 28 digits
_AMOUNT = _within("0", "1e12", low_open=True)
_SATS = _ints(1, 21_000_000 * 100_000_000)
_MS = _within("0.1", "60000", zero="off")

#: the range of every number in the configuration, by Struct and field; a dict field's
#: range applies to each of its values. tests/engine/test_config.py checks that no number
#: of any table is missing here.
RANGES: dict[type, dict[str, Range]] = {
    EngineSection: {
        "ack_timeout_s": _within("0", "300", low_open=True),
        "rehearse_interval_ms": _MS,
        "cpu": Range(integer=True, allowed=_machine_cpus),
    },
    ControlSection: {"port": _LISTEN_PORT},
    NotifySection: {"max_attempts": _ints(1, 100)},
    ReplayFeed: {"speed": _within("0", "1000000")},
    P2PFeed: {"port": _PORT},
    VenueSection: {"recv_window_ms": _ints(1, 60_000), "pong_interval_ms": _MS},
    StrategyConfig: {
        "min_value_sats": _SATS,
        "entity_min_value_sats": _SATS,
        "fixed_qty": _AMOUNT,
        "fraction": _within("0", "1", low_open=True),
        "qty_step": _within("1e-12", "1e6"),
        "cooldown_s": _within("0", "86400"),
        "max_reactions": _ints(1, 1_000_000),
        "window_s": _within("0", "86400", low_open=True),
        "max_spread_bps": _within("0", "10000", zero="off"),
        "max_depth_fraction": _within("0", "1", zero="off"),
    },
    RiskConfig: {
        "max_orders_per_second": _ints(1, 100_000),
        "max_orders_per_minute": _ints(1, 6_000_000),
    },
    SymbolLimits: {
        "max_order_qty": _AMOUNT,
        "max_order_notional": _AMOUNT,
        "max_position": _AMOUNT,
        "max_daily_loss": _AMOUNT,
        "price_band": _within("0", "1", low_open=True),
    },
}


def _walk(value: object, path: str) -> Iterator[tuple[str, Number, Range]]:
    """Yield (path, number, range) for every ranged number under ``value``."""
    if isinstance(value, msgspec.Struct):
        ranges = RANGES.get(type(value), {})
        for name in value.__struct_fields__:
            field = getattr(value, name)
            rule = ranges.get(name)
            if rule is None:
                yield from _walk(field, f"{path}.{name}")
            elif isinstance(field, dict):
                for key, item in field.items():
                    yield f"{path}.{name}.{key}", item, rule
            elif field is not None:
                yield f"{path}.{name}", field, rule
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def range_errors(config: Config) -> list[str]:
    """List every number of ``config`` outside its range, each with its path and range."""
    return [
        f"{value} is out of range; allowed: {rule.describe()} - at `{path}`"
        for path, value, rule in _walk(config, "$")
        if not rule.admits(value)
    ]


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
        ConfigError: naming ``source``, the field path and why; every value out of its
            range at once.
    """
    try:
        config = msgspec.toml.decode(text, type=Config)
    except msgspec.ValidationError as exc:
        errors = _every_table_error(text, _name_keys(text, exc))
        if len(errors) == 1:
            raise ConfigError(f"{source}: {errors[0]}") from None
        listed = "".join(f"\n  {error}" for error in errors)
        raise ConfigError(f"{source}: {len(errors)} mistakes:{listed}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    errors = range_errors(config)
    if len(errors) == 1:
        raise ConfigError(f"{source}: {errors[0]}")
    if errors:
        listed = "".join(f"\n  {error}" for error in errors)
        raise ConfigError(f"{source}: {len(errors)} values out of range:{listed}")
    return config


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


def _every_table_error(text: str | bytes, first: str) -> list[str]:
    """``first``, then the errors of every other top-level table, each checked on its own.

    msgspec stops at a file's first mistake; an operator fixing a file wants them all at
    once, so each table is converted alone and its error (re-rooted at the table) listed.
    """
    errors = [first if " - at `" in first else f"{first} - at `$`"]
    raw = tomllib.loads(text.decode() if isinstance(text, bytes) else text)
    fields = {f.name: f.type for f in msgspec.structs.fields(Config)}
    for name, value in raw.items():
        if name not in fields:
            error = f"Object contains unknown field `{name}` - at `$`"
        else:
            try:
                msgspec.convert(value, fields[name], strict=False)
                continue
            except msgspec.ValidationError as exc:
                error = str(exc)
            error = (
                error.replace(" - at `$", f" - at `$.{name}", 1)
                if " - at `$" in error
                else f"{error} - at `$.{name}`"
            )
        if not any(error.split(" - at ")[-1] in e for e in errors):
            errors.append(error)
    return errors


def load_config(path: str | Path) -> Config:
    """Read and validate the configuration file at ``path``."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {p}: {exc.strerror}") from None
    return parse_config(data, source=str(p))

"""Build a whole engine from a ``Config`` and run it: the one place that wires real parts.

``build`` turns configuration into running objects: the address book and whale detector,
one client per venue, the feeds and their deduplicating monitor, the journal, the engine
and its control plane. A venue with ``endpoint = "emulator"`` is an embedded exchange the
caller starts (``embedded``: the commands' composition root, ``commands/embedded.py``):
the engine knows no emulator.
``run`` drives them until the feeds end, a deadline passes, or a signal arrives, with the
live dashboard on a timer, and then writes the latency report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import time
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.live import Live

from whalewire.addresses.live import watch_store
from whalewire.engine.app import Engine
from whalewire.engine.config import Config, ConfigError, Feed, ReplayFeed, VenueSection
from whalewire.engine.config import MempoolSpaceFeed as MempoolSpaceFeedConfig
from whalewire.engine.config import P2PFeed as P2PFeedConfig
from whalewire.engine.config import ZmqFeed as ZmqFeedConfig
from whalewire.engine.control import ControlServer, token_path
from whalewire.engine.dashboard import render
from whalewire.engine.events import ConsoleEvents
from whalewire.engine.journal import Journal
from whalewire.engine.marketdata import MarketData, start_market_data
from whalewire.engine.notify import Webhook
from whalewire.engine.report import latency_table, run_summary, write_html
from whalewire.engine.web import WebDashboard
from whalewire.mempool.feeds.bitcoind_zmq import BitcoindZmqFeed
from whalewire.mempool.feeds.events import FeedEvent
from whalewire.mempool.feeds.mempool_space import MempoolSpaceFeed
from whalewire.mempool.feeds.monitor import Monitor
from whalewire.mempool.feeds.p2p import P2PFeed
from whalewire.mempool.feeds.replay import DEFAULT_REPLAY, load_replay
from whalewire.mempool.feeds.replay import ReplayFeed as ReplayFeedImpl
from whalewire.mempool.watchlist import AddressBook
from whalewire.mempool.whales import WhaleDetector
from whalewire.venues.base import TlsSettings
from whalewire.venues.binance import BinanceClient
from whalewire.venues.coinbase import CoinbaseClient
from whalewire.venues.contract import Venue
from whalewire.venues.credentials import Credentials, from_env, from_file
from whalewire.venues.endpoints import Endpoints, endpoints
from whalewire.venues.ids import BINANCE_ID_WIDTH
from whalewire.venues.kraken import KrakenClient

log = logging.getLogger("whalewire.runner")

#: seconds between two marks of every routed symbol at its venue's price
MARK_INTERVAL_S = 1.0


@dataclass
class Running:
    """Everything ``build`` started; ``close`` stops it in the right order."""

    engine: Engine
    control: ControlServer
    monitor: Monitor
    journal: Journal
    emulators: list[Emulator] = field(default_factory=list)
    reconciled: dict[str, int] = field(default_factory=dict)
    #: the live books of venues with a ``market_url`` (engine/marketdata.py)
    market: MarketData = field(default_factory=MarketData)
    #: the web dashboard on loopback (engine/web.py), when it runs
    web: WebDashboard | None = None

    async def close(self) -> None:
        """Stop the control plane, the engine's venues, the emulators and the journal."""
        if self.web is not None:
            await self.web.stop()
        await self.market.close()
        await self.control.stop()
        await self.engine.close()
        for emulator in self.emulators:
            await emulator.close()
        self.journal.close()


def address_book(config: Config) -> AddressBook:
    """Load the configured address books (the shipped demo book when none is named)."""
    ab = config.address_book
    if not ab.files:
        return AddressBook.demo()
    books = [AddressBook.from_csv(f, network=ab.network) for f in ab.files]
    entries = [e for b in books for e in b]
    return AddressBook(entries, name="+".join(b.name for b in books), network=ab.network)


def feeds(config: Config) -> list[AsyncIterable[FeedEvent]]:
    """Build one feed object per ``[[feeds]]`` entry."""
    out: list[AsyncIterable[FeedEvent]] = []
    for i, f in enumerate(config.feeds):
        out.append(_feed(f, i))
    return out


class Emulator(Protocol):
    """An embedded venue started for the engine, closed after it."""

    async def close(self) -> None: ...


#: starts the embedded exchange for ``[venues.NAME]`` (``endpoint = "emulator"``) and
#: returns a client connected to it, and the exchange to close after the engine
Embedded = Callable[[str, VenueSection, Config], Awaitable[tuple[Venue, Emulator]]]


@dataclass(frozen=True)
class _TwoUrls:
    """How a venue that needs two connections finds both URLs."""

    schemes: tuple[str, ...]  #: an ``endpoint`` with these is a URL, not a name
    second: str  #: the ``[venues.NAME]`` field holding the second URL then
    named: Callable[[Endpoints], tuple[str | None, str | None]]  #: the pair, by name
    what: str  #: what the pair is, for the error


_TWO_URLS = {
    "kraken": _TwoUrls(
        ("ws://", "wss://"), "rest_endpoint", lambda u: (u.ws_api, u.rest), "WebSocket API"
    ),
    "coinbase": _TwoUrls(
        ("http://", "https://"),
        "feed_endpoint",
        lambda u: (u.rest, u.user_stream),
        "REST API and feed",
    ),
}


def _url_pair(name: str, section: VenueSection) -> tuple[str, str]:
    """Return the two URLs of Kraken (WebSocket API, REST) or Coinbase (REST, feed): the
    endpoint and the second URL's field when the endpoint is a URL, else the named pair.

    Raises:
        ConfigError: a URL endpoint without the second URL, or a named endpoint without both.
    """
    how = _TWO_URLS[name]
    endpoint = section.endpoint
    if endpoint.startswith(how.schemes):
        url = getattr(section, how.second)
        if not url:
            raise ConfigError(f"venues.{name}: a URL endpoint needs {how.second} too")
        return endpoint, str(url)
    first, other = how.named(endpoints(name, endpoint))
    if first is None or other is None:
        raise ConfigError(f"venues.{name}: {endpoint} has no {how.what}")
    return first, other


def _coinbase_client(name: str, section: VenueSection, config: Config) -> Venue:
    dry_run = config.engine.mode == "dry-run"
    rest, feed = _url_pair(name, section)
    credentials = _credentials(name, section)
    context = ssl.create_default_context(cafile=section.tls_ca_file or None)
    if not section.tls_verify:  # refused in live mode by the configuration
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return CoinbaseClient(rest, feed, credentials, name=name, dry_run=dry_run, ssl_context=context)


def _credentials(name: str, section: VenueSection) -> Credentials:
    """A real venue's keys: the 0600 file named in the section, else the environment."""
    if section.credentials_file:
        return from_file(section.credentials_file, name)
    return from_env(name)


def tls_settings(section: VenueSection) -> TlsSettings:
    """How ``[venues.NAME]`` says its wss:// venue is verified."""
    return TlsSettings(
        ca_file=section.tls_ca_file or None,
        pins=tuple(section.tls_pins),
        verify=section.tls_verify,
    )


def routed_symbols(name: str, config: Config) -> tuple[str, ...]:
    """The symbols the strategy routes to venue ``name``."""
    strategy = config.strategy
    routes = [strategy.default_route, *strategy.routes.values()]
    return tuple(sorted({r.symbol for r in routes if r.venue == name}))


def _kraken_client(name: str, section: VenueSection, config: Config) -> Venue:
    dry_run = config.engine.mode == "dry-run"
    symbols = routed_symbols(name, config) or ("BTC/USD",)
    url, rest = _url_pair(name, section)
    credentials = _credentials(name, section)
    return KrakenClient(
        url,
        rest,
        credentials,
        symbols=symbols,
        name=name,
        dry_run=dry_run,
        tls=tls_settings(section),
        pong_interval_ms=section.pong_interval_ms,
    )


def _feed(f: Feed, i: int) -> AsyncIterable[FeedEvent]:
    if isinstance(f, ReplayFeed):
        records = load_replay(Path(f.file) if f.file else DEFAULT_REPLAY)
        return ReplayFeedImpl(
            records, speed=f.speed or None, loops=None if f.loop else 1, name="replay"
        )
    if isinstance(f, ZmqFeedConfig):
        endpoints_ = [e for e in (f.rawtx, f.sequence, f.hashblock) if e]
        return BitcoindZmqFeed(endpoints_, name=f"zmq{i}" if i else "zmq")
    if isinstance(f, P2PFeedConfig):
        return P2PFeed(f.host, f.port, f.network, name=f"p2p{i}" if i else "p2p")
    if isinstance(f, MempoolSpaceFeedConfig):
        return MempoolSpaceFeed(f.url)
    raise ConfigError(f"feeds[{i}]: unsupported feed {f!r}")


async def venue_client(
    name: str,
    section: VenueSection,
    config: Config,
    emulators: list[Emulator],
    embedded: Embedded | None = None,
) -> Venue:
    """Build the client for ``[venues.NAME]``; an embedded exchange comes from ``embedded``."""
    if name != "binance" and section.send_backend != "socket":
        raise ConfigError(
            f"venues.{name}.send_backend: only binance sends orders through io_uring "
            f'(got {section.send_backend!r}; use "socket")'
        )
    if name not in ("binance", "kraken", "coinbase"):
        raise ConfigError(
            f"venues.{name}: no client for this venue (supported: binance, kraken, coinbase)"
        )
    if section.endpoint == "emulator":
        if embedded is None:
            raise ConfigError(
                f'venues.{name}: endpoint = "emulator" needs the embedded exchanges, which '
                "the whalewire commands start"
            )
        client, emulator = await embedded(name, section, config)
        emulators.append(emulator)
        return client
    if name == "coinbase":
        return _coinbase_client(name, section, config)
    if name == "kraken":
        return _kraken_client(name, section, config)
    if section.endpoint.startswith(("ws://", "wss://")):
        url = section.endpoint
    else:
        ws_api = endpoints(name, section.endpoint).ws_api
        if ws_api is None:
            raise ConfigError(f"venues.{name}: {section.endpoint} has no WebSocket API")
        url = ws_api
    return BinanceClient(
        url,
        _credentials(name, section),
        name=name,
        recv_window_ms=section.recv_window_ms,
        cid_width=BINANCE_ID_WIDTH[len(config.engine.namespace)],
        dry_run=config.engine.mode == "dry-run",
        tls=tls_settings(section),
        send_backend=section.send_backend,
        pong_interval_ms=section.pong_interval_ms,
    )


def detector_for(config: Config) -> WhaleDetector:
    """Build the whale detector ``config`` describes: its address book, its thresholds, and
    the labels of ``[address_book] learned_store`` (followed every second) when one is set.

    One builder for every role that detects (``run``, ``sensor``, ``backtest``), so a
    sensor or a backtest watches exactly what the embedded engine would.
    """
    book = address_book(config)
    strategy = config.strategy
    detector = WhaleDetector(
        book,
        threshold_sats=strategy.min_value_sats,
        thresholds={k: v for k, v in strategy.entity_min_value_sats.items() if k in book.entities},
    )
    if config.address_book.learned_store:
        watch_store(config.address_book.learned_store, detector.watch_set)
    return detector


async def build(
    config: Config, *, journal_path: str | None = None, embedded: Embedded | None = None
) -> Running:
    """Start everything the configuration describes; reconcile; arm the strategy.

    ``embedded`` starts the exchanges of venues whose endpoint is ``"emulator"``.
    """
    detector = detector_for(config)
    emulators: list[Emulator] = []
    venues: dict[str, Venue] = {}
    try:
        for name, section in config.venues.items():
            venues[name] = await venue_client(name, section, config, emulators, embedded)
        journal = Journal(
            journal_path or config.engine.journal, durability=config.engine.journal_durability
        )
    except BaseException:
        for emulator in emulators:
            await emulator.close()
        raise
    engine = Engine(
        config,
        venues=venues,
        detector=detector,
        journal=journal,
        namespace=config.engine.namespace,
        ack_timeout_s=config.engine.ack_timeout_s,
    )
    control = ControlServer(
        engine,
        host=config.control.host,
        port=config.control.port,
        kill_file=config.control.kill_file or None,
        token_file=token_path(journal_path or config.engine.journal),
    )
    dashboard = WebDashboard(engine, control)
    dashboard.install()
    running = Running(engine, control, Monitor(feeds(config)), journal, emulators, web=dashboard)
    engine.view.feed_stats = running.monitor.dedup.snapshot
    try:
        running.reconciled = await engine.start()
        running.market = await start_market_data(config, engine.risk, engine.strategy)
        engine.view.books = running.market.status
        for name, venue in venues.items():
            if venue.capabilities.templates:  # build hot-path templates before the first whale
                for symbol in routed_symbols(name, config):
                    for side in {s.value for s in config.strategy.sides.values()}:
                        venue.prepare(symbol, side)
        await control.start()
        await dashboard.start()
        engine.view.control_url = control.url
    except BaseException:
        await running.close()
        raise
    return running


async def mark_prices(
    engine: Engine, interval_s: float = MARK_INTERVAL_S, market: MarketData | None = None
) -> None:
    """Mark every routed symbol at its venue's price every ``interval_s`` (off the hot path).

    The risk engine's reference price and the dashboard's unrealized P&L come from here
    between orders; a venue that cannot be asked (dry run, reconnecting) keeps its last price.
    A symbol whose live book is synced (``market``) is marked by the book instead.
    """
    strategy = engine.config.strategy
    routes = sorted(
        {(r.venue, r.symbol) for r in [strategy.default_route, *strategy.routes.values()]}
    )
    task = asyncio.current_task()
    while task is None or not task.cancelling():
        for name, symbol in routes:
            venue = engine.venues.get(name)
            live = market.books.get((name, symbol)) if market is not None else None
            if venue is None or (live is not None and live.health().synced):
                continue
            price = venue.last_price(symbol)
            if venue.capabilities.price_refresh:
                try:
                    price = await venue.refresh_price(symbol)
                except Exception as exc:  # not connected, rate limited: try next time
                    log.debug("price refresh of %s on %s failed: %s", symbol, name, exc)
            if price is not None:
                engine.risk.on_trade_price(symbol, price)
        await asyncio.sleep(interval_s)


async def run(
    running: Running,
    *,
    seconds: float | None = None,
    dashboard: bool = True,
    console: Console | None = None,
    report_html: Path | None = None,
    drain_s: float = 2.0,
    on_tick: Callable[[Running], Any] | None = None,
) -> dict[str, Any]:
    """Run until the feeds end (plus ``drain_s`` for the last answers), ``seconds`` pass,
    or SIGINT/SIGTERM; return the final status."""
    console = console or Console()
    engine = running.engine
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)

    async def feed_then_drain() -> None:
        await running.monitor.run(engine.on_feed_event)
        await asyncio.sleep(drain_s)
        stop.set()

    feeding = asyncio.create_task(feed_then_drain())
    marking = asyncio.create_task(mark_prices(engine, market=running.market))
    venues = engine.venues
    logging_events = asyncio.create_task(
        engine.events.run(lambda: {n: v.status() for n, v in venues.items()})
    )
    webhook = None
    if engine.config.notify.webhook_url:
        notify = engine.config.notify
        webhook = Webhook(
            notify.webhook_url,
            kinds=tuple(notify.events),
            engine=engine.namespace,
            max_attempts=notify.max_attempts,
        )
        engine.events.subscribers.append(webhook.offer)
        webhook.start()
    console_events = None
    if not dashboard:  # the events, one readable line each, where the dashboard would be
        console_events = ConsoleEvents(
            lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True)
        )
        logging.getLogger("whalewire.events").addHandler(console_events)
    deadline = None if seconds is None else time.monotonic() + seconds
    live = (
        Live(render(engine.status(), height=console.height), console=console, refresh_per_second=4)
        if dashboard
        else None
    )
    try:
        if live is not None:
            live.start()
        while not stop.is_set():
            timeout = 0.25
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout)
            if feeding.done() and feeding.exception() is not None:
                raise feeding.exception()  # type: ignore[misc]
            if live is not None:
                live.update(render(engine.status(), height=console.height))
            if on_tick is not None:
                on_tick(running)
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        if live is not None:
            live.update(render(engine.status(), height=console.height))
            live.stop()
        feeding.cancel()
        marking.cancel()
        logging_events.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await logging_events
        if console_events is not None:
            logging.getLogger("whalewire.events").removeHandler(console_events)
        if webhook is not None:
            await webhook.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await feeding
        # a refresh's wait_for may swallow the cancel (3.11): never wait on it for long
        await asyncio.wait({marking}, timeout=1.0)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
    status = dict(engine.status())
    console.print(latency_table(engine.metrics))
    if report_html is not None:
        summary = run_summary(status, engine.events.counts.get("halt", 0))
        path = write_html(engine.metrics, report_html, summary=summary)
        console.print(f"latency report written to {path}")
    return status

"""Binance Spot market data: the public WebSocket Streams into local books, trades and tops.

Streams and payloads follow ``web-socket-streams.md`` (binance-spot-api-docs): raw
(``/ws/<streamName>``) or combined (``/stream?streams=a/b``, each event wrapped as
``{"stream", "data"}``); ``<symbol>@trade``, ``@aggTrade``, ``@bookTicker`` and the
"Diff. Depth Stream" ``@depth`` / ``@depth@100ms``. :class:`DepthSync` keeps a book by the
section "How to manage a local order book correctly": buffer the diffs, fetch a ``depth``
snapshot (here through the WebSocket API's ``depth`` method, ``web-socket-api.md``
"Order book"), drop buffered events with ``u <= lastUpdateId``, the first one applied must
have ``U <= lastUpdateId + 1 <= u``, and every later one ``U == previous u + 1``, else the
book is discarded and fetched again (counted as a gap and a resync). Decoding is typed
(msgspec, lax: the venue's decimal strings become floats); a message that does not decode is
counted and dropped. Reconnects (``base.venue_supervisor``) reopen the same streams and
resync every book. The SBE streams (binary frames, ``sbe.py``) decode into the same types
and feed the same books; their ``<symbol>@depth20`` ("Partial Book Depth Streams") needs no
sync: each event replaces the book with its best 20 levels a side (an event older than the
last one applied is dropped), so it is the book's kind instead of ``depth``, not beside it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from whalewire.net import WebSocket
from whalewire.net.client import connect
from whalewire.venues.binance.sbe import DepthSnapshot, SbeError
from whalewire.venues.binance.sbe import decode as sbe_decode
from whalewire.venues.binance.stream_decode import (
    DECODERS,
    ENVELOPE,
    SNAPSHOT,
    BookTicker,
    DepthUpdate,
    Snapshot,
    Trade,
)
from whalewire.venues.books import Book, Top
from whalewire.venues.market import StreamClient

log = logging.getLogger("whalewire.venues.binance.market")

#: the stream kinds that carry diffs kept by the snapshot-and-buffer procedure
DIFF_KINDS = ("depth", "depth@100ms")


class DepthSync:
    """One symbol's book kept by the documented snapshot-and-buffer procedure (sans-IO)."""

    def __init__(self, book: Book) -> None:
        self.book = book
        self._buffer: list[DepthUpdate] = []
        #: ``u`` of the last diff applied (None: waiting for a snapshot)
        self.last_u: int | None = None
        self._first = False

    def reset(self) -> None:
        """Forget the book and buffer diffs until the next snapshot."""
        self.book.desync()
        self._buffer.clear()
        self.last_u = None

    def on_diff(self, event: DepthUpdate) -> bool:
        """Apply or buffer one diff; return True when the book broke and needs a snapshot."""
        last = self.last_u
        if last is None:
            self._buffer.append(event)
            return False
        if event.u <= last:
            return False  # "If the event u is < the update ID of your local order book, ignore"
        ok = last + 1 >= event.U if self._first else last + 1 == event.U
        if not ok:
            self.book.health().gaps += 1
            self.reset()
            self._buffer.append(event)
            return True
        self._first = False
        self.book.apply(event.b, event.a, event_ms=event.E)
        self.last_u = event.u
        return False

    def on_snapshot(self, snapshot: Snapshot) -> bool:
        """Load ``snapshot`` and replay the buffer; return False when it is too old to use."""
        lid = snapshot.lastUpdateId
        pending = [e for e in self._buffer if e.u > lid]  # "Drop any event where u <= lastUpdateId"
        if pending and lid + 1 < pending[0].U:
            return False  # the snapshot predates the buffer: fetch another
        health = self.book.health()
        if health.updates:
            health.resyncs += 1
        self.book.replace(snapshot.bids, snapshot.asks)
        self._buffer.clear()
        self.last_u, self._first = lid, True
        for event in pending:
            self.on_diff(event)
        return True


@dataclass(frozen=True, slots=True)
class MarketTrade:
    """A public trade: symbol, id, price, quantity, whether the buyer was the maker, time."""

    symbol: str
    trade_id: int
    price: float
    qty: float
    buyer_is_maker: bool
    ts_ms: int
    aggregate: bool


class BinanceMarketData(StreamClient):
    """Binance Spot streams for ``symbols``: a local book each, tops, and trades.

    Args:
        stream_url: the stream host, ``wss://stream.binance.com:9443`` (or an emulator's).
        api_url: the WebSocket API (``wss://ws-api.binance.com:443/ws-api/v3``) for snapshots.
        symbols: the instruments (any case).
        kinds: the stream kinds per symbol (``depth``, ``depth@100ms``, ``bookTicker``,
            ``trade``, ``aggTrade``; SBE: ``depth``, ``depth20``, ``bestBidAsk``, ``trade``).
        combined: ``/stream?streams=`` (True) or a raw ``/ws/<stream>`` (one stream only).
        api_key: sent as ``X-MBX-APIKEY``, which the SBE stream host
            (``wss://stream-sbe.binance.com:9443``) requires; its kinds are ``trade``,
            ``bestBidAsk`` and ``depth``, its events binary (``sbe.py``), decoded into the
            same types and books as the JSON streams'.
        depth_limit: levels asked of each snapshot (the ``depth`` method's ``limit``).
        on_trade: called with each public trade.
        on_top: called with (symbol, top) after every diff or book ticker.
    """

    def __init__(
        self,
        stream_url: str,
        api_url: str,
        symbols: Sequence[str],
        *,
        kinds: Sequence[str] = ("depth@100ms", "bookTicker", "trade"),
        combined: bool = True,
        api_key: str = "",
        depth_limit: int = 1000,
        on_trade: Callable[[MarketTrade], None] | None = None,
        on_top: Callable[[str, Top], None] | None = None,
        name: str = "binance-market",
    ) -> None:
        self.stream_url = stream_url.rstrip("/")
        self.api_url = api_url
        self.symbols = [s.upper() for s in symbols]
        self.streams = [f"{s.lower()}@{k}" for s in self.symbols for k in kinds]
        if not combined and len(self.streams) != 1:
            raise ValueError("a raw stream carries one stream; use combined=True for more")
        if "depth20" in kinds and any(k in DIFF_KINDS for k in kinds):
            raise ValueError("depth20 replaces the book: subscribe it or a diff stream, not both")
        self.kinds = tuple(kinds)
        self.combined = combined
        self.api_key = api_key
        self.depth_limit = depth_limit
        self.on_trade = on_trade
        self.on_top = on_top
        super().__init__(name)
        self.books = {s: Book(s) for s in self.symbols}
        self.syncs = {s: DepthSync(b) for s, b in self.books.items()}
        #: the update id of the last ``depth20`` event applied, per symbol
        self.partial_ids: dict[str, int] = {}
        #: the last ``bookTicker`` of each symbol
        self.tickers: dict[str, Top] = {}
        #: frames that did not decode (dropped)
        self.malformed = 0
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """Return the stream URL this client opens."""
        if self.combined:
            return f"{self.stream_url}/stream?streams={'/'.join(self.streams)}"
        return f"{self.stream_url}/ws/{self.streams[0]}"

    async def close(self) -> None:
        """Stop for good."""
        for task in list(self._tasks):
            task.cancel()
        await super().close()

    async def _open(self) -> WebSocket:
        # the SBE stream host wants an API key ("SBE Market Data Streams": X-MBX-APIKEY)
        headers = [("X-MBX-APIKEY", self.api_key)] if self.api_key else []
        return await connect(
            self.url, deflate=False, on_message=self._on_message, extra_headers=headers
        )

    async def _on_connected(self, ws: WebSocket) -> None:
        # the stream is open and buffering: now the snapshots ("How to manage ...", step 3)
        if not any(k in DIFF_KINDS for k in self.kinds):
            self.partial_ids.clear()  # depth20: the next event is the book
            return
        for sync in self.syncs.values():
            sync.reset()
        await asyncio.gather(*(self.resync(symbol) for symbol in self.symbols))

    async def resync(self, symbol: str, attempts: int = 5) -> None:
        """Fetch snapshots of ``symbol`` until one joins the buffered diffs."""
        sync = self.syncs[symbol]
        for _ in range(attempts):
            snapshot = await self.fetch_snapshot(symbol)
            if sync.last_u is not None:
                return  # another resync got there first
            if sync.on_snapshot(snapshot):
                self._top_changed(symbol)
                return
            await asyncio.sleep(0.05)
        log.warning(
            "%s: no snapshot of %s joined the stream in %d tries", self.name, symbol, attempts
        )

    async def fetch_snapshot(self, symbol: str) -> Snapshot:
        """Ask the WebSocket API's ``depth`` method for ``symbol``'s book."""
        ws = await connect(self.api_url, deflate=False)
        try:
            request = {
                "id": f"depth-{next(self._ids)}",
                "method": "depth",
                "params": {"symbol": symbol, "limit": self.depth_limit},
            }
            ws.send(msgspec.json.encode(request).decode())
            answer = await ws.recv()
        finally:
            await ws.close()
        response = SNAPSHOT.decode(answer)
        if response.result is None:
            raise OSError(f"{self.name}: depth {symbol} answered status {response.status}")
        return response.result

    def _on_message(self, ws: WebSocket, message: str | bytes) -> None:
        if isinstance(message, bytes):  # SBE streams send binary frames, JSON ones text
            try:
                decoded = sbe_decode(message)
            except SbeError:
                self.malformed += 1
                return
            for event in decoded if isinstance(decoded, list) else [decoded]:
                self._dispatch(event)
            return
        try:
            if self.combined:
                envelope = ENVELOPE.decode(message)
                kind = envelope.stream.partition("@")[2]
                event = DECODERS[kind].decode(envelope.data)
            else:
                event = DECODERS[self.streams[0].partition("@")[2]].decode(message)
        except (msgspec.MsgspecError, KeyError):
            self.malformed += 1
            return
        self._dispatch(event)

    def _dispatch(self, event: DepthUpdate | DepthSnapshot | BookTicker | Trade) -> None:
        if isinstance(event, DepthSnapshot):
            book = self.books.get(event.s)
            if book is None:
                self.malformed += 1
            elif event.u > self.partial_ids.get(event.s, -1):
                self.partial_ids[event.s] = event.u
                book.replace(event.bids, event.asks, event_ms=event.E)
                self._top_changed(event.s)
        elif isinstance(event, DepthUpdate):
            sync = self.syncs.get(event.s)
            if sync is None:
                self.malformed += 1
            elif sync.on_diff(event):
                self._spawn(self.resync(event.s))
            elif sync.last_u is not None:
                self._top_changed(event.s)
        elif isinstance(event, BookTicker):
            self.tickers[event.s] = Top(event.b, event.B, event.a, event.A)
        elif self.on_trade is not None:
            trade_id = event.a if event.e == "aggTrade" else event.t
            self.on_trade(
                MarketTrade(
                    event.s, trade_id, event.p, event.q, event.m, event.T, event.e == "aggTrade"
                )
            )

    def _top_changed(self, symbol: str) -> None:
        if self.on_top is not None:
            self.on_top(symbol, self.books[symbol].top())

    def _spawn(self, coro: object) -> None:
        assert asyncio.iscoroutine(coro)
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

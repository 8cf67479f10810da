"""Kraken Spot WebSocket v2 public market data: ``book`` with its checksum, ``trade``, ``ticker``.

On each connection (``wss://ws.kraken.com/v2``, or an emulator's) the client subscribes to
``instrument`` first, for each pair's ``price_precision`` and ``qty_precision``, then to
``book`` (at ``depth``), ``trade`` and ``ticker``. Every ``book`` message is applied, the
book truncated to the subscribed depth, and its ``checksum`` verified as the guide "Book
checksum (WebSocket v2)" computes it: the top 10 asks (low to high) then the top 10 bids
(high to low), each price and quantity formatted with the pair's precision, the ``.``
removed and leading zeros stripped, CRC32 as an unsigned 32-bit integer. A mismatch is
counted, the book dropped, and the pair unsubscribed and subscribed again for a new
snapshot (counted as a resync). Decoding is typed (msgspec); a message that does not decode
is counted and dropped. Reconnects (``base.venue_supervisor``) subscribe everything again.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from whalewire.net import WebSocket
from whalewire.net.client import connect
from whalewire.venues.books import Book, BookSide, Top
from whalewire.venues.market import StreamClient

log = logging.getLogger("whalewire.venues.kraken.market")

#: "The checksum is always calculated over the top 10 price levels"
CHECKSUM_LEVELS = 10


class Head(msgspec.Struct):
    """Any frame: a channel message (``channel``, ``type``, ``data``) or a method's answer."""

    channel: str = ""
    type: str = ""
    method: str = ""
    success: bool | None = None
    error: str = ""
    data: msgspec.Raw = msgspec.Raw()


class Level(msgspec.Struct, frozen=True):
    """One price level of a ``book`` message (``qty`` 0 removes it)."""

    price: float
    qty: float


class BookData(msgspec.Struct, frozen=True):
    """One pair's ``book`` snapshot or update, with the checksum of the book after it."""

    symbol: str
    bids: list[Level]
    asks: list[Level]
    checksum: int
    timestamp: str = ""


class TradeData(msgspec.Struct, frozen=True):
    """One ``trade`` row: the taker's side."""

    symbol: str
    side: str
    price: float
    qty: float
    trade_id: int
    timestamp: str = ""


class TickerData(msgspec.Struct, frozen=True):
    """One ``ticker`` row: the top of the book and the last trade price."""

    symbol: str
    bid: float
    bid_qty: float
    ask: float
    ask_qty: float
    last: float = 0.0


class Pair(msgspec.Struct, frozen=True):
    """What the client needs of an ``instrument`` pair: the precisions the checksum uses."""

    symbol: str
    price_precision: int
    qty_precision: int


class Instruments(msgspec.Struct, frozen=True):
    """The ``instrument`` channel's data."""

    pairs: list[Pair]


_HEAD = msgspec.json.Decoder(Head)
_BOOK = msgspec.json.Decoder(list[BookData])
_TRADES = msgspec.json.Decoder(list[TradeData])
_TICKERS = msgspec.json.Decoder(list[TickerData])
_INSTRUMENTS = msgspec.json.Decoder(Instruments)


def checksum(book: Book, price_precision: int, qty_precision: int) -> int:
    """Return Kraken's CRC32 of ``book``'s top 10 levels a side ("Book checksum (v2)")."""
    parts: list[str] = []
    for side in (BookSide.ASK, BookSide.BID):
        for price, qty in book.levels(side, CHECKSUM_LEVELS):
            parts.append(f"{price:.{price_precision}f}".replace(".", "").lstrip("0"))
            parts.append(f"{qty:.{qty_precision}f}".replace(".", "").lstrip("0"))
    return zlib.crc32("".join(parts).encode()) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class KrakenTrade:
    """A public trade: the taker's side (``buy``/``sell``), price, quantity, id."""

    symbol: str
    trade_id: int
    side: str
    price: float
    qty: float
    timestamp: str


class KrakenMarketData(StreamClient):
    """Kraken v2 public channels for ``symbols`` ("BTC/USD"): a checked book each, tops, trades.

    Args:
        url: ``wss://ws.kraken.com/v2`` or an emulator's ``/v2``.
        symbols: the pairs, as v2 names them.
        depth: the ``book`` depth (10, 25, 100, 500, 1000).
        trades, tickers: subscribe to ``trade`` / ``ticker`` too.
        on_trade: called with each public trade.
        on_top: called with (symbol, top) after every book message.
    """

    def __init__(
        self,
        url: str,
        symbols: Sequence[str],
        *,
        depth: int = 10,
        trades: bool = True,
        tickers: bool = True,
        on_trade: Callable[[KrakenTrade], None] | None = None,
        on_top: Callable[[str, Top], None] | None = None,
        name: str = "kraken-market",
    ) -> None:
        self.url = url
        self.symbols = list(symbols)
        self.depth = depth
        self.want_trades = trades
        self.want_tickers = tickers
        self.on_trade = on_trade
        self.on_top = on_top
        super().__init__(name)
        self.books = {s: Book(s, max_depth=depth) for s in self.symbols}
        #: symbol -> (price_precision, qty_precision), from the ``instrument`` channel
        self.precision: dict[str, tuple[int, int]] = {}
        self.tickers: dict[str, Top] = {}
        #: frames that did not decode, and answers with ``success: false`` (dropped)
        self.malformed = 0
        self.errors: list[str] = []
        self._instruments = asyncio.Event()
        self._synced: dict[str, asyncio.Event] = {s: asyncio.Event() for s in self.symbols}

    async def _open(self) -> WebSocket:
        self._instruments.clear()
        for event in self._synced.values():
            event.clear()
        return await connect(self.url, deflate=False, on_message=self._on_message)

    def _send(self, ws: WebSocket, method: str, params: dict[str, object]) -> None:
        ws.send(msgspec.json.encode({"method": method, "params": params}).decode())

    async def _on_connected(self, ws: WebSocket) -> None:
        for book in self.books.values():
            book.desync()
        self._send(ws, "subscribe", {"channel": "instrument"})
        await asyncio.wait_for(self._instruments.wait(), 10.0)
        missing = [s for s in self.symbols if s not in self.precision]
        if missing:
            raise OSError(f"{self.name}: instrument lists no {missing[0]}")
        self._send(
            ws, "subscribe", {"channel": "book", "symbol": self.symbols, "depth": self.depth}
        )
        if self.want_trades:
            self._send(ws, "subscribe", {"channel": "trade", "symbol": self.symbols})
        if self.want_tickers:
            self._send(ws, "subscribe", {"channel": "ticker", "symbol": self.symbols})
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self._synced.values())), 10.0)

    def resync(self, ws: WebSocket, symbol: str) -> None:
        """Drop ``symbol``'s book and ask for a new snapshot (unsubscribe, subscribe)."""
        self.books[symbol].desync()
        self._synced[symbol].clear()
        self._send(ws, "unsubscribe", {"channel": "book", "symbol": [symbol], "depth": self.depth})
        self._send(ws, "subscribe", {"channel": "book", "symbol": [symbol], "depth": self.depth})

    def _on_message(self, ws: WebSocket, message: str | bytes) -> None:
        try:
            head = _HEAD.decode(message)
            channel = head.channel
            if channel == "book":
                for data in _BOOK.decode(head.data):
                    self._on_book(ws, head.type, data)
            elif channel == "trade":
                self._on_trades(_TRADES.decode(head.data))
            elif channel == "ticker":
                for row in _TICKERS.decode(head.data):
                    self.tickers[row.symbol] = Top(row.bid, row.bid_qty, row.ask, row.ask_qty)
            elif channel == "instrument":
                for pair in _INSTRUMENTS.decode(head.data).pairs:
                    self.precision[pair.symbol] = (pair.price_precision, pair.qty_precision)
                self._instruments.set()
            elif head.success is False:
                self.errors.append(head.error)
        except msgspec.MsgspecError:
            self.malformed += 1

    def _on_book(self, ws: WebSocket, kind: str, data: BookData) -> None:
        book = self.books.get(data.symbol)
        precision = self.precision.get(data.symbol)
        if book is None or precision is None:
            self.malformed += 1
            return
        bids = [(lv.price, lv.qty) for lv in data.bids]
        asks = [(lv.price, lv.qty) for lv in data.asks]
        health = book.health()
        if kind == "snapshot":
            if health.updates:
                health.resyncs += 1
            book.replace(bids, asks)
        elif not health.synced:
            return  # an update for the book being fetched again
        else:
            book.apply(bids, asks)
        if checksum(book, *precision) != data.checksum:
            health.checksum_failures += 1
            self.resync(ws, data.symbol)
            return
        self._synced[data.symbol].set()
        if self.on_top is not None:
            self.on_top(data.symbol, book.top())

    def _on_trades(self, rows: list[TradeData]) -> None:
        if self.on_trade is None:
            return
        for row in rows:
            self.on_trade(
                KrakenTrade(row.symbol, row.trade_id, row.side, row.price, row.qty, row.timestamp)
            )

"""Coinbase Exchange public feed: ``level2`` / ``level2_batch`` books, ``ticker``, ``matches``.

"Exchange WebSocket Channels": subscribing to ``level2`` (or ``level2_batch``, the same
messages batched every 50 ms) brings a ``snapshot`` of the whole book per product, then
``l2update`` messages whose ``changes`` are ``[side, price, size]`` with the new size (0
removes the level). Those carry no sequence number, so the client checks what it can: an
update before the snapshot is dropped, and a book that is crossed after an update (a sure
sign of a lost one) is counted and fetched again (unsubscribe, subscribe: a new snapshot).
``ticker`` and ``match`` messages carry the product's feed ``sequence``: it must increase
(each channel sees a subset of the product's messages, so a jump is normal); one that does
not is a duplicate or late message, dropped and counted. Typed msgspec decoding; a message
that does not decode is counted and dropped. Reconnects subscribe again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from whalewire.net import WebSocket
from whalewire.net.client import connect
from whalewire.venues.books import Book, Top
from whalewire.venues.market import StreamClient


class Head(msgspec.Struct):
    """Enough of any feed message to route it."""

    type: str
    product_id: str = ""


class Snapshot(msgspec.Struct, frozen=True):
    """``snapshot``: the whole book as ``[price, size]`` rows."""

    product_id: str
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]


class L2Update(msgspec.Struct, frozen=True):
    """``l2update``: ``[side, price, size]`` changes (size is the new absolute size)."""

    product_id: str
    changes: list[tuple[str, float, float]]
    time: str = ""


class Ticker(msgspec.Struct, frozen=True):
    """``ticker``: the last trade and the best bid and ask after it."""

    product_id: str
    sequence: int
    price: float
    best_bid: float
    best_bid_size: float
    best_ask: float
    best_ask_size: float
    side: str = ""
    trade_id: int = 0
    last_size: float = 0.0


class Match(msgspec.Struct, frozen=True):
    """``match`` / ``last_match``: one trade (``side`` is the maker's)."""

    product_id: str
    sequence: int
    trade_id: int
    price: float
    size: float
    side: str
    time: str = ""


_HEAD = msgspec.json.Decoder(Head)
_SNAPSHOT = msgspec.json.Decoder(Snapshot, strict=False)
_UPDATE = msgspec.json.Decoder(L2Update, strict=False)
_TICKER = msgspec.json.Decoder(Ticker, strict=False)
_MATCH = msgspec.json.Decoder(Match, strict=False)


@dataclass(frozen=True, slots=True)
class CoinbaseTrade:
    """A public trade: the maker's side (Coinbase's ``side``), price, size, id."""

    product_id: str
    trade_id: int
    maker_side: str
    price: float
    size: float
    time: str


class CoinbaseMarketData(StreamClient):
    """Coinbase Exchange public channels for ``products``: a book each, tickers, trades.

    Args:
        url: ``wss://ws-feed.exchange.coinbase.com`` or an emulator's feed URL.
        products: the product ids (``BTC-USD``).
        batch: ``level2_batch`` instead of ``level2``.
        on_trade: called with each ``match``.
        on_top: called with (product, top) after every book message.
    """

    def __init__(
        self,
        url: str,
        products: Sequence[str],
        *,
        batch: bool = False,
        on_trade: Callable[[CoinbaseTrade], None] | None = None,
        on_top: Callable[[str, Top], None] | None = None,
        name: str = "coinbase-market",
    ) -> None:
        self.url = url
        self.products = list(products)
        self.level2 = "level2_batch" if batch else "level2"
        self.on_trade = on_trade
        self.on_top = on_top
        super().__init__(name)
        self.books = {p: Book(p) for p in self.products}
        self.tickers: dict[str, Top] = {}
        #: last ``sequence`` seen per (channel, product)
        self.sequences: dict[tuple[str, str], int] = {}
        #: ticker/match messages whose sequence did not increase (dropped)
        self.out_of_order = 0
        #: frames that did not decode (dropped), and ``error`` messages received
        self.malformed = 0
        self.errors: list[str] = []
        self._synced = {p: asyncio.Event() for p in self.products}

    async def _open(self) -> WebSocket:
        for event in self._synced.values():
            event.clear()
        return await connect(self.url, deflate=False, on_message=self._on_message)

    def _send(self, ws: WebSocket, kind: str, products: list[str], channels: list[str]) -> None:
        message = {"type": kind, "product_ids": products, "channels": channels}
        ws.send(msgspec.json.encode(message).decode())

    async def _on_connected(self, ws: WebSocket) -> None:
        for book in self.books.values():
            book.desync()
        self._send(ws, "subscribe", self.products, [self.level2, "ticker", "matches"])
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self._synced.values())), 10.0)

    def resync(self, ws: WebSocket, product: str) -> None:
        """Drop ``product``'s book and subscribe its level2 again for a new snapshot."""
        self.books[product].desync()
        self._synced[product].clear()
        self._send(ws, "unsubscribe", [product], [self.level2])
        self._send(ws, "subscribe", [product], [self.level2])

    def _on_message(self, ws: WebSocket, message: str | bytes) -> None:
        try:
            head = _HEAD.decode(message)
            kind = head.type
            if kind == "l2update":
                self._on_update(ws, _UPDATE.decode(message))
            elif kind == "snapshot":
                self._on_snapshot(_SNAPSHOT.decode(message))
            elif kind == "ticker":
                ticker = _TICKER.decode(message)
                if self._in_order("ticker", ticker.product_id, ticker.sequence):
                    self.tickers[ticker.product_id] = Top(
                        ticker.best_bid, ticker.best_bid_size, ticker.best_ask, ticker.best_ask_size
                    )
            elif kind in ("match", "last_match"):
                self._on_match(_MATCH.decode(message))
            elif kind == "error":
                self.errors.append(message if isinstance(message, str) else message.decode())
        except (msgspec.MsgspecError, UnicodeDecodeError):
            self.malformed += 1

    def _in_order(self, channel: str, product: str, sequence: int) -> bool:
        key = (channel, product)
        if sequence <= self.sequences.get(key, 0):
            self.out_of_order += 1
            return False
        self.sequences[key] = sequence
        return True

    def _on_snapshot(self, snap: Snapshot) -> None:
        book = self.books.get(snap.product_id)
        if book is None:
            self.malformed += 1
            return
        if book.health().updates:
            book.health().resyncs += 1
        book.replace(snap.bids, snap.asks)
        self._synced[snap.product_id].set()
        if self.on_top is not None:
            self.on_top(snap.product_id, book.top())

    def _on_update(self, ws: WebSocket, update: L2Update) -> None:
        book = self.books.get(update.product_id)
        if book is None:
            self.malformed += 1
            return
        if not book.health().synced:
            return  # before the snapshot (or while fetching one again)
        bids = [(price, size) for side, price, size in update.changes if side == "buy"]
        asks = [(price, size) for side, price, size in update.changes if side != "buy"]
        book.apply(bids, asks)
        if book.crossed():
            book.health().gaps += 1
            self.resync(ws, update.product_id)
            return
        if self.on_top is not None:
            self.on_top(update.product_id, book.top())

    def _on_match(self, match: Match) -> None:
        if not self._in_order("matches", match.product_id, match.sequence):
            return
        if self.on_trade is not None:
            self.on_trade(
                CoinbaseTrade(
                    match.product_id,
                    match.trade_id,
                    match.side,
                    match.price,
                    match.size,
                    match.time,
                )
            )

"""Kraken Spot WebSocket v2 public ``book`` and ``trade`` channels, from the emulator's tape.

Follows Kraken's v2 "Book" channel and the guide "Book checksum (WebSocket v2)": a
``subscribe`` with ``depth`` (10, 25, 100, 500 or 1000; 10 by default) answers with a
``snapshot`` of that many levels a side, then ``update`` messages with absolute quantities
(``qty`` 0 removes a level) and, in both, ``checksum``: the CRC32 of the top 10 asks (low to
high) then the top 10 bids (high to low), each price and quantity formatted with the
pair's precision, the ``.`` removed and leading zeros stripped. A level pushed out of the
subscribed depth by a better one is not removed with a 0 ("truncate your book to the
subscribed depth — you will not receive qty 0 for levels that fall out of scope"); one
that enters the depth because a better one went is sent. Prices and quantities are JSON
numbers carrying the pair's precision (``45283.5``, ``0.10000000``). ``trade`` ("Trade")
sends each fill with the taker's side. ``unsubscribe`` ends either channel. Updates follow
each change: the v2 "Book" page documents no update interval (Binance's and Coinbase's
batched streams do, and ``binance/streams.py`` / ``coinbase/streams.py`` keep them).

Registered with the exchange's ``public_channels`` by ``kraken/exchange.py``. Sans-IO.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from whalewire.emulator.kraken.render import rfc3339
from whalewire.emulator.market import DepthDiff, TapeTrade
from whalewire.emulator.matching import Side, SymbolSpec

if TYPE_CHECKING:
    from whalewire.emulator.kraken.exchange import KrakenExchange, KrakenSession

#: "depth": "Possible values: 10, 25, 100, 500, 1000"
DEPTHS = (10, 25, 100, 500, 1000)
CHECKSUM_LEVELS = 10

Levels = dict[Decimal, Decimal]
#: Kraken's error text for a bad parameter (as ``exchange.py`` words it)
INVALID_ARGUMENTS = "EGeneral:Invalid arguments"


class ChannelError(Exception):
    """A refused ``subscribe``/``unsubscribe``; ``exchange.py`` answers it as a KrakenError."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _places(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _digits(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"


def checksum_text(
    asks: list[tuple[Decimal, Decimal]], bids: list[tuple[Decimal, Decimal]], spec: SymbolSpec
) -> str:
    """Return the string Kraken's checksum hashes: top 10 asks then top 10 bids, best first."""
    pp, qp = _places(spec.tick_size), _places(spec.step_size)
    out = []
    for price, qty in [*asks[:CHECKSUM_LEVELS], *bids[:CHECKSUM_LEVELS]]:
        out.append(_digits(price, pp).replace(".", "").lstrip("0"))
        out.append(_digits(qty, qp).replace(".", "").lstrip("0"))
    return "".join(out)


def checksum(
    asks: list[tuple[Decimal, Decimal]], bids: list[tuple[Decimal, Decimal]], spec: SymbolSpec
) -> int:
    """Return the CRC32 (unsigned) of :func:`checksum_text`."""
    return zlib.crc32(checksum_text(asks, bids, spec).encode()) & 0xFFFFFFFF


class KrakenPublicFeed:
    """Every session's ``book`` and ``trade`` subscriptions, and what each was last sent."""

    def __init__(self, exchange: KrakenExchange) -> None:
        self.exchange = exchange
        #: session -> symbol -> (depth, bids sent, asks sent)
        self._books: dict[KrakenSession, dict[str, tuple[int, Levels, Levels]]] = {}
        self._trades: dict[KrakenSession, set[str]] = {}
        #: the next checksum of each symbol is corrupted when set (tests force a mismatch)
        self.corrupt_next_checksum: set[str] = set()
        exchange.tape.listeners.append(self._on_tape)

    # ------------------------------------------------------------------ requests

    def subscribe(
        self, session: KrakenSession, params: Mapping[str, object], now: int
    ) -> list[dict[str, object]]:
        """``subscribe`` to ``book`` or ``trade``; queue the snapshots."""
        channel = params.get("channel")
        symbols = self._symbols(params)
        results: list[dict[str, object]] = []
        if channel == "book":
            depth = params.get("depth", 10)
            if depth not in DEPTHS:
                raise ChannelError(INVALID_ARGUMENTS + ":depth")
            assert isinstance(depth, int)
            for symbol in symbols:
                self._books.setdefault(session, {})[symbol] = (depth, {}, {})
                results.append(
                    {"channel": "book", "depth": depth, "snapshot": True, "symbol": symbol}
                )
                snapshot = self._book_message(session, symbol, "snapshot", now)
                assert snapshot is not None
                session.queue(snapshot)
        else:
            for symbol in symbols:
                self._trades.setdefault(session, set()).add(symbol)
                results.append({"channel": "trade", "snapshot": False, "symbol": symbol})
        session.heartbeats = True
        return results

    def unsubscribe(
        self, session: KrakenSession, params: Mapping[str, object], now: int
    ) -> list[dict[str, object]]:
        """``unsubscribe`` from ``book`` or ``trade``."""
        channel = params.get("channel")
        symbols = self._symbols(params)
        for symbol in symbols:
            if channel == "book":
                self._books.get(session, {}).pop(symbol, None)
            else:
                self._trades.get(session, set()).discard(symbol)
        return [{"channel": channel, "symbol": symbol} for symbol in symbols]

    def _symbols(self, params: Mapping[str, object]) -> list[str]:
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols:
            raise ChannelError(INVALID_ARGUMENTS + ":symbol")
        for symbol in symbols:
            if symbol not in self.exchange.engine.specs:
                raise ChannelError("Currency pair not supported " + str(symbol))
        return [str(s) for s in symbols]

    # ------------------------------------------------------------------ rendering

    def _book_message(self, session: KrakenSession, symbol: str, kind: str, now: int) -> str | None:
        """Render the session's next book message for ``symbol`` and remember what it saw
        (None: an update that changes nothing within the session's depth)."""
        depth, sent_bids, sent_asks = self._books[session][symbol]
        _, all_bids, all_asks = self.exchange.tape.snapshot(symbol)
        bids, asks = dict(all_bids[:depth]), dict(all_asks[:depth])
        if kind == "snapshot":
            out_bids, out_asks = sorted(bids.items(), reverse=True), sorted(asks.items())
        else:
            full_bids, full_asks = dict(all_bids), dict(all_asks)
            out_bids = _scope_changes(sent_bids, bids, full_bids, reverse=True)
            out_asks = _scope_changes(sent_asks, asks, full_asks, reverse=False)
        self._books[session][symbol] = (depth, bids, asks)
        if kind == "update" and not out_bids and not out_asks:
            return None
        spec = self.exchange.engine.specs[symbol]
        crc = checksum(all_asks[:depth], all_bids[:depth], spec)
        if symbol in self.corrupt_next_checksum:
            self.corrupt_next_checksum.discard(symbol)
            crc ^= 1
        pp, qp = _places(spec.tick_size), _places(spec.step_size)
        row = (
            f'{{"symbol":"{symbol}","bids":{_levels(out_bids, pp, qp)},'
            f'"asks":{_levels(out_asks, pp, qp)},"checksum":{crc}'
        )
        if kind == "update":
            row += f',"timestamp":"{rfc3339(now)}"'
        return f'{{"channel":"book","type":"{kind}","data":[{row}}}]}}'

    def _on_tape(self, diffs: list[DepthDiff], trades: list[TapeTrade]) -> None:
        live = set(self.exchange.sessions)
        for gone in [s for s in self._books if s not in live]:
            del self._books[gone]
        for gone in [s for s in self._trades if s not in live]:
            del self._trades[gone]
        now = self.exchange.clock()
        woken: list[KrakenSession] = []
        changed = {d.symbol for d in diffs}
        for session, books in self._books.items():
            for symbol in sorted(changed & books.keys()):
                message = self._book_message(session, symbol, "update", now)
                if message is not None:
                    session.queue(message)
                    woken.append(session)
        for session, symbols in self._trades.items():
            rows = [self._trade_row(t) for t in trades if t.symbol in symbols]
            if rows:
                session.queue(f'{{"channel":"trade","type":"update","data":[{",".join(rows)}]}}')
                woken.append(session)
        push = self.exchange.on_push
        if push is not None:
            for session in dict.fromkeys(woken):
                push(session)

    def _trade_row(self, trade: TapeTrade) -> str:
        spec = self.exchange.engine.specs[trade.symbol]
        side = "buy" if trade.taker_side is Side.BUY else "sell"
        price = _digits(trade.price, _places(spec.tick_size))
        qty = _digits(trade.qty, _places(spec.step_size))
        return (
            f'{{"symbol":"{trade.symbol}","side":"{side}","price":{price},"qty":{qty},'
            f'"ord_type":"limit","trade_id":{trade.trade_id},"timestamp":"{rfc3339(trade.ts)}"}}'
        )


def _scope_changes(
    sent: Levels, now: Levels, full: Levels, *, reverse: bool
) -> list[tuple[Decimal, Decimal]]:
    out = [(p, q) for p, q in now.items() if sent.get(p) != q]
    # a level that left the depth: 0 only when it left the book, not when pushed out
    out += [(p, Decimal(0)) for p in sent if p not in now and p not in full]
    return sorted(out, reverse=reverse)


def _levels(levels: list[tuple[Decimal, Decimal]], pp: int, qp: int) -> str:
    return (
        "["
        + ",".join(f'{{"price":{_digits(p, pp)},"qty":{_digits(q, qp)}}}' for p, q in levels)
        + "]"
    )

"""Binance Spot WebSocket Streams (``stream.binance.com:9443``) served from the emulator's tape.

Follows ``web-socket-streams.md`` (binance-spot-api-docs): "Raw streams are accessed at
/ws/<streamName>", "Combined streams are accessed at /stream?streams=<streamName1>/
<streamName2>" and "wrapped as follows: {"stream":"<streamName>","data":<rawPayload>}";
"All symbols for streams are lowercase"; live ``SUBSCRIBE`` / ``UNSUBSCRIBE`` /
``LIST_SUBSCRIPTIONS`` ("Live Subscribing/Unsubscribing to streams"). Streams served, with
the payloads of their sections: ``<symbol>@trade`` ("Trade Streams"), ``<symbol>@aggTrade``
("Aggregate Trade Streams": fills of one taker order at one price), ``<symbol>@bookTicker``
("Individual Symbol Book Ticker Streams", on every change of the top), ``<symbol>@depth``
and ``<symbol>@depth@100ms`` ("Diff. Depth Stream": ``U``/``u`` first and final update id,
contiguous with the WebSocket API ``depth`` method's ``lastUpdateId``, so the documented
"How to manage a local order book correctly" procedure works unchanged).

Diffs go at the documented "Update Speed": ``@depth`` every 1000 ms, ``@depth@100ms`` every
100 ms, the SBE ``@depth`` every 50 ms ("SBE Market Data Streams"), each carrying what
changed during its interval (``market.DiffBatcher``: ``U`` the first and ``u`` the last
update id of the interval, each level once with its final quantity); ``@bookTicker`` /
``@bestBidAsk`` and ``@trade`` are "Real time". The SBE host also serves
``<symbol>@depth20`` ("Partial Book Depth Streams": the best 20 levels a side and the
book's update id every 50 ms, whether or not the book changed).
``depth_intervals_ms`` overrides the pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from whalewire.emulator.binance.exchange import BinanceExchange
from whalewire.emulator.binance.rules import fmt
from whalewire.emulator.market import DepthDiff, DiffBatcher, TapeTrade
from whalewire.emulator.matching import Side
from whalewire.net import WebSocket
from whalewire.net.server import Server, serve
from whalewire.venues.binance import sbe
from whalewire.ws.handshake import Request

KINDS = ("trade", "aggTrade", "bookTicker", "depth", "depth@100ms")
#: the SBE stream host's kinds ("SBE Market Data Streams": trade, bestBidAsk, depth)
SBE_KINDS = ("trade", "bestBidAsk", "depth", "depth20")
#: "Diff. Depth Stream" "Update Speed: 1000ms or 100ms" (web-socket-streams.md)
DEPTH_INTERVALS_MS = {"depth": 1000, "depth@100ms": 100}
#: "Diff. Depth Streams" and "Partial Book Depth Streams": "Update Speed: 50ms"
#: (sbe-market-data-streams.md)
SBE_DEPTH_INTERVALS_MS = {"depth": 50, "depth20": 50}
#: the levels a side of ``<symbol>@depth20``
PARTIAL_DEPTH = 20


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


class _Connection:
    """One stream connection: its streams and whether it wraps payloads (combined)."""

    def __init__(self, ws: WebSocket, streams: list[str], combined: bool) -> None:
        self.ws = ws
        self.streams = set(streams)
        self.combined = combined

    def send(self, stream: str, payload: dict[str, object] | bytes) -> None:
        if stream not in self.streams or self.ws.closed:
            return
        if isinstance(payload, bytes):  # SBE: binary, never wrapped
            out: str | bytes = payload
        else:
            out = _dumps({"stream": stream, "data": payload} if self.combined else payload)
        with contextlib.suppress(Exception):  # closing: the event dies with it
            self.ws.send(out)


class BinanceStreams:
    """The market-data stream host of one emulated Binance (its exchange's tape).

    With ``sbe=True`` it is the SBE host (``stream-sbe.binance.com:9443``): the kinds are
    ``trade``, ``bestBidAsk`` and ``depth``, events are binary SBE frames (schema
    ``spot_stream`` 1.0, ``venues/binance/sbe.py``), and the upgrade needs an
    ``X-MBX-APIKEY`` header naming a registered key (401 otherwise).
    """

    def __init__(
        self,
        exchange: BinanceExchange,
        *,
        sbe: bool = False,
        depth_intervals_ms: Mapping[str, int] | None = None,
    ) -> None:
        self.exchange = exchange
        self.sbe = sbe
        self._connections: list[_Connection] = []
        self._server: Server | None = None
        self._tops: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {}
        #: the next diff of each symbol is dropped when set (tests force a gap)
        self.drop_next_diff: set[str] = set()
        intervals = dict(
            depth_intervals_ms or (SBE_DEPTH_INTERVALS_MS if sbe else DEPTH_INTERVALS_MS)
        )
        #: ``depth20`` goes every interval whether or not the book changed (a snapshot, not
        #: a diff): its own timer, started with the listener
        self._partial_ms = intervals.pop("depth20", None)
        self._partial_task: asyncio.Task[None] | None = None
        #: one batcher per diff stream kind, paced at its documented interval
        self.batchers = {
            kind: DiffBatcher(ms, self._releaser(kind)) for kind, ms in intervals.items()
        }
        exchange.tape.listeners.append(self._on_tape)

    @property
    def port(self) -> int:
        """Return the listening port."""
        assert self._server is not None, "start() first"
        return self._server.port

    @property
    def url(self) -> str:
        """Return the base URL (``ws://127.0.0.1:PORT``); add ``/ws/<stream>`` or ``/stream``."""
        return f"ws://127.0.0.1:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Server:
        """Listen on ``host``:``port`` (0: a free port)."""
        self._server = await serve(
            self._handle, host, port, process_request=self._check_path, deflate=False
        )
        if self._partial_ms:
            loop = asyncio.get_running_loop()
            self._partial_task = loop.create_task(self._partial_depth(self._partial_ms / 1000))
        return self._server

    async def close(self) -> None:
        """Stop listening and close every connection."""
        for batcher in self.batchers.values():
            batcher.close()
        if self._partial_task is not None:
            self._partial_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._partial_task
            self._partial_task = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def disconnect_all(self) -> None:
        """Close every stream connection (1001), as the 24-hour cut does."""
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(1001)

    # ------------------------------------------------------------------ connections

    def _streams_of(self, target: str) -> tuple[list[str], bool] | None:
        split = urlsplit(target)
        path = split.path.rstrip("/")
        if path.startswith("/ws"):
            # a raw path part that is no stream name (no "@") still connects, as Binance's
            # does: clients open /ws/<their connection number> and SUBSCRIBE (ccxt); a
            # stream name is checked (an unknown one is refused at the upgrade)
            names = [n for n in path[3:].split("/") if "@" in n]
            return names, False
        if path == "/stream":
            names = [n for n in parse_qs(split.query).get("streams", [""])[0].split("/") if n]
            return names, True
        return None

    def _valid(self, name: str) -> bool:
        symbol, _, kind = name.partition("@")
        kinds = SBE_KINDS if self.sbe else KINDS
        return kind in kinds and symbol.upper() in self.exchange.engine.specs

    def _check_path(self, request: Request) -> tuple[int, Sequence[tuple[str, str]], bytes] | None:
        found = self._streams_of(request.target)
        if found is None:
            return 404, [("Content-Type", "text/plain")], b"not found: /ws/<stream> or /stream\n"
        if (
            self.sbe
            and self.exchange.registry.lookup(request.headers.get("X-MBX-APIKEY") or "") is None
        ):
            return 401, [("Content-Type", "text/plain")], b"X-MBX-APIKEY: no such key\n"
        bad = [n for n in found[0] if not self._valid(n)]
        if bad:
            return 400, [("Content-Type", "text/plain")], f"Invalid stream: {bad[0]}\n".encode()
        return None

    async def _handle(self, ws: WebSocket) -> None:
        found = self._streams_of(ws.path)
        assert found is not None  # _check_path answered anything else
        conn = _Connection(ws, *found)
        self._connections.append(conn)
        try:
            async for message in ws:
                if isinstance(message, str):
                    ws.send(self._live(conn, message))
        finally:
            self._connections.remove(conn)

    def _live(self, conn: _Connection, text: str) -> str:
        # "Live Subscribing/Unsubscribing to streams"
        try:
            req = json.loads(text)
            method, req_id = req["method"], req.get("id")
        except (ValueError, TypeError, KeyError):
            return _dumps({"code": 3, "msg": "Invalid JSON: expected an object with a method"})
        params = req.get("params") or []
        if method == "LIST_SUBSCRIPTIONS":
            return _dumps({"result": sorted(conn.streams), "id": req_id})
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            return _dumps({"code": 2, "msg": f"Invalid request: unknown method {method}"})
        bad = [p for p in params if not isinstance(p, str) or not self._valid(p)]
        if bad:
            return _dumps({"code": 2, "msg": f"Invalid request: invalid stream {bad[0]}"})
        if method == "SUBSCRIBE":
            conn.streams.update(params)
        else:
            conn.streams.difference_update(params)
        return _dumps({"result": None, "id": req_id})

    # ------------------------------------------------------------------ rendering

    def _on_tape(self, diffs: list[DepthDiff], trades: list[TapeTrade]) -> None:
        if self.sbe:
            self._on_tape_sbe(diffs, trades)
            return
        now = self.exchange.clock()
        for trade in trades:
            self._publish(f"{trade.symbol.lower()}@trade", _trade(trade, now))
        for agg in _aggregate(trades):
            self._publish(f"{agg[0].symbol.lower()}@aggTrade", _agg_trade(agg, now))
        self._batch(diffs)
        for diff in diffs:
            self._book_ticker(diff.symbol, diff.last_id)

    def _batch(self, diffs: list[DepthDiff]) -> None:
        kept = [d for d in diffs if d.symbol not in self.drop_next_diff]
        self.drop_next_diff.difference_update(d.symbol for d in diffs)
        for batcher in self.batchers.values():
            batcher.add(kept)

    def _releaser(self, kind: str) -> Callable[[list[DepthDiff]], None]:
        def release(diffs: list[DepthDiff]) -> None:
            now = self.exchange.clock()
            for diff in diffs:
                stream = f"{diff.symbol.lower()}@{kind}"
                if self.sbe:
                    self._publish(stream, self._sbe_depth(diff, now))
                else:
                    self._publish(stream, _depth_update(diff, now))

        return release

    def _book_ticker(self, symbol: str, update_id: int) -> None:
        _, bids, asks = self.exchange.tape.snapshot(symbol)
        zero = Decimal(0)
        bid, bid_qty = bids[0] if bids else (zero, zero)
        ask, ask_qty = asks[0] if asks else (zero, zero)
        top = (bid, bid_qty, ask, ask_qty)
        if self._tops.get(symbol) == top:
            return
        self._tops[symbol] = top
        payload: dict[str, object] = {
            "u": update_id,
            "s": symbol,
            "b": fmt(bid),
            "B": fmt(bid_qty),
            "a": fmt(ask),
            "A": fmt(ask_qty),
        }
        self._publish(f"{symbol.lower()}@bookTicker", payload)

    def _on_tape_sbe(self, diffs: list[DepthDiff], trades: list[TapeTrade]) -> None:
        now_us = self.exchange.clock() * 1000
        by_symbol: dict[str, list[TapeTrade]] = {}
        for trade in trades:
            by_symbol.setdefault(trade.symbol, []).append(trade)
        for symbol, group in by_symbol.items():
            pe, qe = self._exponents(symbol)
            rows = [
                (
                    t.trade_id,
                    _mantissa(t.price, pe),
                    _mantissa(t.qty, qe),
                    t.taker_side is Side.SELL,
                )
                for t in group
            ]
            frame = sbe.encode_trades(symbol, time_us=now_us, exponents=(pe, qe), trades=rows)
            self._publish(f"{symbol.lower()}@trade", frame)
        self._batch(diffs)
        for diff in diffs:
            pe, qe = self._exponents(diff.symbol)
            _, bids, asks = self.exchange.tape.snapshot(diff.symbol)
            zero = (Decimal(0), Decimal(0))
            (bid, bq), (ask, aq) = bids[0] if bids else zero, asks[0] if asks else zero
            top = (_mantissa(bid, pe), _mantissa(bq, qe), _mantissa(ask, pe), _mantissa(aq, qe))
            frame = sbe.encode_best_bid_ask(
                diff.symbol, time_us=now_us, update_id=diff.last_id, exponents=(pe, qe), top=top
            )
            self._publish(f"{diff.symbol.lower()}@bestBidAsk", frame)

    def _sbe_depth(self, diff: DepthDiff, now_ms: int) -> bytes:
        pe, qe = self._exponents(diff.symbol)
        return sbe.encode_depth_diff(
            diff.symbol,
            time_us=now_ms * 1000,
            first=diff.first_id,
            last=diff.last_id,
            exponents=(pe, qe),
            bids=[(_mantissa(p, pe), _mantissa(q, qe)) for p, q in diff.bids],
            asks=[(_mantissa(p, pe), _mantissa(q, qe)) for p, q in diff.asks],
        )

    async def _partial_depth(self, interval_s: float) -> None:
        # "Partial Book Depth Streams" push the top 20 every 50 ms, changed or not
        loop = asyncio.get_running_loop()
        tick = loop.time()
        while True:
            tick += interval_s
            await asyncio.sleep(max(0.0, tick - loop.time()))
            wanted = {
                name.partition("@")[0]
                for conn in self._connections
                for name in conn.streams
                if name.endswith("@depth20")
            }
            now = self.exchange.clock()
            for symbol in sorted(wanted):
                self._publish(f"{symbol}@depth20", self._sbe_partial_depth(symbol.upper(), now))

    def _sbe_partial_depth(self, symbol: str, now_ms: int) -> bytes:
        # the book as the interval ends: its top 20 a side, and the update id it stands at
        update_id, bids, asks = self.exchange.tape.snapshot(symbol)
        pe, qe = self._exponents(symbol)
        return sbe.encode_depth_snapshot(
            symbol,
            time_us=now_ms * 1000,
            update_id=update_id,
            exponents=(pe, qe),
            bids=[(_mantissa(p, pe), _mantissa(q, qe)) for p, q in bids[:PARTIAL_DEPTH]],
            asks=[(_mantissa(p, pe), _mantissa(q, qe)) for p, q in asks[:PARTIAL_DEPTH]],
        )

    def _exponents(self, symbol: str) -> tuple[int, int]:
        spec = self.exchange.engine.specs[symbol]
        return _exponent(spec.tick_size), _exponent(spec.step_size)

    def _publish(self, stream: str, payload: dict[str, object] | bytes) -> None:
        for conn in self._connections:
            conn.send(stream, payload)


def _trade(trade: TapeTrade, now: int) -> dict[str, object]:
    return {
        "e": "trade",
        "E": now,
        "s": trade.symbol,
        "t": trade.trade_id,
        "p": fmt(trade.price),
        "q": fmt(trade.qty),
        "T": trade.ts,
        # "Is the buyer the market maker?": the taker sold
        "m": trade.taker_side is Side.SELL,
        "M": True,
    }


def _aggregate(trades: list[TapeTrade]) -> list[list[TapeTrade]]:
    groups: list[list[TapeTrade]] = []
    for trade in trades:
        last = groups[-1][-1] if groups else None
        if last is not None and (last.taker_order, last.price) == (trade.taker_order, trade.price):
            groups[-1].append(trade)
        else:
            groups.append([trade])
    return groups


def _agg_trade(group: list[TapeTrade], now: int) -> dict[str, object]:
    first, last = group[0], group[-1]
    return {
        "e": "aggTrade",
        "E": now,
        "s": first.symbol,
        # one aggregate per first trade: its id is the first trade's (unique, increasing)
        "a": first.trade_id,
        "p": fmt(first.price),
        "q": fmt(sum((t.qty for t in group), Decimal(0))),
        "f": first.trade_id,
        "l": last.trade_id,
        "T": first.ts,
        "m": first.taker_side is Side.SELL,
        "M": True,
    }


def _depth_update(diff: DepthDiff, now: int) -> dict[str, object]:
    return {
        "e": "depthUpdate",
        "E": now,
        "s": diff.symbol,
        "U": diff.first_id,
        "u": diff.last_id,
        "b": [[fmt(p), fmt(q)] for p, q in diff.bids],
        "a": [[fmt(p), fmt(q)] for p, q in diff.asks],
    }


def _exponent(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return min(0, exponent)


def _mantissa(value: Decimal, exponent: int) -> int:
    return int(value.scaleb(-exponent))

"""Coinbase Exchange public feed channels ``level2``, ``level2_batch`` and ``ticker``.

Follows "Exchange WebSocket Channels": subscribing to ``level2`` sends a ``snapshot``
(``bids`` / ``asks`` as ``[price, size]``, the whole book), then ``l2update`` messages whose
``changes`` are ``[side, price, size]`` with the new absolute size ("size 0 indicates the
price level can be removed"); ``level2_batch`` carries the same messages batched "every
0.05 seconds" (Coinbase help, "Exchange WebSocket feeds"): one ``l2update`` per product and
interval with each changed level once at its final size (``market.DiffBatcher``).
``ticker`` follows every ``match`` with the match's ``sequence``, ``trade_id``, price, the
taker's side and the best bid and ask after it. ``matches`` is the full channel's ``match``
messages, routed by ``feed.py``. The level2 messages carry no sequence, as Coinbase's do
not.

Registered as ``exchange.public`` by ``coinbase/exchange.py``; reads subscriptions from each
``feed.CoinbaseFeedSession``. Sans-IO.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from whalewire.emulator.coinbase.render import fmt, iso_time
from whalewire.emulator.market import DepthDiff, DiffBatcher, MarketTape, TapeTrade

if TYPE_CHECKING:
    from whalewire.emulator.coinbase.exchange import CoinbaseExchange
    from whalewire.emulator.coinbase.feed import CoinbaseFeedSession

LEVEL2 = ("level2", "level2_batch")
#: "The level2 batch channel batches level2 messages every 0.05 seconds"
BATCH_INTERVAL_MS = 50
#: the channels anyone may subscribe to without authenticating
PUBLIC = frozenset({"heartbeat", "ticker", "matches", *LEVEL2})


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def snapshot(tape: MarketTape, product: str) -> str:
    """Render the ``level2`` snapshot of ``product``: the whole book, best first."""
    _, bids, asks = tape.snapshot(product)
    return _dumps(
        {
            "type": "snapshot",
            "product_id": product,
            "bids": [[fmt(p, 8), fmt(q, 8)] for p, q in bids],
            "asks": [[fmt(p, 8), fmt(q, 8)] for p, q in asks],
        }
    )


class CoinbasePublicFeed:
    """Turns the tape and the full channel's matches into ``level2`` and ``ticker`` messages."""

    def __init__(
        self, exchange: CoinbaseExchange, batch_interval_ms: int = BATCH_INTERVAL_MS
    ) -> None:
        self.exchange = exchange
        #: ``level2_batch``'s diffs until their interval ends
        self.batcher = DiffBatcher(
            batch_interval_ms, lambda diffs: self._send("level2_batch", diffs)
        )
        exchange.tape.listeners.append(self._on_tape)

    def _sessions(self, channels: tuple[str, ...], product: str) -> list[CoinbaseFeedSession]:
        return [
            s
            for s in self.exchange.sessions
            if any(product in s.channels.get(c, ()) for c in channels)
        ]

    def _on_tape(self, diffs: list[DepthDiff], trades: list[TapeTrade]) -> None:
        self._send("level2", diffs)
        self.batcher.add(diffs)

    def _send(self, channel: str, diffs: list[DepthDiff]) -> None:
        pushed: list[CoinbaseFeedSession] = []
        for diff in diffs:
            sessions = self._sessions((channel,), diff.symbol)
            if not sessions:
                continue
            changes = [["buy", fmt(p, 8), fmt(q, 8)] for p, q in reversed(diff.bids)]
            changes += [["sell", fmt(p, 8), fmt(q, 8)] for p, q in diff.asks]
            text = _dumps(
                {
                    "type": "l2update",
                    "product_id": diff.symbol,
                    "time": iso_time(diff.ts),
                    "changes": changes,
                }
            )
            for session in sessions:
                session.outbox.append(text)
            pushed += sessions
        # a batch leaves on its timer, outside any request: the transport must be told
        if channel == "level2_batch" and self.exchange.on_push is not None:
            for session in dict.fromkeys(pushed):
                self.exchange.on_push(session)

    def after(self, message: Mapping[str, Any]) -> None:
        """Follow a full-channel message: a ``match`` makes a ``ticker``."""
        if message.get("type") != "match":
            return
        product = str(message["product_id"])
        sessions = self._sessions(("ticker",), product)
        if not sessions:
            return
        _, bids, asks = self.exchange.tape.snapshot(product)
        zero = (Decimal(0), Decimal(0))
        bid, bid_size = bids[0] if bids else zero
        ask, ask_size = asks[0] if asks else zero
        price = str(message["price"])
        text = _dumps(
            {
                "type": "ticker",
                "sequence": message["sequence"],
                "product_id": product,
                "price": price,
                "open_24h": price,
                "volume_24h": fmt(self.exchange.render.volume.get(product, Decimal(0)), 8),
                "low_24h": price,
                "high_24h": price,
                "best_bid": fmt(bid, 8),
                "best_bid_size": fmt(bid_size, 8),
                "best_ask": fmt(ask, 8),
                "best_ask_size": fmt(ask_size, 8),
                # a match's side is the maker's; the ticker's is the taker's
                "side": "sell" if message["side"] == "buy" else "buy",
                "time": message["time"],
                "trade_id": message["trade_id"],
                "last_size": message["size"],
            }
        )
        for session in sessions:
            session.outbox.append(text)

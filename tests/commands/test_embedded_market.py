"""``commands/embedded.build``: an embedded exchange publishes its market data and the engine
follows it, as ``whalewire run`` / ``whalewire demo`` do: each venue's live book syncs
(Binance from its stream host and WebSocket API snapshot, Kraken and Coinbase from their
feed), equals the emulated exchange's, shows in the status view, and marks the risk engine
at its mid."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.commands.support import VENUES, paper_config
from tests.emulator.support import engine_levels

from whalewire.commands.embedded import build
from whalewire.engine.config import parse_config
from whalewire.venues.books import BookSide


def exchange_of(emulator: Any) -> Any:
    """The emulated exchange behind what ``build`` started (Binance's comes with streams)."""
    return getattr(emulator, "emulator", emulator).exchange


@pytest.mark.parametrize("venue", sorted(VENUES))
async def test_embedded_venue_book_syncs_shows_in_status_and_marks_risk(
    venue: str, tmp_path: Path
) -> None:
    symbol = VENUES[venue]
    running = await build(parse_config(paper_config(venue, tmp_path)))
    try:
        book = running.market.books[(venue, symbol)]
        exchange = exchange_of(running.emulators[0])
        for _ in range(500):
            bids, asks = engine_levels(exchange, symbol)
            if book.health().synced and book.top()[::2] == (bids[0][0], asks[0][0]):
                break
            await asyncio.sleep(0.01)
        assert book.health().synced
        assert (book.levels(BookSide.BID)[0], book.levels(BookSide.ASK)[0]) == (bids[0], asks[0])
        row = running.engine.view.books()[f"{venue}:{symbol}"]  # type: ignore[misc]
        assert row["synced"] is True and row["bid"] == bids[0][0]
        mid = book.top().mid
        assert running.engine.risk.books[symbol].last_price == Decimal(repr(mid))
        assert running.engine.strategy.books[(venue, symbol)] is book
    finally:
        await running.close()


async def test_embedded_binance_book_follows_the_price_walk(tmp_path: Path) -> None:
    running = await build(parse_config(paper_config("binance", tmp_path)))
    try:
        book = running.market.books[("binance", "BTCUSDT")]
        for _ in range(500):
            if book.health().synced:
                break
            await asyncio.sleep(0.01)
        first = book.health().updates
        for _ in range(500):  # the paper walk re-quotes every second
            if book.health().updates > first:
                break
            await asyncio.sleep(0.01)
        assert book.health().updates > first and book.health().gaps == 0
        mid = book.top().mid
        assert running.engine.risk.books["BTCUSDT"].last_price == Decimal(repr(mid))
    finally:
        await running.close()

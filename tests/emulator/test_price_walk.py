"""The house's seeded random walk: a moving market for paper positions, bounded in memory."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
import websockets
from tests.emulator.support import SPEC, limit, make_engine

from whalewire.emulator.binance.exchange import BinanceConfig
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.book import (
    HOUSE_ACCOUNT,
    BookConfig,
    PriceWalk,
    seed_book,
    synthetic_levels,
)
from whalewire.emulator.matching import OrderTraded, Side

D = Decimal
MID = D(60_000)


def seeded_engine():
    engine = make_engine()
    seed_book(engine, "BTCUSDT", synthetic_levels(SPEC, BookConfig(mid=MID, levels=5)))
    return engine


def best(engine) -> tuple[Decimal, Decimal]:
    bids, asks = engine.depth("BTCUSDT")
    return bids[0][0], asks[0][0]


def walk_mids(seed: int, steps: int) -> list[Decimal]:
    engine = seeded_engine()
    walk = PriceWalk({"BTCUSDT": MID}, volatility_bps=10, levels=5, seed=seed)
    out = []
    for _ in range(steps):
        walk.step(engine)
        out.append(walk.mids["BTCUSDT"])
    return out


def test_same_seed_same_walk_and_another_seed_another():
    assert walk_mids(7, 20) == walk_mids(7, 20)
    assert walk_mids(7, 20) != walk_mids(8, 20)
    assert len(set(walk_mids(7, 20))) > 1  # it moves


def test_each_step_requotes_the_house_around_the_new_mid():
    engine = seeded_engine()
    walk = PriceWalk({"BTCUSDT": MID}, volatility_bps=50, levels=5, seed=1)
    for _ in range(10):
        walk.step(engine)
        mid = walk.mids["BTCUSDT"]
        bid, ask = best(engine)
        assert bid < ask
        assert bid <= mid <= ask
        # the old ladder is gone: exactly the new one rests (5 levels a side at most)
        assert len(engine.open_orders(HOUSE_ACCOUNT, "BTCUSDT")) <= 10


def test_a_new_ladder_that_crosses_a_client_order_fills_it():
    engine = seeded_engine()
    _, ask = best(engine)
    resting_sell = ask + D(50)  # above the house's asks: rests
    events = engine.place(limit("alice", Side.SELL, "0.01", str(resting_sell)))
    assert not [e for e in events if isinstance(e, OrderTraded)]
    walk = PriceWalk({"BTCUSDT": MID * D("1.01")}, volatility_bps=0, levels=5)
    fills = [
        e for e in walk.step(engine) if isinstance(e, OrderTraded) and e.order.account_id == "alice"
    ]
    assert fills and fills[-1].order.status.value == "FILLED"


def test_requoting_forgets_cancelled_house_orders_and_does_not_inflate_the_house():
    engine = seeded_engine()
    walk = PriceWalk({"BTCUSDT": MID}, volatility_bps=5, levels=5, seed=3)
    walk.step(engine)
    first_ids = [v.order_id for v in engine.open_orders(HOUSE_ACCOUNT, "BTCUSDT")]
    house = engine.registry.accounts[HOUSE_ACCOUNT]
    btc_after_one = house.balance("BTC").free + house.balance("BTC").locked
    for _ in range(200):
        walk.step(engine)
    assert all(engine.get_order(HOUSE_ACCOUNT, "BTCUSDT", order_id=i) is None for i in first_ids)
    btc_now = house.balance("BTC").free + house.balance("BTC").locked
    assert btc_now <= btc_after_one * 2  # only shortfalls are deposited


def test_negative_volatility_is_refused():
    with pytest.raises(ValueError, match="volatility_bps"):
        PriceWalk({"BTCUSDT": MID}, volatility_bps=-1)


def test_a_walking_emulator_moves_its_book_over_loopback():
    async def scenario() -> None:
        emulator = BinanceEmulator(BinanceConfig(walk_bps=20, walk_interval_s=0.02, seed=5))
        await emulator.start()
        try:
            async with websockets.connect(emulator.url) as ws:
                seen = set()
                for i in range(100):
                    await ws.send(
                        json.dumps(
                            {
                                "id": str(i),
                                "method": "depth",
                                "params": {"symbol": "BTCUSDT", "limit": 1},
                            }
                        )
                    )
                    while True:
                        answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
                        if answer.get("id") == str(i):
                            break
                    seen.add(answer["result"]["bids"][0][0])
                    if len(seen) >= 3:
                        break
                    await asyncio.sleep(0.02)
                assert len(seen) >= 3
        finally:
            await emulator.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))

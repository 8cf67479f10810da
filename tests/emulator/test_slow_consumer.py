"""The slow-consumer fault: the emulated venue reads requests at a bounded pace."""

from __future__ import annotations

import asyncio
import json
import time

from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.faults import FaultPlan
from whalewire.net.client import connect


async def test_requests_sent_at_once_are_answered_at_the_consumers_pace_and_in_order() -> None:
    emulator = BinanceEmulator(faults=FaultPlan(consume_delay_ms=40))
    await emulator.start()
    try:
        ws = await connect(emulator.url, deflate=False)
        start = time.monotonic()
        for i in range(8):
            ws.send(json.dumps({"id": f"p{i}", "method": "ping"}))
        ids = []
        async with asyncio.timeout(10):
            while len(ids) < 8:
                ids.append(json.loads(await ws.recv())["id"])
        elapsed = time.monotonic() - start
        await ws.close()
    finally:
        await emulator.close()
    assert ids == [f"p{i}" for i in range(8)]
    # the 8th answer comes after 7 pauses of 40 ms: the venue, not the client, set the pace
    assert elapsed >= 7 * 0.040

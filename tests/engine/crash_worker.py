"""A real engine process for the crash tests: submit orders until killed.

Run as ``python -m tests.engine.crash_worker CONFIG ORDERS``. It builds the engine from the
configuration (reconciling whatever an earlier, killed run left open), prints one line per
reconciliation result, then submits ``ORDERS`` market sells one after another, printing
``sent <client order id>`` after each write. The test kills it with SIGKILL at a random
line: mid-order, between journal and socket, or between socket and acknowledgement.
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal

from whalewire.engine.config import load_config
from whalewire.engine.runner import build
from whalewire.model import Side, SubmitOrder


async def main(config_path: str, orders: int) -> None:
    running = await build(load_config(config_path))
    engine = running.engine
    print(f"reconciled {running.reconciled}", flush=True)
    for _ in range(orders):
        cmd = SubmitOrder(
            client_order_id=engine._next_id("binance"),
            ts_init=engine._now(),
            venue="binance",
            symbol="BTCUSDT",
            side=Side.SELL,
            quantity=Decimal("0.001"),
        )
        order = engine.submit(cmd)
        print(f"sent {cmd.client_order_id} {order.status.value}", flush=True)
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)  # let the last answers arrive
    open_ = [o.client_order_id for o in engine.orders.values() if not o.is_final]
    print(f"done open={open_}", flush=True)
    await running.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))

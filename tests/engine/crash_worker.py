"""A real engine process for the crash tests: submit orders until killed.

Run as ``python -m tests.engine.crash_worker CONFIG ORDERS [DIE_AFTER_WRITE]``. It builds
the engine from the configuration (reconciling whatever an earlier, killed run left open),
prints one line per reconciliation result, then submits ``ORDERS`` market sells one after
another, printing ``sent <client order id>`` after each write. The test kills it with
SIGKILL at a random line: mid-order, between journal and socket, or between socket and
acknowledgement. With ``DIE_AFTER_WRITE`` = n, the process SIGKILLs itself right after the
n-th order's bytes were written: its intent is in the intent log, its SQLite row not yet.

Run as ``python -m tests.engine.crash_worker CONFIG feed SECONDS`` it trades the
configured feeds instead (the whales they bring), printing ``armed`` once the journal's
open orders are reconciled, for ``SECONDS`` or until killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from decimal import Decimal

from rich.console import Console

from whalewire.commands.embedded import build
from whalewire.engine.config import load_config
from whalewire.engine.runner import run
from whalewire.model import Side, SubmitOrder


async def main(config_path: str, orders: int, die_after_write: int = 0) -> None:
    running = await build(load_config(config_path))
    engine = running.engine
    print(f"reconciled {running.reconciled}", flush=True)
    if die_after_write:
        die_between_intent_and_row(engine.venues["binance"], die_after_write)
    for _ in range(orders):
        cmd = SubmitOrder(
            client_order_id=engine.ids.next("binance"),
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


async def trade_feeds(config_path: str, seconds: float) -> None:
    running = await build(load_config(config_path))
    print("armed", flush=True)
    try:
        await run(running, seconds=seconds, dashboard=False, console=Console(quiet=True))
    finally:
        await running.close()
    print("done", flush=True)


def die_between_intent_and_row(venue: object, nth: int) -> None:
    """Make the process SIGKILL itself once ``venue.place`` has written the nth order."""
    place = venue.place  # type: ignore[attr-defined]
    count = 0

    def place_then_die(command: SubmitOrder) -> int:
        nonlocal count
        written: int = place(command)
        count += 1
        if count == nth:
            print(f"sent {command.client_order_id} then killed", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return written

    venue.place = place_then_die  # type: ignore[attr-defined]


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[1] == "feed":
        asyncio.run(trade_feeds(argv[0], float(argv[2])))
        sys.exit(0)
    asyncio.run(main(argv[0], int(argv[1]), int(argv[2]) if len(argv) > 2 else 0))

"""A standalone emulated Binance for the soak, steered over stdin, one JSON object a line.

Run as ``python -m tests.soak.emulator_worker``. It prints ``{"url", "api_key", "secret"}``
for a funded account (BTC 10, USDT 1,000,000), then answers each command line with one
JSON line:

- ``{"cmd": "faults", "plan": {...} | null}``: apply a ``FaultPlan`` (its fields) from the
  next request on, on every connection; null turns faults off;
- ``{"cmd": "disconnect"}``: cut every connection now, orders in flight or not;
- ``{"cmd": "orders"}``: the venue's own record of every order of the account (the ground
  truth the soak compares the journal with);
- ``{"cmd": "faults_hit"}``: how many requests each fault kind hit so far.

Unlike ``whalewire emulator`` it offers every fault of ``FaultPlan`` (server errors and
disconnects too) and can change them while clients stay connected.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from typing import Any

from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.faults import FaultDecision, FaultInjector, FaultPlan

SYMBOL = "BTCUSDT"


class CountingInjector(FaultInjector):
    """A ``FaultInjector`` that also counts the decisions it hands out, by fault kind."""

    def __init__(self, plan: FaultPlan, counts: Counter[str]) -> None:
        super().__init__(plan)
        self.counts = counts

    def next_decision(self) -> FaultDecision:
        decision = super().next_decision()
        self.counts["requests"] += 1
        if decision.kind is not None:
            self.counts[decision.kind.value] += 1
        return decision


class CountingEmulator(BinanceEmulator):
    """The emulator, with every connection's injector counting what it injects."""

    def __init__(self) -> None:
        self.fault_counts: Counter[str] = Counter()
        super().__init__()

    def _injector(self, number: int) -> FaultInjector | None:
        # the server derives one injector per connection and plan; wrap it to count
        injector = super()._injector(number)
        if injector is None:
            return None
        return CountingInjector(injector.plan, self.fault_counts)


def _orders(emulator: BinanceEmulator, account: str) -> list[dict[str, Any]]:
    engine = emulator.exchange.engine
    out = []
    for order_id in range(1, engine.next_order_id):
        view = engine.get_order(account, SYMBOL, order_id)
        if view is None:
            continue  # another account's (the house book's) order
        out.append(
            {
                "order_id": view.order_id,
                "client_order_id": view.client_order_id,
                "status": view.status.value,
                "side": view.side.value,
                "orig_qty": str(view.orig_qty),
                "executed_qty": str(view.executed_qty),
            }
        )
    return out


async def main() -> None:
    emulator = CountingEmulator()
    creds = emulator.exchange.open_default_account()
    await emulator.start()
    print(
        json.dumps(
            {"url": emulator.url, "api_key": creds.hmac_api_key, "secret": creds.hmac_secret}
        ),
        flush=True,
    )
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break  # the harness went away: stop
        cmd = json.loads(line)
        reply: dict[str, Any] = {"ok": True}
        if cmd["cmd"] == "faults":
            plan = cmd["plan"]
            if plan is not None and plan.get("storm") is not None:
                plan["storm"] = tuple(plan["storm"])
            emulator.set_faults(None if plan is None else FaultPlan(**plan))
        elif cmd["cmd"] == "disconnect":
            await emulator.disconnect_all()
        elif cmd["cmd"] == "orders":
            reply["orders"] = _orders(emulator, creds.account_id)
        elif cmd["cmd"] == "faults_hit":
            reply["faults_hit"] = dict(emulator.fault_counts)
        else:
            reply = {"ok": False, "error": f"unknown command {cmd['cmd']!r}"}
        print(json.dumps(reply), flush=True)
    await emulator.close()


if __name__ == "__main__":
    asyncio.run(main())

"""Dry run: the never-sent order is final at once (DENIED DRY_RUN), and no count says "sent"."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from whalewire.commands.embedded import build
from whalewire.engine.config import parse_config
from whalewire.engine.runner import run


def test_dry_run_orders_are_never_counted_sent_nor_reconciled(tmp_path: Path) -> None:
    config = parse_config(
        f'[engine]\nmode = "dry-run"\njournal = "{tmp_path / "j.db"}"\nack_timeout_s = 0.5\n'
        f'[control]\nport = 0\nkill_file = "{tmp_path / "kill"}"\n'
        '[[feeds]]\ntype = "replay"\nspeed = 20.0\n'
    )

    async def main() -> dict[str, Any]:
        running = await build(config)
        try:
            return await run(running, seconds=4.0, dashboard=False)
        finally:
            await running.close()

    status = asyncio.run(main())
    orders = status["orders"]
    assert orders["dry_run"] >= 1
    assert orders["sent"] == 0
    assert status["connections"][0]["sent"] == 0
    statuses = {(o["status"], o["reason"]) for o in orders["recent"]}
    assert statuses == {("DENIED", "DRY_RUN")}  # never NOT_FOUND after an ack timeout
    decisions = [w["decision"] for w in status["whales"]["recent"]]
    assert decisions[0] == "dry-run SELL 0.001"

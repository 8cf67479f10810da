"""Read stamps (``emulator.stamps``): when the venue read each order, on the clock we share.

Over real loopback with a real peer client (``websockets``), in process and through
``whalewire emulator --stamp-reads`` as the end-to-end benchmark runs it. The requests
follow Binance ``web-socket-api.md`` ("SIGNED request example (HMAC)").
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import websockets
from tests.emulator.support import PROCESS_TIMEOUT as TIMEOUT
from tests.emulator.support import hmac_sign, read_banner, request, run

from whalewire.emulator.binance.exchange import BinanceConfig
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.stamps import ReadStamps, load


def order(api_key: str, secret: str, cid: str) -> dict[str, Any]:
    params = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "MARKET",
        "quantity": "0.01000",
        "newClientOrderId": cid,
        "apiKey": api_key,
        "timestamp": time.time_ns() // 1_000_000,
    }
    return hmac_sign(params, secret)


def test_each_order_is_stamped_between_its_send_and_its_answer_and_nothing_else_is(
    tmp_path: Path,
) -> None:
    path = tmp_path / "reads"

    async def scenario() -> list[tuple[int, int]]:
        stamps = ReadStamps(path)
        emulator = BinanceEmulator(
            BinanceConfig(book_levels=5), ping_interval=3600, read_stamps=stamps
        )
        creds = emulator.exchange.open_default_account()
        await emulator.start()
        windows = []
        try:
            async with websockets.connect(emulator.url) as ws:
                await request(ws, "t", "time")  # no client order id: not stamped
                for cid in ("bench-1", "bench-2"):
                    before = time.perf_counter_ns()
                    placed, _ = await request(
                        ws, cid, "order.place", order(creds.hmac_api_key, creds.hmac_secret, cid)
                    )
                    windows.append((before, time.perf_counter_ns()))
                    assert placed["status"] == 200, placed
        finally:
            await emulator.close()
            stamps.close()
        assert stamps.count == 2
        return windows

    windows = run(scenario())
    got = load(path)
    assert sorted(got) == ["bench-1", "bench-2"]
    for cid, (before, after) in zip(("bench-1", "bench-2"), windows, strict=True):
        assert before < got[cid] < after


def test_emulator_command_stamps_reads_on_the_clock_another_process_reads(tmp_path: Path) -> None:
    path = tmp_path / "reads"

    async def scenario() -> tuple[int, int]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "whalewire",
            "emulator",
            "--port",
            "0",
            "--stamp-reads",
            str(path),
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            fields = await read_banner(proc.stdout)
            async with websockets.connect(fields["endpoint"]) as ws:
                params = order(fields["hmac_key"], fields["hmac_secret"], "cross-process")
                before = time.perf_counter_ns()
                await ws.send(json.dumps({"id": 1, "method": "order.place", "params": params}))
                response = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                after = time.perf_counter_ns()
            assert response["status"] == 200, response
            return before, after
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), TIMEOUT)

    before, after = asyncio.run(scenario())
    # written before the answer: complete although the emulator was stopped by a signal
    assert before < load(path)["cross-process"] < after

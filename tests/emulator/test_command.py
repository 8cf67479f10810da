"""``whalewire emulator`` as a user runs it: a subprocess that prints its URL and keys.

Binance issues HMAC API keys and secrets as 64 alphanumeric characters (the example key
in ``web-socket-api.md``, "SIGNED request example (HMAC)").
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time

import websockets
from tests.emulator.support import hmac_sign, read_banner

TIMEOUT = 20.0
KEY = re.compile(r"^[A-Za-z0-9]{64}$")


def test_emulator_command_prints_a_working_endpoint_and_keys():
    async def scenario() -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "whalewire",
            "emulator",
            "--venue",
            "binance",
            "--port",
            "0",
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            fields = await read_banner(proc.stdout)
            assert re.match(r"^ws://127\.0\.0\.1:\d+/ws-api/v3$", fields["endpoint"])
            assert KEY.match(fields["hmac_key"]) and KEY.match(fields["hmac_secret"])
            async with websockets.connect(fields["endpoint"]) as ws:
                params = hmac_sign(
                    {"apiKey": fields["hmac_key"], "timestamp": time.time_ns() // 1_000_000},
                    fields["hmac_secret"],
                )
                await ws.send(json.dumps({"id": 1, "method": "account.status", "params": params}))
                response = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert response["status"] == 200, response
            usdt = {b["asset"]: b["free"] for b in response["result"]["balances"]}["USDT"]
            assert usdt == "1000000.00000000"
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), TIMEOUT)

    asyncio.run(scenario())

"""``whalewire emulator`` as a user runs it: a subprocess that prints its URL and keys.

Binance issues HMAC API keys and secrets as 64 alphanumeric characters (the example key
in ``web-socket-api.md``, "SIGNED request example (HMAC)").
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import ssl
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


async def _banner_lines(stdout: asyncio.StreamReader) -> list[str]:
    lines: list[str] = []
    while not lines or not lines[-1].startswith("Point a client"):
        line = (await asyncio.wait_for(stdout.readline(), TIMEOUT)).decode()
        assert line, "emulator exited before printing its banner"
        lines.append(line.rstrip("\n"))
    return lines


def _pem_after(lines: list[str], header: str) -> str:
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    begin = next(i for i in range(start, len(lines)) if lines[i].startswith("-----BEGIN"))
    end = next(i for i in range(begin, len(lines)) if lines[i].startswith("-----END"))
    return "\n".join(lines[begin : end + 1]) + "\n"


async def _spawn(venue: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "whalewire", "emulator", "--venue", venue, "--port", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip


def test_binance_banner_prints_an_rsa_key_the_emulator_accepts():
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    async def scenario() -> None:
        proc = await _spawn("binance")
        try:
            assert proc.stdout is not None
            lines = await _banner_lines(proc.stdout)
            endpoint = next(ln.split()[1] for ln in lines if ln.split()[:1] == ["endpoint"])
            rsa_at = next(i for i, ln in enumerate(lines) if ln.startswith("RSA key"))
            api_key = lines[rsa_at + 1].split()[1]
            key = serialization.load_pem_private_key(_pem_after(lines, "RSA key").encode(), None)
            assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
            # RSASSA-PKCS1-v1_5 over SHA-256, base64 (web-socket-api.md, "SIGNED (RSA)")
            params: dict[str, object] = {"apiKey": api_key, "timestamp": time.time_ns() // 10**6}
            payload = "&".join(f"{k}={v}" for k, v in sorted(params.items())).encode()
            sig = key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
            params["signature"] = base64.b64encode(sig).decode()
            async with websockets.connect(endpoint) as ws:
                await ws.send(json.dumps({"id": 1, "method": "account.status", "params": params}))
                response = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert response["status"] == 200, response
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), TIMEOUT)

    asyncio.run(scenario())


def test_coinbase_feed_is_served_over_tls_with_the_printed_certificate():
    async def scenario() -> None:
        proc = await _spawn("coinbase")
        try:
            assert proc.stdout is not None
            lines = await _banner_lines(proc.stdout)
            feed = next(ln.split()[2] for ln in lines if ln.split()[:2] == ["feed", "endpoint"])
            assert re.match(r"^wss://127\.0\.0\.1:\d+$", feed)
            trust = ssl.create_default_context(cadata=_pem_after(lines, "The certificate"))
            async with websockets.connect(feed, ssl=trust) as ws:
                sub = {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["heartbeat"]}
                await ws.send(json.dumps(sub))
                answer = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert answer["type"] == "subscriptions", answer
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), TIMEOUT)

    asyncio.run(scenario())

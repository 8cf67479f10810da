"""Emulator cost: what one Binance request costs the sans-IO handler, and over loopback.

In-process (CPU time per request, ``BinanceSession.handle``): ``ping``; ``order.place``
MARKET signed ad hoc with HMAC-SHA256; the same signed with Ed25519; the same after
``session.logon`` (no signature). Orders alternate BUY/SELL of 0.001 BTC so the synthetic
book never runs dry. Loopback (wall time, one ``websockets`` client, same run): a ``ping``
request/response through the emulator against the same client's round trip to
``whalewire.net.server``'s echo server, so the ratio shows what the emulator adds. Client
and servers share one event loop (one thread, so one CPU: no cross-CPU wake-ups).

    .venv/bin/python bench/emulator.py [--n 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import time
from collections.abc import Callable

import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from whalewire.emulator.binance.exchange import BinanceConfig, BinanceExchange
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.limits import Interval, RateLimit
from whalewire.net.server import echo, serve
from whalewire.venues.signing import binance_hmac_signature, binance_ws_payload


def cpu_us(fn: Callable[[int], object], n: int) -> float:
    start = time.process_time_ns()
    for i in range(n):
        fn(i)
    return (time.process_time_ns() - start) / n / 1000


def in_process(n: int) -> None:
    now = [1_700_000_000_000]
    # limits out of the way: this measures the request path, not the 429 path
    unlimited = BinanceConfig(
        book_levels=50,
        request_weight=RateLimit("REQUEST_WEIGHT", Interval.MINUTE, 1, 10**9),
        orders=(RateLimit("ORDERS", Interval.SECOND, 10, 10**9),),
    )
    exchange = BinanceExchange(lambda: now[0], unlimited)
    creds = exchange.open_default_account()
    private = load_pem_private_key(creds.ed25519_private_key_pem.encode(), None)
    assert isinstance(private, Ed25519PrivateKey)
    session = exchange.connect()
    logged = exchange.connect()

    def order(i: int, api_key: str | None) -> dict[str, object]:
        params: dict[str, object] = {
            "symbol": "BTCUSDT",
            "side": "BUY" if i % 2 else "SELL",
            "type": "MARKET",
            "quantity": "0.00100",
            "newOrderRespType": "ACK",
            "timestamp": now[0],
        }
        if api_key is not None:
            params["apiKey"] = api_key
        return params

    def hmac_req(i: int) -> object:
        params = order(i, creds.hmac_api_key)
        params["signature"] = binance_hmac_signature(binance_ws_payload(params), creds.hmac_secret)
        return session.handle(json.dumps({"id": i, "method": "order.place", "params": params}))

    def ed_req(i: int) -> object:
        params = order(i, creds.ed25519_api_key)
        sig = private.sign(binance_ws_payload(params).encode())
        params["signature"] = base64.b64encode(sig).decode()
        return session.handle(json.dumps({"id": i, "method": "order.place", "params": params}))

    logon = {"apiKey": creds.ed25519_api_key, "timestamp": now[0]}
    logon["signature"] = base64.b64encode(private.sign(binance_ws_payload(logon).encode())).decode()
    logged.handle(json.dumps({"id": 0, "method": "session.logon", "params": logon}))

    def session_req(i: int) -> object:
        return logged.handle(
            json.dumps({"id": i, "method": "order.place", "params": order(i, None)})
        )

    def ping(i: int) -> object:
        return session.handle(json.dumps({"id": i, "method": "ping"}))

    # weight limits would answer 429 long before n requests: give the bench its own minute
    for name, fn in (("ping", ping), ("order HMAC", hmac_req), ("order Ed25519", ed_req),
                     ("order session", session_req)):  # fmt: skip
        rows = []
        for _ in range(3):
            now[0] += 60_000
            rows.append(cpu_us(fn, min(n, 4000)))
        print(
            f"  {name:<15} {statistics.median(rows):7.1f} us CPU/request (client signing included)"
        )


async def rtt_us(url: str, body: str, n: int) -> list[float]:
    async with websockets.connect(url, compression=None) as ws:
        samples = []
        for _ in range(n):
            start = time.perf_counter_ns()
            await ws.send(body)
            await ws.recv()
            samples.append((time.perf_counter_ns() - start) / 1000)
        return samples


async def loopback(n: int) -> None:
    emulator = BinanceEmulator(BinanceConfig(book_levels=0), ping_interval=3600)
    await emulator.start()
    echo_server = await serve(echo, "127.0.0.1", 0, deflate=False)
    try:
        body = json.dumps({"id": 1, "method": "ping", "params": {"returnRateLimits": False}})
        n = min(n, 2000)  # 2 weight per... ping weighs 1; stay under 6000/min
        base = await rtt_us(f"ws://127.0.0.1:{echo_server.port}/", body, n)
        emu = await rtt_us(emulator.url, body, n)
        b50, e50 = statistics.median(base), statistics.median(emu)
        print(f"  echo RTT p50   {b50:7.1f} us   emulator ping RTT p50 {e50:7.1f} us"
              f"   ratio {e50 / b50:.2f}")  # fmt: skip
    finally:
        echo_server.close()
        await echo_server.wait_closed()
        await emulator.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    args = parser.parse_args()
    print("in-process (sans-IO handler):")
    in_process(args.n)
    print("loopback (websockets client, same run):")
    asyncio.run(loopback(args.n))


if __name__ == "__main__":
    main()

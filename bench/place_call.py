"""``BinanceClient.place`` with the order call against the frame + ``send_prebuilt`` path, same run.

Issue 18: ``place`` writes through ``BinanceOrderTemplate.send`` (fill, sign, frame, mask
and ``write(2)`` or ``SSL_write`` in one C call) to ``WebSocket.send_target()``; with no
target it frames, then ``send_prebuilt``. Both paths run here on the same connections,
alternating order by order (the first order after each wait for answers going to
each in turn; the old path is forced by a ``send_target`` that answers None),
over ``ws://`` and native ``wss://`` to one emulator process on CPU 1 (loose rate limits,
HMAC per request), the client on CPU 0. Timed from before ``place`` to the
``perf_counter_ns`` it returns right after the write; the client lets the venue answer
every 8 orders so nothing piles up in the socket.

    .venv/bin/python bench/place_call.py [--orders 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import signal
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any

from whalewire.model import Side, SubmitOrder
from whalewire.net import nativetls
from whalewire.net.client import install_uvloop
from whalewire.venues import templates
from whalewire.venues.base import TlsSettings
from whalewire.venues.binance import BinanceClient
from whalewire.venues.credentials import Credentials, Secret
from whalewire.venues.ids import BINANCE_ID_WIDTH, binance_client_order_id

VENUE = """
import asyncio, dataclasses, json, ssl, sys, tempfile, trustme
from whalewire.emulator.accounts import open_default_account
from whalewire.emulator.binance.exchange import BinanceConfig
from whalewire.emulator.limits import Interval, RateLimit
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.net.client import install_uvloop
install_uvloop()
async def main():
    many = 10**9  # the venue refuses nothing: we time, not trade
    config = BinanceConfig(
        request_weight=RateLimit("REQUEST_WEIGHT", Interval.MINUTE, 1, many),
        orders=(RateLimit("ORDERS", Interval.SECOND, 10, many),),
        connections=RateLimit("CONNECTIONS", Interval.MINUTE, 5, many),
    )
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    ca_file = tempfile.NamedTemporaryFile(suffix=".pem", delete=False).name
    ca.cert_pem.write_to_path(ca_file)
    out = {"ca_file": ca_file}
    for name, tls in (("ws", None), ("wss", ctx)):
        emu = BinanceEmulator(config)
        await emu.start(ssl=tls)
        keys = open_default_account(emu.exchange.registry, "bench")
        out[name] = {"url": emu.url, "keys": dataclasses.asdict(keys)}
    print(json.dumps(out), flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""

#: ``send_target`` for the old path: a C call that returns None (NoneType())
NO_TARGET = type(None)


async def answers(client: BinanceClient) -> None:
    """Wait until the venue answered every order sent: nothing piles up in the socket."""
    async with asyncio.timeout(10):
        while client.acks < client.sent:
            await asyncio.sleep(0)


async def measure(venue: dict[str, Any], ca_file: str, n: int, ns: str) -> dict[str, list[int]]:
    """Time ``place`` on one connection, the two paths alternating order by order."""
    keys = venue["keys"]
    creds = Credentials(
        venue="binance",
        api_key=Secret(keys["hmac_api_key"]),
        api_secret=Secret(keys["hmac_secret"]),
    )
    client = BinanceClient(
        venue["url"], creds, cid_width=BINANCE_ID_WIDTH[len(ns)], tls=TlsSettings(ca_file=ca_file)
    )
    await client.start()
    ws = client._ws
    assert ws is not None
    own = ws.send_target
    assert own() is not None, "no order call target on this connection"
    out: dict[str, list[int]] = {"one call": [], "frame + send_prebuilt": []}
    perf = time.perf_counter_ns
    gc.disable()
    try:
        for i in range(2 * n):
            cmd = SubmitOrder(
                client_order_id=binance_client_order_id(ns, i),
                ts_init=0,
                venue="binance",
                symbol="BTCUSDT",
                side=Side.SELL if i & 2 else Side.BUY,
                quantity=Decimal("0.001"),
            )
            # alternate, flipping each block of 8 so that neither path always takes the
            # first order after the wait for answers (the coldest)
            old = bool((i ^ (i >> 3)) & 1)
            ws.send_target = NO_TARGET if old else own  # type: ignore[method-assign,assignment]
            t0 = perf()
            out["frame + send_prebuilt" if old else "one call"].append(client.place(cmd) - t0)
            if i % 8 == 7:
                await answers(client)
    finally:
        gc.enable()
    await client.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=3000, help="per path, per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    uv = install_uvloop()
    os.sched_setaffinity(0, {0})
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, uvloop {uv}, {nativetls.openssl_version()}; load average "
        f"{os.getloadavg()[0]:.2f}; order call in "
        f"{'C (venues._hotpath)' if templates.SPEEDUPS else 'pure Python'}; native TLS "
        f"{nativetls.available()}"
    )
    print(f"command: {' '.join(sys.argv)}")
    proc = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, "-c", VENUE], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    venues = json.loads(proc.stdout.readline())
    try:
        for scheme in ("ws", "wss"):
            rounds = [
                asyncio.run(measure(venues[scheme], venues["ca_file"], args.orders, f"c{r}"))
                for r in range(args.rounds)
            ]
            merged = {k: sorted(v for r in rounds for v in r[k]) for k in rounds[0]}
            base = merged["frame + send_prebuilt"][len(merged["frame + send_prebuilt"]) // 2]
            print(f"\n{scheme}:// place, {args.orders} orders per path x {args.rounds} rounds, µs")
            print(f"  {'path':24} {'p50':>8} {'p99':>8} {'vs old':>8}")
            for name, values in merged.items():
                p50 = values[len(values) // 2]
                p99 = values[int(len(values) * 0.99)]
                print(f"  {name:24} {p50 / 1000:8.2f} {p99 / 1000:8.2f} {p50 / base:7.2f}x")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        os.unlink(venues["ca_file"])


if __name__ == "__main__":
    main()

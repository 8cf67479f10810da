"""Venue paths: the same order placed three ways, send → acknowledgement on loopback.

1. ``https-new``: what a naive REST client does: for every order a new TCP connection, a
   TLS handshake (verification on), one signed ``POST /orders``, read the answer, close.
   Timed from the connect to the answer.
2. ``https-keepalive``: ``CoinbaseClient.place``: the same signed ``POST /orders`` written
   synchronously to the one kept-alive TLS connection opened at start. Timed from before
   ``place`` to the moment the HTTP answer is parsed. ``http-keepalive`` is the same
   without TLS (a second emulator on ``http://``), to show what TLS costs.
3. ``binance-ws``: ``BinanceClient.place`` over our WebSocket (``order.place``, ACK,
   session logged on with Ed25519). Timed from before ``place`` to the parsed response.

Both emulators (``CoinbaseEmulator`` with TLS from a ``trustme`` CA, and
``BinanceEmulator``) run in a child process, as a venue would; their rate limits are
raised so that nothing is refused. One market buy at a time; the three paths take turns
order by order, so drift on the machine hits them alike. The Coinbase feed and the Binance
user stream stay subscribed (fills arrive as they would) but the acks are what is timed.
CPU placement matters on a 2-vCPU VM (DESIGN.md): the client is pinned to CPU 0 and the
venue to CPU 0 (same) or CPU 1 (split), and both placements are reported.

    .venv/bin/python bench/venue_paths.py [--orders 300] [--warmup 20]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import trustme

from whalewire.emulator.binance.exchange import BinanceConfig, BinanceExchange
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.coinbase.exchange import CoinbaseConfig, CoinbaseExchange, RateBucket
from whalewire.emulator.coinbase.server import CoinbaseEmulator
from whalewire.emulator.front import wall_clock
from whalewire.emulator.limits import Interval, RateLimit
from whalewire.model import Side, SubmitOrder
from whalewire.venues.binance import BinanceClient
from whalewire.venues.coinbase import CoinbaseClient
from whalewire.venues.credentials import Credentials, Secret
from whalewire.venues.http1 import Response, open_connection
from whalewire.venues.ids import BINANCE_ID_WIDTH, ClientOrderIds
from whalewire.venues.templates import BinanceOrderTemplate, CoinbaseOrderTemplate

PATHS = ("https-new", "https-keepalive", "http-keepalive", "binance-ws")


# ----------------------------------------------------------------- the venue process


async def serve(ca_dir: str) -> None:

    ca = trustme.CA()
    ca_path = Path(ca_dir) / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    unlimited = RateBucket(1e9, 10**9)
    coinbase = CoinbaseEmulator(CoinbaseConfig(public_rate=unlimited, private_rate=unlimited))
    await coinbase.start(ssl=server_ctx)
    cb_keys = coinbase.open_default_account()
    plain = CoinbaseEmulator(CoinbaseConfig(public_rate=unlimited, private_rate=unlimited))
    await plain.start()
    plain_keys = plain.open_default_account()
    many = 10**9
    binance = BinanceEmulator(
        BinanceConfig(
            request_weight=RateLimit("REQUEST_WEIGHT", Interval.MINUTE, 1, many),
            orders=(RateLimit("ORDERS", Interval.SECOND, 10, many),),
            connections=RateLimit("CONNECTIONS", Interval.MINUTE, 5, many),
        )
    )
    await binance.start()
    bn_keys = binance.exchange.open_default_account()
    info = {
        "ca": str(ca_path),
        "rest": coinbase.rest_url,
        "feed": coinbase.ws_url,
        "cb_key": cb_keys.api_key,
        "cb_secret": cb_keys.secret,
        "cb_passphrase": cb_keys.passphrase,
        "plain_rest": plain.rest_url,
        "plain_feed": plain.ws_url,
        "plain_key": plain_keys.api_key,
        "plain_secret": plain_keys.secret,
        "plain_passphrase": plain_keys.passphrase,
        "binance": binance.url,
        "bn_key": bn_keys.ed25519_api_key,
        "bn_pem": bn_keys.ed25519_private_key_pem,
    }
    print(json.dumps(info), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed
    await coinbase.close()
    await plain.close()
    await binance.close()


def start_venue(cpu: int, ca_dir: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        ["taskset", "-c", str(cpu), sys.executable, __file__, "--serve", ca_dir],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit("venue process did not start")
    return proc, json.loads(line)


# ----------------------------------------------------------------- the three paths


def pct(values: list[int], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] / 1000


async def measure(info: dict[str, str], orders: int, warmup: int) -> dict[str, list[int]]:

    client_ctx = ssl.create_default_context(cafile=info["ca"])
    cb = CoinbaseClient(
        info["rest"],
        info["feed"],
        Credentials(
            "coinbase",
            Secret(info["cb_key"]),
            Secret(info["cb_secret"]),
            Secret(info["cb_passphrase"]),
        ),
        ssl_context=client_ctx,
    )
    await cb.start()
    cb_plain = CoinbaseClient(
        info["plain_rest"],
        info["plain_feed"],
        Credentials(
            "coinbase",
            Secret(info["plain_key"]),
            Secret(info["plain_secret"]),
            Secret(info["plain_passphrase"]),
        ),
    )
    await cb_plain.start()
    bn = BinanceClient(
        info["binance"],
        Credentials("binance", Secret(info["bn_key"]), private_key_pem=Secret(info["bn_pem"])),
        cid_width=BINANCE_ID_WIDTH[2],
    )
    await bn.start()
    ids = ClientOrderIds("vp")

    # Timing hooks: both clients route the venue's direct answer through
    # ``_order_response``; wrapping it on the instance stamps the arrival without
    # touching the clients' code.
    acked: dict[str, int] = {}
    done = asyncio.Event()

    def hook(client: Any) -> None:
        inner: Callable[..., None] = client._order_response

        def stamped(coid: str, answer: Any) -> None:
            acked[coid] = time.perf_counter_ns()
            inner(coid, answer)
            done.set()

        client._order_response = stamped

    hook(cb)
    hook(cb_plain)
    hook(bn)

    host, port = info["rest"].removeprefix("https://").split(":")
    naive = CoinbaseOrderTemplate(
        host=f"{host}:{port}",
        product_id="BTC-USD",
        side="buy",
        order_type="market",
        api_key=info["cb_key"],
        secret_b64=info["cb_secret"],
        passphrase=info["cb_passphrase"],
    )

    async def https_new() -> int:
        answered: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        seq = ids.take()
        t0 = time.perf_counter_ns()
        conn = await open_connection(
            host,
            int(port),
            ssl=client_ctx,
            on_response=answered.set_result,
            on_lost=lambda exc: None,
        )
        ms = cb.clock.timestamp_ms()
        stamp = b"%d.%03d" % divmod(ms, 1000)
        conn.write(naive.request(stamp, ids.coinbase(seq).encode(), b"0.001"))
        response = await answered
        t1 = time.perf_counter_ns()
        conn.close()
        assert response.status == 200, response.body
        return t1 - t0

    async def keepalive() -> int:
        return await via(cb, ids.coinbase(ids.take()), "BTC-USD")

    async def plain_keepalive() -> int:
        return await via(cb_plain, ids.coinbase(ids.take()), "BTC-USD")

    async def binance_ws() -> int:
        return await via(bn, ids.binance(ids.take()), "BTCUSDT")

    async def via(client: Any, coid: str, symbol: str) -> int:
        cmd = SubmitOrder(
            client_order_id=coid,
            ts_init=0,
            venue="bench",
            symbol=symbol,
            side=Side.BUY,
            quantity=Decimal("0.001"),
        )
        done.clear()
        t0 = time.perf_counter_ns()
        client.place(cmd)
        async with asyncio.timeout(10):
            while coid not in acked:
                await done.wait()
                done.clear()
        return acked.pop(coid) - t0

    runs: dict[str, Callable[[], Any]] = {
        "https-new": https_new,
        "https-keepalive": keepalive,
        "http-keepalive": plain_keepalive,
        "binance-ws": binance_ws,
    }
    out: dict[str, list[int]] = {name: [] for name in PATHS}
    gc.disable()
    try:
        for i in range(warmup + orders):
            for name in PATHS:
                took = await runs[name]()
                if i >= warmup:
                    out[name].append(took)
                await asyncio.sleep(0.001)  # let fills and feed messages drain between orders
    finally:
        gc.enable()
    out["_connections"] = [cb.connections_opened]
    await cb.close()
    await cb_plain.close()
    await bn.close()
    return out


def handlers_alone(orders: int) -> dict[str, list[int]]:
    """Time each emulator's sans-IO handler for one market order, in this process.

    This is the venue's own work per order (verify, match, render), no sockets: it tells
    how much of the paths' difference is the emulated venue rather than the transport.
    """

    unlimited = RateBucket(1e9, 10**9)
    cb = CoinbaseExchange(wall_clock, CoinbaseConfig(private_rate=unlimited))
    keys = cb.open_default_account()
    cb_template = CoinbaseOrderTemplate(
        host="x",
        product_id="BTC-USD",
        side="buy",
        order_type="market",
        api_key=keys.api_key,
        secret_b64=keys.secret,
        passphrase=keys.passphrase,
    )
    many = 10**9
    bn = BinanceExchange(
        wall_clock,
        BinanceConfig(
            request_weight=RateLimit("REQUEST_WEIGHT", Interval.MINUTE, 1, many),
            orders=(RateLimit("ORDERS", Interval.SECOND, 10, many),),
        ),
    )
    bkeys = bn.open_default_account()
    session = bn.connect()
    ids = ClientOrderIds("hb")
    bn_template = BinanceOrderTemplate(
        symbol="BTCUSDT",
        side="BUY",
        order_type="MARKET",
        cid_width=BINANCE_ID_WIDTH[2],
        recv_window_ms=5000,
        api_key=bkeys.hmac_api_key,
        secret=bkeys.hmac_secret,
    )
    out: dict[str, list[int]] = {"coinbase handler": [], "binance handler": []}
    for _ in range(orders):
        raw = cb_template.request(
            b"%.3f" % (wall_clock() / 1000), ids.coinbase(ids.take()).encode(), b"0.001"
        )
        head, body = raw.split(b"\r\n\r\n", 1)
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, value = line.decode().split(": ", 1)
            headers[name.lower()] = value
        t0 = time.perf_counter_ns()
        answer = cb.handle("POST", "/orders", headers, body)
        out["coinbase handler"].append(time.perf_counter_ns() - t0)
        assert answer.status == 200, answer.body
        text = bn_template.request(wall_clock(), ids.binance(ids.take()).encode(), b"0.001")
        t0 = time.perf_counter_ns()
        response = session.handle(text.decode())
        out["binance handler"].append(time.perf_counter_ns() - t0)
        assert '"status":200' in response[0], response[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--serve", metavar="CA_DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    os.sched_setaffinity(0, {0})
    cpu = "?"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} vCPU ({cpu}), "
        f"Python {platform.python_version()}, {ssl.OPENSSL_VERSION}, asyncio default loop"
    )
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"load average: {os.getloadavg()}")
    for label, venue_cpu in (("same CPU (client 0, venue 0)", 0), ("split (client 0, venue 1)", 1)):
        with tempfile.TemporaryDirectory() as ca_dir:
            proc, info = start_venue(venue_cpu, ca_dir)
            try:
                result = asyncio.run(measure(info, args.orders, args.warmup))
            finally:
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(timeout=10)
        base = pct(result["binance-ws"], 50)
        print(f"\n{label}: {args.orders} orders per path, send → ack")
        print(f"  {'path':16} {'p50 µs':>9} {'p99 µs':>9} {'p50 vs binance-ws':>18}")
        for name in PATHS:
            p50, p99 = pct(result[name], 50), pct(result[name], 99)
            print(f"  {name:16} {p50:>9.1f} {p99:>9.1f} {p50 / base:>17.2f}x")
        print(f"  keep-alive REST connections opened: {result['_connections'][0]}")
    alone = handlers_alone(args.orders)
    print(f"\nthe venue's work alone (sans-IO handler, one market order, {args.orders} orders)")
    for name, values in alone.items():
        print(f"  {name:16} p50 {pct(values, 50):>7.1f} µs  p99 {pct(values, 99):>7.1f} µs")


if __name__ == "__main__":
    main()

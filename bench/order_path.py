"""Order path compute: fill + sign + frame + mask, per order, no send.

Paths, measured in the same process, interleaved order by order so that machine noise hits
them alike:

* ``minimal``   the hand-written path DESIGN.md baselines (3.7 µs there): ``bytes.join`` of
  the signature payload, ``hmac`` object keyed once and ``.copy()``-ed, ``hexdigest``,
  ``bytes.join`` of the JSON, ``ws.frames.build_frame`` with a pooled mask key;
* ``minimal-direct`` the same, framed by hand (``struct`` header + ``ws.mask.apply_mask``,
  valid for 126..65535-byte payloads): the tightest hand-written code, checking nothing;
* ``template``  ``BinanceOrderTemplate.frame`` (HMAC per request): the engine's hot path;
* ``session``   ``BinanceOrderTemplate.frame`` after ``session.logon`` (no per-request
  signature);
* ``kraken``    ``KrakenOrderTemplate.frame`` (token auth, no signature);
* ``coinbase``  ``CoinbaseOrderTemplate.request``: a whole signed HTTP/1.1 ``POST /orders``
  for a kept-alive connection (HMAC over timestamp + method + path + body, base64);
* ``slow``      the reference path the templates must equal: params dict ->
  ``binance_ws_payload`` -> ``binance_hmac_signature`` -> ``json.dumps`` -> ``build_frame``.

Every order changes its timestamp, client order id, quantity and price. Each call is timed
alone with ``perf_counter_ns``; the timer's own cost (median of timing a no-op call) is
subtracted. The process is pinned to one CPU and the GC is off while timing. Reported:
p50/p99 in µs and the p50 ratio to ``minimal``; ``ws.mask.SPEEDUPS`` says whether the C
masking path was live.

    .venv/bin/python bench/order_path.py [--n 20000] [--rounds 5] [--cpu 0] [--pure-python-mask]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import hmac
import json
import os
import statistics
import struct
import time
from collections.abc import Callable

from whalewire import speedups
from whalewire.venues.ids import ClientOrderIds
from whalewire.venues.signing import binance_hmac_signature, binance_ws_payload
from whalewire.venues.templates import (
    BinanceOrderTemplate,
    CoinbaseOrderTemplate,
    KrakenOrderTemplate,
)
from whalewire.ws import frames
from whalewire.ws import mask as ws_mask

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
QTYS = [b"0.01000000", b"0.25000000", b"1.50000000", b"0.00120000"]
PRICES = [b"52000.01", b"51999.50", b"52010.00", b"51980.75"]

Order = tuple[int, bytes, bytes, bytes]
Path = Callable[[int, bytes, bytes, bytes], object]


def minimal_path(direct_mask: bool = False) -> Path:
    """The hand-written path: what a careful developer writes without templates.

    ``direct_mask`` frames by hand (``struct`` header + ``ws.mask.apply_mask``) instead of
    ``ws.frames.build_frame``: the tightest hand-written code, no checks of any input.
    """
    keyed = hmac.new(SECRET.encode(), digestmod=hashlib.sha256)
    pool = ws_mask.default_key_pool()
    p0 = b"apiKey=" + API_KEY.encode() + b"&newClientOrderId="
    p1 = b"&newOrderRespType=ACK&price="
    p2 = b"&quantity="
    p3 = b"&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=IOC&timestamp="
    p4 = b"&type=LIMIT"
    j0 = b'{"id":"'
    j1 = b'","method":"order.place","params":{"apiKey":"' + API_KEY.encode()
    j1 += b'","newClientOrderId":"'
    j2 = b'","newOrderRespType":"ACK","price":"'
    j3 = b'","quantity":"'
    j4 = b'","recvWindow":100,"side":"SELL","symbol":"BTCUSDT","timeInForce":"IOC","timestamp":'
    j5 = b',"type":"LIMIT","signature":"'
    j6 = b'"}}'
    text = frames.Opcode.TEXT
    header = struct.Struct("!BBH4s").pack
    apply_mask = ws_mask.apply_mask

    def run(ts_ms: int, cid: bytes, qty: bytes, price: bytes) -> object:
        ts = b"%d" % ts_ms
        h = keyed.copy()
        h.update(b"".join((p0, cid, p1, price, p2, qty, p3, ts, p4)))
        sig = h.hexdigest().encode()
        body = b"".join((j0, cid, j1, cid, j2, price, j3, qty, j4, ts, j5, sig, j6))
        return frames.build_frame(text, body, mask_key=pool.next_key())

    def run_direct(ts_ms: int, cid: bytes, qty: bytes, price: bytes) -> object:
        ts = b"%d" % ts_ms
        h = keyed.copy()
        h.update(b"".join((p0, cid, p1, price, p2, qty, p3, ts, p4)))
        sig = h.hexdigest().encode()
        body = b"".join((j0, cid, j1, cid, j2, price, j3, qty, j4, ts, j5, sig, j6))
        key = pool.next_key()
        return header(0x81, 0xFE, len(body), key) + apply_mask(body, key)

    return run_direct if direct_mask else run


def slow_path(template: BinanceOrderTemplate) -> Path:
    """The reference path: dicts, the signing module, json.dumps, build_frame."""
    pool = ws_mask.default_key_pool()

    def run(ts_ms: int, cid: bytes, qty: bytes, price: bytes) -> object:
        params = template.params(ts_ms, cid.decode(), qty.decode(), price.decode())
        params["signature"] = binance_hmac_signature(binance_ws_payload(params), SECRET)
        body = json.dumps({"id": cid.decode(), "method": "order.place", "params": params})
        return frames.build_frame(frames.Opcode.TEXT, body.encode(), mask_key=pool.next_key())

    return run


def paths(width: int) -> dict[str, Path]:
    common = {"symbol": "BTCUSDT", "side": "SELL", "order_type": "LIMIT", "time_in_force": "IOC"}
    signed = BinanceOrderTemplate(
        **common, cid_width=width, recv_window_ms=100, api_key=API_KEY, secret=SECRET
    )
    session = BinanceOrderTemplate(**common, cid_width=width, recv_window_ms=100)
    kraken = KrakenOrderTemplate(
        symbol="BTC/USD", side="sell", order_type="limit", token="t" * 32, time_in_force="ioc"
    )
    ids = ClientOrderIds("bench")
    uuids = [ids.kraken(i).encode() for i in range(64)]

    def kraken_run(ts_ms: int, cid: bytes, qty: bytes, price: bytes) -> object:
        return kraken.frame(ts_ms & 0xFFFF, uuids[ts_ms & 63], qty, price)

    coinbase = CoinbaseOrderTemplate(
        host="api.exchange.coinbase.com",
        product_id="BTC-USD",
        side="sell",
        order_type="limit",
        api_key="k" * 32,
        secret_b64="c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==",
        passphrase="p" * 16,
        time_in_force="IOC",
    )

    def coinbase_run(ts_ms: int, cid: bytes, qty: bytes, price: bytes) -> object:
        seconds = b"%d.%03d" % divmod(ts_ms, 1000)
        return coinbase.request(seconds, uuids[ts_ms & 63], qty, price)

    return {
        "minimal": minimal_path(),
        "minimal-direct": minimal_path(direct_mask=True),
        "template": signed.frame,
        "session": session.frame,
        "kraken": kraken_run,
        "coinbase": coinbase_run,
        "slow": slow_path(signed),
    }


def orders(n: int, start_seq: int) -> list[Order]:
    ids = ClientOrderIds("bench", next_seq=start_seq)
    base = 1_700_000_000_000
    return [
        (base + i, ids.binance(ids.take()).encode(), QTYS[i % 4], PRICES[(i >> 2) % 4])
        for i in range(n)
    ]


def timer_overhead(samples: int = 20000) -> int:
    def noop(a: int, b: bytes, c: bytes, d: bytes) -> object:
        return None

    clock = time.perf_counter_ns
    out = []
    for _ in range(samples):
        t0 = clock()
        noop(0, b"", b"", b"")
        out.append(clock() - t0)
    return int(statistics.median(out))


def measure(n: int, rounds: int) -> tuple[dict[str, list[int]], int]:
    ids = ClientOrderIds("bench")
    runs = paths(ids.binance_width)
    # every path must produce a valid frame for every order before anything is timed
    for name, run in runs.items():
        for order in orders(8, 0):
            assert run(*order), name
    samples: dict[str, list[int]] = {name: [] for name in runs}
    clock = time.perf_counter_ns
    names = list(runs)
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            batch = orders(n, r * n)
            for order in batch[:2000]:  # warm up caches and the mask key pool
                for run in runs.values():
                    run(*order)
            for i, order in enumerate(batch):
                # rotate which path goes first so none always runs on a cold cache
                k = i % len(names)
                for name in names[k:] + names[:k]:
                    run = runs[name]
                    t0 = clock()
                    run(*order)
                    samples[name].append(clock() - t0)
    finally:
        gc.enable()
    return samples, timer_overhead()


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="orders per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=0, help="pin to this CPU (-1: no pinning)")
    parser.add_argument(
        "--pure-python-mask", action="store_true", help="mask without the C accelerator"
    )
    args = parser.parse_args()
    if args.pure_python_mask:
        speedups.use(False)
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    samples, overhead = measure(args.n, args.rounds)
    base = pct(samples["minimal"], 0.5) - overhead
    cpu = "none" if args.cpu < 0 else str(args.cpu)
    print(
        f"orders/path: {len(samples['minimal'])}, CPU pinned: {cpu}, "
        f"C masking: {ws_mask.SPEEDUPS}, timer overhead subtracted: {overhead} ns"
    )
    print("| path | p50 µs | p99 µs | p50 vs minimal |")
    print("|---|---:|---:|---:|")
    for name, values in samples.items():
        p50 = (pct(values, 0.5) - overhead) / 1000
        p99 = (pct(values, 0.99) - overhead) / 1000
        print(f"| {name} | {p50:.2f} | {p99:.2f} | {p50 * 1000 / base:.2f}x |")


if __name__ == "__main__":
    main()

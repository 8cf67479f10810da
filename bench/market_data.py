"""Market data: depth updates applied per second, and stream receive through decode and book.

Two measurements, same run:

* **book**: one seeded workload of depth diffs (Binance-shaped: each message 1-8 changed
  levels, 80 % within 20 ticks of the touch, 20 % anywhere in the book, about a fifth of
  them removing a level), applied message by message with the top of book read after each
  message, by: ``whalewire`` (``venues.books.Book``: dict + sorted price array, bisect; its
  level loop in C, ``venues/_books.c``, and again on the Python loop), a
  plain-Python dict per side (the top found by ``max``/``min`` on read), a dict + heap with
  lazy deletion, ``sortedcontainers.SortedDict`` and the C ``order_book.OrderBook``
  (cryptofeed's) when installed. Reported: level updates/s and ns per update, best of 3.
* **stream**: a blaster process (pinned to CPU 1) sends N distinct Binance combined-stream
  ``depthUpdate`` frames (contiguous ``U``/``u``) as fast as the socket takes them; the client
  (CPU 0) receives them with picows (frames counted, not decoded), whalewire ``on_message``
  (counted, not decoded), and whalewire ``on_message`` into ``BinanceMarketData`` (msgspec
  decode, the snapshot-and-buffer sync, the book update; C and Python level loops).
  Reported: messages/s, best of 3.

* **decode**: the same payloads through ``BinanceMarketData`` in process (no socket), with
  the C level loop and with the Python one, alternating. Reported: messages/s, µs/message.

    .venv/bin/python bench/market_data.py [--only book|decode|stream] [--messages 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import heapq
import json
import multiprocessing as mp
import os
import random
import time
from collections.abc import Callable
from typing import Any

from whalewire.venues import books
from whalewire.venues.binance.market import BinanceMarketData, Snapshot
from whalewire.venues.books import Book, BookSide

Levels = list[tuple[float, float]]
Message = tuple[Levels, Levels]
TICK = 0.01
MID = 60_000.0


def workload(n: int, levels: int, seed: int = 1) -> tuple[Message, list[Message]]:
    """Return (initial book, ``n`` diff messages) on a book ``levels`` deep a side."""
    rng = random.Random(seed)
    bids = {round(MID - (i + 1) * TICK, 2): float(rng.randint(1, 50)) for i in range(levels)}
    asks = {round(MID + (i + 1) * TICK, 2): float(rng.randint(1, 50)) for i in range(levels)}
    initial = (list(bids.items()), list(asks.items()))
    out: list[Message] = []
    for _ in range(n):
        msg: Message = ([], [])
        for _ in range(rng.randint(1, 8)):
            is_bid = rng.random() < 0.5
            side = bids if is_bid else asks
            best = (max if is_bid else min)(side) if side else MID
            reach = 20 if rng.random() < 0.8 else levels
            offset = rng.randint(0, reach) * TICK
            price = round(best - offset if is_bid else best + offset, 2)
            if rng.random() < 0.2 and price in side:
                qty = 0.0
                del side[price]
            else:
                qty = float(rng.randint(1, 50))
                side[price] = qty
            # keep the sides uncrossed, as a venue's book is
            if (is_bid and asks and price >= min(asks)) or (
                not is_bid and bids and price <= max(bids)
            ):
                side.pop(price, None)
                continue
            (msg[0] if is_bid else msg[1]).append((price, qty))
        out.append(msg)
    return initial, out


# -- the books under test: each returns a runner that applies every message and reads the top


def run_whalewire_python(initial: Message, msgs: list[Message], ten: bool) -> Callable[[], None]:
    inner = run_whalewire(initial, msgs, ten)

    def run() -> None:
        c = books.SPEEDUPS
        books._switch(False)  # this module only: the Python level loop, the reference
        try:
            inner()
        finally:
            books._switch(c)

    return run


def run_whalewire(initial: Message, msgs: list[Message], ten: bool) -> Callable[[], None]:
    def run() -> None:
        book = Book("X")
        book.replace(*initial)
        apply, top, levels = book.apply, book.top, book.levels
        for bids, asks in msgs:
            apply(bids, asks)
            if ten:
                levels(BookSide.BID, 10), levels(BookSide.ASK, 10)
            else:
                top()

    return run


def run_dict(initial: Message, msgs: list[Message], ten: bool) -> Callable[[], None]:
    def run() -> None:
        bids, asks = dict(initial[0]), dict(initial[1])
        for mb, ma in msgs:
            for p, q in mb:
                if q:
                    bids[p] = q
                else:
                    bids.pop(p, None)
            for p, q in ma:
                if q:
                    asks[p] = q
                else:
                    asks.pop(p, None)
            if ten:
                sorted(bids.items(), reverse=True)[:10], sorted(asks.items())[:10]
            else:
                best_bid, best_ask = max(bids), min(asks)
                bids[best_bid], asks[best_ask]

    return run


def run_heap(initial: Message, msgs: list[Message], ten: bool) -> Callable[[], None]:
    def run() -> None:
        bids, asks = dict(initial[0]), dict(initial[1])
        bheap = [-p for p in bids]
        aheap = list(asks)
        heapq.heapify(bheap)
        heapq.heapify(aheap)
        for mb, ma in msgs:
            for p, q in mb:
                if q:
                    if p not in bids:
                        heapq.heappush(bheap, -p)
                    bids[p] = q
                else:
                    bids.pop(p, None)
            for p, q in ma:
                if q:
                    if p not in asks:
                        heapq.heappush(aheap, p)
                    asks[p] = q
                else:
                    asks.pop(p, None)
            while -bheap[0] not in bids:  # lazy deletion: drop removed levels on read
                heapq.heappop(bheap)
            while aheap[0] not in asks:
                heapq.heappop(aheap)
            if ten:  # the heap holds stale prices too: take more, keep the live ones
                [p for p in heapq.nsmallest(len(bheap), bheap) if -p in bids][:10]
                [p for p in heapq.nsmallest(len(aheap), aheap) if p in asks][:10]
            else:
                bids[-bheap[0]], asks[aheap[0]]

    return run


def run_sorteddict(initial: Message, msgs: list[Message], ten: bool) -> Callable[[], None] | None:
    try:
        from sortedcontainers import SortedDict
    except ImportError:
        return None

    def run() -> None:
        bids, asks = SortedDict(initial[0]), SortedDict(initial[1])
        for mb, ma in msgs:
            for p, q in mb:
                if q:
                    bids[p] = q
                else:
                    bids.pop(p, None)
            for p, q in ma:
                if q:
                    asks[p] = q
                else:
                    asks.pop(p, None)
            if ten:
                [bids.peekitem(-1 - i) for i in range(min(10, len(bids)))]
                [asks.peekitem(i) for i in range(min(10, len(asks)))]
            else:
                bids.peekitem(-1), asks.peekitem(0)

    return run


def run_order_book(initial: Message, msgs: list[Message], ten: bool) -> Callable[[], None] | None:
    try:
        from order_book import OrderBook
    except ImportError:
        return None

    def run() -> None:
        ob = OrderBook()
        bids, asks = ob.bids, ob.asks
        for p, q in initial[0]:
            bids[p] = q
        for p, q in initial[1]:
            asks[p] = q
        for mb, ma in msgs:
            for p, q in mb:
                if q:
                    bids[p] = q
                elif p in bids:
                    del bids[p]
            for p, q in ma:
                if q:
                    asks[p] = q
                elif p in asks:
                    del asks[p]
            if ten:
                [bids.index(i) for i in range(min(10, len(bids)))]
                [asks.index(i) for i in range(min(10, len(asks)))]
            else:
                bids.index(0), asks.index(0)

    return run


BOOKS: dict[str, Callable[[Message, list[Message], bool], Callable[[], None] | None]] = {
    "whalewire Book (dict + sorted array, bisect; C level loop)": run_whalewire,
    "whalewire Book, Python level loop": run_whalewire_python,
    "plain dict, max/min on read": run_dict,
    "dict + heap, lazy deletion": run_heap,
    "sortedcontainers.SortedDict": run_sorteddict,
    "order_book.OrderBook (C, cryptofeed)": run_order_book,
}


def check_same_top(initial: Message, msgs: list[Message]) -> None:
    """Guard: every book reaches the same final top as the reference dict."""
    bids, asks = dict(initial[0]), dict(initial[1])
    for mb, ma in msgs:
        for side, changes in ((bids, mb), (asks, ma)):
            for p, q in changes:
                if q:
                    side[p] = q
                else:
                    side.pop(p, None)
    book = Book("X")
    book.replace(*initial)
    for mb, ma in msgs:
        book.apply(mb, ma)
    top = book.top()
    assert (top.bid, top.ask) == (max(bids), min(asks)), "whalewire book disagrees with dict"


def book_table(n: int, levels: int, repeats: int) -> None:
    initial, msgs = workload(n, levels)
    check_same_top(initial, msgs)
    updates = sum(len(b) + len(a) for b, a in msgs)
    print(f"\nbook: {n:,} messages, {updates:,} level updates, {levels} levels a side")
    print("| book | read per message | updates/s | ns/update | vs whalewire |")
    print("|---|---|---:|---:|---:|")
    for ten in (False, True):
        runs = {name: make(initial, msgs, ten) for name, make in BOOKS.items()}
        best: dict[str, float] = {}
        for _ in range(repeats):  # interleaved: a burst of load hits every book alike
            for name, run in runs.items():
                if run is not None:
                    best[name] = min(best.get(name, 1e9), _timed(run))
        base = updates / best[next(iter(BOOKS))]
        read = "top 10 a side" if ten else "top"
        for name in BOOKS:
            if name not in best:
                print(f"| {name} | {read} | not installed | | |")
                continue
            rate = updates / best[name]
            per = best[name] / updates * 1e9
            print(f"| {name} | {read} | {rate / 1e6:.2f} M | {per:.0f} | {rate / base:.2f}x |")


def _timed(run: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


# -- stream receive ---------------------------------------------------------------------


def depth_payloads(n: int) -> list[bytes]:
    """Return ``n`` combined-stream ``depthUpdate`` payloads (contiguous update ids)."""
    _, msgs = workload(n, 1000, seed=2)
    out = []
    for i, (bids, asks) in enumerate(msgs, start=1):
        data = {
            "e": "depthUpdate", "E": 1_700_000_000_000 + i, "s": "BTCUSDT", "U": i, "u": i,
            "b": [[f"{p:.2f}", f"{q:.8f}"] for p, q in bids],
            "a": [[f"{p:.2f}", f"{q:.8f}"] for p, q in asks],
        }  # fmt: skip
        out.append(json.dumps({"stream": "btcusdt@depth@100ms", "data": data}).encode())
    return out


def stream_frames(n: int) -> tuple[bytes, int]:
    """Return ``n`` combined-stream depth frames (server -> client, unmasked text), and the
    mean payload size."""
    out = bytearray()
    total = 0
    for payload in depth_payloads(n):
        total += len(payload)
        size = len(payload)
        head = bytes([0x81, size]) if size < 126 else bytes([0x81, 126]) + size.to_bytes(2, "big")
        out += head + payload
    return bytes(out), total // n


def decode_table(n: int, repeats: int) -> None:
    """Decode + sync + book in process (no socket): the C level loop against the Python one."""
    texts = [p.decode() for p in depth_payloads(n)]
    print(f"\ndecode + sync + book, in process: {n:,} depthUpdate payloads, best of {repeats}")
    print("| level loop | msgs/s | µs/msg | vs C |")
    print("|---|---:|---:|---:|")
    best: dict[bool, float] = {}
    for _ in range(repeats):  # alternating: a burst of load hits both alike
        for c_loop in (True, False):
            books._switch(c_loop)
            client = BinanceMarketData("ws://unused", "ws://unused", ["BTCUSDT"])
            client.syncs["BTCUSDT"].on_snapshot(Snapshot(lastUpdateId=0, bids=[], asks=[]))
            handle = client._on_message
            t0 = time.perf_counter()
            for text in texts:
                handle(None, text)  # type: ignore[arg-type]
            best[c_loop] = min(best.get(c_loop, 1e9), time.perf_counter() - t0)
            assert client.books["BTCUSDT"].health().updates == n + 1 and client.malformed == 0
    books._switch(True)
    for c_loop, name in ((True, "C (venues/_books.c)"), (False, "Python")):
        rate = n / best[c_loop]
        print(f"| {name} | {rate / 1e3:.0f} k | {best[c_loop] / n * 1e6:.2f} | "
              f"{best[True] / best[c_loop]:.2f}x |")  # fmt: skip


def _blaster(n: int, port_q: Any, cpu: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    blob, _ = stream_frames(n)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(":", 1)[1].strip()
            for line in head.decode("latin-1").split("\r\n")
            if line.lower().startswith("sec-websocket-key")
        )
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        for i in range(0, len(blob), 1 << 20):
            writer.write(blob[i : i + (1 << 20)])
            await writer.drain()
        with contextlib.suppress(ConnectionError):
            await reader.read()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port_q.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


async def receive(kind: str, port: int, n: int) -> float:
    from whalewire.net.client import connect

    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    seen = [0]
    url = f"ws://127.0.0.1:{port}/stream"
    if kind == "picows (frames, not decoded)":
        import picows

        class Listener(picows.WSListener):  # type: ignore[misc]
            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                seen[0] += 1
                if seen[0] == n and not done.done():
                    done.set_result(None)

        t0 = time.perf_counter()
        transport, _ = await picows.ws_connect(Listener, url, max_frame_size=1 << 20)
        await done
        elapsed = time.perf_counter() - t0
        transport.disconnect()
        return n / elapsed
    if kind == "whalewire on_message (not decoded)":

        def on_message(ws: Any, message: Any) -> None:
            seen[0] += 1
            if seen[0] == n:
                done.set_result(None)

    else:  # decode + sync + book
        books._switch(not kind.endswith("Python level loop"))
        client = BinanceMarketData(
            "ws://unused", "ws://unused", ["BTCUSDT"], kinds=("depth@100ms",)
        )
        client.syncs["BTCUSDT"].on_snapshot(Snapshot(lastUpdateId=0, bids=[], asks=[]))
        handle = client._on_message

        def on_message(ws: Any, message: Any) -> None:
            handle(ws, message)
            seen[0] += 1
            if seen[0] == n:
                done.set_result(None)

    t0 = time.perf_counter()
    ws = await connect(url, deflate=False, on_message=on_message)
    await done
    elapsed = time.perf_counter() - t0
    ws._proto.fail(1000, "")
    if kind.startswith("whalewire BinanceMarketData"):
        books._switch(True)
        health = client.books["BTCUSDT"].health()  # the snapshot counts as one
        assert health.updates == n + 1 and health.gaps == 0 and client.malformed == 0, health
    return n / elapsed


STREAM_KINDS = [
    "picows (frames, not decoded)",
    "whalewire on_message (not decoded)",
    "whalewire BinanceMarketData (decode + sync + book)",
    "whalewire BinanceMarketData (decode + sync + book), Python level loop",
]


def stream_table(n: int) -> None:
    try:
        import uvloop

        uvloop.install()
        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    _, mean = stream_frames(100)
    ctx = mp.get_context("spawn")
    print(f"\nstream: {n:,} Binance depth frames (~{mean} B payload), {loop_name}, client CPU 0")
    print("| receiver | msgs/s (best of 3) | vs picows |")
    print("|---|---:|---:|")
    base = 0.0
    for kind in STREAM_KINDS:
        rates = []
        for _ in range(3):
            q = ctx.Queue()
            proc = ctx.Process(target=_blaster, args=(n, q, 1), daemon=True)
            proc.start()
            port = q.get(timeout=60)
            rates.append(asyncio.run(receive(kind, port, n)))
            proc.terminate()
            proc.join()
        best = max(rates)
        base = base or best
        print(f"| {kind} | {best / 1e3:.0f} k | {best / base:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["book", "decode", "stream"])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--levels", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.only in (None, "book"):
        for levels in (100, args.levels):
            book_table(args.messages, levels, args.repeats)
    if args.only in (None, "decode"):
        decode_table(args.messages, args.repeats)
    if args.only in (None, "stream"):
        stream_table(args.messages)


if __name__ == "__main__":
    main()

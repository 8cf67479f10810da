"""``python -m whalewire.mempool.feeds``: watch feeds live, or build and inspect replay files.

An operations tool: check that a node's ZMQ or P2P port, or a mempool.space endpoint, really
delivers transactions, and which feed is first. It prints one line per deduplicated event and
the per-feed counters at the end. Knows nothing of watch lists or orders.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterable, Sequence
from pathlib import Path

from whalewire.mempool.feeds import replay
from whalewire.mempool.feeds.events import BlockSeen, FeedEvent, RawTxEvent
from whalewire.mempool.feeds.monitor import Monitor


def _feeds(args: argparse.Namespace) -> list[AsyncIterable[FeedEvent]]:
    feeds: list[AsyncIterable[FeedEvent]] = []
    if args.replay is not None:
        source = replay.DEFAULT_REPLAY if args.replay == "" else Path(args.replay)
        speed = None if args.speed == 0 else args.speed
        feeds.append(replay.ReplayFeed(replay.load_replay(source), speed=speed))
    for endpoint in args.zmq:
        from whalewire.mempool.feeds.bitcoind_zmq import BitcoindZmqFeed  # noqa: PLC0415

        feeds.append(BitcoindZmqFeed(endpoint, name=f"zmq:{endpoint}"))
    for where in args.p2p:
        from whalewire.mempool.feeds.p2p import P2PFeed  # noqa: PLC0415
        from whalewire.mempool.feeds.reconnect import Reconnecting  # noqa: PLC0415

        host, _, port = where.rpartition(":")
        name = f"p2p:{where}"

        def make(host: str = host, port: int = int(port), name: str = name) -> P2PFeed:
            return P2PFeed(host, port, args.network, name=name)

        feeds.append(Reconnecting(make))
    for url in args.mempool_space:
        from whalewire.mempool.feeds.mempool_space import (  # noqa: PLC0415
            MempoolSpaceFeed,
            MempoolSpaceProtocol,
        )

        proto = MempoolSpaceProtocol(f"space:{url}", track_addresses=args.track_address)
        feeds.append(MempoolSpaceFeed(url, proto))
    return feeds


def _line(event: FeedEvent) -> str:
    if isinstance(event, RawTxEvent):
        return f"{event.feed}\t{event.kind.name.lower()}\t{event.txid}\t{len(event.raw)} B"
    if isinstance(event, BlockSeen):
        state = "block" if event.connected else "block-disconnected"
        return f"{event.feed}\t{state}\t{event.block_hash}"
    return f"{event.feed}\tgap\t{event.topic}: expected {event.expected}, got {event.received}"


async def _watch(args: argparse.Namespace) -> int:
    feeds = _feeds(args)
    if not feeds:
        print("no feed given (see --help)", file=sys.stderr)
        return 2
    monitor = Monitor(feeds, capacity=args.capacity)
    done = asyncio.Event()
    txs = 0

    def on_event(event: FeedEvent) -> None:
        nonlocal txs
        if done.is_set():
            return  # a fast feed may deliver more before the loop gets to stop it
        print(_line(event), flush=True)
        if isinstance(event, RawTxEvent):
            txs += 1
            if args.count and txs >= args.count:
                done.set()

    task = asyncio.create_task(monitor.run(on_event))
    waiter = asyncio.create_task(done.wait())
    started = time.monotonic()
    try:
        await asyncio.wait(
            [task, waiter],
            timeout=args.seconds or None,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        task.cancel()
        waiter.cancel()
    if task.done() and not task.cancelled() and task.exception() is not None:
        print(f"feed failed: {task.exception()!r}", file=sys.stderr)
        return 1
    print(f"# {txs} transactions in {time.monotonic() - started:.1f} s", file=sys.stderr)
    for row in monitor.dedup.snapshot():
        print(
            f"# {row['name']}: first {row['first']}, duplicates {row['duplicates']},"
            f" lost {row['lost']}",
            file=sys.stderr,
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Watch feeds (``watch``) or build/inspect replay files (``replay ...``)."""
    parser = argparse.ArgumentParser(prog="python -m whalewire.mempool.feeds", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch", help="print deduplicated events from one or more feeds")
    w.add_argument(
        "--replay",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="a replay file (the embedded block 951,658 when no FILE is given)",
    )
    w.add_argument("--speed", type=float, default=1.0, help="replay speed; 0 = as fast as possible")
    w.add_argument(
        "--zmq",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="a bitcoind ZMQ endpoint, e.g. tcp://127.0.0.1:28332 (repeatable)",
    )
    w.add_argument(
        "--p2p",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="a node's P2P address (repeatable; reconnects when dropped)",
    )
    w.add_argument(
        "--network", default="mainnet", choices=["mainnet", "testnet", "signet", "regtest"]
    )
    w.add_argument(
        "--mempool-space",
        action="append",
        default=[],
        metavar="URL",
        help="a mempool.space WebSocket URL (repeatable)",
    )
    w.add_argument("--track-address", action="append", default=[], metavar="ADDRESS")
    w.add_argument("--count", type=int, default=0, help="stop after this many transactions")
    w.add_argument("--seconds", type=float, default=0.0, help="stop after this long")
    w.add_argument("--capacity", type=int, default=100_000, help="txids remembered for dedup")
    r = sub.add_parser("replay", help="build or inspect replay files", add_help=False)
    r.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.cmd == "replay":
        return replay.main(args.rest)
    try:
        return asyncio.run(_watch(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

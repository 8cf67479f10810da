"""``whalewire selfcheck``: the WebSocket echo self-check over loopback.

Starts our WebSocket server on an ephemeral 127.0.0.1 port, connects our client, exchanges
text, binary and compressed messages, checks every echo byte for byte and prints round-trip
figures. Loopback only; nothing is traded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from whalewire.net.client import connect, install_uvloop
from whalewire.net.server import echo_on_message, serve


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the self-check's options."""
    parser.add_argument("--seconds", type=float, default=60.0, help="upper bound on run time")
    parser.add_argument("--rounds", type=int, default=2000, help="round trips per message kind")


def run(args: argparse.Namespace) -> int:
    """Run the self-check; exit status 0 when every echo matched."""
    loop_name = "uvloop" if install_uvloop() else "asyncio"
    print(f"whalewire selfcheck: echo over loopback ({loop_name})")
    try:
        return asyncio.run(asyncio.wait_for(_self_check(args.rounds), args.seconds))
    except TimeoutError:
        print(f"whalewire selfcheck: did not finish within {args.seconds} s")
        return 1


async def _self_check(rounds: int) -> int:
    kinds: list[tuple[str, bool, str | bytes]] = [
        ("text 256 B", False, "w" * 256),
        ("binary 256 B", False, os.urandom(256)),
        ("text 4 KiB, permessage-deflate", True, ("whale deposit " * 300)[:4096]),
        ("binary 64 KiB, permessage-deflate", True, bytes(range(256)) * 256),
    ]
    server = await serve(None, "127.0.0.1", 0, on_message=echo_on_message)
    ok = True
    async with server:
        print(f"  server listening on ws://127.0.0.1:{server.port}/")
        print(f"  {'message':36} {'p50 µs':>9} {'p99 µs':>9} {'max µs':>9}")
        for name, compress, message in kinds:
            ws = await connect(f"ws://127.0.0.1:{server.port}/", deflate=compress)
            if (ws.deflate is not None) != compress:
                print(f"  {name}: compression was not negotiated as asked")
                ok = False
            samples = []
            for _ in range(rounds):
                start = time.perf_counter_ns()
                ws.send(message)
                reply = await ws.recv()
                samples.append((time.perf_counter_ns() - start) / 1000)
                if reply != message:
                    print(f"  {name}: echo differs from what was sent")
                    ok = False
                    break
            await ws.close()
            samples.sort()
            p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
            print(f"  {name:36} {statistics.median(samples):9.1f} {p99:9.1f} {samples[-1]:9.1f}")
    print("whalewire selfcheck: all echoes matched" if ok else "whalewire selfcheck: FAILED")
    return 0 if ok else 1

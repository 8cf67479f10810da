"""Read stamps: when the emulated venue read each order's bytes, for latency benchmarks.

Off by default. With a `ReadStamps` given to the server (``whalewire emulator
--stamp-reads PATH``), every text message carrying a ``newClientOrderId`` is stamped with
``time.perf_counter_ns()`` (CLOCK_MONOTONIC on Linux: one clock for every process of the
machine) inside the read that completed it, before the handler sees it, and one line
``<clientOrderId> <ns>`` is appended to the file. A benchmark in another process compares
these stamps with its own: "feed receive → venue read" as well as "→ bytes handed to the
kernel". The stamp includes the venue's ``read(2)`` and frame parse (a few µs after the
bytes arrived), never the handler's work or its task switch.

Knows nothing of the engine; the exchange's answers do not change.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from whalewire.net import Message, WebSocket

#: the client order id in a request's text (order.place, cancelReplace, order lists)
_CID = re.compile(r'"newClientOrderId"\s*:\s*"([^"]{1,64})"')


class ReadStamps:
    """Append ``<clientOrderId> <perf_counter_ns>`` per order message read, to ``path``.

    Each line is one ``write(2)`` on an ``O_APPEND`` descriptor, so a reader sees whole
    lines only, and the file is complete as soon as the message was read (no buffer to
    flush at exit: a benchmark may stop the emulator with a signal).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
        #: order messages stamped so far
        self.count = 0

    def attach(self, ws: WebSocket) -> None:
        """Stamp every message ``ws`` delivers from now on, at delivery (inside the read)."""
        deliver: Callable[[Message], None] = ws._deliver
        clock = time.perf_counter_ns

        def stamped(message: Message) -> None:
            now = clock()  # first: the stamp is the read's, not the regex's
            deliver(message)
            if isinstance(message, str):
                self.record(message, now)

        # an instance attribute: the protocol looks ``ws._deliver`` up on every message
        ws._deliver = stamped  # type: ignore[method-assign]

    def record(self, message: str, ns: int) -> None:
        """Append ``message``'s client order id with ``ns``; ignore messages without one."""
        found = _CID.search(message)
        if found is not None:
            os.write(self._fd, f"{found.group(1)} {ns}\n".encode())
            self.count += 1

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def load(path: str | Path) -> dict[str, int]:
    """Return the stamps in ``path``: client order id -> ``perf_counter_ns`` (last wins)."""
    stamps: dict[str, int] = {}
    for line in Path(path).read_text().splitlines():
        cid, _, ns = line.partition(" ")
        if ns:
            stamps[cid] = int(ns)
    return stamps

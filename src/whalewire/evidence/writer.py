"""A recorder whose writer is another process: the engine's GIL is never shared with it.

``ProcessRecorder`` has ``Recorder``'s hot-side methods. Each row is encoded (msgpack,
length-prefixed) into a local buffer on the engine's thread. A buffer past
``flush_bytes``, or one older than ``poll_s`` (a loop timer), is written to the child's
stdin, non-blocking, as one ``write(2)``. A full pipe keeps the bytes for the next write;
past ``max_buffer`` new rows are dropped and counted, never waited for. The child
(``python -m whalewire.evidence.writer``) decodes the rows into a ``Recorder`` of its own:
conversion and compression run under the child's GIL. The price is on the engine's
thread: ~3 µs per row against the thread writer's ~0.3 µs. docs/benchmarks.md,
"Evidence: recording off the hot path", measures both.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import json
import os
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import msgspec

from whalewire.evidence.recorder import Recorder, RecorderStats
from whalewire.mempool.feeds.events import EventKind, RawTxEvent

_LEN = struct.Struct("<I")
_F_SETPIPE_SZ = 1031  # Linux fcntl.h
_TX, _ALERT, _TOP, _LEVELS, _TRADE = range(5)


class ProcessRecorder:
    """Record through a child process (same hot-side methods as ``Recorder``).

    Args:
        directory: the recording's folder.
        flush_bytes: write the buffer to the pipe once it holds this much.
        max_buffer: past this much waiting for the pipe, new rows are dropped (and counted).
        poll_s: how often a loop timer writes what the buffer holds (``start`` in a loop).
        cpus: the CPUs the child may run on (None: inherit); keep it off the engine's.
        nice: added to the child's niceness.
        options: ``Recorder``'s keyword arguments for the child (JSON-able).
    """

    def __init__(
        self,
        directory: Path,
        *,
        flush_bytes: int = 1 << 14,
        max_buffer: int = 64 << 20,
        poll_s: float = 0.05,
        cpus: set[int] | None = None,
        nice: int = 10,
        **options: Any,
    ) -> None:
        self.directory = Path(directory)
        self.flush_bytes = flush_bytes
        self.max_buffer = max_buffer
        self.poll_s = poll_s
        self.options = options
        self.cpus = cpus
        self.nice = nice
        self.dropped = 0
        #: why the child stopped taking rows (None: it has not)
        self.failure: OSError | None = None
        self._buffered = 0
        self._buf = bytearray()
        self._encode = msgspec.msgpack.Encoder().encode
        self._child: subprocess.Popen[bytes] | None = None
        self._fd = -1
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Start the child; in a running loop, also the timer that flushes quiet buffers."""
        self._child = subprocess.Popen(
            [sys.executable, "-m", "whalewire.evidence.writer", str(self.directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        pid = self._child.pid
        with contextlib.suppress(OSError):  # best effort, as for the writer thread
            if self.cpus:
                os.sched_setaffinity(pid, self.cpus)
            if self.nice:
                os.setpriority(
                    os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, pid) + self.nice
                )
        assert self._child.stdin is not None
        self._child.stdin.write(json.dumps(self.options).encode() + b"\n")
        self._child.stdin.flush()
        self._fd = self._child.stdin.fileno()
        with contextlib.suppress(OSError):  # a larger pipe where the system allows one
            fcntl.fcntl(self._fd, _F_SETPIPE_SZ, 1 << 20)
        os.set_blocking(self._fd, False)
        with contextlib.suppress(RuntimeError):
            self._tick(asyncio.get_running_loop())

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self.flush()
        self._timer = loop.call_later(self.poll_s, self._tick, loop)

    # -- the hot side -----------------------------------------------------------------------
    def _put(self, row: tuple[Any, ...]) -> None:
        buf = self._buf
        if len(buf) > self.max_buffer or self.failure is not None:
            # the child fell behind, or is gone: drop, count, never wait, never raise
            self.dropped += 1
            return
        payload = self._encode(row)
        buf += _LEN.pack(len(payload))
        buf += payload
        self._buffered += 1
        if len(buf) >= self.flush_bytes:
            self.flush()

    def tx(self, event: Any) -> None:
        """Record a feed's ``RawTxEvent``."""
        e = event
        self._put((_TX, e.recv_wall_ns, e.recv_ns, e.feed, int(e.kind), e.txid, e.raw))

    def alert(  # noqa: PLR0917 - one row's columns, positional: called per event
        self, ts_ns: int, txid: str, entity: str, kind: str, value_sats: int, decision: str = ""
    ) -> None:
        """Record a whale alert."""
        self._put((_ALERT, ts_ns, txid, entity, kind, value_sats, decision))

    def top(  # noqa: PLR0917 - one row's columns, positional: called per event
        self,
        ts_ns: int,
        venue: str,
        symbol: str,
        bid: float | None,
        bid_qty: float,
        ask: float | None,
        ask_qty: float,
    ) -> None:
        """Record a book's best bid and ask."""
        self._put((_TOP, ts_ns, venue, symbol, bid, bid_qty, ask, ask_qty))

    def levels(
        self,
        ts_ns: int,
        venue: str,
        symbol: str,
        bids: Sequence[tuple[float, float]],
        asks: Sequence[tuple[float, float]],
    ) -> None:
        """Record a depth snapshot."""
        self._put((_LEVELS, ts_ns, venue, symbol, bids, asks))

    def trade(  # noqa: PLR0917 - one row's columns, positional: called per event
        self, ts_ns: int, venue: str, symbol: str, price: float, qty: float, taker: str = ""
    ) -> None:
        """Record a public trade."""
        self._put((_TRADE, ts_ns, venue, symbol, price, qty, taker))

    def flush(self) -> None:
        """Write what the buffer holds that the pipe takes now (never waits)."""
        buf = self._buf
        if not buf or self._fd < 0:
            return
        try:
            n = os.write(self._fd, buf)
        except BlockingIOError:
            n = 0
        except OSError as exc:  # the child died: the engine goes on, the rows are counted
            self.failure = exc
            self.dropped += self._buffered
            self._buffered = 0
            buf.clear()
            return
        if n == len(buf):
            self._buffered = 0
        # a frame may be cut anywhere: the child reassembles the stream
        del buf[:n]

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> RecorderStats:
        """Hand the child everything buffered, wait for it to write, return its counts."""
        if self._timer is not None:
            self._timer.cancel()
        child = self._child
        if child is None:
            return RecorderStats(dropped=self.dropped)
        assert child.stdin is not None and child.stdout is not None
        if self.failure is None:
            os.set_blocking(self._fd, True)
            with contextlib.suppress(BrokenPipeError):
                if self._buf:
                    os.write(self._fd, self._buf)  # blocking now: the run is over
            self._buf.clear()
        with contextlib.suppress(BrokenPipeError):
            child.stdin.close()
        report = json.loads(child.stdout.read() or b"{}")
        child.wait()
        self._child = None
        if child.returncode:
            raise RuntimeError(f"recorder process failed with status {child.returncode}")
        return RecorderStats(
            dropped=self.dropped + report.get("dropped", 0),
            rows=report.get("rows", {}),
            files=report.get("files", {}),
        )


def _replay(recorder: Recorder, row: list[Any]) -> None:
    code = row[0]
    if code == _TX:
        _, ts, recv_ns, feed, kind, txid, raw = row
        recorder.tx(RawTxEvent(raw, txid, feed, EventKind(kind), recv_ns, ts))
    elif code == _ALERT:
        recorder.alert(*row[1:])
    elif code == _TOP:
        recorder.top(*row[1:])
    elif code == _LEVELS:
        _, ts, venue, symbol, bids, asks = row
        recorder.levels(ts, venue, symbol, [tuple(b) for b in bids], [tuple(a) for a in asks])
    elif code == _TRADE:
        recorder.trade(*row[1:])


def main() -> int:
    """The child: read options, then frames, from stdin into a ``Recorder``; report counts."""
    directory = Path(sys.argv[1])
    # one buffered reader for the options line and the frames after it
    reader = cast(io.BufferedReader, sys.stdin.buffer)
    options = json.loads(reader.readline())
    # the child's own writer thread may take as long as it likes: nothing here is hot
    options.setdefault("capacity", 1 << 62)
    options.setdefault("pause_s", 0.0)  # no engine shares this process's GIL
    recorder = Recorder(directory, **options)
    recorder.start()
    decode = msgspec.msgpack.Decoder().decode
    pending = b""
    while chunk := reader.read1(1 << 20):
        pending += chunk
        start = 0
        while len(pending) - start >= 4:
            (size,) = _LEN.unpack_from(pending, start)
            if len(pending) - start - 4 < size:
                break
            _replay(recorder, decode(pending[start + 4 : start + 4 + size]))
            start += 4 + size
        pending = pending[start:]
    stats = recorder.close()
    sys.stdout.write(
        json.dumps({"dropped": stats.dropped, "rows": stats.rows, "files": stats.files})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

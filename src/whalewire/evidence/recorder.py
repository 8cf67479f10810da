"""Write the recorded tables to rotated columnar files, off the hot path.

The engine's side only appends: each ``tx``/``alert``/``top``/``levels``/``trade`` call puts
one tuple on a bounded deque and returns (a full deque drops the row and counts it, never
blocks). A writer thread drains the deque every ``poll_s``, turns rows into Arrow record
batches and appends them to one open file per table, which is closed and a new one begun
when it passes ``max_bytes`` or ``max_seconds``. A file is written as ``NAME.part`` and
renamed when complete, so a reader never sees half a file. The format is Arrow IPC (the
Feather v2 file: pandas, polars, DuckDB read it) with zstd by default, or Parquet:
docs/benchmarks.md, "Evidence: recording format", measured why (as small, read back
faster, written as fast).
Knows the tables (``schema``) and files; nothing of feeds, venues or the engine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from whalewire.evidence.schema import SCHEMAS, TABLES

log = logging.getLogger("whalewire.evidence")

Format = Literal["parquet", "arrow"]

#: file name suffix of each format
SUFFIX: dict[str, str] = {"parquet": ".parquet", "arrow": ".arrow"}

#: the recording's description, beside its table folders
META_FILE = "recording.json"

_TXS, _ALERTS, _TOPS, _LEVELS, _TRADES = range(5)

#: rows the writer converts before it pauses, so the engine's thread can take the GIL
_YIELD_EVERY = 256
#: how long it pauses: a thread that gave up the GIL for a system call (the journal's
#: write, a socket's) and wants it back waits for the switch interval (5 ms) behind a
#: thread busy in Python unless that thread sleeps; ``sleep(0)`` retakes it at once
#: (docs/benchmarks.md, "Evidence: recording off the hot path", measured both)
PAUSE_S = 0.0002


def _calm(cpus: frozenset[int] | None, nice: int) -> None:
    """Move the calling (writer) thread off ``cpus``' complement and lower its priority."""
    if cpus:
        try:
            os.sched_setaffinity(0, cpus)  # Linux: 0 is the calling thread
        except OSError as exc:  # CPUs this process may not use: stay where it is
            log.warning("recorder: cannot move to CPUs %s: %s", sorted(cpus), exc)
    if nice:
        tid = threading.get_native_id()
        with contextlib.suppress(OSError):  # best effort: a sandbox may refuse
            # relative to what the thread inherited: never above the engine's priority
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)


@dataclass
class RecorderStats:
    """What a recorder took and wrote; read from any thread (counters only grow)."""

    #: rows dropped because the queue was full (the writer fell behind)
    dropped: int = 0
    #: rows written, by table
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    #: complete files, by table
    files: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))


def _convert(values: list[Any], kind: pa.DataType, pause_s: float) -> pa.Array:
    """Build one column from Python values, a slice at a time, offering the GIL between.

    Converting Python objects holds the GIL for as long as it runs: a whole batch at once
    kept the engine's thread waiting milliseconds (docs/benchmarks.md, "Evidence: recording
    off the hot path"); a slice of ``_YIELD_EVERY`` values takes tens of microseconds.
    """
    parts = []
    for start in range(0, len(values), _YIELD_EVERY):
        parts.append(pa.array(values[start : start + _YIELD_EVERY], type=kind))
        if pause_s:
            time.sleep(pause_s)
    return parts[0] if len(parts) == 1 else pa.concat_arrays(parts)


class _TableFile:
    """One table's open file and the rows not yet written to it."""

    def __init__(
        self, root: Path, table: str, fmt: Format, compression: str, pause_s: float
    ) -> None:
        self.pause_s = pause_s
        self.folder = root / table
        self.folder.mkdir(parents=True, exist_ok=True)
        self.table = table
        self.schema = SCHEMAS[table]
        self.fmt = fmt
        self.compression = compression
        self.columns: list[list[Any]] = [[] for _ in self.schema]
        self.seq = 0
        self.path: Path | None = None
        self.opened_s = 0.0
        self.flushed_s = 0.0
        self._writer: Any = None
        self._sink: Any = None

    def add(self, row: Sequence[Any]) -> None:
        for column, value in zip(self.columns, row, strict=True):
            column.append(value)

    @property
    def pending(self) -> int:
        return len(self.columns[0])

    def flush(self, now_s: float) -> None:
        """Write the pending rows as one batch (opening a file if none is open)."""
        if not self.pending:
            return
        batch = pa.record_batch(
            [
                _convert(c, f.type, self.pause_s)
                for c, f in zip(self.columns, self.schema, strict=True)
            ],
            schema=self.schema,
        )
        self.columns = [[] for _ in self.schema]
        if self._writer is None:
            self._open(now_s)
        self._writer.write_batch(batch)
        self.flushed_s = now_s

    def size(self) -> int:
        """Bytes written to the open file so far (0: none open)."""
        if self._writer is None or self.path is None:
            return 0
        if self.fmt == "arrow":
            return int(self._sink.tell())
        return self.path.stat().st_size

    def _open(self, now_s: float) -> None:
        self.seq += 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now_s))
        name = f"{self.table}-{stamp}-{self.seq:06d}{SUFFIX[self.fmt]}.part"
        self.path = self.folder / name
        self.opened_s = now_s
        if self.fmt == "parquet":
            self._writer = pq.ParquetWriter(self.path, self.schema, compression=self.compression)
        else:
            self._sink = pa.OSFile(str(self.path), "wb")
            options = pa.ipc.IpcWriteOptions(
                compression=None if self.compression == "none" else self.compression
            )
            self._writer = pa.ipc.new_file(self._sink, self.schema, options=options)

    def close(self) -> bool:
        """Close the open file and give it its final name; True when there was one."""
        if self._writer is None or self.path is None:
            return False
        self._writer.close()
        if self._sink is not None:
            self._sink.close()
        self.path.rename(self.path.with_suffix(""))
        self._writer = self._sink = None
        self.path = None
        return True


class Recorder:
    """Record transactions, alerts and market data to ``directory``.

    Args:
        directory: the recording's folder (created); one sub-folder per table.
        fmt: ``"arrow"`` (Arrow IPC file) or ``"parquet"``.
        compression: the codec (``"zstd"``, ``"lz4"``, ``"snappy"`` for Parquet, ``"none"``).
        max_bytes: begin a new file of a table once its open one is this large.
        max_seconds: begin a new file once the open one is this old.
        capacity: rows the queue holds before it drops (and counts) new ones.
        batch_rows: rows a table collects before they are written as one batch.
        poll_s: how often the writer thread wakes to drain the queue.
        cpus: the CPUs the writer thread may run on (None: inherit); give it CPUs other
            than the engine's (``[engine] cpu``): a writer sharing the hot path's CPU
            delays it by whole scheduler slices (docs/benchmarks.md measured it).
        pause_s: the writer's sleep every 256 rows, which lets the engine's thread take the
            GIL (0: never; a recorder in a process of its own, or one no engine shares).
        nice: added to the writer thread's niceness (Linux: per thread), so the scheduler prefers
            the engine's thread whenever both want a CPU.
        flush_s: how long rows of a quiet table may wait for their batch to be written.
    """

    def __init__(
        self,
        directory: Path,
        *,
        fmt: Format = "arrow",
        compression: str = "zstd",
        max_bytes: int = 256 << 20,
        max_seconds: float = 3600.0,
        capacity: int = 1 << 20,
        batch_rows: int = 8192,
        poll_s: float = 0.05,
        flush_s: float = 1.0,
        cpus: Iterable[int] | None = None,
        nice: int = 10,
        pause_s: float = PAUSE_S,
        clock_s: Callable[[], float] = time.time,
    ) -> None:
        if fmt not in SUFFIX:
            raise ValueError(f"format must be one of {sorted(SUFFIX)}, not {fmt!r}")
        self.directory = Path(directory)
        self.fmt: Format = fmt
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.capacity = capacity
        self.batch_rows = batch_rows
        self.poll_s = poll_s
        self.flush_s = flush_s
        self.cpus = None if cpus is None else frozenset(cpus)
        self.nice = nice
        self._clock_s = clock_s
        self.stats = RecorderStats()
        # append and popleft are atomic on a deque: the hot side takes no lock
        self._queue: deque[tuple[int, Any]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.directory.mkdir(parents=True, exist_ok=True)
        self.pause_s = pause_s
        self._files = [_TableFile(self.directory, t, fmt, compression, pause_s) for t in TABLES]
        self._failure: BaseException | None = None

    # -- the hot side: append one tuple, never block --------------------------------------
    def _put(self, item: tuple[int, Any]) -> None:
        queue = self._queue
        if len(queue) >= self.capacity:
            self.stats.dropped += 1
            return
        queue.append(item)

    def tx(self, event: Any) -> None:
        """Record a feed's ``RawTxEvent`` (read in the writer thread: it is immutable)."""
        self._put((_TXS, event))

    def alert(  # noqa: PLR0917 - one row's columns, positional: called per event
        self, ts_ns: int, txid: str, entity: str, kind: str, value_sats: int, decision: str = ""
    ) -> None:
        """Record a whale alert and what the engine decided on it."""
        self._put((_ALERTS, (ts_ns, txid, entity, kind, value_sats, decision)))

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
        self._put((_TOPS, (ts_ns, venue, symbol, bid, bid_qty, ask, ask_qty)))

    def levels(
        self,
        ts_ns: int,
        venue: str,
        symbol: str,
        bids: Sequence[tuple[float, float]],
        asks: Sequence[tuple[float, float]],
    ) -> None:
        """Record a depth snapshot: (price, qty) levels, best first, per side."""
        self._put((_LEVELS, (ts_ns, venue, symbol, bids, asks)))

    def trade(  # noqa: PLR0917 - one row's columns, positional: called per event
        self, ts_ns: int, venue: str, symbol: str, price: float, qty: float, taker: str = ""
    ) -> None:
        """Record a public trade (``taker``: "buy", "sell" or "")."""
        self._put((_TRADES, (ts_ns, venue, symbol, price, qty, taker)))

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Write the recording's description and start the writer thread."""
        meta = {"format": self.fmt, "tables": list(TABLES), "started_s": self._clock_s()}
        (self.directory / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
        self._thread = threading.Thread(target=self._run, name="whalewire-recorder", daemon=True)
        self._thread.start()

    def close(self) -> RecorderStats:
        """Drain what is queued, close every file and stop the writer; return the counts.

        Raises:
            whatever stopped the writer thread (a full disk, a permission): the rows queued
            after it were not written.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        else:
            self._drain()
            self._finish()
        if self._failure is not None:
            raise self._failure
        return self.stats

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the writer thread ------------------------------------------------------------------
    def _run(self) -> None:
        _calm(self.cpus, self.nice)
        try:
            while not self._stop.wait(self.poll_s):
                self._drain()
                self._rotate()
            self._drain()
        except BaseException as exc:  # kept for close(): a writer that died says why
            log.exception("recorder stopped")
            self._failure = exc
        finally:
            try:
                self._finish()
            except BaseException as exc:
                self._failure = self._failure or exc

    def _drain(self) -> None:
        queue = self._queue
        files = self._files
        batch = self.batch_rows
        now = self._clock_s()
        rows = self.stats.rows
        since_pause = 0
        while queue:
            if since_pause >= _YIELD_EVERY and self.pause_s:
                since_pause = 0
                time.sleep(self.pause_s)
            code, item = queue.popleft()
            f = files[code]
            if code == _TXS:
                f.add(
                    (
                        item.recv_wall_ns,
                        item.recv_ns,
                        item.feed,
                        int(item.kind),
                        item.txid,
                        item.raw,
                    )
                )
                rows["txs"] += 1
                since_pause += 1
            elif code == _LEVELS:
                ts, venue, symbol, bids, asks = item
                for side, side_levels in (("bid", bids), ("ask", asks)):
                    for i, (price, qty) in enumerate(side_levels):
                        f.add((ts, venue, symbol, side, i, price, qty))
                rows["levels"] += len(bids) + len(asks)
                since_pause += len(bids) + len(asks)
            else:
                f.add(item)
                rows[f.table] += 1
                since_pause += 1
            if f.pending >= batch:
                f.flush(now)
                if f.size() >= self.max_bytes:
                    self._close(f)

    def _rotate(self) -> None:
        now = self._clock_s()
        for f in self._files:
            # a quiet table reaches its file every flush_s (a crash loses that much), in
            # batches large enough for Parquet's row groups to compress
            if f.pending and now - f.flushed_s >= self.flush_s:
                f.flush(now)
            if f.path is None:
                continue
            if now - f.opened_s >= self.max_seconds or f.size() >= self.max_bytes:
                self._close(f)

    def _close(self, f: _TableFile) -> None:
        if f.close():
            self.stats.files[f.table] += 1

    def _finish(self) -> None:
        now = self._clock_s()
        for f in self._files:
            f.flush(now)
            self._close(f)

"""Load a store's learned labels into a detector's watch set, and keep loading new ones.

``LabelLoader(store_path, watch_set).poll()`` adds every label-log row after the last one it
read (a script gaining a role is added, one losing it in a reorg is discarded), so calling it
every second or so picks labels up while detection runs: the watch set takes adds without a
pause (``mempool.watchset``). Each (entity, role) is one shared value in the set: an
``AddressEntry`` with no script of its own. ``watch_store`` does the first load, then polls
from a daemon thread: the detector's thread never waits on SQLite. Knows the store and the
watch set, nothing of the engine.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from whalewire.addresses.learner import DEPOSIT
from whalewire.addresses.store import Store
from whalewire.mempool.watchlist import AddressEntry
from whalewire.mempool.watchset import WatchSetLike

__all__ = ["LabelLoader", "watch_store"]

_CHUNK = 1024


def _flush(ws: WatchSetLike[AddressEntry], scripts: list[bytes], value: int) -> None:
    if scripts:
        ws.add_many(scripts, value)
        time.sleep(0)  # let a detector thread take the GIL between chunks


class LabelLoader:
    """Follows one store's label log into one watch set."""

    def __init__(
        self,
        store_path: str | Path,
        watch_set: WatchSetLike[AddressEntry],
        *,
        roles: tuple[str, ...] = (DEPOSIT,),
    ) -> None:
        """Watch the scripts ``store_path`` labels with one of ``roles`` (deposits by default)."""
        self.store = Store(store_path)
        self.watch_set = watch_set
        self.roles = roles
        self.seq = 0
        self._values: dict[tuple[str, str], int] = {}
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def poll(self) -> int:
        """Apply the label-log rows written since the last poll; return how many."""
        every = self.store.labels_since(self.seq)
        if not every:
            return 0
        self.seq = every[-1].seq
        rows = [r for r in every if r.role in self.roles]
        ws = self.watch_set
        ws.reserve(len(ws) + len(rows))
        # runs of one value go in as add_many calls of at most _CHUNK scripts, with the GIL
        # offered between them, so a detector thread waits at most one chunk (~1 ms)
        run: list[bytes] = []
        run_value = -1
        for row in rows:
            if row.active:
                k = self._value(row.entity, row.role)
                if k != run_value or len(run) >= _CHUNK:
                    _flush(ws, run, run_value)
                    run, run_value = [], k
                run.append(row.script)
            else:
                _flush(ws, run, run_value)
                run = []
                ws.discard(row.script)
        _flush(ws, run, run_value)
        return len(rows)

    def _value(self, entity: str, role: str) -> int:
        k = self._values.get((entity, role))
        if k is None:
            values = self.watch_set.values
            values.append(
                AddressEntry("", entity, role, f"learned by whalewire ({self.store.path})", b"", 0)
            )
            k = self._values[(entity, role)] = len(values) - 1
        return k

    def close(self) -> None:
        """Stop polling (``watch_store``'s thread) and close the store."""
        if self._stop is not None and self._thread is not None:
            self._stop.set()
            self._thread.join()
        self.store.close()


def watch_store(
    store_path: str | Path,
    watch_set: WatchSetLike[AddressEntry],
    *,
    interval_s: float = 1.0,
    roles: tuple[str, ...] = (DEPOSIT,),
) -> LabelLoader:
    """Load ``store_path``'s labels into ``watch_set`` now, then every ``interval_s`` seconds.

    The polls run on a daemon thread with their own SQLite connection; ``close()`` on the
    returned loader stops them. A learner writing the store meanwhile is never blocked (WAL).

    Raises:
        sqlite3.Error: the store cannot be opened or read (at the first load).
    """
    first = LabelLoader(store_path, watch_set, roles=roles)
    first.poll()
    first.store.close()
    stop = threading.Event()

    def run() -> None:
        loader = LabelLoader(store_path, watch_set, roles=roles)
        loader.seq, loader._values = first.seq, first._values
        try:
            while not stop.wait(interval_s):
                loader.poll()
        finally:
            loader.store.close()

    thread = threading.Thread(target=run, name="whalewire-labels", daemon=True)
    first._stop, first._thread = stop, thread
    thread.start()
    return first

"""The order journal: every command and order event, in SQLite, written before it acts.

The engine appends ``OrderInitialized`` (which holds the whole command) *before* the
order's bytes go out, and every later event as it is applied. On restart ``replay()``
rebuilds every order; the ones that are not final are reconciled with the venue before
the strategy is armed again.

Why these SQLite settings (measured on this project's 2-vCPU machine, see
docs/benchmarks.md): WAL with ``synchronous=NORMAL`` makes every committed row survive a
crash of the process (the OS has it) at ~4 µs a row with ``locking_mode=EXCLUSIVE``, against
~100 µs with ``synchronous=FULL``, which also survives power loss (choose it with
``durability="full"``). The exclusive lock also means a second engine cannot open the same
journal: two engines trading one account is refused at startup, not discovered later.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from whalewire.engine.oms import Order
from whalewire.model import (
    AnyMessage,
    CancelOrder,
    Message,
    OrderDenied,
    OrderEvent,
    OrderInitialized,
    SubmitOrder,
    decode,
    encode,
)

SCHEMA_VERSION = 1


class JournalError(Exception):
    """The journal cannot be opened, written or replayed."""


class JournalLocked(JournalError):
    """Another process holds the journal: probably a second engine on the same account."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.path = path

    def __str__(self) -> str:
        return (
            f"journal {self.path} is locked by another process: is another whalewire engine "
            "running with it? Stop it (whalewire status / whalewire kill) or choose another "
            "journal path."
        )


class Journal:
    """An append-only log of order messages in one SQLite file."""

    def __init__(self, path: str | Path, *, durability: Literal["process", "full"] = "process"):
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0.0
            )
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            sync = "FULL" if durability == "full" else "NORMAL"
            self._db.execute(f"PRAGMA synchronous={sync}")
            # no automatic checkpoint: it would run inside whichever commit crosses the
            # threshold, an order's among them, and with it an fsync (milliseconds);
            # checkpoint() runs it off the hot path instead
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._init_schema()
            self._attach_rehearsal()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise JournalLocked(self.path) from None
            raise JournalError(f"cannot open journal {self.path}: {exc}") from exc
        self._insert = (
            "INSERT INTO messages(client_order_id, type, body, ts_init) VALUES (?, ?, ?, ?)"
        )
        self._rehearse = (
            "INSERT OR REPLACE INTO rehearsal.messages(seq, client_order_id, type, body, ts_init)"
            " VALUES (1, ?, ?, ?, ?)"
        )
        #: rows committed since the last checkpoint (each adds at least one WAL page)
        self.uncheckpointed = 0
        # writes from the loop's thread and a checkpoint from another take turns: sqlite3
        # leaves serialising writes on a shared connection to its user
        self._lock = threading.Lock()
        self._closed = False
        (last,) = self._db.execute("SELECT coalesce(max(seq), 0) FROM messages").fetchone()
        self._next_seq = int(last) + 1

    def _init_schema(self) -> None:
        db = self._db
        # BEGIN IMMEDIATE takes the (exclusive) lock now, so a second engine fails here
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "CREATE TABLE IF NOT EXISTS messages ("
            " seq INTEGER PRIMARY KEY,"
            " client_order_id TEXT NOT NULL,"
            " type TEXT NOT NULL,"
            " body BLOB NOT NULL,"
            " ts_init INTEGER NOT NULL)"
        )
        # no index on client_order_id: replay reads in order, and an index costs ~2.5 µs per
        # row on the hot path (and a long tail) for lookups nothing makes
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            db.execute("ROLLBACK")
            raise JournalError(
                f"journal {self.path} has schema {row[0]}, this whalewire writes "
                f"{SCHEMA_VERSION}: use a new journal file or an older whalewire"
            )
        db.execute("COMMIT")

    def _attach_rehearsal(self) -> None:
        # A scratch database next to the journal, on the same connection and with the same
        # settings: a rehearsed row goes through the same encoder, SQLite pager, WAL commit
        # and write(2) into the same file system as a real one (a cold write path costs
        # tens of µs), and is never in the journal. One row, replaced each time.
        self.rehearsal_path = self.path.with_name(self.path.name + ".rehearsal")
        db = self._db
        db.execute("ATTACH DATABASE ? AS rehearsal", (str(self.rehearsal_path),))
        db.execute("PRAGMA rehearsal.journal_mode=WAL")
        # a commit in WAL mode takes the same path with OFF as with NORMAL (no sync); OFF
        # only spares the scratch file's checkpoints an fsync, and the event loop a stall
        db.execute("PRAGMA rehearsal.synchronous=OFF")
        # wal_autocheckpoint is the connection's, not one database's: it stays 0 (see
        # __init__), and rehearse() checkpoints the scratch WAL itself to keep it small
        self._rehearsals = 0
        db.execute(
            "CREATE TABLE IF NOT EXISTS rehearsal.messages ("
            " seq INTEGER PRIMARY KEY,"
            " client_order_id TEXT NOT NULL,"
            " type TEXT NOT NULL,"
            " body BLOB NOT NULL,"
            " ts_init INTEGER NOT NULL)"
        )

    @property
    def next_seq(self) -> int:
        """The sequence number the next appended message will get (unique, never reused).

        Client order ids are derived from it, so an id names its journal row and replaying
        the journal after a crash yields the same ids.
        """
        return self._next_seq

    def append(self, message: Message) -> int:
        """Write one message durably (per ``durability``); return its sequence number."""
        row = (message.client_order_id, type(message).__name__, encode(message), message.ts_init)
        with self._lock:
            cursor = self._db.execute(self._insert, row)
        seq = cursor.lastrowid
        assert seq is not None
        self._next_seq = seq + 1
        self.uncheckpointed += 1
        return seq

    def checkpoint(self) -> None:
        """Copy the WAL's committed pages into the database file and let the WAL restart.

        Runs SQLite's PASSIVE checkpoint (with ``synchronous=NORMAL`` it fsyncs, so it can
        take milliseconds): call it off the hot path; it may run in another thread (the
        connection serialises it with ``append``).
        """
        with self._lock:
            if self._closed:
                return
            self.uncheckpointed = 0
            self._db.execute("PRAGMA main.wal_checkpoint(PASSIVE)")

    def rehearse(self, message: Message) -> None:
        """Write ``message`` as ``append`` does, into the scratch database ``rehearsal_path``.

        Keeps the encoder, SQLite's insert and commit and the kernel's write path in cache
        between rare orders; the journal, its sequence numbers and ``messages()`` are
        untouched.
        """
        row = (message.client_order_id, type(message).__name__, encode(message), message.ts_init)
        with self._lock:
            self._db.execute(self._rehearse, row)
            self._rehearsals += 1
            if self._rehearsals % 64 == 0:
                self._db.execute("PRAGMA rehearsal.wal_checkpoint(PASSIVE)")

    def messages(self) -> Iterator[AnyMessage]:
        """Yield every message in the order it was written."""
        for (body,) in self._db.execute("SELECT body FROM messages ORDER BY seq"):
            yield decode(body)

    def replay(self) -> dict[str, Order]:
        """Rebuild every order from the journal, keyed by client order id.

        Raises:
            JournalError: an event the order state machine refuses (a damaged journal).
        """
        orders: dict[str, Order] = {}
        pending: dict[str, SubmitOrder] = {}
        for msg in self.messages():
            coid = msg.client_order_id
            if isinstance(msg, SubmitOrder):
                pending[coid] = msg
            elif isinstance(msg, OrderDenied) and coid in pending:
                orders[coid] = Order.denied(pending.pop(coid), msg)
            elif isinstance(msg, OrderInitialized):
                pending.pop(coid, None)
                orders[coid] = Order(msg)
            elif isinstance(msg, CancelOrder):
                continue
            elif isinstance(msg, OrderEvent):
                order = orders.get(coid)
                if order is None:
                    raise JournalError(f"{type(msg).__name__} for unknown order {coid}")
                try:
                    order.apply(msg)
                except Exception as exc:
                    raise JournalError(f"journal {self.path} replay failed: {exc}") from exc
        return orders

    def close(self) -> None:
        """Close the file (releases the lock) and remove the rehearsal scratch file."""
        with self._lock:  # not under a checkpoint running in another thread
            if self._closed:
                return
            self._closed = True
            self._db.close()
        for suffix in ("", "-wal", "-shm"):
            self.rehearsal_path.with_name(self.rehearsal_path.name + suffix).unlink(missing_ok=True)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

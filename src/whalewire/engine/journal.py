"""The order journal: every order message in SQLite, and each intent in the OS before its send.

What is written where, and when:

- ``<journal>`` (SQLite): every message, in sequence order; ``replay()`` rebuilds every
  order from it, and the orders that are not final are reconciled with the venue before
  the strategy is armed again.
- ``<journal>.intents`` (``engine/intents.py``): before an order's first byte is sent,
  ``intend`` writes its ``OrderInitialized`` (sequence number and encoded message, the
  same bytes its SQLite row will hold) into this memory-mapped log. The SQLite row follows
  right after the send, in the same commit as ``OrderSubmitted``, and the log is then
  cleared. On open, every intent SQLite lacks becomes its row (once: by sequence number)
  before anything reads the journal, so an order whose process died between its send and
  its row is replayed as INITIALIZED and reconciled like any other open order, and
  ``next_seq`` (hence client order ids) continues past it.
- ``<journal>`` table ``decisions``: whale transactions decided on without an order (an
  order's own rows carry its ``txid``); with them, restored into the strategy before it
  is armed, a restart never reacts to the same transaction twice.
- ``<journal>.rehearsal``: a scratch database ``rehearse`` commits its row into; never
  read, removed on close. Its intent goes into the intent log, checksum inverted (never
  read as an intent), where the next real one will be written.

Why the intent log is as safe as the SQLite commit it replaces on the hot path: a store
into a ``MAP_SHARED`` mapping lands in the kernel's page cache page of the file at once,
which is where a SQLite commit under ``synchronous=NORMAL`` puts its WAL frame with
``write(2)``; neither survives a power loss, both survive a SIGKILL, segfault or OOM kill
of the process at any instant after they return. ``intend`` returns before the send, so
an order the journal (SQLite plus intent log) lacks was never sent, and a record torn by a
crash mid-write fails its checksum and is ignored: nothing was sent for it. With
``durability="full"`` ``intend`` is ``append``: a SQLite commit with an fsync before the
send (~100 µs; an msync of the log would cost the same fsync).

Why a memory-mapped log and not a SQLite commit before the send (``bench/journal_record.py``,
pinned to CPU 0, load average 3.7; *warm*: tight-loop median; *cold*: after 32 MiB of
other memory and 2 ms of sleep, encode alone 16 µs of it): ``Journal.append`` (one WAL
commit, a 4 KiB page written) 5.8 µs warm / 83 µs cold; the same with 512-byte pages
5.7 / 64; an ``os.pwrite`` of the record to a pre-allocated file 1.5 / 34 (a syscall and
an inode time update); the mapped log 1.3 / 28.5, ``intend`` itself 1.8 / 29. In the
engine (``bench/e2e_latency.py --orders 60 --busy-poll --rehearse 2 --placements split``,
three runs each, alternating, same session) the journal stage went from 49-59 µs to
10-11 µs p50.

Why these SQLite settings (measured on this project's 2-vCPU machine, see
docs/benchmarks.md): WAL with ``synchronous=NORMAL`` makes every committed row survive a
crash of the process (the OS has it) at ~4 µs a row with ``locking_mode=EXCLUSIVE``, against
~100 µs with ``synchronous=FULL``, which also survives power loss (choose it with
``durability="full"``). The exclusive lock also means a second engine cannot open the same
journal: two engines trading one account is refused at startup, not discovered later.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import msgspec

from whalewire.engine.intents import IntentLog, IntentLogError, IntentLogFull
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
    """An append-only log of order messages in one SQLite file, and its pre-send intent log."""

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
            "INSERT INTO messages(seq, client_order_id, type, body, ts_init) VALUES (?, ?, ?, ?, ?)"
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
        self._full = durability == "full"
        #: intents logged but not yet in SQLite: (seq, client order id, ts_init, body)
        self._pending: list[tuple[int, str, int, bytes]] = []
        try:
            self.intents_path = self.path.with_name(self.path.name + ".intents")
            self._intents = IntentLog(self.intents_path, owner=self._owner())
            self._merge_intents()
        except JournalError:
            self._db.close()
            raise
        except (IntentLogError, OSError) as exc:
            self._db.close()
            raise JournalError(f"journal {self.path}: intent log: {exc}") from exc
        (last,) = self._db.execute("SELECT coalesce(max(seq), 0) FROM messages").fetchone()
        self._next_seq = int(last) + 1
        # the rows' ts_init are the monotonic clock's: this pair (wall clock, monotonic) lets
        # `whalewire history` put a date on each row of this session
        self.note("open", str(time.perf_counter_ns()))

    def _owner(self) -> int:
        # A random token this journal file keeps in its meta table and its intent log keeps
        # in its header: a log left next to a new or another journal file is not merged
        row = self._db.execute("SELECT value FROM meta WHERE key='intents_owner'").fetchone()
        if row is not None:
            return int(row[0])
        token = secrets.randbits(32) or 1
        self._db.execute("INSERT INTO meta VALUES ('intents_owner', ?)", (str(token),))
        return token

    def _merge_intents(self) -> None:
        # Before anything reads the journal: every intent the previous run logged and did
        # not get into SQLite (it died between the two) becomes its OrderInitialized row,
        # under its own sequence number, once; then the log is cleared.
        owner = self._owner()
        if self._intents.owner != owner:
            raise JournalError(
                f"{self.intents_path} belongs to another journal than {self.path} (owner "
                f"{self._intents.owner}, expected {owner}): it may hold the intents of orders "
                "sent by an engine on that journal; settle it by opening that journal, or "
                "delete it if that journal is gone"
            )
        rows = []
        for seq, body in self._intents.records():
            found = self._db.execute("SELECT body FROM messages WHERE seq=?", (seq,)).fetchone()
            if found is not None:
                if bytes(found[0]) != body:
                    raise JournalError(
                        f"{self.intents_path}: the intent with sequence number {seq} differs "
                        f"from the journal's row {seq}"
                    )
                continue
            try:
                msg = decode(body)
            except msgspec.DecodeError as exc:
                raise JournalError(f"{self.intents_path}: intent {seq} unreadable: {exc}") from exc
            if not isinstance(msg, OrderInitialized):
                raise JournalError(
                    f"{self.intents_path}: intent {seq} is a {type(msg).__name__}, "
                    "not an OrderInitialized"
                )
            rows.append((seq, msg.client_order_id, "OrderInitialized", body, msg.ts_init))
        if rows:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(self._insert, rows)
            self._db.execute("COMMIT")
        #: intents merged into SQLite on open (the previous run died before their rows)
        self.merged_intents = len(rows)
        self._intents.clear()

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
        # whale transactions decided on without an order (an order's row holds its own);
        # added in place to journals that predate it: the schema version stays
        db.execute(
            "CREATE TABLE IF NOT EXISTS decisions (txid TEXT PRIMARY KEY, decision TEXT NOT NULL)"
        )
        # the operator's halts and resumes (ts: wall-clock ns), added in place like decisions
        db.execute(
            "CREATE TABLE IF NOT EXISTS operator ("
            " ts INTEGER NOT NULL, action TEXT NOT NULL, source TEXT NOT NULL)"
        )
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

    def intend(self, message: OrderInitialized) -> int:
        """Log an order's intent before its first byte is sent; return its sequence number.

        The record (sequence number and encoded message) is in the intent log, hence in
        the OS, when this returns (~1.4 µs warm); its SQLite row, with the same sequence
        number and body, is written by the next ``append`` (the engine's
        ``OrderSubmitted``, right after the send) or ``settle``. With
        ``durability="full"`` this is ``append``: a synced SQLite commit before the send.
        Call it from one thread (the event loop's).
        """
        if self._full:
            return self.append(message)
        seq = self._next_seq
        body = encode(message)
        try:
            self._intents.append(seq, body)
        except IntentLogFull:  # only if intents pile up with no append between: settle them
            self.settle()
            self._intents.append(seq, body)
        self._pending.append((seq, message.client_order_id, message.ts_init, body))
        self._next_seq = seq + 1
        return seq

    def settle(self) -> None:
        """Write the SQLite rows of the intents logged since the last append, then clear the log.

        ``append``, ``messages``, ``replay`` and ``close`` do it first; call it from the
        thread that calls ``intend``.
        """
        if not self._pending:
            return
        with self._lock:
            self._commit_pending(None)

    def _commit_pending(self, row: tuple[int, str, str, bytes, int] | None) -> None:
        # the intents' rows (and the message being appended) in one transaction: one WAL
        # commit; the log is cleared only once SQLite has them
        rows = [(seq, coid, "OrderInitialized", body, ts) for seq, coid, ts, body in self._pending]
        if row is not None:
            rows.append(row)
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany(self._insert, rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self.uncheckpointed += len(rows)
        self._pending.clear()
        self._intents.clear()

    def append(self, message: Message) -> int:
        """Write one message durably (per ``durability``); return its sequence number.

        Logged intents without their SQLite row get it in the same commit, first.
        """
        seq = self._next_seq
        row = (
            seq,
            message.client_order_id,
            type(message).__name__,
            encode(message),
            message.ts_init,
        )
        with self._lock:
            if self._pending:
                self._commit_pending(row)
            else:
                self._db.execute(self._insert, row)
                self.uncheckpointed += 1
        self._next_seq = seq + 1
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

    def rehearse(self, message: OrderInitialized) -> None:
        """Write ``message`` as ``intend`` and ``append`` do, where no reader takes it.

        The intent goes through the same code as a real one (encoder, checksum, stores)
        into the intent log where the next intent will go, with its checksum inverted: no
        scan ever yields it, and the page the next order writes stays mapped writable (a
        store into a page the kernel has written back faults: 3-13 µs) and in cache. The
        row goes into the scratch database ``rehearsal_path`` through SQLite's insert and
        commit. The journal's rows, its intents, its sequence numbers and ``messages()``
        are untouched.
        """
        body = encode(message)
        # a full log (intents waiting for their rows) skips it: the next intend settles them
        with contextlib.suppress(IntentLogFull):
            self._intents.append(self._next_seq, body, scratch=True)
        row = (message.client_order_id, type(message).__name__, body, message.ts_init)
        with self._lock:
            self._db.execute(self._rehearse, row)
            self._rehearsals += 1
            if self._rehearsals % 64 == 0:
                self._db.execute("PRAGMA rehearsal.wal_checkpoint(PASSIVE)")

    def decide(self, txid: str, decision: str) -> None:
        """Record that whale transaction ``txid`` was decided on without an order.

        An order's decision is its own row (``SubmitOrder.txid``); this keeps the others
        (ignored for a cooldown, a full window, a mined transaction...) so that a restart
        never decides on the same transaction again. Off the hot path: after the decision.
        """
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO decisions(txid, decision) VALUES (?, ?)", (txid, decision)
            )
            self.uncheckpointed += 1

    def note(self, action: str, source: str) -> None:
        """Record an operator's action (``halt``, ``resume``) and who took it (autocommit)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO operator(ts, action, source) VALUES (?, ?, ?)",
                (time.time_ns(), action, source),
            )

    def notes(self) -> list[tuple[int, str, str]]:
        """Every operator action: (wall-clock ns, action, source), oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT ts, action, source FROM operator ORDER BY rowid")
            return [(int(ts), str(a), str(s)) for ts, a, s in rows.fetchall()]

    def decided(self) -> list[str]:
        """Every transaction ``decide`` recorded, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT txid FROM decisions ORDER BY rowid").fetchall()
        return [txid for (txid,) in rows]

    def messages(self) -> Iterator[AnyMessage]:
        """Yield every message in the order it was written (logged intents settled first)."""
        self.settle()
        for (body,) in self._db.execute("SELECT body FROM messages ORDER BY seq"):
            yield decode(body)

    def since(self, seq: int) -> list[tuple[int, AnyMessage]]:
        """Return (sequence number, message) of every SQLite row after ``seq`` (fleet's tap)."""
        with self._lock:
            rows = self._db.execute("SELECT seq, body FROM messages WHERE seq > ? ORDER BY seq",
                                    (seq,)).fetchall()  # fmt: skip
        return [(s, decode(body)) for s, body in rows]

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
        """Settle logged intents, close the files (releases the lock), remove scratch files."""
        self.settle()  # nothing pending once closed
        with self._lock:  # not under a checkpoint running in another thread
            if self._closed:
                return
            self._closed = True
            self._db.close()
        self._intents.close()
        for suffix in ("", "-wal", "-shm"):
            self.rehearsal_path.with_name(self.rehearsal_path.name + suffix).unlink(missing_ok=True)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

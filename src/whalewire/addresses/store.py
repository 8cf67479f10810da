"""The learner's SQLite store: the state to resume from, and the labels to query and follow.

One file holds ``state`` (the learner's whole state as one msgpack snapshot, written at each
checkpoint in the same transaction as everything else, so a restart resumes from the last
checkpointed block), ``blocks`` (height, hash of the connected tip), the queryable tables
``labels`` (the current role of every labelled address), ``evidence`` and ``conflicts``, and
``label_log``, append only, whose sequence numbers the live loader follows to pick up new
labels while the detector runs. SQLite is the embedded default the project uses elsewhere:
one transaction per checkpoint, readers in other processes never blocked (WAL); what a
checkpoint costs is measured in docs/benchmarks.md ("Address learner").
Knows the learner's fields and SQL, nothing of blocks or heuristics.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from whalewire.addresses.learner import Conflict, Evidence, Learner
from whalewire.mempool.address import script_to_address

__all__ = ["SAVED_UNDO", "Label", "Store"]

#: how many blocks a resumed learner can disconnect (the snapshot's undo logs; a running one
#: keeps ``learner.UNDO_DEPTH``): the undo logs are most of a snapshot's bytes
SAVED_UNDO = 12

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), snapshot BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS labels (
    addr INTEGER PRIMARY KEY, script BLOB NOT NULL, address TEXT, entity TEXT NOT NULL,
    role TEXT NOT NULL, height INTEGER NOT NULL, cluster INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS labels_script ON labels (script);
CREATE INDEX IF NOT EXISTS labels_address ON labels (address);
CREATE TABLE IF NOT EXISTS evidence (
    addr INTEGER NOT NULL, txid TEXT NOT NULL, heuristic TEXT NOT NULL, height INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS evidence_addr ON evidence (addr);
CREATE TABLE IF NOT EXISTS conflicts (
    txid TEXT NOT NULL, heuristic TEXT NOT NULL, entity_a TEXT NOT NULL, entity_b TEXT NOT NULL,
    height INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS addr (id INTEGER PRIMARY KEY, script BLOB NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS addr_script ON addr (script);
CREATE TABLE IF NOT EXISTS utxo (op BLOB PRIMARY KEY, addr INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS label_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, script BLOB NOT NULL, entity TEXT NOT NULL,
    role TEXT NOT NULL, height INTEGER NOT NULL, active INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Label:
    """One row of the label log: a script gained (``active``) or lost a role."""

    seq: int
    script: bytes
    entity: str
    role: str
    active: bool


class Store:
    """A learner's SQLite file; safe to read from another process while it learns (WAL)."""

    def __init__(self, path: str | Path, *, network: str = "mainnet") -> None:
        """Open (or create) the store at ``path``; ``network`` names its addresses."""
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        row = self.db.execute("SELECT value FROM meta WHERE key = 'network'").fetchone()
        self.network = row[0] if row else network
        self._addresses: dict[bytes, str | None] = {}
        self.spill = SqliteSpill(self.db)
        if not row:
            with self.db:
                self.db.execute("INSERT INTO meta VALUES ('network', ?)", (network,))

    def close(self) -> None:
        """Close the file."""
        self.db.close()

    def _address(self, script: bytes) -> str | None:
        # encoding is ~0.1 ms in Python and the labels table is rewritten at each checkpoint
        if script not in self._addresses:
            self._addresses[script] = script_to_address(script, self.network)
        return self._addresses[script]

    # --- the learner's state -----------------------------------------------------------------

    def save(self, learner: Learner) -> None:
        """Checkpoint ``learner`` in one transaction (a crash keeps the previous checkpoint)."""
        if learner.spill is self.spill:
            learner.evict()  # into the same transaction as the snapshot that counts on it
        snap = msgspec.msgpack.encode(
            {
                "scripts": learner.scripts,
                "parent": learner.parent.tobytes(),
                "size": learner.size.tobytes(),
                "entity": learner.entity,
                "role": learner.role,
                "funders": learner.funders.tobytes(),
                "swept": learner.swept,
                "pending": learner.pending,
                "evidence": [tuple(_fields(e)) for e in learner.evidence],
                "conflicts": [tuple(_fields(c)) for c in learner.conflicts],
                "utxo": learner.utxo,
                "tip": learner.tip[-SAVED_UNDO:],
                "undo": learner.undo[-SAVED_UNDO:],
                "coinjoins_skipped": learner.coinjoins_skipped,
                "transactions": learner.transactions,
            }
        )
        find = learner.find
        with self.db:
            db = self.db
            db.execute("INSERT OR REPLACE INTO state VALUES (1, ?)", (snap,))
            db.execute("DELETE FROM blocks")
            db.executemany(
                "INSERT INTO blocks VALUES (?, ?)", [(h, b[::-1].hex()) for h, b in learner.tip]
            )
            db.execute("DELETE FROM labels")
            db.executemany(
                "INSERT INTO labels VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        a,
                        learner.script_of(a),
                        self._address(learner.script_of(a)),
                        e,
                        r,
                        h,
                        find(a),
                    )
                    for a, (e, r, h) in learner.role.items()
                ],
            )
            db.execute("DELETE FROM evidence")
            db.executemany(
                "INSERT INTO evidence VALUES (?, ?, ?, ?)", [_fields(e) for e in learner.evidence]
            )
            db.execute("DELETE FROM conflicts")
            db.executemany(
                "INSERT INTO conflicts VALUES (?, ?, ?, ?, ?)",
                [_fields(c) for c in learner.conflicts],
            )
            db.executemany(
                "INSERT INTO label_log (script, entity, role, height, active)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (learner.script_of(a), e, r, h, int(on))
                    for a, e, r, h, on in learner.label_log
                    if a < len(learner.parent)
                ],
            )
        learner.label_log.clear()

    def load(self, *, cache_entries: int = 2_000_000) -> Learner:
        """Return the last checkpointed learner (an empty one for a new store).

        Its address ids and unspent outputs spill into this store's tables beyond
        ``cache_entries`` of them, and at each ``save``: its memory stays bounded by that
        and by its union-find (three int64s an address).
        """
        row = self.db.execute("SELECT snapshot FROM state WHERE id = 1").fetchone()
        if row is None:
            return Learner(spill=self.spill, cache_entries=cache_entries)
        s: dict[str, Any] = msgspec.msgpack.decode(row[0])
        scripts: dict[int, bytes] = s["scripts"]
        return Learner(
            spill=self.spill,
            cache_entries=cache_entries,
            ids={b: k for k, b in scripts.items()},
            scripts=scripts,
            parent=_int64s(s["parent"]),
            size=_int64s(s["size"]),
            entity=s["entity"],
            role={a: tuple(v) for a, v in s["role"].items()},
            funders=_int64s(s["funders"]),
            swept=s["swept"],
            pending={a: [(t, list(i)) for t, i in v] for a, v in s["pending"].items()},
            evidence=[Evidence(*e) for e in s["evidence"]],
            conflicts=[Conflict(*c) for c in s["conflicts"]],
            utxo=s["utxo"],
            tip=[(h, b) for h, b in s["tip"]],
            undo=[[tuple(op) for op in log] for log in s["undo"]],
            coinjoins_skipped=s["coinjoins_skipped"],
            transactions=s["transactions"],
        )

    # --- queries -----------------------------------------------------------------------------

    def height(self) -> int:
        """Return the height of the last checkpointed block (-1 when none)."""
        row = self.db.execute("SELECT MAX(height) FROM blocks").fetchone()
        return -1 if row is None or row[0] is None else int(row[0])

    def labels_since(self, seq: int, roles: tuple[str, ...] | None = None) -> list[Label]:
        """Return the label-log rows after ``seq`` (all roles, or only ``roles``)."""
        rows = self.db.execute(
            "SELECT seq, script, entity, role, active FROM label_log WHERE seq > ? ORDER BY seq",
            (seq,),
        ).fetchall()
        return [
            Label(q, bytes(s), e, r, bool(on))
            for q, s, e, r, on in rows
            if roles is None or r in roles
        ]

    def show(self, address: str) -> dict[str, Any] | None:
        """Return what the store knows of ``address``: entity, role, evidence; None if nothing."""
        row = self.db.execute(
            "SELECT addr, entity, role, height, cluster FROM labels WHERE address = ?", (address,)
        ).fetchone()
        if row is None:
            return None
        addr, entity, role, height, cluster = row
        evidence = self.db.execute(
            "SELECT txid, heuristic, height FROM evidence WHERE addr = ? ORDER BY height", (addr,)
        ).fetchall()
        size = self.db.execute(
            "SELECT COUNT(*) FROM labels WHERE cluster = ?", (cluster,)
        ).fetchone()[0]
        return {
            "address": address,
            "entity": entity,
            "role": role,
            "learned_at_height": height,
            "labelled_cluster_addresses": size,
            "evidence": [{"txid": t, "heuristic": h, "height": ht} for t, h, ht in evidence],
        }

    def export_rows(self) -> list[tuple[str, str, str, str]]:
        """Return ``(address, entity, label, source)`` for every labelled address."""
        rows = self.db.execute(
            "SELECT l.address, l.entity, l.role, "
            "(SELECT heuristic || ' ' || txid FROM evidence e WHERE e.addr = l.addr "
            " ORDER BY height LIMIT 1) FROM labels l WHERE l.address IS NOT NULL ORDER BY l.addr"
        ).fetchall()
        return [(a, e, r, f"whalewire learned: {src or 'cluster'}") for a, e, r, src in rows]

    def stats(self) -> dict[str, Any]:
        """Return counts: height, labels by entity and role, evidence rows, conflicts."""
        by = self.db.execute(
            "SELECT entity, role, COUNT(*) FROM labels GROUP BY entity, role ORDER BY entity, role"
        ).fetchall()
        return {
            "height": self.height(),
            "labels": {f"{e} / {r}": n for e, r, n in by},
            "evidence_rows": self.db.execute("SELECT COUNT(*) FROM evidence").fetchone()[0],
            "conflicts": self.db.execute("SELECT COUNT(*) FROM conflicts").fetchone()[0],
        }


class SqliteSpill:
    """A learner's spilled address ids and unspent outputs, in the store's own tables.

    Writes go into the connection's open transaction: the next checkpoint commits them with
    the snapshot, and a crash before it rolls both back together.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        """Use ``db``'s ``addr`` and ``utxo`` tables."""
        self.db = db

    def take_utxo(self, outpoint: bytes) -> int | None:
        """Remove a spilled unspent output; return the address it paid, or None."""
        row = self.db.execute("SELECT addr FROM utxo WHERE op = ?", (outpoint,)).fetchone()
        if row is None:
            return None
        self.db.execute("DELETE FROM utxo WHERE op = ?", (outpoint,))
        return int(row[0])

    def drop_utxo(self, outpoint: bytes) -> None:
        """Forget a spilled unspent output."""
        self.db.execute("DELETE FROM utxo WHERE op = ?", (outpoint,))

    def id_of(self, script: bytes) -> int | None:
        """Return a spilled script's address id, or None."""
        row = self.db.execute("SELECT id FROM addr WHERE script = ?", (script,)).fetchone()
        return None if row is None else int(row[0])

    def script_of(self, a: int) -> bytes | None:
        """Return a spilled address id's script, or None."""
        row = self.db.execute("SELECT script FROM addr WHERE id = ?", (a,)).fetchone()
        return None if row is None else bytes(row[0])

    def drop_id(self, a: int) -> None:
        """Forget a spilled address."""
        self.db.execute("DELETE FROM addr WHERE id = ?", (a,))

    def put(self, scripts: dict[int, bytes], utxo: dict[bytes, int]) -> None:
        """Take these addresses and unspent outputs out of memory."""
        self.db.executemany("INSERT OR IGNORE INTO addr VALUES (?, ?)", scripts.items())
        self.db.executemany("INSERT OR REPLACE INTO utxo VALUES (?, ?)", utxo.items())

    def ids(self) -> Iterator[tuple[bytes, int]]:
        """Yield every spilled ``(script, address id)``."""
        for script, a in self.db.execute("SELECT script, id FROM addr"):
            yield bytes(script), int(a)


def _int64s(raw: bytes) -> array[int]:
    out = array("q")
    out.frombytes(raw)
    return out


def _fields(obj: Evidence | Conflict) -> tuple[Any, ...]:
    return tuple(getattr(obj, f) for f in obj.__slots__)

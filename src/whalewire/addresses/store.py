"""The learner's SQLite store: the state to resume from, and the labels to query and follow.

One file holds the learner's state, checkpointed in one transaction so that a restart
resumes from the last checkpointed block, each checkpoint writing only what changed since the
previous one: ``state`` (a msgpack snapshot of what is per labelled address), ``chunks`` (the
union-find and funders arrays, 65,536 addresses a chunk), ``addr`` and ``utxo`` (address ids,
unspent outputs), ``undo`` and ``blocks`` (the last blocks' undo logs and hashes, so a
resumed learner can disconnect them), the queryable tables ``labels`` (the current role of
every labelled address), ``evidence`` and ``conflicts``, and ``label_log``, append only,
whose sequence numbers the live loader follows to pick up new labels while the detector
runs. SQLite is the embedded default the project uses elsewhere:
one transaction per checkpoint, readers in other processes never blocked (WAL); what a
checkpoint costs is measured in docs/benchmarks.md ("Address learner").
Knows the learner's fields and SQL, nothing of blocks or heuristics.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from whalewire.addresses.learner import CHUNK_BITS, Conflict, Evidence, Learner
from whalewire.mempool.address import script_to_address

__all__ = ["Label", "Store"]

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
CREATE TABLE IF NOT EXISTS chunks (
    name TEXT NOT NULL, chunk INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (name, chunk))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS undo (height INTEGER PRIMARY KEY, log BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS labels_cluster ON labels (cluster);
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
        """Checkpoint ``learner`` in one transaction (a crash keeps the previous checkpoint).

        Writes only what changed since the last checkpoint: the learner's address ids and
        unspent outputs leave memory for the ``addr`` and ``utxo`` tables (those of a learner
        not loaded from this store are written whole, and stay in its memory), the chunks of
        the union-find and funders arrays that changed, the new blocks, undo logs, evidence
        and conflicts, and the label rows that changed; the snapshot holds the rest (roles,
        cluster labels, sweep counts, pending consolidations: per labelled address).
        """
        if learner.spill is self.spill:
            learner.sync()  # into the same transaction as the snapshot that counts on it
        else:  # a learner kept in memory (not from ``load``): its ids and outputs whole
            self.db.execute("DELETE FROM addr")
            self.db.execute("DELETE FROM utxo")
            self.spill.put(learner.scripts, learner.utxo, [])
        snap = msgspec.msgpack.encode(
            {
                "entity": learner.entity,
                "role": learner.role,
                "swept": learner.swept,
                "pending": learner.pending,
                "tip": learner.tip,
                "coinjoins_skipped": learner.coinjoins_skipped,
                "transactions": learner.transactions,
                "addresses": len(learner.parent),
            }
        )
        with self.db:
            db = self.db
            db.execute("INSERT OR REPLACE INTO state VALUES (1, ?)", (snap,))
            self._save_arrays(learner)
            self._save_undo(learner)
            self._save_rows(learner)
            self._save_labels(learner)
        learner.label_log.clear()
        learner.trim_undo()

    def _save_arrays(self, learner: Learner) -> None:
        n = len(learner.parent)
        chunks = set(learner.dirty)
        if n != learner.saved_len:  # the chunks where addresses were added or removed
            chunks.update(range(min(learner.saved_len, n) >> CHUNK_BITS, _chunks(n)))
        step = 1 << CHUNK_BITS
        rows = []
        for c in sorted(c for c in chunks if c < _chunks(n)):
            lo, hi = c * step, min((c + 1) * step, n)
            rows.append(("parent", c, learner.parent[lo:hi].tobytes()))
            rows.append(("size", c, learner.size[lo:hi].tobytes()))
            rows.append(("funders", c, learner.funders[2 * lo : 2 * hi].tobytes()))
        self.db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?)", rows)
        self.db.execute("DELETE FROM chunks WHERE chunk >= ?", (_chunks(n),))
        learner.dirty.clear()
        learner.saved_len = n

    def _save_undo(self, learner: Learner) -> None:
        """The blocks and undo logs connected since the last checkpoint; forget older ones."""
        db, tip = self.db, learner.tip
        for table in ("blocks", "undo"):
            db.execute(f"DELETE FROM {table} WHERE height > ?", (learner.height,))
            if tip:
                db.execute(f"DELETE FROM {table} WHERE height < ?", (tip[0][0],))
        db.executemany(
            "INSERT OR REPLACE INTO blocks VALUES (?, ?)",
            [(h, b[::-1].hex()) for h, b in tip if h > learner.saved_height],
        )
        new = [
            (h, msgspec.msgpack.encode(log))
            for (h, _), log in zip(tip[len(tip) - len(learner.undo) :], learner.undo, strict=True)
            if h > learner.saved_height
        ]
        db.executemany("INSERT OR REPLACE INTO undo VALUES (?, ?)", new)
        learner.saved_height = learner.height

    def _save_rows(self, learner: Learner) -> None:
        """Evidence and conflicts since the last checkpoint (a reorg may have cut them back)."""
        learner.saved_evidence = self._append("evidence", learner.evidence, learner.saved_evidence)
        learner.saved_conflicts = self._append(
            "conflicts", learner.conflicts, learner.saved_conflicts
        )

    def _append(self, table: str, items: Sequence[Evidence | Conflict], saved: int) -> int:
        """Make ``table`` hold ``items`` (row i at rowid i + 1); it holds the first ``saved``."""
        self.db.execute(f"DELETE FROM {table} WHERE rowid > ?", (saved,))
        if saved < len(items):
            marks = ", ".join("?" * (1 + len(items[0].__slots__)))
            self.db.executemany(
                f"INSERT INTO {table} (rowid, {', '.join(items[0].__slots__)}) VALUES ({marks})",
                [(i + 1, *_fields(x)) for i, x in enumerate(items[saved:], saved)],
            )
        return len(items)

    def _save_labels(self, learner: Learner) -> None:
        db, find = self.db, learner.find
        changed = {a for a, *_ in learner.label_log}
        gone = [(a,) for a in changed if a not in learner.role]
        db.executemany("DELETE FROM labels WHERE addr = ?", gone)
        rows = []
        for a in changed:
            if a in learner.role:
                entity, role, height = learner.role[a]
                script = learner.script_of(a)
                rows.append((a, script, self._address(script), entity, role, height, find(a)))
        db.executemany("INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        # a union moved some labelled addresses to another root (a reorg may move them back)
        # only labelled clusters have rows, and a labelled cluster's root names its entity
        for root in learner.moved & learner.entity.keys():
            members = db.execute("SELECT addr FROM labels WHERE cluster = ?", (root,)).fetchall()
            db.executemany(
                "UPDATE labels SET cluster = ? WHERE addr = ?",
                [(find(a), a) for (a,) in members if find(a) != root],
            )
        learner.moved.clear()
        db.executemany(
            "INSERT INTO label_log (script, entity, role, height, active) VALUES (?, ?, ?, ?, ?)",
            [
                (learner.script_of(a), e, r, h, int(on))
                for a, e, r, h, on in learner.label_log
                if a < len(learner.parent)
            ],
        )

    def load(self, *, cache_entries: int = 2_000_000) -> Learner:
        """Return the last checkpointed learner (an empty one for a new store).

        Its address ids and unspent outputs spill into this store's tables beyond
        ``cache_entries`` of them, and at each ``save``: its memory stays bounded by that,
        by its union-find (three int64s an address) and by ``UNDO_MEMORY`` undo logs (the
        older ones are read back from the store to disconnect).
        """
        row = self.db.execute("SELECT snapshot FROM state WHERE id = 1").fetchone()
        if row is None:
            return Learner(spill=self.spill, cache_entries=cache_entries)
        s: dict[str, Any] = msgspec.msgpack.decode(row[0])
        arrays = {name: array("q") for name in ("parent", "size", "funders")}
        for name, data in self.db.execute("SELECT name, data FROM chunks ORDER BY name, chunk"):
            arrays[name].frombytes(data)
        evidence = [
            Evidence(*e)
            for e in self.db.execute(
                "SELECT addr, txid, heuristic, height FROM evidence ORDER BY rowid"
            )
        ]
        conflicts = [
            Conflict(*c)
            for c in self.db.execute(
                "SELECT txid, heuristic, entity_a, entity_b, height FROM conflicts ORDER BY rowid"
            )
        ]
        tip = [(h, b) for h, b in s["tip"]]
        learner = Learner(
            spill=self.spill,
            cache_entries=cache_entries,
            parent=arrays["parent"],
            size=arrays["size"],
            entity=s["entity"],
            role={a: tuple(v) for a, v in s["role"].items()},
            funders=arrays["funders"],
            swept=s["swept"],
            pending={a: [(t, list(i)) for t, i in v] for a, v in s["pending"].items()},
            evidence=evidence,
            conflicts=conflicts,
            tip=tip,
            coinjoins_skipped=s["coinjoins_skipped"],
            transactions=s["transactions"],
            saved_len=len(arrays["parent"]),
            ids_floor=len(arrays["parent"]),
            whole=False,
            saved_evidence=len(evidence),
            saved_conflicts=len(conflicts),
            saved_height=tip[-1][0] if tip else -1,
        )
        if len(learner.parent) != s["addresses"]:
            raise ValueError(f"{self.path}: the arrays hold {len(learner.parent)} addresses")
        return learner

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

    def put(self, scripts: dict[int, bytes], utxo: dict[bytes, int], spent: list[bytes]) -> None:
        """Hold these addresses and unspent outputs; forget the ``spent`` outputs."""
        self.db.executemany("INSERT OR REPLACE INTO addr VALUES (?, ?)", scripts.items())
        self.db.executemany("DELETE FROM utxo WHERE op = ?", [(op,) for op in spent])
        self.db.executemany("INSERT OR REPLACE INTO utxo VALUES (?, ?)", utxo.items())

    def ids(self) -> Iterator[tuple[bytes, int]]:
        """Yield every spilled ``(script, address id)``."""
        for script, a in self.db.execute("SELECT script, id FROM addr"):
            yield bytes(script), int(a)

    def undo_log(self, height: int) -> list[tuple[Any, ...]] | None:
        """Return the checkpointed undo log of the block at ``height``, or None."""
        row = self.db.execute("SELECT log FROM undo WHERE height = ?", (height,)).fetchone()
        return None if row is None else _decode_log(row[0])


def _chunks(n: int) -> int:
    return (n + (1 << CHUNK_BITS) - 1) >> CHUNK_BITS


def _decode_log(raw: bytes) -> list[tuple[Any, ...]]:
    """An undo log as the learner wrote it (msgpack turns its tuples into lists)."""
    log = []
    for op in msgspec.msgpack.decode(raw):
        if op[0] == "spent":
            op[1] = [tuple(p) for p in op[1]]
        elif op[0] == "role" and op[2] is not None:
            op[2] = tuple(op[2])
        elif op[0] == "pending" and op[2] is not None:
            op[2] = [(t, list(i)) for t, i in op[2]]
        log.append(tuple(op))
    return log


def _fields(obj: Evidence | Conflict) -> tuple[Any, ...]:
    return tuple(getattr(obj, f) for f in obj.__slots__)

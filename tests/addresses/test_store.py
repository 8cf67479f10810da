"""The store's checkpoints: incremental, and a learner resumed from them equals one never stopped.

Expected values come from an uninterrupted in-memory learner and from a fresh store written
once from it; the learner under test is checkpointed often, closed and reopened from the
file, and reorganised across checkpoints (undo logs read back from the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.addresses.support import blocks, learn, state

from whalewire.addresses.learner import UNDO_MEMORY, Learner
from whalewire.addresses.seeds import load_seeds
from whalewire.addresses.store import Store

TABLES = {
    "labels": "SELECT * FROM labels ORDER BY addr",
    "evidence": "SELECT addr, txid, heuristic, height FROM evidence ORDER BY rowid",
    "conflicts": "SELECT * FROM conflicts ORDER BY rowid",
    "chunks": "SELECT * FROM chunks ORDER BY name, chunk",
    "blocks": "SELECT * FROM blocks ORDER BY height",
    "addr": "SELECT * FROM addr ORDER BY id",
    "utxo": "SELECT * FROM utxo ORDER BY op",
}


def tables(store: Store) -> dict[str, list[Any]]:
    return {name: store.db.execute(sql).fetchall() for name, sql in TABLES.items()}


def reopen(path: Path, store: Store) -> tuple[Store, Learner]:
    store.close()
    fresh = Store(path)
    return fresh, fresh.load(cache_entries=500)


def test_a_learner_resumed_often_and_reorganised_equals_one_never_stopped(
    economy: Path, tmp_path: Path
) -> None:
    chain = blocks(economy)
    path = tmp_path / "s.db"
    store = Store(path)
    learner = store.load(cache_entries=500)
    for s in load_seeds(economy / "seeds.csv"):
        learner.seed(s.script, s.entity, s.label, s.source)
    crashes = 0
    while learner.height < 89:
        h = learner.height + 1
        learner.connect(*chain[h])
        if h % 7 == 6:
            store.save(learner)
        if h % 20 == 19 and crashes < 4:  # stopped without a checkpoint: back to the last one
            crashes += 1
            store, learner = reopen(path, store)
            assert learner.height == h - h % 7 - 1
    store.save(learner)
    store, learner = reopen(path, store)
    # a reorg across checkpoints, deeper than the undo logs kept in memory
    for _ in range(25):
        learner.disconnect()
    store.save(learner)
    store, learner = reopen(path, store)
    for h, raw in chain[65:]:
        learner.connect(h, raw)
        if h % 11 == 0:
            store.save(learner)
    store.save(learner)
    store, learner = reopen(path, store)

    reference = learn(economy)
    assert state(learner, store) == state(reference)
    assert learner.evidence == reference.evidence
    assert learner.conflicts == reference.conflicts
    written_once = Store(tmp_path / "once.db")
    written_once.save(learn(economy))
    assert tables(store) == tables(written_once)


def test_a_checkpoint_writes_only_what_changed(economy: Path, tmp_path: Path) -> None:
    chain = blocks(economy)
    store = Store(tmp_path / "s.db")
    learner = store.load()
    for s in load_seeds(economy / "seeds.csv"):
        learner.seed(s.script, s.entity, s.label, s.source)
    for h, raw in chain[:63]:
        learner.connect(h, raw)
    store.save(learner)
    before = store.db.total_changes
    store.save(learner)
    assert store.db.total_changes - before == 1  # nothing new: the snapshot row only
    written: list[str] = []
    store.db.set_trace_callback(written.append)
    roles, n_evidence = dict(learner.role), len(learner.evidence)
    learner.connect(*chain[63])
    written.clear()
    store.save(learner)
    changed_roles = {
        a for a in roles.keys() | learner.role.keys() if roles.get(a) != learner.role.get(a)
    }
    assert changed_roles  # this block labels addresses
    assert sum(w.startswith("INSERT OR REPLACE INTO labels") for w in written) == len(changed_roles)
    assert sum(w.startswith("INSERT INTO evidence") for w in written) == (
        len(learner.evidence) - n_evidence
    )
    assert sum(w.startswith("INSERT OR REPLACE INTO chunks") for w in written) == 3  # one chunk
    assert sum(w.startswith("INSERT OR REPLACE INTO undo") for w in written) == 1


def test_undo_logs_leave_memory_once_checkpointed(economy: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    learner = store.load()
    for h, raw in blocks(economy)[:40]:
        learner.connect(h, raw)
    assert len(learner.undo) == 40  # not checkpointed yet: all kept
    store.save(learner)
    assert len(learner.undo) == UNDO_MEMORY
    assert len(learner.tip) == 40  # still 40 blocks deep to disconnect

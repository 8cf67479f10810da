"""Tests for the learner on a synthetic economy: the issue's targets, reorgs, resumption.

Targets (issue 16): deposit-label precision >= 0.99, recall >= 0.95 of deposits to addresses
already swept once, no CoinJoin-induced merge of two labelled entities. The truth comes from
the generator, never from the learner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.addresses.support import blocks, learn, state

from whalewire.addresses.blockfiles import best_chain, index
from whalewire.addresses.heuristics import coinjoin_shape
from whalewire.addresses.learner import DEPOSIT, Learner, ReorgError
from whalewire.addresses.score import score
from whalewire.addresses.seeds import load_seeds
from whalewire.addresses.store import Store
from whalewire.mempool.address import address_to_script


def test_learner_meets_the_issue_targets_on_the_synthetic_economy(
    economy: Path, truth: dict[str, Any]
) -> None:
    result = score(learn(economy), truth, blocks(economy))
    assert result.deposit_labels > 150
    assert result.label_precision >= 0.99
    assert result.label_recall >= 0.95
    assert result.mempool_recall >= 0.95
    assert result.mempool_precision >= 0.99
    assert result.entity_merges == 0
    assert result.coinjoins_skipped >= len(truth["coinjoins"]) > 0
    assert result.sweeps_before_label_mean < 1.1


def test_two_exchanges_spent_together_are_refused_and_reported(
    economy: Path, truth: dict[str, Any]
) -> None:
    learner = learn(economy)
    assert {c.txid for c in learner.conflicts} == set(truth["conflicts"])
    hots = [address_to_script(e["hot"][0]) for e in truth["entities"].values()]
    roots = {learner.find(learner.ids[h]) for h in hots}
    assert len(roots) == len(hots)


def test_every_label_has_evidence_naming_a_transaction_and_heuristic(economy: Path) -> None:
    learner = learn(economy)
    by_addr: dict[int, list[str]] = {}
    for e in learner.evidence:
        by_addr.setdefault(e.addr, []).append(e.heuristic)
    assert all(a in by_addr for a in learner.role)
    deposits = [a for a, r in learner.role.items() if r[1] == DEPOSIT]
    assert all("sweep-into-labelled-wallet" in by_addr[a] for a in deposits)


def test_disconnecting_blocks_restores_the_state_before_them(economy: Path) -> None:
    before = state(learn(economy, upto=60))
    learner = learn(economy, upto=60)
    learn(economy, upto=80, learner=learner)
    for _ in range(20):
        learner.disconnect()
    assert learner.height == 60
    assert state(learner) == before
    # and it learns the same chain again to the same end
    learn(economy, learner=learner)
    assert state(learner) == state(learn(economy))


def test_a_block_that_does_not_extend_the_tip_is_refused(economy: Path) -> None:
    chain = blocks(economy)
    learner = Learner()
    learner.connect(0, chain[0][1])
    with pytest.raises(ReorgError):
        learner.connect(1, chain[2][1])
    with pytest.raises(ReorgError):
        Learner().disconnect()


def test_store_resumes_from_the_last_checkpoint(economy: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.save(learn(economy, upto=50))
    store.close()
    reopened = Store(tmp_path / "s.db")
    resumed = reopened.load()
    assert resumed.height == 50
    learn(economy, learner=resumed)
    assert state(resumed, reopened) == state(learn(economy))


def test_blocks_files_are_read_in_height_order_not_file_order(
    economy: Path, truth: dict[str, Any]
) -> None:
    refs = index(economy / "blocks")
    file_order = list(refs.values())
    chain = best_chain(refs)
    assert len(chain) == truth["blocks"]
    assert chain[-1].hash[::-1].hex() == truth["tip"]
    assert [r.hash for r in file_order] != [r.hash for r in chain]  # the generator shuffled
    assert all(chain[k].prev == chain[k - 1].hash for k in range(1, len(chain)))


@pytest.mark.parametrize(
    ("values", "n_in", "shape"),
    [
        ([5] * 5, 5, "whirlpool"),
        ([10] * 12 + [3, 4, 7], 14, "wasabi"),
        ([7, 7, 7, 7, 1, 2, 3], 4, "joinmarket"),
        ([7, 7], 2, "joinmarket"),
        ([7, 8], 2, None),
        ([7, 7, 1, 2, 3, 4], 2, None),  # two equal among a batch: a withdrawal, not a mix
        ([5] * 5, 1, None),  # one input: one owner
    ],
)
def test_coinjoin_shapes(values: list[int], n_in: int, shape: str | None) -> None:
    assert coinjoin_shape(values, n_in) == shape


def test_a_resumed_learner_undoes_blocks_from_the_undo_logs_in_the_store(
    economy: Path, tmp_path: Path
) -> None:
    store = Store(tmp_path / "s.db")
    store.save(learn(economy, upto=70))
    resumed = store.load()
    assert not resumed.undo  # none in memory: each is read back from the file
    for _ in range(30):
        resumed.disconnect()
    assert state(resumed, store) == state(learn(economy, upto=40))
    for _ in range(41):
        resumed.disconnect()
    with pytest.raises(ReorgError):
        resumed.disconnect()


def test_spilling_to_the_store_changes_no_answer(
    economy: Path, truth: dict[str, Any], tmp_path: Path
) -> None:
    # a cache of 300 entries: nearly every lookup of an older address or output misses memory
    store = Store(tmp_path / "s.db")
    spilled = store.load(cache_entries=300)
    chain = blocks(economy)
    for s in load_seeds(economy / "seeds.csv"):
        spilled.seed(s.script, s.entity, s.label, s.source)
    for h, raw in chain[:90]:
        spilled.connect(h, raw)
        if h % 10 == 9:
            store.save(spilled)
    assert len(spilled.ids) + len(spilled.utxo) <= 300 + 2_000  # one block's worth at most
    # a reorg across spilled blocks, then the rest of the chain
    for _ in range(8):
        spilled.disconnect()
    for h, raw in chain[82:]:
        spilled.connect(h, raw)
    reference = learn(economy)
    assert spilled.role == reference.role
    assert spilled.conflicts == reference.conflicts
    assert [(e.addr, e.txid, e.heuristic) for e in spilled.evidence] == [
        (e.addr, e.txid, e.heuristic) for e in reference.evidence
    ]
    assert dict(spilled.all_ids()) == reference.ids
    assert spilled.parent == reference.parent
    assert score(spilled, truth, chain) == score(reference, truth, chain)
    # and from the store again, after a checkpoint
    store.save(spilled)
    resumed = Store(tmp_path / "s.db").load(cache_entries=300)
    assert dict(resumed.all_ids()) == reference.ids
    assert resumed.role == reference.role

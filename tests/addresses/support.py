"""Helpers of the learner's tests: learn an economy's chain, and everything a learner knows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from whalewire.addresses.blockfiles import best_chain, index, read_chain
from whalewire.addresses.learner import Learner
from whalewire.addresses.seeds import load_seeds
from whalewire.addresses.store import Store


def learn(economy: Path, upto: int | None = None, learner: Learner | None = None) -> Learner:
    learner = learner or Learner()
    if not learner.tip:
        for s in load_seeds(economy / "seeds.csv"):
            learner.seed(s.script, s.entity, s.label, s.source)
    chain = best_chain(index(economy / "blocks"))
    for h, raw in read_chain(chain, learner.height + 1):
        if upto is not None and h > upto:
            break
        learner.connect(h, bytes(raw))
    return learner


def blocks(economy: Path) -> list[tuple[int, bytes]]:
    return [(h, bytes(r)) for h, r in read_chain(best_chain(index(economy / "blocks")))]


def state(learner: Learner, store: Store | None = None) -> tuple[Any, ...]:
    """Everything a learner knows; with ``store``, its spilled outputs counted in."""
    utxo: dict[bytes, int] = {}
    if store is not None:
        utxo = {bytes(o): a for o, a in store.db.execute("SELECT op, addr FROM utxo")}
    utxo.update(learner.utxo)
    return (
        dict(learner.all_ids()),
        learner.parent.tobytes(),
        learner.size.tobytes(),
        dict(learner.entity),
        dict(learner.role),
        learner.funders.tobytes(),
        dict(learner.swept),
        utxo,
        len(learner.evidence),
        len(learner.conflicts),
        learner.coinjoins_skipped,
        learner.transactions,
        {k: list(v) for k, v in learner.pending.items()},
    )

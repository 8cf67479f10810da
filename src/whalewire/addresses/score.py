"""Score a learner against a synthetic economy's truth (``synth.generate``'s truth.json).

Measures: precision and recall of deposit-address labels (recall over the deposit addresses
swept at least once, the only ones a chain learner can know); at mempool time, the recall of
deposits into addresses already swept once (labelled from a block before the deposit's) and
the precision of every payment into a learned deposit address; how many sweeps an address
took before it was labelled; and any merge of two labelled entities' wallets. Knows the truth
format and the learner's state, nothing of storage.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from whalewire.addresses.learner import DEPOSIT, Learner
from whalewire.mempool.address import script_to_address
from whalewire.mempool.tx import parse_block

__all__ = ["Score", "score"]


@dataclass(frozen=True)
class Score:
    """The learner's figures on one economy."""

    deposit_labels: int
    label_precision: float
    label_recall: float
    mempool_recall: float
    mempool_precision: float
    mempool_eligible: int
    sweeps_before_label_mean: float
    sweeps_before_label_max: int
    entity_merges: int
    conflicts_reported: int
    coinjoins_skipped: int

    def as_dict(self) -> dict[str, Any]:
        """Return the figures as a plain dict (for JSON)."""
        return asdict(self)


def score(learner: Learner, truth: dict[str, Any], blocks: Iterable[tuple[int, bytes]]) -> Score:
    """Score ``learner`` (after learning the whole chain) against ``truth``.

    Args:
        learner: the learner that followed the economy's chain.
        truth: the economy's truth.json.
        blocks: the chain again, ``(height, raw)`` in order: payments into learned deposit
            addresses are found by reading it (the learner keeps no per-payment history).
    """
    net = truth["network"]
    learned: dict[str, tuple[str, int]] = {}
    for a, (entity, role, height) in learner.role.items():
        if role == DEPOSIT:
            learned[script_to_address(learner.script_of(a), net) or ""] = (entity, height)
    true_dep: dict[str, str] = truth["deposit_addresses"]
    correct = sum(1 for addr, (e, _) in learned.items() if true_dep.get(addr) == e)
    first_sweep: dict[str, int] = {}
    sweeps_of: dict[str, list[int]] = {}
    for height, _, _, addrs in truth["sweeps"]:
        for addr in addrs:
            first_sweep.setdefault(addr, height)
            sweeps_of.setdefault(addr, []).append(height)
    swept = [a for a in true_dep if a in first_sweep]
    recalled = sum(1 for a in swept if learned.get(a, ("", 0))[0] == true_dep[a])
    # mempool time: a deposit is seen when its address was learned from an earlier block
    eligible = [(h, a) for h, _, a, _ in truth["deposits"] if first_sweep.get(a, h) < h]
    seen = sum(1 for h, a in eligible if a in learned and learned[a][1] < h)
    deposit_txids = {txid for _, txid, _, _ in truth["deposits"]}
    hits = good = 0
    for height, raw in blocks:
        for tx in parse_block(raw).txs:
            for o in tx.outputs:
                got = learned.get(script_to_address(o.script_pubkey, net) or "")
                if got is not None and got[1] < height:
                    hits += 1
                    good += tx.txid in deposit_txids
    before = [
        sum(1 for h in sweeps_of.get(a, []) if h <= height) for a, (_, height) in learned.items()
    ]
    return Score(
        deposit_labels=len(learned),
        label_precision=correct / len(learned) if learned else 0.0,
        label_recall=recalled / len(swept) if swept else 0.0,
        mempool_recall=seen / len(eligible) if eligible else 0.0,
        mempool_precision=good / hits if hits else 0.0,
        mempool_eligible=len(eligible),
        sweeps_before_label_mean=statistics.fmean(before) if before else 0.0,
        sweeps_before_label_max=max(before, default=0),
        entity_merges=_merges(learner, truth),
        conflicts_reported=len(learner.conflicts),
        coinjoins_skipped=learner.coinjoins_skipped,
    )


def _merges(learner: Learner, truth: dict[str, Any]) -> int:
    """Count clusters holding the wallets of two different true entities."""
    owners: dict[int, set[str]] = {}
    net = truth["network"]
    by_addr = {script_to_address(s, net): a for s, a in learner.all_ids()}
    for addr, entity in {**truth["internal_addresses"], **truth["deposit_addresses"]}.items():
        a = by_addr.get(addr)
        if a is not None:
            owners.setdefault(learner.find(a), set()).add(entity)
    return sum(1 for entities in owners.values() if len(entities) > 1)

"""The shape tests behind the learner's heuristics: pure functions of a transaction's values.

Holds ``coinjoin_shape`` (which CoinJoin a transaction looks like, if any) and the heuristic
names that evidence rows carry. Common-input-ownership (Nakamoto 2008, §10; Meiklejohn et al.
2013) fails exactly on CoinJoins: many owners sign one transaction. Their tell is a run of
equal-valued outputs, one per participant: Whirlpool 5 inputs, 5 equal outputs; Wasabi tens
of inputs, a large run of equal outputs plus change; JoinMarket a few makers and a taker,
equal outputs plus the makers' change. Knows values and counts, nothing of storage.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

__all__ = [
    "COINJOIN",
    "INTERNAL",
    "MULTI_INPUT",
    "SEED",
    "SWEEP",
    "coinjoin_shape",
]

#: a label from a seed book (CSV or TagPack)
SEED: Final = "seed"
#: joined by common-input-ownership
MULTI_INPUT: Final = "multi-input"
#: swept into a labelled wallet from outside it: a deposit address
SWEEP: Final = "sweep-into-labelled-wallet"
#: swept into a labelled wallet that had funded it alone: the entity's own wallet
INTERNAL: Final = "internal-transfer"
#: a transaction left unclustered for its CoinJoin shape
COINJOIN: Final = "coinjoin-skipped"


def coinjoin_shape(values: list[int], n_inputs: int) -> str | None:
    """Return the CoinJoin shape ``values`` (the output values) show, or None.

    Args:
        values: the transaction's output values in satoshis.
        n_inputs: how many inputs it spends.

    Returns:
        ``"whirlpool"`` (5 inputs, 5 equal outputs), ``"wasabi"`` (10 or more equal outputs
        over at least as many inputs), ``"joinmarket"`` (3 or more equal outputs, or equal
        outputs making up half the outputs, over at least 2 inputs) or None.
    """
    if n_inputs < 2 or len(values) < 2 or len(set(values)) == len(values):
        return None
    value, run = Counter(values).most_common(1)[0]
    if run < 2 or value == 0:
        return None
    if n_inputs == 5 and len(values) == 5 and run == 5:
        return "whirlpool"
    if run >= 10 and n_inputs >= run:
        return "wasabi"
    if run >= 3 or 2 * run >= len(values):
        return "joinmarket"
    return None

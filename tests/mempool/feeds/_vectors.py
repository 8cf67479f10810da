"""Shared vectors for the feed tests: the real mainnet block 951,658.

``tests/mempool/data`` holds the raw block and Bitcoin Core's ``getblock`` fields for it
(copied from shared/data, ElectrumX test suite, MIT; the block is public chain data). The
txids listed there are the node's own, so they are independent expected values.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"

# From shared/data/README.md (block explorer listing): outputs of >= 1 BTC in block 951,658.
KNOWN_TXIDS = (
    "6ec0ac0f5eda13232e4d9212fbb9393d55579dcd73b47d43e5c71486b790a7b4",
    "e8a4eef8e2a4e528ba49d937f9a28b62bd8aad8e1a3ce0901a58b9eaef825b64",
)


@cache
def block_doc() -> dict[str, object]:
    """Return ``{"hash", "tx", "block"}`` like ``getblock`` JSON with the raw block hex."""
    expected = json.loads((DATA / "block_951658_expected.json").read_text())
    with gzip.open(DATA / "block_951658.bin.gz") as f:
        raw = f.read()
    return {"hash": expected["hash"], "tx": expected["tx"], "block": raw.hex()}


def write_block_json(path: Path) -> Path:
    """Write the block as a ``getblock``-style JSON file (what the replay builder reads)."""
    path.write_text(json.dumps(block_doc()))
    return path

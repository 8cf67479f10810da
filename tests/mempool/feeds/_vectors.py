"""Shared fixtures for the feed tests: the real mainnet block 951,658 from ../shared/data.

Bitcoin mainnet block 951,658 is public blockchain data (see shared/data/README.md); the txids
listed in its ``getblock`` JSON are the node's own, so they are independent expected values.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

BLOCK_JSON = Path(__file__).resolve().parents[4] / "shared" / "data" / "bitcoin_mainnet_951658.json"

# From shared/data/README.md (block explorer listing): outputs of >= 1 BTC in block 951,658.
KNOWN_TXIDS = (
    "6ec0ac0f5eda13232e4d9212fbb9393d55579dcd73b47d43e5c71486b790a7b4",
    "e8a4eef8e2a4e528ba49d937f9a28b62bd8aad8e1a3ce0901a58b9eaef825b64",
)


@cache
def block_doc() -> dict[str, object]:
    """Return the block's getblock JSON, skipping the test when shared/ is not beside the repo."""
    if not BLOCK_JSON.exists():
        pytest.skip(f"{BLOCK_JSON} not present")
    doc: dict[str, object] = json.loads(BLOCK_JSON.read_text())
    return doc

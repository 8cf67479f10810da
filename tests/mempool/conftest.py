"""Fixtures for the mempool tests: the real mainnet block 951,658 and Core's values for it.

``data/block_951658.bin.gz`` is the raw block and ``data/block_951658_expected.json`` the
fields of Bitcoin Core's ``getblock`` JSON for it (hash, header, sizes, txids, coinbase),
both copied from ``../shared/data/bitcoin_mainnet_951658.json`` (ElectrumX test suite, MIT;
the block itself is public chain data) so that the tests need nothing outside the repo.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from whalewire import speedups
from whalewire.mempool import whales

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def block_raw() -> bytes:
    with gzip.open(DATA / "block_951658.bin.gz") as f:
        return f.read()


@pytest.fixture(scope="session")
def core_block() -> dict[str, Any]:
    """Bitcoin Core's getblock JSON fields for block 951,658 (independent expected values)."""
    return json.loads((DATA / "block_951658_expected.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture(params=["c", "python"])
def impl(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test over the C walks (``whalewire.mempool._scan``), then over pure Python."""
    name: str = request.param
    if name == "c" and not whales._HAVE_C:
        pytest.skip("whalewire.mempool._scan is not built")
    old = speedups.use(name == "c")
    try:
        yield name
    finally:
        speedups.use(old)

"""Suite-wide switches: slow tests run only with WHALEWIRE_FULL=1 (``.ci/run`` sets it)."""

from __future__ import annotations

import os

import pytest

FULL = os.environ.get("WHALEWIRE_FULL") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if FULL:
        return
    skip_slow = pytest.mark.skip(reason="slow: set WHALEWIRE_FULL=1 (as .ci/run does)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)

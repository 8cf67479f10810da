"""Fixtures: one small synthetic economy per session (written once, read by every test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from whalewire.addresses.synth import generate


@pytest.fixture(scope="session")
def economy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("economy")
    generate(out, seed=11)
    return out


@pytest.fixture(scope="session")
def truth(economy: Path) -> dict[str, Any]:
    return json.loads((economy / "truth.json").read_text())  # type: ignore[no-any-return]

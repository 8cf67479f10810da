"""evidence/sweep.py: a grid of settings over worker processes, ranked by P&L.

On a synthetic recording where every whale is followed by a 20 bp drop, selling must rank
first, a threshold no whale reaches (no orders, P&L 0) next, and buying last.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from whalewire.evidence.backtest import parse_backtest_config
from whalewire.evidence.sweep import Setting, grid, run_sweep
from whalewire.evidence.synth import Planted, SynthSpec, generate

CONFIG = """
[backtest]
hold_s = 30.0
[backtest.latency]
ms = 5
[strategy]
min_value_sats = 100000000
cooldown_s = 0
[sweep]
min_value_sats = [100000000, 100000000000]
side = ["SELL", "BUY"]
"""


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sweep")
    generate(
        directory, SynthSpec(planted=(Planted("alpha", 8, reaction_bps=-20.0),), spacing_s=120.0)
    )
    return directory


def test_grid_is_the_product_of_the_lists_with_configured_values_elsewhere() -> None:
    settings = grid(parse_backtest_config(CONFIG))
    assert settings == [
        Setting(100_000_000, "0.001", "SELL", 0.0),
        Setting(100_000_000, "0.001", "BUY", 0.0),
        Setting(100_000_000_000, "0.001", "SELL", 0.0),
        Setting(100_000_000_000, "0.001", "BUY", 0.0),
    ]


def test_sweep_over_processes_ranks_selling_into_the_drop_first(recording: Path) -> None:
    seen: list[tuple[int, int]] = []
    results = run_sweep(
        recording,
        parse_backtest_config(CONFIG),
        workers=2,
        on_done=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    ranked = [(r.settings["side"], r.settings["min_value_sats"], len(r.orders)) for r in results]
    assert ranked[0] == ("SELL", 100_000_000, 8)
    assert {ranked[1], ranked[2]} == {("SELL", 100_000_000_000, 0), ("BUY", 100_000_000_000, 0)}
    assert ranked[3] == ("BUY", 100_000_000, 8)
    assert results[0].pnl_hold > 0 > results[3].pnl_hold

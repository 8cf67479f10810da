"""Many backtests of one recording over a grid of strategy settings, in several processes.

The grid is the product of the ``[sweep]`` table's lists (threshold, size, side,
cooldown; an empty list keeps the configured value). Each setting is one ``run_backtest``
in a ``ProcessPoolExecutor`` worker, which loads the recording once and keeps it; a rich
progress bar counts finished settings; the results are ranked by P&L marked at the hold
horizon (then at the recording's end). Knows the backtest and the configuration.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

from whalewire.evidence.backtest import BacktestConfig, BacktestResult, run_backtest
from whalewire.evidence.recording import load
from whalewire.model import Side


@dataclass(frozen=True)
class Setting:
    """One point of the grid: the strategy fields it overrides."""

    min_value_sats: int
    fixed_qty: str
    side: str
    cooldown_s: float

    def label(self) -> str:
        """Return the setting in a few words."""
        return (
            f"threshold {self.min_value_sats / 1e8:g} BTC, size {self.fixed_qty}, {self.side}, "
            f"cooldown {self.cooldown_s:g} s"
        )


def grid(config: BacktestConfig) -> list[Setting]:
    """Return every setting the ``[sweep]`` table asks for (the configured values by default)."""
    strategy = config.engine.strategy
    sweep = config.sweep
    side = strategy.sides.get("deposit")
    return [
        Setting(t, str(q), str(s), c)
        for t, q, s, c in itertools.product(
            sweep.min_value_sats or [strategy.min_value_sats],
            sweep.fixed_qty or [strategy.fixed_qty],
            [x.value for x in sweep.side] or [side.value if side is not None else "SELL"],
            sweep.cooldown_s or [strategy.cooldown_s],
        )
    ]


def apply(config: BacktestConfig, setting: Setting) -> BacktestConfig:
    """Return ``config`` with the strategy fields of ``setting`` (the side is a deposit's)."""
    strategy = config.engine.strategy
    strategy = msgspec.structs.replace(
        strategy,
        min_value_sats=setting.min_value_sats,
        fixed_qty=Decimal(setting.fixed_qty),
        size_mode="fixed",
        sides={**strategy.sides, "deposit": Side(setting.side)},
        cooldown_s=setting.cooldown_s,
    )
    engine = msgspec.structs.replace(config.engine, strategy=strategy)
    return BacktestConfig(engine, config.backtest, config.sweep)


_TABLES: dict[str, dict[str, pa.Table]] = {}


def _one(recording: str, config: BacktestConfig, setting: Setting) -> BacktestResult:
    """Run one setting (in a worker: the recording is loaded once per process)."""
    tables = _TABLES.get(recording)
    if tables is None:
        tables = _TABLES[recording] = load(Path(recording))
    settings = {
        "min_value_sats": setting.min_value_sats,
        "fixed_qty": setting.fixed_qty,
        "side": setting.side,
        "cooldown_s": setting.cooldown_s,
    }
    return asyncio.run(run_backtest(tables, apply(config, setting), settings=settings))


def rank(results: list[BacktestResult]) -> list[BacktestResult]:
    """Return the results best first: by P&L at the hold horizon, then at the end."""
    return sorted(results, key=lambda r: (r.pnl_hold, r.pnl_end), reverse=True)


def run_sweep(
    recording: Path,
    config: BacktestConfig,
    *,
    workers: int = 2,
    on_done: Callable[[int, int], Any] | None = None,
) -> list[BacktestResult]:
    """Backtest every setting of the grid in ``workers`` processes; return them ranked.

    ``on_done(done, total)`` is called as each setting finishes (the progress bar).
    """
    settings = grid(config)
    results: list[BacktestResult] = []
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(_one, str(recording), config, s) for s in settings]
        for future in as_completed(futures):
            results.append(future.result())
            if on_done is not None:
                on_done(len(results), len(settings))
    return rank(results)

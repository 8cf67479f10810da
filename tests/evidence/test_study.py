"""evidence/study.py: moves and volumes of hand-made recordings, and the t-interval.

Expected values are worked out by hand in each test (never by the code under test); the
interval's coverage is checked on draws from a known distribution.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from whalewire.evidence.recorder import Recorder
from whalewire.evidence.recording import load
from whalewire.evidence.study import bucket_name, interval, run_study, t975

S = 1_000_000_000


def _mid(rec: Recorder, t_s: float, mid: float, venue: str = "binance") -> None:
    rec.top(int(t_s * S), venue, "BTCUSDT", mid - 0.5, 1.0, mid + 0.5, 1.0)


def test_move_and_volume_at_each_horizon_from_last_top_before_it(tmp_path: Path) -> None:
    with Recorder(tmp_path) as rec:
        _mid(rec, 0.0, 100.0)
        _mid(rec, 1.0, 101.0)
        _mid(rec, 10.0, 99.0)
        _mid(rec, 12.0, 98.0)  # the last top: +1 min (60.5 s) is past it
        _mid(rec, 0.2, 500.0, venue="kraken")  # another instrument: not read
        rec.alert(int(0.5 * S), "t1", "exA", "deposit", 25 * 100_000_000)
        for t, q in ((0.4, 100.0), (1.0, 2.0), (1.5, 3.0), (2.0, 5.0)):
            rec.trade(int(t * S), "binance", "BTCUSDT", 100.0, q)
    study = run_study(load(tmp_path), venue="binance", symbol="BTCUSDT")
    (whale,) = study.outcomes
    assert whale.mid0 == 100.0
    # +1 s is 1.5 s: the top of 1.0 s (101); +10 s is 10.5 s: 99; +1 min is past the end
    assert whale.moves_bps[0] == pytest.approx(100.0)
    assert whale.moves_bps[1] == pytest.approx(-100.0)
    assert whale.moves_bps[2:] == (None, None, None)
    # traded after the whale: (0.5, 1.5] holds 2 + 3; (0.5, 10.5] also 5
    assert whale.volumes[:2] == (5.0, 10.0)
    assert whale.bucket == "10-100 BTC"


def test_whale_before_any_top_is_counted_unpriced(tmp_path: Path) -> None:
    with Recorder(tmp_path) as rec:
        rec.alert(1, "t0", "exA", "deposit", 100_000_000)
        _mid(rec, 5.0, 100.0)
    study = run_study(load(tmp_path))
    assert (study.unpriced, study.outcomes) == (1, [])


def test_recording_without_tops_is_refused(tmp_path: Path) -> None:
    with Recorder(tmp_path) as rec:
        rec.alert(1, "t0", "exA", "deposit", 100_000_000)
    with pytest.raises(ValueError, match="no tops"):
        run_study(load(tmp_path))


@pytest.mark.parametrize(
    ("df", "expected"), [(1, 12.706), (4, 2.776), (30, 2.042), (120, 1.980), (10_000, 1.960)]
)
def test_t975_matches_the_published_table(df: int, expected: float) -> None:
    assert t975(df) == pytest.approx(expected, abs=1e-3)


def test_t975_between_rows_lies_between_them() -> None:
    assert 2.000 < t975(50) < 2.021


def test_interval_of_one_to_five() -> None:
    # mean 3, s = sqrt(2.5) = 1.5811; half-width 2.776 * 1.5811 / sqrt(5) = 1.9629
    result = interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert result is not None
    assert result.low == pytest.approx(1.0371, abs=1e-3)
    assert result.high == pytest.approx(4.9629, abs=1e-3)
    assert result.excludes_zero
    assert not result.contains(5.0)


def test_interval_of_one_value_has_no_bounds() -> None:
    result = interval([3.0])
    assert result is not None
    assert (result.n, result.low, result.high, result.excludes_zero) == (1, None, None, False)
    assert interval([]) is None


def test_interval_covers_the_true_mean_about_95_percent_of_the_time() -> None:
    rng = random.Random(7)
    trials = 2_000
    covered = sum(
        bool((r := interval([rng.gauss(-3.0, 10.0) for _ in range(8)])) and r.contains(-3.0))
        for _ in range(trials)
    )
    # binomial(2000, 0.95): sd 0.49 %; +-2 % is four of them
    assert 0.93 <= covered / trials <= 0.97


@pytest.mark.parametrize(
    ("btc", "name"),
    [(0.5, "0-10 BTC"), (10.0, "10-100 BTC"), (999.0, "100-1000 BTC"), (5e3, ">= 1000 BTC")],
)
def test_size_buckets(btc: float, name: str) -> None:
    assert bucket_name(btc) == name

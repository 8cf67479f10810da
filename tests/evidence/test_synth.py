"""evidence/synth.py scored: the study finds what was planted and nothing that was not.

Each synthetic recording carries its truth. A planted reaction (-20 bps a half second
after each of an entity's whales, with 5 BTC of extra selling) must be found at every
horizon with the right sign and the planted size inside the interval; an entity with no
reaction must not be found more often than the intervals' 5 % allows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from whalewire.evidence.recording import load
from whalewire.evidence.study import Study, run_study
from whalewire.evidence.synth import Planted, SynthSpec, generate, load_truth, score

PLANTED = Planted("alpha", 12, reaction_bps=-20.0, extra_volume=5.0, sizes_btc=(50.0, 500.0))
ABSENT = Planted("beta", 12, sizes_btc=(50.0, 500.0))
SEEDS = range(5)


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, Study]]:
    out: list[tuple[Path, Study]] = []
    for seed in SEEDS:
        d = tmp_path_factory.mktemp(f"synth{seed}")
        generate(d, SynthSpec(planted=(PLANTED, ABSENT), seed=seed))
        out.append((d, run_study(load(d))))
    return out


def test_planted_reaction_found_with_its_sign_and_size_at_every_horizon(
    studies: list[tuple[Path, Study]],
) -> None:
    for d, study in studies:
        verdicts = [v for v in score(study, load_truth(d)) if v.entity == "alpha"]
        assert len(verdicts) == 5
        assert all(
            v.found and v.correct and v.mean_bps is not None and v.mean_bps < 0 for v in verdicts
        ), verdicts


def test_absent_reaction_not_found_beyond_the_intervals_error_rate(
    studies: list[tuple[Path, Study]],
) -> None:
    verdicts = [
        v for d, study in studies for v in score(study, load_truth(d)) if v.entity == "beta"
    ]
    false_finds = sum(v.found for v in verdicts)
    # 25 verdicts at 5 % each: 1.25 expected; more than 4 would mean miscalibrated intervals
    assert false_finds <= 4, [v for v in verdicts if v.found]


def test_planted_extra_volume_found_within_its_interval(
    studies: list[tuple[Path, Study]],
) -> None:
    for d, study in studies:
        truth = load_truth(d)
        alpha = study.group("entity", "alpha")
        beta = study.group("entity", "beta")
        # +10 s: all 5 BTC of extra selling is in (whale, whale + 10 s]
        assert truth.extra_volume["alpha"]["10"] == 5.0
        a, b = alpha.volumes[1], beta.volumes[1]
        assert a is not None and a.low is not None and a.high is not None
        assert b is not None and b.low is not None and b.high is not None
        diff = a.mean - b.mean
        half = (a.high - a.low) / 2 + (b.high - b.low) / 2
        assert abs(diff - 5.0) <= half


def test_truth_written_beside_recording_reads_back(tmp_path: Path) -> None:
    truth = generate(
        tmp_path,
        SynthSpec(
            planted=(Planted("x", 2, reaction_bps=10.0),), spacing_s=100.0, horizons_s=(1.0, 60.0)
        ),
    )
    assert load_truth(tmp_path).moves_bps == truth.moves_bps == {"x": {"1": 10.0, "60": 10.0}}
    assert load(tmp_path)["alerts"].num_rows == 2


def test_horizon_before_the_delay_has_nothing_planted(tmp_path: Path) -> None:
    truth = generate(
        tmp_path,
        SynthSpec(
            planted=(Planted("x", 1, reaction_bps=10.0),),
            spacing_s=50.0,
            delay_s=2.0,
            horizons_s=(1.0, 10.0),
        ),
    )
    assert truth.moves_bps["x"] == {"1": 0.0, "10": 10.0}

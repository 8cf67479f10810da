"""Every fuzz harness's committed corpus replays clean, without atheris, on every test run.

A corpus file is an input the fuzzer found interesting (or a seed from a real vector);
``test_one_input`` raises only on a defect (an undocumented exception, C and Python paths
disagreeing), so a regression that breaks what the fuzzer once explored fails here at once.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from fuzz import HARNESSES

CORPUS = Path(__file__).resolve().parents[1] / "fuzz" / "corpus"


@pytest.mark.parametrize("name", HARNESSES)
def test_corpus_replays_through_its_harness_without_a_finding(name: str) -> None:
    harness = importlib.import_module(f"fuzz.{name}")
    files = sorted((CORPUS / name).iterdir())
    assert files, f"fuzz/corpus/{name} is empty: python -m fuzz.run --write-seeds {name}"
    for path in files:
        try:
            harness.test_one_input(path.read_bytes())
        except BaseException as exc:
            raise AssertionError(f"{name}: {path.name} fails: {exc!r}") from exc


def test_committed_corpora_stay_small() -> None:
    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    assert total < 2 * 1024 * 1024

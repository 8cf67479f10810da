"""Tests for ``whalewire addresses``: synth, learn (resumable), show, export, stats, score.

Run in-process through ``whalewire.cli.main``; the output is checked against the
generator's truth and the address-book CSV parser.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from whalewire.addresses.seeds import load_seeds
from whalewire.cli import main
from whalewire.mempool.address import script_to_address
from whalewire.mempool.watchlist import AddressBook, AddressBookError


def test_learn_show_export_stats_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    eco = tmp_path / "eco"
    assert main(["addresses", "synth", "--out", str(eco), "--seed", "5", "--blocks", "80"]) == 0
    store = str(tmp_path / "s.db")
    learn = f"addresses learn --store {store} --blocks-dir {eco / 'blocks'}"
    args = [*learn.split(), "--seed", str(eco / "seeds.csv"), "--checkpoint-every", "10"]
    assert main(args) == 0
    assert main(args) == 0  # resumes at the tip: nothing left to learn
    capsys.readouterr()
    truth = json.loads((eco / "truth.json").read_text())
    assert main(["addresses", "export", "--store", store]) == 0
    exported = AddressBook.from_text(capsys.readouterr().out)
    deposits = {e.address: e.entity for e in exported if e.label == "deposit"}
    assert deposits
    assert all(truth["deposit_addresses"][a] == ent for a, ent in deposits.items())
    addr = next(iter(deposits))
    assert main(["addresses", "show", addr, "--store", store, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["entity"], shown["role"]) == (deposits[addr], "deposit")
    assert shown["evidence"][0]["heuristic"] == "sweep-into-labelled-wallet"
    assert (
        main(["addresses", "show", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "--store", store])
        == 1
    )
    assert main(["addresses", "stats", "--store", store]) == 0
    assert json.loads(capsys.readouterr().out)["height"] == 79
    assert main(["addresses", "score", "--store", store, "--economy", str(eco)]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["label_precision"] >= 0.99
    assert figures["entity_merges"] == 0


def test_tagpack_seeds_use_header_defaults(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    key = bytes(range(20))
    address = script_to_address(b"\x00\x14" + key)
    (tmp_path / "pack.yaml").write_text(
        f"title: test pack\ncreator: tests\nsource: https://example.org/pack\n"
        f"category: exchange\ncurrency: BTC\ntags:\n"
        f"  - address: {address}\n    label: Alphax\n"
        f"  - address: {address}\n    label: Bravox\n    category: hot wallet\n"
    )
    seeds = load_seeds(tmp_path / "pack.yaml")
    assert [(s.script, s.entity, s.label, s.source) for s in seeds] == [
        (b"\x00\x14" + key, "alphax", "exchange", "https://example.org/pack"),
        (b"\x00\x14" + key, "bravox", "hot wallet", "https://example.org/pack"),
    ]


def test_tagpack_bad_addresses_are_all_reported(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    (tmp_path / "bad.yml").write_text(
        "title: t\ntags:\n  - address: nope\n    label: x\n  - label: y\n"
    )
    with pytest.raises(AddressBookError) as info:
        load_seeds(tmp_path / "bad.yml")
    assert [e.line for e in info.value.errors] == [1, 2]

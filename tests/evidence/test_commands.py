"""The evidence commands end to end: ``demo --record`` writes a recording that
``study`` reads, over the real engine, emulator and files (no mocks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from whalewire.cli import main
from whalewire.evidence.recording import load
from whalewire.evidence.synth import Planted, SynthSpec, generate


def test_demo_records_its_transactions_whales_and_books(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    status = main(
        [
            "demo",
            "--speed", "0",
            "--seconds", "4",
            "--no-dashboard",
            "--log-file", str(tmp_path / "demo.log"),
            "--report", str(tmp_path / "report.html"),
            "--record", str(out),
            "--record-book-interval", "0.2",
        ]
    )  # fmt: skip
    assert status == 0
    tables = load(out)
    # the replayed block's transactions, each once, with its first-seen stamp
    txids = tables["txs"]["txid"].to_pylist()
    assert len(txids) > 100
    assert len(set(txids)) == len(txids)
    assert min(tables["txs"]["ts_ns"].to_pylist()) > 0
    # every whale the demo reports, with what the engine decided
    alerts = tables["alerts"].to_pylist()
    assert alerts
    assert all(a["decision"] for a in alerts)
    assert set(alerts[0]) >= {"txid", "entity", "value_sats"}
    assert {a["txid"] for a in alerts} <= set(txids)
    # the emulated exchange's book: tops and depth
    tops = tables["tops"].to_pylist()
    assert {(t["venue"], t["symbol"]) for t in tops} >= {("binance", "BTCUSDT")}
    assert all(t["bid"] < t["ask"] for t in tops)
    assert tables["levels"].num_rows >= 2 * tables["tops"].num_rows


def test_study_writes_the_page_of_a_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate(
        tmp_path / "rec",
        SynthSpec(planted=(Planted("alpha", 3, reaction_bps=-20.0),), spacing_s=120.0),
    )
    page = tmp_path / "study.html"
    assert main(["study", "--recording", str(tmp_path / "rec"), "--html", str(page)]) == 0
    text = page.read_text()
    assert text.count("<svg") == 3  # all, by entity, by size
    assert "alpha" in text
    assert "src=" not in text and "<script" not in text  # one file, nothing fetched
    assert "alpha" in capsys.readouterr().out


def test_study_of_a_folder_that_is_no_recording_fails_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["study", "--recording", str(tmp_path)]) == 2
    assert "not a recording" in capsys.readouterr().err


def _config(tmp_path: Path, mode: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'[engine]\nmode = "{mode}"\njournal = "{tmp_path / "j.db"}"\n'
        '[control]\nport = 0\nkill_file = ""\n[[feeds]]\ntype = "replay"\nspeed = 0\n'
    )
    return path


def test_record_runs_the_configured_engine_into_out(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    argv = ["record", "--config", str(_config(tmp_path, "paper")), "--out", str(out)]
    assert main([*argv, "--seconds", "3", "--log-file", str(tmp_path / "log")]) == 0
    assert load(out)["txs"].num_rows > 100


def test_record_refuses_live_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "live")
    config.write_text(config.read_text() + '[venues.binance]\nendpoint = "production"\n')
    assert main(["record", "--config", str(config), "--out", str(tmp_path / "rec")]) == 2
    assert "add --live" in capsys.readouterr().err
    assert not (tmp_path / "rec").exists()

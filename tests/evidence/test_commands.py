"""The evidence commands end to end: ``demo --record`` writes a recording that
``study`` reads, over the real engine, emulator and files (no mocks)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from whalewire.cli import main
from whalewire.commands.demo import DEMO_CONFIG
from whalewire.evidence.recording import load
from whalewire.evidence.synth import Planted, SynthSpec, generate


@pytest.fixture(scope="module")
def demo_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("demo")
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
    return out


def test_demo_records_its_transactions_whales_and_books(demo_recording: Path) -> None:
    tables = load(demo_recording)
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


def test_backtest_of_the_demo_recording_makes_the_demo_engines_decisions(
    demo_recording: Path, tmp_path: Path
) -> None:
    # the demo's own configuration; the recorded transactions through the detector
    config = tmp_path / "bt.toml"
    config.write_text(DEMO_CONFIG.format(speed=0) + "[backtest]\nsource = 'txs'\n")
    out = tmp_path / "results.json"
    argv = ["backtest", "--recording", str(demo_recording), "--config", str(config)]
    assert main([*argv, "--json", str(out)]) == 0
    (result,) = json.loads(out.read_text())
    decisions = [a["decision"] for a in load(demo_recording)["alerts"].to_pylist()]
    traded = [d for d in decisions if d.startswith(("SELL", "BUY"))]
    assert result["source"] == "txs"
    assert result["whales"] == len(decisions)
    assert result["orders"] == result["filled"] == len(traded)
    assert result["ignored"] == dict(Counter(d for d in decisions if d not in traded))


def _three_whales(directory: Path) -> None:
    """A short synthetic recording: three whales of one entity, each followed by -20 bp."""
    generate(
        directory, SynthSpec(planted=(Planted("alpha", 3, reaction_bps=-20.0),), spacing_s=120.0)
    )


def test_study_writes_the_page_of_a_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _three_whales(tmp_path / "rec")
    page = tmp_path / "study.html"
    assert main(["study", "--recording", str(tmp_path / "rec"), "--html", str(page)]) == 0
    text = page.read_text()
    assert text.count("<svg") == 4  # all, by entity, by size, by kind
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


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_record_runs_the_configured_engine_into_out(tmp_path: Path, writer: str) -> None:
    out = tmp_path / "rec"
    config = str(_config(tmp_path, "paper"))
    argv = ["record", "--config", config, "--out", str(out), "--record-writer", writer]
    assert main([*argv, "--seconds", "3", "--log-file", str(tmp_path / "log")]) == 0
    assert load(out)["txs"].num_rows > 100


def test_record_refuses_live_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "live")
    config.write_text(config.read_text() + '[venues.binance]\nendpoint = "production"\n')
    assert main(["record", "--config", str(config), "--out", str(tmp_path / "rec")]) == 2
    assert "add --live" in capsys.readouterr().err
    assert not (tmp_path / "rec").exists()


def test_backtest_prints_orders_and_writes_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _three_whales(tmp_path / "rec")
    config = tmp_path / "bt.toml"
    config.write_text("[backtest]\nhold_s = 10.0\n[strategy]\nmin_value_sats = 100000000\n")
    out = tmp_path / "results.json"
    argv = ["backtest", "--recording", str(tmp_path / "rec"), "--config", str(config)]
    assert main([*argv, "--json", str(out)]) == 0
    (result,) = json.loads(out.read_text())
    assert (result["whales"], result["orders"], result["filled"]) == (3, 3, 3)
    assert "orders (alerts of binance BTCUSDT; 3 whales)" in capsys.readouterr().out


def test_backtest_of_a_bad_config_fails_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate(tmp_path / "rec", SynthSpec(planted=(Planted("a", 1),), spacing_s=10.0))
    config = tmp_path / "bt.toml"
    config.write_text("[backtest]\nlatency = 'fast'\n")
    argv = ["backtest", "--recording", str(tmp_path / "rec"), "--config", str(config)]
    assert main(argv) == 2
    assert "[backtest]" in capsys.readouterr().err

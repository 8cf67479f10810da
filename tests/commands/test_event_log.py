"""The live event log: a headless run writes whales, decisions, orders, fills and denials.

``whalewire run --no-dashboard`` runs as a real process on the embedded emulator with a
fast replay; its log file must hold one JSON line per event and its console one readable
line per event. A second run whose orders risk must deny shows the reason code in both,
and never the order's side and size as the whale's decision.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CONFIG = """
[engine]
journal = "journal.db"
[control]
port = 0
kill_file = "kill"
[[feeds]]
type = "replay"
speed = 20.0
[strategy]
fixed_qty = {qty}
"""


def run_headless(tmp_path: Path, qty: str) -> tuple[list[dict[str, Any]], str]:
    """Run the engine over the replay; return its log's events and its console output."""
    (tmp_path / "c.toml").write_text(CONFIG.format(qty=qty))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "whalewire",
            "run",
            "--config",
            "c.toml",
            "--no-dashboard",
            "--seconds",
            "8",
            "--log-file",
            "events.log",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "events.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    return [r for r in records if r.get("logger") == "whalewire.events"], result.stdout


@pytest.fixture(scope="module")
def traded(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], str]:
    return run_headless(tmp_path_factory.mktemp("traded"), "0.001")


def test_every_whale_order_and_fill_is_one_json_line(
    traded: tuple[list[dict[str, Any]], str],
) -> None:
    events, _ = traded
    kinds = [e["event"] for e in events]
    assert "whale" in kinds and "fill" in kinds
    whale = next(e for e in events if e["event"] == "whale")
    assert whale["decision"] == "SELL 0.001"  # the demo book's deposits: sell
    assert len(whale["txid"]) == 64
    statuses = [e["status"] for e in events if e["event"] == "order"]
    assert statuses[:3] == ["SUBMITTED", "ACCEPTED", "FILLED"]
    fill = next(e for e in events if e["event"] == "fill")
    assert fill["side"] == "SELL" and fill["symbol"] == "BTCUSDT"
    assert float(fill["price"]) > 0
    # the whale that caused the first order is written before it
    assert kinds.index("whale") < kinds.index("order")


def test_the_console_gets_a_readable_line_per_event(
    traded: tuple[list[dict[str, Any]], str],
) -> None:
    events, console = traded
    whales = [
        line for line in console.splitlines() if re.match(r"\d\d:\d\d:\d\d\.\d{3} whale ", line)
    ]
    assert len(whales) == sum(1 for e in events if e["event"] == "whale")
    assert "-> SELL 0.001" in whales[0]
    assert any(" fill ww-" in line for line in console.splitlines())


def test_a_denied_order_logs_its_reason_and_the_whale_says_denied(tmp_path: Path) -> None:
    events, console = run_headless(tmp_path, "0.5")  # over the default max_order_qty 0.01
    denials = [e for e in events if e["event"] == "denial"]
    assert denials and {d["reason"] for d in denials} == {"MAX_ORDER_QTY"}
    whales = [e for e in events if e["event"] == "whale"]
    assert whales[0]["decision"] == "DENIED MAX_ORDER_QTY"
    assert not any(e["event"] == "fill" for e in events)
    assert "SELL 0.5" not in "".join(str(w["decision"]) for w in whales)
    assert "MAX_ORDER_QTY" in console

"""``whalewire init``, ``config check`` and ``history``, on real files.

The history's journal is written by the engine's own ``Journal`` with orders whose P&L is
worked out by hand here: buy 0.002 at 100, sell 0.001 at 110 (realizes 0.01), and an
order risk denied.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from whalewire import cli
from whalewire.engine.journal import Journal
from whalewire.model import (
    OrderAccepted,
    OrderDenied,
    OrderFilled,
    OrderInitialized,
    OrderSubmitted,
    Side,
    SubmitOrder,
)


def whalewire(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_init_writes_a_config_that_runs_as_is(tmp_path: Path) -> None:
    def cmd(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "whalewire", *argv],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    made = cmd("init")
    assert made.returncode == 0 and "whalewire.toml" in made.stdout
    text = (tmp_path / "whalewire.toml").read_text()
    assert text.count("\n#") >= 10  # commented
    again = cmd("init")
    assert again.returncode == 2 and "--force" in again.stderr
    (tmp_path / "whalewire.toml").write_text(text.replace("port = 8787", "port = 0"))
    ran = cmd("run", "--config", "whalewire.toml", "--seconds", "3", "--no-dashboard")
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    assert (tmp_path / "whalewire-journal.db").exists()


def test_config_check_prints_the_effective_config_with_secrets_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[engine]\nmode = "dry-run"\n[venues.binance]\ncredentials_file = "k.toml"\n')
    code, out, _ = whalewire(capsys, "config", "check", str(path))
    assert code == 0
    assert 'mode = "dry-run"' in out
    assert "ack_timeout_s = 5.0" in out  # a default, filled in
    assert 'credentials_file = "k.toml"' in out  # a path, not a secret
    # what it prints loads back to the same configuration
    from whalewire.engine.config import load_config, parse_config

    assert parse_config(out) == load_config(path)

    from whalewire.commands.config import redact

    assert redact({"api_key": "abc", "tls_ca_file": "ca.pem"}) == {
        "api_key": "<redacted>",
        "tls_ca_file": "ca.pem",
    }


def test_config_check_of_a_broken_file_lists_its_mistakes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[engine]\ncpu = 99\n[strategy]\nfixed_qty = -1\n")
    code, _, err = whalewire(capsys, "config", "check", str(path))
    assert code == 2
    assert "$.engine.cpu" in err and "$.strategy.fixed_qty" in err


def _order(
    journal: Journal, coid: str, symbol: str, side: Side, qty: str, *, ts: int
) -> SubmitOrder:
    command = SubmitOrder(
        client_order_id=coid,
        ts_init=ts,
        venue="binance",
        symbol=symbol,
        side=side,
        quantity=Decimal(qty),
        txid="ab" * 32,
    )
    journal.intend(OrderInitialized(client_order_id=coid, ts_init=ts, ts_event=ts, command=command))
    return command


@pytest.fixture
def journal_file(tmp_path: Path) -> Path:
    path = tmp_path / "j.db"
    wall = 1_800_000_000_000_000_000  # 2027-01-15T08:00:00Z, as a venue stamps its fills
    with Journal(path) as journal:
        _order(journal, "ww-1", "BTCUSDT", Side.BUY, "0.002", ts=1)
        journal.append(OrderSubmitted(client_order_id="ww-1", ts_init=2, ts_event=2))
        journal.append(
            OrderAccepted(client_order_id="ww-1", ts_init=3, ts_event=wall, venue_order_id="7")
        )
        journal.append(
            OrderFilled(
                client_order_id="ww-1",
                ts_init=4,
                ts_event=wall,
                trade_id="t1",
                last_qty=Decimal("0.002"),
                last_px=Decimal("100"),
                commission=Decimal("0.1"),
                commission_asset="USDT",
            )
        )
        _order(journal, "ww-2", "BTCUSDT", Side.SELL, "0.001", ts=5)
        journal.append(OrderSubmitted(client_order_id="ww-2", ts_init=6, ts_event=6))
        journal.append(
            OrderFilled(
                client_order_id="ww-2",
                ts_init=7,
                ts_event=wall + 60 * 10**9,
                trade_id="t2",
                last_qty=Decimal("0.001"),
                last_px=Decimal("110"),
            )
        )
        denied = SubmitOrder(
            client_order_id="ww-3",
            ts_init=8,
            venue="binance",
            symbol="ETHUSDT",
            side=Side.SELL,
            quantity=Decimal("5"),
        )
        journal.append(denied)
        journal.append(
            OrderDenied(
                client_order_id="ww-3", ts_init=9, ts_event=9, reason="MAX_ORDER_QTY", detail="5"
            )
        )
    return path


def test_history_json_has_orders_fills_and_average_cost_pnl(
    journal_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = whalewire(capsys, "history", str(journal_file), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert [(o["client_order_id"], o["status"]) for o in doc["orders"]] == [
        ("ww-1", "FILLED"),
        ("ww-2", "FILLED"),
        ("ww-3", "DENIED"),
    ]
    assert doc["orders"][2]["reason"] == "MAX_ORDER_QTY"
    assert [f["time"] for f in doc["fills"]] == [
        "2027-01-15T08:00:00.000+00:00",
        "2027-01-15T08:01:00.000+00:00",
    ]
    btc = doc["pnl"]["BTCUSDT"]
    assert Decimal(btc["position"]) == Decimal("0.001")
    assert Decimal(btc["avg_price"]) == Decimal("100")
    assert Decimal(btc["realized"]) == Decimal("0.010")  # (110 - 100) x 0.001
    assert Decimal(btc["unrealized"]) == Decimal("0.010")  # (110 - 100) x 0.001 still held


def test_history_filters_by_symbol_status_and_time(
    journal_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = whalewire(
        capsys, "history", str(journal_file), "--status", "denied", "--format", "json"
    )
    assert [o["client_order_id"] for o in json.loads(out)["orders"]] == ["ww-3"]
    code, out, _ = whalewire(
        capsys, "history", str(journal_file), "--symbol", "ETHUSDT", "--format", "csv"
    )
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:3] == ["record", "time", "client_order_id"]
    assert [r[2] for r in rows[1:] if r[0] == "order"] == ["ww-3"]
    # orders carry no venue time before their fills: a time filter keeps the filled ones by
    # their journal's clock anchor, which this hand-made journal dates at its opening
    code, out, _ = whalewire(
        capsys, "history", str(journal_file), "--until", "2000-01-01", "--format", "json"
    )
    assert json.loads(out)["orders"] == []
    code, out, _ = whalewire(capsys, "history", str(journal_file))
    assert code == 0 and "ww-2" in out and "MAX_ORDER_QTY" in out


def test_history_of_a_missing_or_foreign_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = whalewire(capsys, "history", str(tmp_path / "none.db"))
    assert code == 2 and "none.db" in err
    (tmp_path / "x.db").write_text("not sqlite at all, but long enough to look like a file" * 20)
    code, _, err = whalewire(capsys, "history", str(tmp_path / "x.db"))
    assert code == 2 and "not a whalewire journal" in err


def test_report_of_a_journal_opens_with_the_run_summary(
    journal_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = journal_file.with_name("r.html")
    code, printed, _ = whalewire(capsys, "report", str(journal_file), "--out", str(out))
    assert code == 0 and str(out) in printed
    page = out.read_text()
    summary = page[page.index("<h2>run summary</h2>") : page.index("latency by stage")]
    assert "<th>fills</th><td>2</td>" in summary
    assert "<th>orders sent</th><td>2</td>" in summary
    assert "<th>denials</th><td>1 (MAX_ORDER_QTY 1)</td>" in summary
    assert "<th>halts</th><td>0</td>" in summary
    assert "BTCUSDT 0.01 / 0.01" in summary
    # the journal's one latency: Submitted -> first answer, two orders, each 1 ns
    assert "<td>ack</td>" in page and "(2 samples)" in page
    assert "fewer than 100 samples" in page and " *</td>" in page  # tail percentiles marked
    assert ">samples</text>" in page and "latency, µs (log scale" in page  # labelled axes
    assert page.index("run summary") < page.index("<svg")

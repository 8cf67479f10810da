"""Bad input never reaches the operator as a traceback: exit status 2 and the field to fix.

Each case is a broken configuration or command line as a new user types it. The command
runs in-process through ``cli.main`` (the same code path as the installed script, without
an interpreter start per case); a few run as real subprocesses too. Every case must exit
with status 2, print no traceback, and name what to change (a field path, a table, a flag).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from whalewire import cli

#: a risk table that passes, for cases that break something else
LIMITS = """
max_order_qty = 0.01
max_order_notional = 2000
max_position = 0.05
max_daily_loss = 500
"""

#: (id, configuration text, the text the error must contain)
CONFIGS: list[tuple[str, str, str]] = [
    ("mode-unknown", '[engine]\nmode = "yolo"', "$.engine.mode"),
    ("namespace-upper", '[engine]\nnamespace = "PROD"', "namespace"),
    ("namespace-empty", '[engine]\nnamespace = ""', "namespace"),
    ("namespace-long", '[engine]\nnamespace = "abcdefghij"', "namespace"),
    ("journal-int", "[engine]\njournal = 5", "$.engine.journal"),
    ("durability", '[engine]\njournal_durability = "half"', "$.engine.journal_durability"),
    ("ack-zero", "[engine]\nack_timeout_s = 0", "$.engine.ack_timeout_s"),
    ("ack-negative", "[engine]\nack_timeout_s = -1", "$.engine.ack_timeout_s"),
    ("ack-huge", "[engine]\nack_timeout_s = 1e9", "$.engine.ack_timeout_s"),
    ("ack-nan", "[engine]\nack_timeout_s = nan", "$.engine.ack_timeout_s"),
    ("rehearse-negative", "[engine]\nrehearse_interval_ms = -1", "rehearse_interval_ms"),
    ("cpu-missing", "[engine]\ncpu = 99", "$.engine.cpu"),
    ("cpu-negative", "[engine]\ncpu = -1", "$.engine.cpu"),
    ("cpu-string", '[engine]\ncpu = "0"', "$.engine.cpu"),
    ("busy-poll-string", '[engine]\nbusy_poll = "yes"', "$.engine.busy_poll"),
    ("engine-unknown-key", "[engine]\nturbo = true", "turbo"),
    ("control-port-high", "[control]\nport = 70000", "$.control.port"),
    ("control-port-negative", "[control]\nport = -1", "$.control.port"),
    ("control-port-string", '[control]\nport = "http"', "$.control.port"),
    ("control-public", '[control]\nhost = "0.0.0.0"', "$.control"),
    ("control-unknown-key", "[control]\ntoken = 1", "token"),
    ("min-value-negative", "[strategy]\nmin_value_sats = -5", "$.strategy.min_value_sats"),
    ("min-value-zero", "[strategy]\nmin_value_sats = 0", "$.strategy.min_value_sats"),
    ("min-value-float", "[strategy]\nmin_value_sats = 1.5", "$.strategy.min_value_sats"),
    ("fixed-qty-negative", "[strategy]\nfixed_qty = -1", "$.strategy.fixed_qty"),
    ("fixed-qty-zero", "[strategy]\nfixed_qty = 0", "$.strategy.fixed_qty"),
    ("fixed-qty-word", '[strategy]\nfixed_qty = "lots"', "$.strategy.fixed_qty"),
    ("fraction-above-one", "[strategy]\nfraction = 2", "$.strategy.fraction"),
    ("cooldown-negative", "[strategy]\ncooldown_s = -1", "$.strategy.cooldown_s"),
    ("max-reactions-zero", "[strategy]\nmax_reactions = 0", "$.strategy.max_reactions"),
    ("window-zero", "[strategy]\nwindow_s = 0", "$.strategy.window_s"),
    ("qty-step-zero", "[strategy]\nqty_step = 0", "$.strategy.qty_step"),
    ("strategy-unknown-key", "[strategy]\naggression = 11", "aggression"),
    (
        "max-order-qty-negative",
        "[risk.symbols.BTCUSDT]" + LIMITS.replace("0.01", "-1"),
        "max_order_qty",
    ),
    ("risk-symbol-incomplete", "[risk.symbols.BTCUSDT]\nmax_order_qty = 1", "BTCUSDT"),
    ("price-band", "[risk.symbols.BTCUSDT]" + LIMITS + "price_band = 5", "price_band"),
    ("daily-loss-word", "[risk.symbols.BTCUSDT]" + LIMITS.replace("500", '"a lot"'), "daily"),
    (
        "orders-per-second-zero",
        "[risk]\nmax_orders_per_second = 0\n[risk.symbols.BTCUSDT]" + LIMITS,
        "max_orders_per_second",
    ),
    (
        "route-missing-venue",
        '[strategy.default_route]\nvenue = "kraken"\nsymbol = "BTC/USD"',
        "[venues.kraken]",
    ),
    (
        "route-missing-limits",
        '[strategy.default_route]\nvenue = "binance"\nsymbol = "ETHUSDT"',
        "[risk.symbols.ETHUSDT]",
    ),
    ("endpoint-ftp", '[venues.binance]\nendpoint = "ftp://127.0.0.1/ws"', "endpoint"),
    ("endpoint-port", '[venues.binance]\nendpoint = "ws://127.0.0.1:99999/ws"', "endpoint"),
    ("endpoint-no-host", '[venues.binance]\nendpoint = "ws:///ws"', "endpoint"),
    ("endpoint-word", '[venues.binance]\nendpoint = "binance"', "endpoint"),
    ("recv-window-zero", "[venues.binance]\nrecv_window_ms = 0", "recv_window_ms"),
    ("send-backend", '[venues.binance]\nsend_backend = "pigeon"', "send_backend"),
    ("tls-pins-string", '[venues.binance]\ntls_pins = "abc"', "tls_pins"),
    ("pong-negative", "[venues.binance]\npong_interval_ms = -5", "pong_interval_ms"),
    ("venue-unknown-key", "[venues.binance]\nleverage = 100", "leverage"),
    (
        "venue-no-client",
        '[venues.ftx]\n[strategy.default_route]\nvenue = "ftx"\nsymbol = "BTCUSDT"',
        "venues.ftx",
    ),
    (
        "paper-on-real-venue",
        '[venues.binance]\nendpoint = "wss://ws-api.binance.com/ws-api/v3"',
        "venues.binance.endpoint",
    ),
    ("live-on-emulator", '[engine]\nmode = "live"', "venues.binance"),
    ("feed-type", '[[feeds]]\ntype = "carrier"', "$.feeds"),
    ("zmq-port", '[[feeds]]\ntype = "zmq"\nrawtx = "tcp://127.0.0.1:99999"', "rawtx"),
    ("mempool-space-http", '[[feeds]]\ntype = "mempool_space"\nurl = "http://x"', "url"),
    ("p2p-port-zero", '[[feeds]]\ntype = "p2p"\nport = 0', "$.feeds[0].port"),
    ("p2p-network", '[[feeds]]\ntype = "p2p"\nnetwork = "moon"', "network"),
    ("replay-speed", '[[feeds]]\ntype = "replay"\nspeed = -1', "$.feeds[0].speed"),
    ("book-network", '[address_book]\nnetwork = "moon"', "$.address_book.network"),
    ("unknown-table", "[nonsense]\nx = 1", "nonsense"),
    ("not-toml", "[engine\nmode = 1", "not valid TOML"),
    ("feeds-not-array", '[feeds]\ntype = "replay"', "$.feeds"),
]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each case in its own directory (journal, kill file, log); the loop policy restored."""
    monkeypatch.chdir(tmp_path)
    yield
    asyncio.set_event_loop_policy(None)  # `run` installs uvloop's


def whalewire(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run the command in-process; return its status and everything it printed."""
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def assert_refused(code: int, output: str, names: str) -> None:
    """Status 2, no traceback, the thing to fix named."""
    assert code == 2, output
    assert "Traceback" not in output, output
    assert "whalewire: error:" in output, output
    assert names in output, output


@pytest.mark.parametrize(("text", "names"), [c[1:] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_a_broken_configuration_is_refused_with_its_field(
    text: str, names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("c.toml").write_text(text + "\n[control]\nport = 0\n" if "[control]" not in text else text)
    argv = ["run", "--config", "c.toml", "--seconds", "1", "--no-dashboard"]
    code, output = whalewire(capsys, *argv)
    assert_refused(code, output, names)


def test_every_mistake_of_a_file_is_reported_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    Path("c.toml").write_text(
        textwrap.dedent(
            """
            bogus = 1
            [engine]
            mode = "yolo"
            [control]
            host = "0.0.0.0"
            [strategy]
            fixed_qty = "lots"
            """
        )
    )
    code, output = whalewire(capsys, "run", "--config", "c.toml")
    assert_refused(code, output, "4 mistakes")
    for field in ("bogus", "$.engine.mode", "$.control", "$.strategy.fixed_qty"):
        assert field in output


def test_several_values_out_of_range_are_reported_at_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    Path("c.toml").write_text("[engine]\ncpu = 99\n[strategy]\ncooldown_s = -1\nfixed_qty = -1\n")
    code, output = whalewire(capsys, "run", "--config", "c.toml")
    assert_refused(code, output, "$.engine.cpu")
    assert "$.strategy.cooldown_s" in output and "$.strategy.fixed_qty" in output


COMMAND_LINES: list[tuple[str, list[str], str]] = [
    ("status-no-scheme", ["status", "--url", "127.0.0.1:8787"], "http://127.0.0.1:8787"),
    ("status-word", ["status", "--url", "notaurl"], "http://notaurl"),
    ("status-https", ["status", "--url", "https://127.0.0.1:8787"], "http://HOST:PORT"),
    ("status-port", ["status", "--url", "http://127.0.0.1:99999"], "--url"),
    ("status-no-host", ["status", "--url", "http://:8787"], "names no host"),
    ("kill-no-scheme", ["kill", "--url", "localhost:8787"], "http://localhost:8787"),
    ("status-missing-config", ["status", "--config", "nothere.toml"], "nothere.toml"),
    ("kill-missing-config", ["kill", "--config", "nothere.toml"], "nothere.toml"),
    ("run-missing-config", ["run", "--config", "nothere.toml"], "nothere.toml"),
    ("run-config-is-dir", ["run", "--config", "."], "cannot read configuration"),
    ("run-live-on-paper", ["run", "--config", "empty.toml", "--live"], "--live"),
    ("run-no-config", ["run"], "--config"),
    ("run-seconds-word", ["run", "--config", "empty.toml", "--seconds", "ten"], "--seconds"),
    (
        "run-log-dir-missing",
        ["run", "--config", "empty.toml", "--log-file", "no/such/dir/x.log"],
        "--log-file",
    ),
]


@pytest.mark.parametrize(
    ("argv", "names"), [c[1:] for c in COMMAND_LINES], ids=[c[0] for c in COMMAND_LINES]
)
def test_a_broken_command_line_is_refused(
    argv: list[str], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("empty.toml").write_text("[control]\nport = 0\n")
    try:
        code, output = whalewire(capsys, *argv)
    except SystemExit as exc:  # argparse's usage errors: status 2 by their own exit
        out = capsys.readouterr()
        code, output = int(exc.code or 0), out.out + out.err
        assert names in output
        assert code == 2
        assert "Traceback" not in output
        return
    assert_refused(code, output, names)


def _dry_run(venue_lines: str) -> str:
    return f'[engine]\nmode = "dry-run"\n[control]\nport = 0\n[venues.binance]\n{venue_lines}\n'


def _credentials(path: Path, mode: int, table: str = "binance") -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    path.write_text(f'[{table}]\napi_key = "k"\nprivate_key_pem = """{pem}"""\n')
    path.chmod(mode)


def test_a_secret_file_readable_by_others_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    _credentials(Path("keys.toml"), 0o644)
    Path("c.toml").write_text(
        _dry_run('endpoint = "ws://127.0.0.1:1/ws"\ncredentials_file = "keys.toml"')
    )
    code, output = whalewire(capsys, "run", "--config", "c.toml", "--no-dashboard")
    assert_refused(code, output, "chmod 600 keys.toml")


def test_a_missing_secret_file_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    Path("c.toml").write_text(
        _dry_run('endpoint = "ws://127.0.0.1:1/ws"\ncredentials_file = "gone.toml"')
    )
    code, output = whalewire(capsys, "run", "--config", "c.toml", "--no-dashboard")
    assert_refused(code, output, "gone.toml")


def test_a_secret_file_without_the_venues_table_names_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _credentials(Path("keys.toml"), 0o600, table="kraken")
    Path("c.toml").write_text(
        _dry_run('endpoint = "ws://127.0.0.1:1/ws"\ncredentials_file = "keys.toml"')
    )
    code, output = whalewire(capsys, "run", "--config", "c.toml", "--no-dashboard")
    assert_refused(code, output, "[binance]")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 0000")
def test_an_unreadable_secret_file_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    _credentials(Path("keys.toml"), 0o000)
    Path("c.toml").write_text(
        _dry_run('endpoint = "ws://127.0.0.1:1/ws"\ncredentials_file = "keys.toml"')
    )
    code, output = whalewire(capsys, "run", "--config", "c.toml", "--no-dashboard")
    assert_refused(code, output, "keys.toml")


def test_an_unreachable_endpoint_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    _credentials(Path("keys.toml"), 0o600)
    Path("c.toml").write_text(
        _dry_run('endpoint = "ws://127.0.0.1:1/ws"\ncredentials_file = "keys.toml"')
    )
    code, output = whalewire(capsys, "run", "--config", "c.toml", "--no-dashboard")
    assert_refused(code, output, "127.0.0.1:1")


def test_an_endpoint_path_that_answers_404_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
        port = line.split(" port ")[1].split()[0]
        _credentials(Path("keys.toml"), 0o600)
        Path("c.toml").write_text(
            _dry_run(f'endpoint = "ws://127.0.0.1:{port}/nothere"\ncredentials_file = "keys.toml"')
        )
        code, output = whalewire(capsys, "run", "--config", "c.toml", "--no-dashboard")
    finally:
        server.terminate()
        server.wait()
    assert_refused(code, output, "HTTP 404")


def test_a_busy_control_port_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        Path("c.toml").write_text(f"[control]\nport = {port}\n")
        code, output = whalewire(capsys, "run", "--config", "c.toml", "--no-dashboard")
    assert_refused(code, output, f"127.0.0.1:{port}")


def test_a_journal_locked_by_another_engine_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from whalewire.engine.journal import Journal\n"
            "j = Journal(sys.argv[1])\nprint('held', flush=True)\ntime.sleep(60)\n",
            str(tmp_path / "held.db"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        Path("c.toml").write_text('[engine]\njournal = "held.db"\n[control]\nport = 0\n')
        code, output = whalewire(capsys, "run", "--config", "c.toml", "--no-dashboard")
    finally:
        holder.kill()
        holder.wait()
    assert_refused(code, output, "held.db")


def test_the_installed_command_exits_2_without_a_traceback(tmp_path: Path) -> None:
    """The same refusals through a real interpreter start (what a shell sees)."""
    (tmp_path / "c.toml").write_text("[risk.symbols.ETHUSDT]\nmax_order_qty = 1\n")
    for argv in (
        ["run", "--config", "c.toml"],
        ["status", "--url", "127.0.0.1:8787"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "whalewire", *argv],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
    assert "[risk.symbols.ETHUSDT]" in result.stderr or "http://127.0.0.1:8787" in result.stderr

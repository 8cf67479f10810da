"""The engine end to end over real parts: emulator, replay, detector, journal, venue client.

The in-process tests run the demo's pipeline; the crash test kills a real engine process
at random points while it trades against a standalone emulator process, restarts it on
the same journal, and checks that nothing was lost or duplicated.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from whalewire.commands.embedded import build
from whalewire.engine.app import Engine
from whalewire.engine.config import parse_config
from whalewire.engine.journal import Journal
from whalewire.engine.oms import Order, OrderStatus
from whalewire.engine.runner import run
from whalewire.model import OrderType, Side, SubmitOrder, TimeInForce

ROOT = Path(__file__).parents[2]

PAPER = """
[engine]
namespace = "e2e"
[control]
port = 0
kill_file = ""
[strategy]
min_value_sats = 25_000_000
cooldown_s = 5.0
[[feeds]]
type = "replay"
speed = 0
"""


async def test_demo_pipeline_trades_every_fresh_deposit_and_journals_it(tmp_path: Path) -> None:
    config = parse_config(PAPER)
    running = await build(config, journal_path=str(tmp_path / "j.db"))
    try:
        status = await run(
            running, seconds=60, dashboard=False, console=Console(quiet=True), drain_s=1.0
        )
    finally:
        await running.close()
    # block 951658 holds 4 deposits >= 0.25 BTC to demo entities (one within the
    # cooldown of another to the same entity) and 1 withdrawal (not traded by default)
    assert status["whales"]["seen"] == 5
    assert status["ignored"] == {"COOLDOWN": 1, "KIND_NOT_TRADED": 1}
    assert status["orders"]["sent"] == 3
    assert status["orders"]["filled"] == 3
    assert status["positions"]["BTCUSDT"]["position"] == "-0.00300000"
    with Journal(tmp_path / "j.db") as journal:
        orders = journal.replay()
    assert sorted(o.status for o in orders.values()) == [OrderStatus.FILLED] * 3
    assert all(o.command.reason.startswith("deposit ") for o in orders.values())


def routed_to(venue: str, symbol: str) -> str:
    """The paper configuration trading ``symbol`` on the embedded emulator of ``venue``."""
    return (
        PAPER
        + f"""
[strategy.default_route]
venue = "{venue}"
symbol = "{symbol}"
[venues.{venue}]
[risk.symbols."{symbol}"]
max_order_qty = 0.01
max_order_notional = 2000
max_position = 0.05
max_daily_loss = 500
"""
    )


@pytest.mark.parametrize(
    ("venue", "symbol"),
    [("coinbase", "BTC-USD"), ("kraken", "BTC/USD")],
    ids=["coinbase-over-tls", "kraken-with-dead-mans-switch"],
)
async def test_demo_pipeline_trades_on_each_emulated_venue(
    tmp_path: Path, venue: str, symbol: str
) -> None:
    running = await build(
        parse_config(routed_to(venue, symbol)), journal_path=str(tmp_path / "j.db")
    )
    try:
        status = await run(
            running, seconds=60, dashboard=False, console=Console(quiet=True), drain_s=1.0
        )
    finally:
        await running.close()
    assert (status["orders"]["sent"], status["orders"]["filled"]) == (3, 3)
    with Journal(tmp_path / "j.db") as journal:
        orders = journal.replay()
    assert {o.command.venue for o in orders.values()} == {venue}
    assert all(len(o.client_order_id) == 36 for o in orders.values())  # UUIDs on both venues
    if venue == "kraken":
        counters = running.engine.metrics.counters
        assert counters.get("dead_man_refreshed", 0) >= 1
        assert "dead_man_refresh_failed" not in counters


def market_sell(engine: Engine, qty: str) -> Order:
    return engine.submit(
        SubmitOrder(
            client_order_id=engine.ids.next("binance"),
            ts_init=0,
            venue="binance",
            symbol="BTCUSDT",
            side=Side.SELL,
            quantity=Decimal(qty),
        )
    )


async def resting_sell(engine: Engine, qty: str) -> Order:
    """A LIMIT GTC sell 1% above the mid: accepted, and left on the book."""
    mid = engine.venues["binance"].last_price("BTCUSDT")
    assert mid is not None
    order = engine.submit(
        SubmitOrder(
            client_order_id=engine.ids.next("binance"),
            ts_init=0,
            venue="binance",
            symbol="BTCUSDT",
            side=Side.SELL,
            quantity=Decimal(qty),
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.GTC,
            price=(mid * Decimal("1.01")).quantize(Decimal("0.01")),
        )
    )
    async with asyncio.timeout(10):
        while order.status is not OrderStatus.ACCEPTED:
            await asyncio.sleep(0.01)
    return order


async def test_kill_switch_halts_cancels_resting_orders_and_denies_new_ones(
    tmp_path: Path,
) -> None:
    running = await build(parse_config(PAPER), journal_path=str(tmp_path / "j.db"))
    engine = running.engine
    try:
        resting = await resting_sell(engine, "0.001")
        report = await running.control.trigger("test")
        assert report["canceled"] == {"binance:BTCUSDT": 1}
        async with asyncio.timeout(10):
            while resting.status is not OrderStatus.CANCELED:
                await asyncio.sleep(0.01)
        denied = market_sell(engine, "0.001")
        assert denied.status is OrderStatus.DENIED
        assert engine.status()["trading_state"] == "HALTED"
    finally:
        await running.close()


async def test_order_refused_by_a_disconnected_venue_releases_only_its_own_exposure(
    tmp_path: Path,
) -> None:
    running = await build(parse_config(PAPER), journal_path=str(tmp_path / "j.db"))
    engine = running.engine
    try:
        await resting_sell(engine, "0.002")
        await engine.venues["binance"].close()
        refused = market_sell(engine, "0.001")
        assert refused.status is OrderStatus.DENIED
        # the resting order's 0.002 is still open exposure: only the refused 0.001 was released
        assert engine.execution.reserved["BTCUSDT"].sell == Decimal("0.002")
    finally:
        await running.close()


# ---------------------------------------------------------------------------- crash test


@pytest.fixture
def emulator_process() -> Iterator[tuple[str, str, str]]:
    """A standalone ``whalewire emulator`` process; yields (url, api key, secret)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "whalewire", "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    banner = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        banner.append(line)
        if "secretKey" in line:
            break
    text = "".join(banner)
    url = re.search(r"endpoint\s+(ws://\S+)", text)
    key = re.search(r"apiKey\s+(\S+)", text)
    secret = re.search(r"secretKey\s+(\S+)", text)
    assert url and key and secret, text
    yield url.group(1), key.group(1), secret.group(1)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _worker(config: Path, orders: int, die_after_write: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.engine.crash_worker",
            str(config),
            str(orders),
            str(die_after_write),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _crash_config(tmp_path: Path, url: str, api_key: str, secret: str) -> Path:
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[binance]\napi_key = "{api_key}"\napi_secret = "{secret}"\n')
    keys.chmod(0o600)
    config = tmp_path / "engine.toml"
    config.write_text(
        f"""
[engine]
namespace = "crash"
journal = "{tmp_path / "journal.db"}"
[control]
port = 0
kill_file = ""
[venues.binance]
endpoint = "{url}"
credentials_file = "{keys}"
[risk]
max_orders_per_second = 1000
max_orders_per_minute = 100000
[risk.symbols.BTCUSDT]
max_order_qty = 1
max_order_notional = 1000000
max_position = 5
max_daily_loss = 1000000
"""
    )
    return config


def test_engine_killed_mid_order_repeatedly_loses_and_duplicates_nothing(
    tmp_path: Path, emulator_process: tuple[str, str, str]
) -> None:
    url, api_key, secret = emulator_process
    config = _crash_config(tmp_path, url, api_key, secret)
    rng = random.Random(7)
    sent_lines: list[str] = []
    reconciled_open = 0
    for _ in range(5):
        proc = _worker(config, 40)
        assert proc.stdout is not None
        kill_after = rng.randint(1, 25)
        seen = 0
        for line in proc.stdout:
            if line.startswith("reconciled "):
                found = re.search(r"'open': (\d+)", line)
                reconciled_open += int(found.group(1)) if found else 0
            if line.startswith("sent "):
                sent_lines.append(line.split()[1])
                seen += 1
                if seen >= kill_after:
                    proc.send_signal(signal.SIGKILL)
                    break
        proc.wait(timeout=30)
    final = _worker(config, 0)
    out, _ = final.communicate(timeout=60)
    # the secret (and the key) never reach the journal or the engine's output
    for path in tmp_path.glob("journal.db*"):
        assert secret.encode() not in path.read_bytes(), path
        assert api_key.encode() not in path.read_bytes(), path
    assert secret not in out and api_key not in out
    assert final.returncode == 0, out
    assert "done open=[]" in out, out
    # the kills left orders whose answers never reached the engine: restarts resolved them
    assert reconciled_open > 0

    with Journal(tmp_path / "journal.db") as journal:
        orders = journal.replay()
    ids = [o.client_order_id for o in orders.values()]
    assert len(ids) == len(set(ids))
    # every id a worker reported sent is in the journal (journaled before the send)
    assert set(sent_lines) <= set(ids)
    assert all(o.is_final for o in orders.values())
    filled = sum((o.filled_qty for o in orders.values()), Decimal(0))
    # the venue's own books: BTC that left the account == what the journal says filled
    balance = asyncio.run(_free_btc(url, api_key, secret))
    assert Decimal(10) - balance == filled
    assert filled > 0


def test_engine_killed_between_intent_and_journal_row_reconciles_that_order(
    tmp_path: Path, emulator_process: tuple[str, str, str]
) -> None:
    url, api_key, secret = emulator_process
    config = _crash_config(tmp_path, url, api_key, secret)
    # the third order's bytes are written, then the process dies before its SQLite row
    proc = _worker(config, 5, die_after_write=3)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, out
    killed = re.search(r"sent (\S+) then killed", out)
    assert killed, out
    coid = killed.group(1)
    with Journal(tmp_path / "journal.db") as journal:
        assert journal.merged_intents == 1  # the row came from the intent log
        orders = journal.replay()
        assert orders[coid].status is OrderStatus.INITIALIZED
    final = _worker(config, 0)
    out, _ = final.communicate(timeout=60)
    assert final.returncode == 0, out
    # the restart reconciled it (and any order whose answer the kill cut off) before trading
    reopened = re.search(r"'open': (\d+)", out)
    assert reopened and int(reopened.group(1)) >= 1, out
    assert "done open=[]" in out, out
    with Journal(tmp_path / "journal.db") as journal:
        orders = journal.replay()
    assert len(orders) == 3
    # the venue had the order: reconciliation found it filled, the journal now says so
    assert orders[coid].status is OrderStatus.FILLED
    filled = sum((o.filled_qty for o in orders.values()), Decimal(0))
    assert filled == Decimal("0.003")
    balance = asyncio.run(_free_btc(url, api_key, secret))
    assert Decimal(10) - balance == filled


async def _free_btc(url: str, api_key: str, secret: str) -> Decimal:
    import hashlib
    import hmac

    from whalewire.net.client import connect

    ws = await connect(url, deflate=False)
    params = {"apiKey": api_key, "timestamp": int(time.time() * 1000)}
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    ws.send(json.dumps({"id": "b", "method": "account.status", "params": params}))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    await ws.close()
    return next(
        Decimal(b["free"]) + Decimal(b["locked"])
        for b in reply["result"]["balances"]
        if b["asset"] == "BTC"
    )


async def test_orders_go_through_the_configured_io_uring_backend(tmp_path: Path) -> None:
    from whalewire.net import uring

    config = parse_config(PAPER + '[venues.binance]\nsend_backend = "uring"\n')
    running = await build(config, journal_path=str(tmp_path / "j.db"))
    try:
        status = await run(
            running, seconds=60, dashboard=False, console=Console(quiet=True), drain_s=1.0
        )
        venue = running.engine.venues["binance"].status()
    finally:
        await running.close()
    # the ring where the kernel allows it, else the documented fallback to the socket path
    assert venue["send_backend"] == ("uring" if uring.available()[0] else "socket")
    assert (status["orders"]["sent"], status["orders"]["filled"]) == (3, 3)
    # the rehearsals' warm-up pongs took the same path and disturbed none of the orders
    assert venue["warm_pongs"] >= 1


def test_io_uring_backend_is_refused_for_venues_that_do_not_send_orders_through_it() -> None:
    from whalewire.engine.config import ConfigError
    from whalewire.engine.runner import venue_client

    config = parse_config(
        PAPER + '[venues.binance]\n[venues.kraken]\nsend_backend = "uring-sqpoll"\n'
    )
    with pytest.raises(ConfigError, match=r"venues\.kraken\.send_backend"):
        asyncio.run(venue_client("kraken", config.venues["kraken"], config, []))


def _feed_worker(config: Path, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.engine.crash_worker", str(config), "feed", str(seconds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_engine_killed_and_restarted_on_the_replay_never_orders_a_whale_twice(
    tmp_path: Path, emulator_process: tuple[str, str, str]
) -> None:
    # the replayed block (four deposits to demo exchanges in its first 2.7 s at speed 2,
    # then again, looped) is announced afresh by every restart, as a mempool snapshot or a
    # P2P ``mempool`` would be: only the journal can tell the engine it decided already
    url, api_key, secret = emulator_process
    config = _crash_config(tmp_path, url, api_key, secret)
    config.write_text(
        config.read_text()
        + """
[strategy]
min_value_sats = 25_000_000
cooldown_s = 0
[[feeds]]
type = "replay"
speed = 2
loop = true
"""
    )
    rng = random.Random(21)
    for _ in range(4):
        proc = _feed_worker(config, 60)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "armed"
        time.sleep(rng.uniform(0.3, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    final = _feed_worker(config, 3)
    out, _ = final.communicate(timeout=60)
    assert final.returncode == 0, out

    with Journal(tmp_path / "journal.db") as journal:
        orders = journal.replay()
    per_whale = Counter(o.command.txid for o in orders.values())
    assert len(per_whale) == 4, per_whale  # every deposit traded, by some run
    assert set(per_whale.values()) == {1}, per_whale

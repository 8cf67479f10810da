"""fleet/operator.py, fleet/web.py and the top-level ``whalewire status|kill|resume`` on a fleet.

Real nats-server, real executors (paper engines) in this process, the commands as separate
processes: a kill over NATS is acknowledged by every executor and the command says so (exit
0); an executor that is heard but does not answer is named (exit 1); a resume asks for the
typed confirmation; ``--config`` with a ``[fleet]`` table names the fleet; without a fleet
the commands stay the one-engine ones. The web dashboard refuses without its token and
kills the fleet with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.fleet.support import trading_executors, wait_for, write_role

from whalewire.cli import main
from whalewire.commands.errors import UserError
from whalewire.commands.fleet import chosen_fleet
from whalewire.engine.config import ConfigError
from whalewire.fleet.natsserver import NatsServer
from whalewire.fleet.operator import FleetTarget, Operator, fleet_target, summarize
from whalewire.fleet.web import FleetDashboard
from whalewire.fleet.wire import Heartbeat, Role, encode


async def whalewire(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """Run ``python -m whalewire ARGS``; return (exit status, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "whalewire", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate(stdin or b"")
    return proc.returncode or 0, out.decode(), err.decode()


# ---- which fleet the arguments name --------------------------------------------------------


def args(**kw: Any) -> argparse.Namespace:
    return argparse.Namespace(**({"url": None, "nats": None, "config": None, "prefix": None} | kw))


def test_nats_flag_names_the_fleet_with_the_default_prefix() -> None:
    assert chosen_fleet(args(nats=["nats://10.0.0.1:4222"])) == FleetTarget(
        ["nats://10.0.0.1:4222"], "ww"
    )


def test_config_with_a_fleet_table_names_its_servers_and_prefix(tmp_path: Path) -> None:
    path = tmp_path / "ex.toml"
    path.write_text('[engine]\nmode = "paper"\n\n[fleet]\nnats = ["nats://n1:4222"]\n'
                    'subject_prefix = "blue"\n')  # fmt: skip
    assert fleet_target(None, str(path)) == FleetTarget(["nats://n1:4222"], "blue")


def test_config_without_a_fleet_table_and_no_flags_name_no_fleet(tmp_path: Path) -> None:
    path = tmp_path / "engine.toml"
    path.write_text('[engine]\nmode = "paper"\n')
    assert chosen_fleet(args(config=str(path))) is None
    assert chosen_fleet(args()) is None
    assert chosen_fleet(args(url="http://127.0.0.1:8787")) is None


def test_a_wrong_fleet_table_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[fleet]\nnats = ["http://n1"]\n')
    with pytest.raises(ConfigError, match=r"\[fleet\]"):
        fleet_target(None, str(path))


def test_one_engine_and_a_fleet_at_once_is_refused() -> None:
    with pytest.raises(UserError, match="not both"):
        chosen_fleet(args(url="http://127.0.0.1:8787", nats=["nats://127.0.0.1:4222"]))


# ---- the fleet's picture ---------------------------------------------------------------------


def test_summary_adds_up_positions_halts_open_orders_and_sensor_wins() -> None:
    lead = {"count": 2, "p50_ms": 40.0, "p99_ms": 41.0, "max_ms": 41.0}
    rows = [
        {"role": "sensor", "name": "s-a", "health": "ok", "age_s": 0.1, "stats": {}},
        {"role": "executor", "name": "ex-1", "health": "ok", "age_s": 0.1, "stats": {
            "halted": "", "positions": {"BTCUSDT": "-0.01"}, "open_orders": ["o1"],
            "dedup": {"wins": {"s-a": 3, "s-b": 1}, "leads": {"s-a>s-b": lead}}}},
        {"role": "executor", "name": "ex-2", "health": "ok", "age_s": 0.1, "stats": {
            "halted": "kill switch: ops", "positions": {"BTCUSDT": "0"}, "open_orders": [],
            "dedup": {"wins": {"s-a": 2}, "leads": {}}}},
        {"role": "executor", "name": "ex-3", "health": "lost", "age_s": 9.0,
         "stats": {"halted": ""}},
    ]  # fmt: skip
    survey = summarize(rows, None)
    assert survey["executors"] == 3 and survey["sensors"] == 1
    assert survey["trading"] == ["ex-1"]
    assert survey["halted"] == {"ex-2": "kill switch: ops", "ex-3": ""}
    assert survey["unhealthy"] == {"ex-3": "lost"}
    assert survey["positions"] == {"BTCUSDT": {"ex-1": "-0.01", "ex-2": "0"}}
    assert survey["open_orders"] == {"ex-1": ["o1"], "ex-2": [], "ex-3": []}
    assert survey["sensor_wins"] == {"s-a": 5, "s-b": 1}
    assert survey["sensor_leads"] == {"s-a>s-b": {"ex-1": lead}}


# ---- the commands over a real NATS -----------------------------------------------------------


async def test_top_level_kill_status_resume_reach_every_executor_and_are_acknowledged(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    url = nats_node.url
    async with trading_executors([url], tmp_path, "ex-a", "ex-b") as (_, executors):
        code, out, err = await whalewire("kill", "--nats", url, "--wait", "1")
        report = json.loads(out)
        assert code == 0, err
        assert sorted(report["acked"]) == ["ex-a", "ex-b"] and report["not_acked"] == []
        assert report["reached"] == ["ex-a", "ex-b"] and report["ok"] is True
        for ack in report["acked"].values():
            assert ack["halted"].startswith("kill switch") and ack["open_orders"] == []
            assert 0 <= ack["ms"] < 1000
        assert all(e.halted.startswith("kill switch") for e in executors)

        # a configuration with a [fleet] table names the fleet, as --nats does
        config = write_role(tmp_path, "console", [url])
        code, out, err = await whalewire("status", "--config", str(config), "--json", "--wait", "1")
        survey = json.loads(out)
        assert code == 0, err
        assert survey["kill_switch"]["action"] == "kill"
        assert sorted(survey["halted"]) == ["ex-a", "ex-b"] and survey["trading"] == []

        code, out, err = await whalewire("resume", "--nats", url, "--wait", "1", "--yes")
        report = json.loads(out)
        assert code == 0, err
        assert report["executors"] == {"ex-a": "trading", "ex-b": "trading"}
        assert not any(e.halted for e in executors)


async def test_kill_names_an_executor_heard_that_does_not_acknowledge_and_exits_1(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    url = nats_node.url
    async with trading_executors([url], tmp_path, "ex-real") as (control, _):
        stop = asyncio.Event()

        async def ghost() -> None:  # an executor's heartbeats, and nothing else
            seq = 0
            while not stop.is_set():
                seq += 1
                beat = Heartbeat(role=Role.EXECUTOR, name="ex-ghost", seq=seq,
                                 wall_ns=time.time_ns(), stats={"halted": ""})  # fmt: skip
                await control.link.nc.publish("ww.hb.executor.ex-ghost", encode(beat))
                await asyncio.sleep(0.2)

        # and one executor that streamed its journal once and is silent now: named, unheard
        await control.link.nc.jetstream().publish("ww.orders.ex-gone", b"{}")
        haunting = asyncio.create_task(ghost())
        try:
            code, out, _ = await whalewire("kill", "--nats", url, "--wait", "1", "--timeout", "2")
        finally:
            stop.set()
            await haunting
    report = json.loads(out)
    assert code == 1
    assert list(report["acked"]) == ["ex-real"] and report["not_acked"] == ["ex-ghost"]
    assert report["executors"]["ex-ghost"] == "no acknowledgement (heartbeat: trading)"
    assert report["unheard"] == ["ex-gone"]
    assert report["ok"] is False


async def test_resume_without_yes_needs_the_typed_word(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    url = nats_node.url
    async with trading_executors([url], tmp_path, "ex-c") as (_, executors):
        code, _, _ = await whalewire("kill", "--nats", url, "--wait", "0.5")
        assert code == 0
        code, _, err = await whalewire("resume", "--nats", url, "--wait", "0.5", stdin=b"yes\n")
        assert code == 2 and "not confirmed" in err
        assert "ex-c: kill switch" in err  # the prompt said who is halted and why
        assert executors[0].halted.startswith("kill switch")
        code, out, err = await whalewire(
            "resume", "--nats", url, "--wait", "0.5", stdin=b"resume\n"
        )
        assert code == 0, err
        assert json.loads(out)["executors"] == {"ex-c": "trading"}


# ---- the web dashboard -----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def dashboard(url: str) -> AsyncIterator[tuple[Operator, FleetDashboard]]:
    """The fleet's web dashboard on a free loopback port, token ``t0ken``, stopped after."""
    operator = Operator(FleetTarget([url]))
    await operator.connect()
    board = FleetDashboard(operator, port=0, token="t0ken", interval_s=0.2, wait_s=0.5)
    await board.start()
    try:
        yield operator, board
    finally:
        await board.stop()
        await operator.close()


async def test_web_dashboard_refuses_without_the_token_and_kills_the_fleet_with_it(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    url = nats_node.url
    async with (
        trading_executors([url], tmp_path, "ex-w") as (_, executors),
        dashboard(url) as (operator, board),
    ):
        base = f"http://127.0.0.1:{board.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/") as r:
                assert r.status == 401
            async with http.post(base + "/kill") as r:
                assert r.status == 401
            assert not executors[0].halted
            async with http.get(base + "/?token=t0ken") as r:
                assert r.status == 200 and f":{board.server.port}/ws" in await r.text()  # type: ignore[union-attr]
            ws_url = f"ws://127.0.0.1:{board.server.port}/ws"  # type: ignore[union-attr]
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await http.ws_connect(ws_url)
            async with http.ws_connect(ws_url + "?token=t0ken") as ws:
                await wait_for(lambda: ("executor", "ex-w") in operator.view.members)
                msg = json.loads((await ws.receive(timeout=5)).data)
                assert msg["type"] == "status" and "members" in msg["status"]
            headers = {"Authorization": "Bearer t0ken"}
            async with http.post(base + "/kill?by=test", headers=headers) as r:
                report = await r.json()
                assert r.status == 200, report
            assert list(report["acked"]) == ["ex-w"] and "(web test)" in report["source"]
            assert executors[0].halted.startswith("kill switch")
            async with http.get(base + "/status") as r:
                assert (await r.json())["kill_switch"]["action"] == "kill"


def test_web_dashboard_listens_on_loopback_only() -> None:
    operator = Operator(FleetTarget(["nats://127.0.0.1:4222"]))
    with pytest.raises(ValueError, match="loopback"):
        FleetDashboard(operator, host="0.0.0.0")


async def test_control_plane_serves_the_fleet_dashboard_that_lists_the_executor(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    url = nats_node.url
    async with trading_executors([url], tmp_path, "ex-d"):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "whalewire", "fleet", "control", "--nats", url,
            "--interval", "0.2", "--web", "127.0.0.1:0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line.startswith("fleet dashboard: http://127.0.0.1:"), line
            page = line.split(": ", 1)[1].strip()
            async with aiohttp.ClientSession() as http:
                async with http.get(page) as r:
                    assert r.status == 200 and "whalewire fleet" in await r.text()
                names: list[str] = []
                for _ in range(100):  # until the dashboard has heard the executor's heartbeat
                    async with http.get(page.split("?")[0] + "status") as r:
                        survey = await r.json()
                    names = [m["name"] for m in survey["members"] if m["role"] == "executor"]
                    if names:
                        break
                    await asyncio.sleep(0.1)
            assert names == ["ex-d"]
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 20)
    assert proc.returncode == 0


def test_status_watch_without_a_fleet_is_refused_with_what_to_give(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["status", "--url", "http://127.0.0.1:1", "--watch"]) == 2
    assert "--nats URL" in capsys.readouterr().err


@pytest.mark.skipif(
    shutil.which("chromium") is None or shutil.which("chromedriver") is None,
    reason="no chromium/chromedriver: scripts/dev setup installs them (apt-get)",
)
async def test_fleet_page_in_a_browser_lists_the_executor_and_its_kill_button_halts_it(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url = nats_node.url
    async with (
        trading_executors([url], tmp_path, "ex-b") as (_, executors),
        dashboard(url) as (_, board),
    ):
        options = Options()
        options.binary_location = str(shutil.which("chromium"))
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
            options.add_argument(flag)

        def drive() -> str:  # the browser blocks: off the loop the executor runs on
            browser = webdriver.Chrome(
                service=Service(str(shutil.which("chromedriver"))), options=options
            )
            try:
                browser.get(f"{board.url}")
                wait = WebDriverWait(browser, 30)
                wait.until(lambda b: "ex-b" in b.find_element(By.ID, "executors").text)
                assert "trading" in browser.find_element(By.ID, "executors").text
                browser.find_element(By.ID, "kill").click()
                wait.until(lambda b: b.find_element(By.ID, "answer").text.startswith("200"))
                wait.until(lambda b: "kill switch" in b.find_element(By.ID, "executors").text)
                return str(browser.find_element(By.ID, "switch").text)
            finally:
                browser.quit()

        switch = await asyncio.to_thread(drive)
        assert switch.startswith("kill by operator@")
        assert executors[0].halted.startswith("kill switch")

"""The control plane (engine/control.py) over real loopback HTTP, a real signal, a real file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tests.engine.factories import RecordingEngine

from whalewire.engine.control import ControlServer


def _http(method: str, url: str, token: str = "") -> tuple[int, str, str]:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


async def started(engine: RecordingEngine, **kw: Any) -> ControlServer:
    server = ControlServer(engine, host="127.0.0.1", port=0, kill_file_poll_s=0.01, **kw)
    await server.start()
    return server


async def test_status_and_metrics_are_served_on_loopback() -> None:
    engine = RecordingEngine()
    server = await started(engine)
    try:
        status, ctype, body = await asyncio.to_thread(_http, "GET", server.url + "/status")
        assert (status, json.loads(body)) == (200, {"trading_state": "ACTIVE"})
        status, ctype, body = await asyncio.to_thread(_http, "GET", server.url + "/metrics")
        assert ctype.startswith("text/plain")
        assert body == "whalewire_orders_sent_total 3\n"
    finally:
        await server.stop()


async def test_post_kill_halts_and_returns_the_report() -> None:
    engine = RecordingEngine()
    server = await started(engine)
    try:
        url = server.url + "/kill?by=alice"
        status, _, body = await asyncio.to_thread(_http, "POST", url, server.token)
        assert status == 200
        assert json.loads(body)["canceled"] == {"binance": 2}
        assert engine.sources == ["http (alice)"]
    finally:
        await server.stop()


async def test_sigusr1_triggers_the_kill_switch() -> None:
    engine = RecordingEngine()
    server = await started(engine)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.wait_for(engine.killed.wait(), 5)
        assert engine.sources == ["signal SIGUSR1"]
    finally:
        await server.stop()


async def test_kill_file_triggers_once_while_it_stays(tmp_path: Path) -> None:
    engine = RecordingEngine()
    kill_file = tmp_path / "whalewire.kill"
    server = await started(engine, kill_file=kill_file)
    try:
        kill_file.touch()
        await asyncio.wait_for(engine.killed.wait(), 5)
        for _ in range(10):  # several poll periods with the file still there
            await asyncio.sleep(0.01)
        assert engine.sources == [f"kill file {kill_file}"]
    finally:
        await server.stop()


async def test_busy_port_fails_with_a_message_naming_it() -> None:
    engine = RecordingEngine()
    first = await started(engine)
    try:
        second = ControlServer(engine, host="127.0.0.1", port=first.port)
        with pytest.raises(OSError, match=f"cannot bind 127.0.0.1:{first.port}"):
            await second.start()
    finally:
        await first.stop()


async def test_kill_and_resume_without_the_token_are_refused(tmp_path: Path) -> None:
    engine = RecordingEngine()
    token_file = tmp_path / "journal.db.token"
    server = await started(engine, token_file=token_file)
    try:
        assert token_file.read_text().strip() == server.token
        assert token_file.stat().st_mode & 0o777 == 0o600
        for path in ("/kill", "/resume"):
            status, _, body = await asyncio.to_thread(_http, "POST", server.url + path)
            assert status == 401 and "token" in json.loads(body)["error"]
            wrong = await asyncio.to_thread(_http, "POST", server.url + path, "not-it")
            assert wrong[0] == 401
        assert engine.sources == []
    finally:
        await server.stop()
    assert not token_file.exists()  # a stopped engine leaves no token behind


async def test_resume_is_refused_while_the_kill_file_exists(tmp_path: Path) -> None:
    engine = RecordingEngine()
    kill_file = tmp_path / "kill"
    server = await started(engine, kill_file=kill_file)
    try:
        kill_file.touch()
        await asyncio.wait_for(engine.killed.wait(), 5)
        url = server.url + "/resume?by=bob"
        status, _, body = await asyncio.to_thread(_http, "POST", url, server.token)
        assert status == 409 and "remove it" in json.loads(body)["why"]
        kill_file.unlink()
        status, _, body = await asyncio.to_thread(_http, "POST", url, server.token)
        assert (status, json.loads(body)) == (200, {"resumed": True, "source": "http (bob)"})
    finally:
        await server.stop()

"""``whalewire status`` / ``whalewire kill`` as real subprocesses against a live endpoint."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path

from tests.engine.factories import RecordingEngine

from whalewire.engine.control import ControlServer


async def whalewire(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "whalewire",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_kill_command_halts_the_engine_and_prints_the_report() -> None:
    engine = RecordingEngine()
    server = ControlServer(engine, port=0)
    await server.start()
    try:
        code, out, _ = await whalewire("kill", "--url", server.url, "--token", server.token)
        assert code == 0
        assert json.loads(out)["canceled"] == {"binance": 2}
        assert engine.sources == ["http (cli)"]
        code, out, _ = await whalewire("status", "--url", server.url, "--json")
        assert (code, json.loads(out)["trading_state"]) == (0, "HALTED")
    finally:
        await server.stop()


async def test_status_reads_the_endpoint_from_the_configuration(tmp_path: Path) -> None:
    engine = RecordingEngine()
    server = ControlServer(engine, port=0)
    await server.start()
    config = tmp_path / "w.toml"
    config.write_text(f"[control]\nport = {server.port}\n")
    try:
        code, out, _ = await whalewire("status", "--config", str(config))
        assert code == 0
        assert "ACTIVE" in out
    finally:
        await server.stop()


async def test_kill_without_a_running_engine_says_what_to_check() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    code, _, err = await whalewire("kill", "--url", f"http://127.0.0.1:{port}", "--token", "t")
    assert code == 1
    assert f"no engine answers at http://127.0.0.1:{port}/kill" in err
    assert "Is it running?" in err

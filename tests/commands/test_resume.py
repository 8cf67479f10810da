"""Kill, then resume, a real engine process through the commands an operator types.

``whalewire run`` runs in the background on the embedded emulator; ``kill --config`` and
``resume --config`` find its endpoint and its 0600 token from the same configuration.
The resume is refused unconfirmed and while the kill file exists, and both the halt and
the resume are journaled.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from whalewire.engine.journal import Journal


def whalewire(cwd: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "whalewire", *argv],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


#: the engine process of each test's directory
ENGINES: dict[Path, subprocess.Popen[str]] = {}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Path]:
    """A running engine's directory (its configuration is ``c.toml``)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "c.toml").write_text(
        f'[engine]\njournal = "j.db"\n[control]\nport = {port}\nkill_file = "stop"\n'
        '[[feeds]]\ntype = "replay"\nloop = true\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "whalewire", "run", "--config", "c.toml", "--no-dashboard"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "j.db.token").exists():
        assert proc.poll() is None and time.monotonic() < deadline, (
            proc.stdout and proc.stdout.read()
        )
        time.sleep(0.1)
    ENGINES[tmp_path] = proc
    try:
        yield tmp_path
    finally:
        proc.terminate()
        proc.wait(30)


def state(cwd: Path) -> str:
    result = whalewire(cwd, "status", "--config", "c.toml", "--json")
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["trading_state"])


def test_kill_then_resume_with_confirmation_and_the_kill_file_rule(engine: Path) -> None:
    assert state(engine) == "ACTIVE"
    killed = whalewire(engine, "kill", "--config", "c.toml")
    assert killed.returncode == 0, killed.stderr
    assert state(engine) == "HALTED"

    unconfirmed = whalewire(engine, "resume", "--config", "c.toml", stdin="yes please\n")
    assert unconfirmed.returncode == 2 and "not confirmed" in unconfirmed.stderr
    assert state(engine) == "HALTED"

    (engine / "stop").touch()  # the kill file: the operator's standing order to stay halted
    refused = whalewire(engine, "resume", "--config", "c.toml", "--yes")
    assert refused.returncode == 1 and "remove it" in json.loads(refused.stdout)["why"]
    (engine / "stop").unlink()

    resumed = whalewire(engine, "resume", "--config", "c.toml", stdin="resume\n")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "type 'resume'" in resumed.stderr
    assert json.loads(resumed.stdout)["resumed"] is True
    assert state(engine) == "ACTIVE"


def test_a_request_without_the_token_is_refused(engine: Path) -> None:
    (engine / "j.db.token").rename(engine / "elsewhere")
    result = whalewire(engine, "kill", "--config", "c.toml", "--token", "guessed")
    assert result.returncode == 2 and "refused the control token" in result.stderr
    assert state(engine) == "ACTIVE"


def test_halt_and_resume_are_journaled(engine: Path) -> None:
    assert whalewire(engine, "kill", "--config", "c.toml").returncode == 0
    assert whalewire(engine, "resume", "--config", "c.toml", "--yes").returncode == 0
    stopped = whalewire(engine, "kill", "--config", "c.toml")  # then stop it: SIGTERM
    assert stopped.returncode == 0
    ENGINES[engine].terminate()
    ENGINES[engine].wait(30)
    with Journal(engine / "j.db") as journal:  # the engine's lock is gone with it
        actions = [(a, source) for _, a, source in journal.notes() if a != "open"]
    assert actions == [("halt", "http (cli)"), ("resume", "http (cli)"), ("halt", "http (cli)")]

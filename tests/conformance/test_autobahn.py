"""Autobahn|Testsuite conformance (RFC 6455 + RFC 7692) via kosoku, in both roles.

Our side runs as the real CLI in a subprocess (``python -m whalewire ws serve`` /
``ws autobahn-client``); kosoku drives it and writes ``index.json``, whose verdicts we read.
The core cases (1.x–7.x, 10.x: 247) run every time; 9.x (limits/performance, 54) and
12.x/13.x (permessage-deflate, 216) are slow and run with WHALEWIRE_FULL=1. A verdict other
than OK passes only when ALLOWED lists it for that case, with the reason that
docs/topics/conformance.md also gives.
"""

from __future__ import annotations

import collections
import json
import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

KOSOKU = str(Path(sys.executable).with_name("kosoku"))
WHALEWIRE = [sys.executable, "-m", "whalewire"]

#: case groups: (kosoku include globs, number of cases, slow)
GROUPS = {
    "core": (["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"], 247, False),
    "limits": (["9.*"], 54, True),
    "deflate": (["12.*", "13.*"], 216, True),
}

#: the verdict (behavior, behaviorClose) every case must get unless listed in ALLOWED
PASS = ("OK", "OK")

#: case id -> (the verdict we accept instead, why); the same table is in docs/topics/conformance.md
ALLOWED: dict[str, tuple[tuple[str, str], str]] = {
    "7.1.6": (
        ("INFORMATIONAL", "INFORMATIONAL"),
        "message, close, then ping: Autobahn only records what the peer does",
    ),
    "7.13.1": (("INFORMATIONAL", "INFORMATIONAL"), "close code 5000: the RFC leaves it open"),
    "7.13.2": (("INFORMATIONAL", "INFORMATIONAL"), "close code 65535: the RFC leaves it open"),
}


def read_line(proc: subprocess.Popen[str], stream: str, pattern: str, timeout: float) -> str:
    """Wait (bounded) for a line matching ``pattern`` on the process's stdout or stderr."""
    pipe = proc.stdout if stream == "stdout" else proc.stderr
    assert pipe is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(pipe, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=deadline - time.monotonic()):
                break
            line = pipe.readline()
            if not line:
                break
            match = re.search(pattern, line)
            if match:
                return match.group(1)
    proc.kill()
    raise AssertionError(f"no line matching {pattern!r} within {timeout}s")


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    proc = subprocess.Popen(
        [*WHALEWIRE, "ws", "serve", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield int(read_line(proc, "stdout", r"listening on ws://127\.0\.0\.1:(\d+)", 30))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def load_index(outdir: Path) -> dict[str, dict[str, str]]:
    index = json.loads((outdir / "index.json").read_text())
    assert len(index) == 1, f"expected one agent in the report, got {list(index)}"
    (cases,) = index.values()
    return {
        case: {"behavior": v["behavior"], "close": v["behaviorClose"]} for case, v in cases.items()
    }


def check(results: dict[str, dict[str, str]], expected_count: int, role: str) -> None:
    counts = collections.Counter((v["behavior"], v["close"]) for v in results.values())
    print(f"kosoku {role}: {len(results)} cases: {dict(counts)}")
    assert len(results) == expected_count
    bad = {}
    for case, v in sorted(results.items()):
        verdict = (v["behavior"], v["close"])
        if verdict != PASS and (case not in ALLOWED or ALLOWED[case][0] != verdict):
            bad[case] = verdict
    assert not bad, f"{role}: cases not OK: {bad}"


def include_args(globs: list[str]) -> list[str]:
    return [arg for g in globs for arg in ("-i", g)]


def group_params() -> list[object]:
    # The slow groups take minutes (more on a loaded machine): lift pytest's 300 s limit.
    slow_marks = [pytest.mark.slow, pytest.mark.timeout(1800)]
    return [
        pytest.param(name, marks=slow_marks if slow else [], id=name)
        for name, (_, _, slow) in GROUPS.items()
    ]


@pytest.mark.parametrize("group", group_params())
def test_autobahn_server_role(group: str, server_port: int, tmp_path: Path) -> None:
    globs, count, _ = GROUPS[group]
    outdir = tmp_path / "servers"
    # kosoku exits 1 when a case fails; the verdicts in index.json are what we judge.
    subprocess.run(
        [KOSOKU, f"127.0.0.1:{server_port}", "-o", str(outdir), "-p", "2", *include_args(globs)],
        capture_output=True,
        timeout=1800,
        check=False,
    )
    check(load_index(outdir), count, f"server/{group}")


@pytest.mark.parametrize("group", group_params())
def test_autobahn_client_role(group: str, tmp_path: Path) -> None:
    globs, count, _ = GROUPS[group]
    outdir = tmp_path / "clients"
    fuzzer = subprocess.Popen(
        [KOSOKU, "-m", "fuzzingserver", "127.0.0.1:0", "-o", str(outdir), *include_args(globs)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = read_line(fuzzer, "stderr", r"listening on ws://127\.0\.0\.1:(\d+)", 30)
        client = subprocess.run(
            [
                *WHALEWIRE,
                "ws",
                "autobahn-client",
                "--url",
                f"ws://127.0.0.1:{port}",
                "--parallel",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert client.returncode == 0, client.stderr[-2000:]
        fuzzer.wait(timeout=60)
    finally:
        if fuzzer.poll() is None:
            fuzzer.kill()
            fuzzer.wait()
    check(load_index(outdir), count, f"client/{group}")

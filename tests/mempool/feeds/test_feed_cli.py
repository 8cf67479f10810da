"""``python -m whalewire.mempool.feeds``: the watch tool and the replay subcommands, run as a
real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ._vectors import block_doc, write_block_json


def feeds_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "whalewire.mempool.feeds", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_watch_the_embedded_replay_prints_the_first_transactions() -> None:
    out = feeds_cli("watch", "--replay", "--speed", "0", "--count", "3")
    assert out.returncode == 0, out.stderr
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("replay", "mempool", txid) for txid in block_doc()["tx"][1:4]
    ]
    assert "# 3 transactions" in out.stderr


def test_watch_without_a_feed_is_a_usage_error() -> None:
    out = feeds_cli("watch")
    assert out.returncode == 2
    assert "no feed" in out.stderr


def test_replay_build_then_info(tmp_path: Path) -> None:
    src = write_block_json(tmp_path / "block.json")
    dst = tmp_path / "out.jsonl"
    built = feeds_cli("replay", "build", str(src), str(dst), "--mean-ms", "10")
    assert built.returncode == 0, built.stderr
    assert "wrote 373 transactions" in built.stdout
    info = feeds_cli("replay", "info", str(dst))
    assert info.returncode == 0 and info.stdout.startswith("373 transactions over ")

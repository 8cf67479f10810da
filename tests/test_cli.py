"""The ``whalewire`` command line: every registered subcommand parses and has help."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from whalewire.cli import COMMANDS, build_parser


def test_every_registered_command_builds_a_parser() -> None:
    parser = build_parser()
    for name in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([name, "--help"])
        assert exc.value.code == 0


def test_unknown_command_exits_with_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "whalewire", "no-such-command"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_version_prints_the_package_version_and_exits_0() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "whalewire", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    # the version pyproject.toml declares, read independently of whalewire.__version__
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
    assert result.stdout.strip() == f"whalewire {declared}"

"""The ``whalewire`` command line: every registered subcommand parses and has help."""

import subprocess
import sys

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

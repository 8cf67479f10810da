"""The ``whalewire selfcheck`` WebSocket echo check runs end to end over
loopback through the real CLI and exits 0 only when every echo matched."""

from __future__ import annotations

import subprocess
import sys


def test_selfcheck_echo_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "whalewire", "selfcheck", "--rounds", "50", "--seconds", "60"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all echoes matched" in result.stdout
    assert "permessage-deflate" in result.stdout

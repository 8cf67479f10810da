"""Real processes for the durability tests: run some Python, then SIGKILL it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).parents[2]


def run_then_sigkill(code: str) -> None:
    """Run ``code`` in a new interpreter, wait until it has run, then SIGKILL it.

    The process prints ``written`` after ``code`` and then blocks, so it dies with every
    file still open and nothing flushed or closed by Python: what survives is what the
    kernel already had.
    """
    script = (
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        + textwrap.dedent(code)
        + '\nprint("written", flush=True)\nsys.stdin.read()\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)

"""Fleet roles as separate processes (``python -m whalewire sensor|executor``), and watching them.

``RoleProcess`` runs one command with its log in the test's directory; ``Watch`` is the
operator's view from the test (``FleetView`` over its own NATS connection) with waits on
conditions about every role's heartbeat, never sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from whalewire.fleet.control import FleetView
from whalewire.fleet.link import Link


class RoleProcess:
    """One ``whalewire sensor|executor --config FILE`` process."""

    def __init__(
        self, kind: str, config: Path, *, wrap: Callable[[list[str]], list[str]] | None = None
    ):
        self.kind = kind
        self.config = config
        self.log = config.with_suffix(".log")
        self.wrap = wrap
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (again)."""
        cmd = [sys.executable, "-m", "whalewire", self.kind, "--config", str(self.config)]
        if self.wrap is not None:
            cmd = self.wrap(cmd)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.config.parent, start_new_session=True,
            )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: a crash."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: a clean stop (the executor streams what its journal has, then exits)."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        p = self.process
        if p is None or p.poll() is not None:
            return
        os.killpg(p.pid, sig)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()

    def tail(self) -> str:
        """The end of its log (for a failing assertion's message)."""
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


class Watch:
    """The fleet as its heartbeats show it, from the test."""

    def __init__(self, servers: list[str]) -> None:
        self.link = Link(servers, "test-watch")
        self.view: FleetView | None = None

    async def start(self) -> None:
        """Connect and listen to every heartbeat."""
        await self.link.connect()
        self.view = FleetView(self.link)
        await self.view.start()

    async def close(self) -> None:
        """Disconnect."""
        await self.link.close()

    def stats(self, role: str, name: str) -> dict[str, Any] | None:
        """The latest stats ``name`` sent (None: never heard)."""
        assert self.view is not None
        member = self.view.members.get((role, name))
        return None if member is None else member.stats

    def age(self, role: str, name: str) -> float:
        """Seconds since ``name``'s last heartbeat (infinite: never heard)."""
        assert self.view is not None
        member = self.view.members.get((role, name))
        return float("inf") if member is None else member.age_s()

    async def until(
        self, check: Callable[[], bool], what: str, timeout: float = 60.0,
        logs: list[RoleProcess] = (),  # type: ignore[assignment]
    ) -> float:  # fmt: skip
        """Wait until ``check()``; return how long it took; fail naming ``what``."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if check():
                return time.monotonic() - t0
            await asyncio.sleep(0.05)
        tails = "\n".join(f"--- {p.config.name}\n{p.tail()[-800:]}" for p in logs)
        seen = self.view.snapshot() if self.view is not None else []
        raise AssertionError(f"timed out ({timeout} s) waiting for {what}\n{seen}\n{tails}")

    def executor_trading(self, name: str) -> bool:
        """Whether ``name``'s latest heartbeat says it trades."""
        stats = self.stats("executor", name)
        return stats is not None and stats.get("halted") == ""

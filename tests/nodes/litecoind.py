"""Start a real ``litecoind -regtest`` on loopback with a temporary datadir, and talk JSON-RPC.

Debian's litecoind speaks Bitcoin's P2P protocol and, in regtest, uses Bitcoin's regtest magic
(fabfb5da), so it is a real peer for the P2P feed. RPC goes over loopback with stdlib urllib.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

LITECOIND = shutil.which("litecoind")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RPCError(Exception):
    """The node answered a JSON-RPC call with an error object."""


class Node:
    """A running regtest litecoind; use as a context manager (stops the node on exit)."""

    def __init__(self, datadir: Path, extra_args: tuple[str, ...] = ()) -> None:
        if LITECOIND is None:
            raise RuntimeError("litecoind is not installed")
        self.datadir = datadir
        self.p2p_port = free_port()
        self.rpc_port = free_port()
        self._auth = "Basic " + base64.b64encode(b"whalewire:regtest-only").decode()
        self.log = (datadir / "stdout.log").open("wb")
        self.proc = subprocess.Popen(
            [
                LITECOIND,
                "-regtest",
                f"-datadir={datadir}",
                "-listen=1",
                "-bind=127.0.0.1",
                f"-port={self.p2p_port}",
                f"-rpcport={self.rpc_port}",
                "-rpcbind=127.0.0.1",
                "-rpcallowip=127.0.0.1",
                "-rpcuser=whalewire",
                "-rpcpassword=regtest-only",
                "-fallbackfee=0.0001",
                "-server=1",
                "-dnsseed=0",
                "-discover=0",
                "-upnp=0",
                "-printtoconsole=0",
                # noban peers get their transaction invs without the inbound trickle delay
                "-whitelist=noban@127.0.0.1",
                *extra_args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def call(
        self, method: str, *params: Any, wallet: str | None = None, timeout: float = 30
    ) -> Any:
        """Call one JSON-RPC method and return its result."""
        path = f"/wallet/{wallet}" if wallet is not None else "/"
        body = json.dumps({"jsonrpc": "1.0", "id": method, "method": method, "params": params})
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.rpc_port}{path}",
            data=body.encode(),
            headers={"Authorization": self._auth, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                reply = json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # RPC errors come with HTTP 500 and a JSON body
            reply = json.loads(exc.read() or b"{}")
        if reply.get("error"):
            raise RPCError(reply["error"])
        return reply["result"]

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until RPC answers (the node warms up with error -28 first)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"litecoind exited with {self.proc.returncode}: {self.tail()}")
            try:
                self.call("getblockcount", timeout=2)
                return
            except (OSError, RPCError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"litecoind RPC not ready: {self.tail()}") from None
                time.sleep(0.1)

    def wait_for(self, what: str, predicate: Any, timeout: float = 30.0) -> None:
        """Poll ``predicate()`` until it is true or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def tail(self) -> str:
        """Return the end of the node's debug log, for failure messages."""
        log = self.datadir / "regtest" / "debug.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else "(no debug.log)"

    def stop(self) -> None:
        """Stop the node via RPC, killing it if it does not exit in time."""
        if self.proc.poll() is None:
            try:
                self.call("stop", timeout=5)
                self.proc.wait(timeout=15)
            except (OSError, RPCError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()

    def __enter__(self) -> Node:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

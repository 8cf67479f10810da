"""Hosts for the fleet's tests: network namespaces joined to this one by veth links.

Each ``Host`` is a namespace ``wwt-<pid>-<n>`` with one veth pair: ``10.77.<n>.1`` on this
(the root) namespace's side, ``10.77.<n>.2`` inside. A process started with ``Host.wrap``
runs inside and reaches the root side's listeners (a NATS node, a relay) at ``10.77.<n>.1``;
``partition()`` takes the link down, ``heal()`` brings it back. The addresses are private,
chosen here, and routed nowhere else: nothing leaves the machine. Where ``ip netns add`` is
refused, ``available()`` says why and the tests fall back to loopback (they print it).
"""

from __future__ import annotations

import os
import subprocess
from functools import cache


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


@cache
def available() -> str | None:
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

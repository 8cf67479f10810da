"""Real NATS for the fleet's tests: one JetStream node, or a three-node JetStream cluster.

Each fixture starts ``nats-server`` processes on loopback ports of the OS's choosing with
their stores in the test's temporary directory, waits for ``/healthz``, and kills them
afterwards (a node a test killed is simply already gone).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from whalewire.fleet.natsserver import NatsServer, cluster


@pytest.fixture
def nats_node(tmp_path: Path) -> Iterator[NatsServer]:
    """One nats-server with JetStream, ready."""
    node = NatsServer(tmp_path / "nats", name="single")
    node.start()
    try:
        node.wait_ready()
        yield node
    finally:
        node.kill()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[list[NatsServer]]:
    """Three nats-server nodes in one JetStream cluster (R3 streams), all ready."""
    nodes = cluster(tmp_path / "cluster", 3)
    for node in nodes:
        node.start()
    try:
        for node in nodes:
            node.wait_ready(timeout=30)
        yield nodes
    finally:
        for node in nodes:
            node.kill()

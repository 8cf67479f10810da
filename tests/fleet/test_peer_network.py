"""Many peers vs one, measured: two sensor processes on a namespace host, peers behind relays.

A regtest litecoind makes the transactions (wallet RPC); three delaying relays (0, 80 and
200 ms each way) stand for peers at three distances; two ``whalewire sensor`` processes run
in a network namespace joined by veth (loopback where namespaces are refused), one with all
three peers, one with only the farthest, both publishing every transaction's first-seen
stamp over NATS. The many-peer sensor must see each transaction first, by the far peer's
extra trips; the figure is printed for docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from tests.fleet.support import DelayRelay, Host, RoleProcess, Watch, netns_available
from tests.nodes.litecoind import LITECOIND, Node

from whalewire.fleet.natsserver import NatsServer
from whalewire.fleet.wire import Inbox, Seen

pytestmark = pytest.mark.node

SENSOR = """
feeds = []

[fleet]
name = "{name}"
nats = ["{nats}"]
heartbeat_interval_s = 0.2
publish_seen = true
p2p_peers = [{peers}]
p2p_network = "regtest"
p2p_discover = false
"""

DELAYS = {"near": 0.0, "mid": 0.08, "far": 0.2}
PAYMENTS = 3


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    if LITECOIND is None:
        pytest.skip("litecoind not installed (scripts/dev test installs it)")
    with Node(Path(tmp_path_factory.mktemp("litecoind"))) as n:
        n.call("createwallet", "w")
        n.call("generatetoaddress", 101, n.call("getnewaddress", wallet="w"))
        yield n


async def test_sensor_with_many_peers_sees_transactions_before_one_with_the_far_peer(
    node: Node, nats_node: NatsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    why = netns_available()
    host = Host(203) if why is None else None
    listen = "127.0.0.1"
    if host is not None:
        host.create()
        listen = host.root_address
    with capsys.disabled():
        where = f"namespace {host.name} over veth" if host else f"loopback ({why})"
        print(f"\n[fleet] sensors with many peers vs one run in {where}")
    nats_relay = DelayRelay("127.0.0.1", nats_node.port, listen_host=listen)
    peers = {
        k: DelayRelay("127.0.0.1", node.p2p_port, delay_s=d, listen_host=listen)
        for k, d in DELAYS.items()
    }
    relays = [nats_relay, *peers.values()]
    for relay in relays:
        await relay.start()

    def sensor(name: str, chosen: list[str]) -> RoleProcess:
        text = SENSOR.format(
            name=name,
            nats=nats_relay.url,
            peers=", ".join(f'"{listen}:{peers[k].listen_port}"' for k in chosen),
        )
        path = tmp_path / f"{name}.toml"
        path.write_text(text)
        return RoleProcess("sensor", path, wrap=host.wrap if host is not None else None)

    many, one = sensor("s-many", ["near", "mid", "far"]), sensor("s-one", ["far"])
    seen: dict[str, dict[str, int]] = defaultdict(dict)
    inbox = Inbox()
    listener = await nats.connect(nats_node.url)

    async def on_seen(msg: Any) -> None:
        stamp = inbox.expect(msg.data, Seen)
        if stamp is not None:
            seen[stamp.txid].setdefault(stamp.sensor, stamp.seen_wall_ns)

    await listener.subscribe("ww.seen", cb=on_seen)
    watch = Watch([nats_node.url])
    await watch.start()
    txids: list[str] = []
    try:
        many.start()
        one.start()

        def peers_ready(name: str, count: int) -> bool:
            # ready: the node completed the handshake, so it announces new transactions
            stats = watch.stats("sensor", name) or {}
            return (stats.get("peers") or {}).get("ready", 0) == count

        await watch.until(
            lambda: peers_ready("s-many", 3) and peers_ready("s-one", 1), "peers ready",
            logs=[many, one],
        )  # fmt: skip
        for _ in range(PAYMENTS):
            to = node.call("getnewaddress", wallet="w")
            txids.append(await asyncio.to_thread(node.call, "sendtoaddress", to, 0.5, wallet="w"))
            await asyncio.sleep(1.5)
        await watch.until(
            lambda: all(len(seen[t]) == 2 for t in txids), "both sensors' stamps",
            timeout=30, logs=[many, one],
        )  # fmt: skip
    finally:
        for p in (many, one):
            await asyncio.to_thread(p.stop)
        await watch.close()
        await listener.close()
        for relay in relays:
            await relay.close()
        if host is not None:
            host.destroy()
    leads_ms = [(seen[t]["s-one"] - seen[t]["s-many"]) / 1e6 for t in txids]
    with capsys.disabled():
        print(f"[fleet] many peers ahead of the far peer alone: {leads_ms} ms")
    # the far peer alone answers after three relayed trips of 200 ms; the near peer at once
    assert statistics.median(leads_ms) > 2 * DELAYS["far"] * 1000

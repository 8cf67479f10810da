"""The P2P feed end to end against a real node: Debian's litecoind in regtest on loopback.

The node creates the transactions (wallet RPC) and announces them over P2P; the txids and raw
bytes we receive are compared with what the node's RPC reports, never with our own output.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from whalewire.mempool.feeds.events import BlockSeen, EventKind, FeedEvent, RawTxEvent
from whalewire.mempool.feeds.monitor import Monitor
from whalewire.mempool.feeds.p2p import P2PFeed
from whalewire.mempool.feeds.p2p_messages import MSG_TX, MSG_WTX, P2PError
from whalewire.mempool.feeds.reconnect import Reconnecting

from .litecoind import LITECOIND, Node

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(
        LITECOIND is None, reason="litecoind not installed (scripts/dev test installs it)"
    ),
]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with Node(Path(tmp_path_factory.mktemp("litecoind"))) as n:
        n.call("createwallet", "w")
        # 120 blocks: 20 mature coinbases, so a burst of payments needs no long unconfirmed chain
        n.call("generatetoaddress", 120, n.call("getnewaddress", wallet="w"))
        yield n


async def until(
    feed: P2PFeed, want: Callable[[FeedEvent], bool], timeout: float = 30.0
) -> list[FeedEvent]:
    """Collect events from ``feed`` until ``want(event)`` is true."""
    got: list[FeedEvent] = []

    async def run() -> None:
        async for event in feed:
            got.append(event)
            if want(event):
                return

    await asyncio.wait_for(run(), timeout)
    return got


def test_handshake_with_regtest_magic_reports_the_node(node: Node) -> None:
    async def run() -> None:
        feed = P2PFeed("127.0.0.1", node.p2p_port, "regtest")
        version = await feed.connect()
        await feed.close()
        assert "LitecoinCore" in version.user_agent
        # the node updates its advertised height asynchronously after mining: it may lag
        assert 100 <= version.start_height <= node.call("getblockcount")
        assert version.version >= 70015

    asyncio.run(run())


@pytest.mark.parametrize("wtxidrelay", [False, True], ids=["txid-inv", "wtxid-inv"])
def test_wallet_transaction_arrives_with_the_rpc_txid_and_raw_bytes(
    node: Node, wtxidrelay: bool
) -> None:
    async def run() -> RawTxEvent:
        feed = P2PFeed("127.0.0.1", node.p2p_port, "regtest", name="p2p", wtxidrelay=wtxidrelay)
        await feed.connect()
        to = node.call("getnewaddress", wallet="w")
        txid = await asyncio.to_thread(node.call, "sendtoaddress", to, 2.5, wallet="w")
        got = await until(feed, lambda e: isinstance(e, RawTxEvent) and e.txid == txid)
        await feed.close()
        assert feed.announced[MSG_WTX if wtxidrelay else MSG_TX] >= 1
        assert feed.announced[MSG_TX if wtxidrelay else MSG_WTX] == 0
        event = got[-1]
        assert isinstance(event, RawTxEvent)
        return event

    event = asyncio.run(run())
    assert event.feed == "p2p" and event.kind is EventKind.MEMPOOL
    # getrawtransaction returns the witness serialisation, which we asked for (BIP 144)
    assert event.raw.hex() == node.call("getrawtransaction", event.txid)


def test_mined_block_is_announced_with_the_rpc_hash(node: Node) -> None:
    async def run() -> str:
        feed = P2PFeed("127.0.0.1", node.p2p_port, "regtest")
        await feed.connect()
        addr = node.call("getnewaddress", wallet="w")
        (block,) = await asyncio.to_thread(node.call, "generatetoaddress", 1, addr)
        await until(feed, lambda e: isinstance(e, BlockSeen) and e.block_hash == block)
        await feed.close()
        return str(block)

    assert asyncio.run(run()) == node.call("getbestblockhash")


def test_two_connections_through_the_monitor_yield_the_tx_once(node: Node) -> None:
    async def run() -> tuple[list[str], Monitor]:
        feeds = [P2PFeed("127.0.0.1", node.p2p_port, "regtest", name=n) for n in ("a", "b")]
        for f in feeds:
            await f.connect()
        monitor = Monitor(feeds)
        txid = node.call("sendtoaddress", node.call("getnewaddress", wallet="w"), 1, wallet="w")
        seen: list[str] = []

        def on_event(event: FeedEvent) -> None:
            if isinstance(event, RawTxEvent):
                seen.append(event.txid)

        task = asyncio.create_task(monitor.run(on_event))
        async with asyncio.timeout(30):
            while monitor.dedup.first.total() + monitor.dedup.duplicates.total() < 2:
                await asyncio.sleep(0.01)
        task.cancel()
        for f in feeds:
            await f.close()
        assert txid in seen
        return seen, monitor

    seen, monitor = asyncio.run(run())
    assert len(seen) == len(set(seen))
    assert monitor.dedup.duplicates.total() >= 1


def test_wrong_network_magic_fails_the_handshake(node: Node) -> None:
    async def run() -> None:
        feed = P2PFeed("127.0.0.1", node.p2p_port, "mainnet", handshake_timeout=5)
        await feed.connect()

    # the node drops a peer whose magic is wrong; we see the close (or silence) as P2PError
    with pytest.raises(P2PError):
        asyncio.run(run())


def test_reconnecting_feed_survives_the_node_dropping_it(node: Node) -> None:
    def our_peers() -> list[int]:
        peers = node.call("getpeerinfo")
        return [p["id"] for p in peers if p.get("subver") == "/whalewire:0.1.0/"]

    async def run() -> tuple[str, Reconnecting, list[FeedEvent]]:
        feed = Reconnecting(
            lambda: P2PFeed("127.0.0.1", node.p2p_port, "regtest"),
            delays=lambda: itertools.repeat(0.05),
        )
        got: list[FeedEvent] = []
        task = asyncio.create_task(feed.run(got.append))
        async with asyncio.timeout(30):
            while not (ids := await asyncio.to_thread(our_peers)):
                await asyncio.sleep(0.05)
            await asyncio.to_thread(node.call, "disconnectnode", "", ids[0])
            while feed.reconnects < 1 or not await asyncio.to_thread(our_peers):
                await asyncio.sleep(0.05)
            to = node.call("getnewaddress", wallet="w")
            txid = await asyncio.to_thread(node.call, "sendtoaddress", to, 0.5, wallet="w")
            while not any(isinstance(e, RawTxEvent) and e.txid == txid for e in got):
                await asyncio.sleep(0.05)
        task.cancel()
        return txid, feed, got

    txid, feed, got = asyncio.run(run())
    assert feed.reconnects >= 1
    assert [e.txid for e in got if isinstance(e, RawTxEvent)].count(txid) == 1


def test_watch_tool_shows_a_wallet_transaction_from_the_node(node: Node) -> None:
    import subprocess
    import sys

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "whalewire.mempool.feeds",
            "watch",
            "--network",
            "regtest",
            "--p2p",
            f"127.0.0.1:{node.p2p_port}",
            "--count",
            "1",
            "--seconds",
            "30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        node.wait_for(
            "the watch tool to connect",
            lambda: any(p.get("subver") == "/whalewire:0.1.0/" for p in node.call("getpeerinfo")),
        )
        txid = node.call("sendtoaddress", node.call("getnewaddress", wallet="w"), 0.1, wallet="w")
        out, err = proc.communicate(timeout=40)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"p2p:127.0.0.1:{node.p2p_port}\tmempool\t{txid}\t" in out


def test_a_burst_of_payments_arrives_complete_and_once_each(node: Node) -> None:
    async def run() -> tuple[list[str], list[str]]:
        feed = P2PFeed("127.0.0.1", node.p2p_port, "regtest")
        await feed.connect()
        got: list[str] = []
        task = asyncio.create_task(
            feed.run(lambda e: got.append(e.txid) if isinstance(e, RawTxEvent) else None)
        )

        def pay_twenty() -> list[str]:
            return [
                node.call("sendtoaddress", node.call("getnewaddress", wallet="w"), 0.01, wallet="w")
                for _ in range(20)
            ]

        sent = await asyncio.to_thread(pay_twenty)
        async with asyncio.timeout(30):
            while not set(sent) <= set(got):
                await asyncio.sleep(0.02)
        task.cancel()
        return sent, got

    sent, got = asyncio.run(run())
    assert sorted(got) == sorted(set(got))  # each announced tx requested and delivered once
    assert set(sent) <= set(got)

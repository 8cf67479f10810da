"""End to end on a real node: Debian's litecoind in regtest (Bitcoin's transaction format).

A small economy is sent as real, signed wallet transactions: customers pay their own deposit
addresses at an exchange, the exchange sweeps them into its hot wallet (the only seed label)
and pays a withdrawal; a second exchange does the same. The learner follows the node over
JSON-RPC into a SQLite store; the detector loads the learned deposit addresses; a customer's
next deposit to a learned address, announced by the node over P2P, is the detector's
deposit alert. Ownership comes from which wallet made each address, never from the learner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.nodes.litecoind import LITECOIND, Node

from whalewire.addresses.learner import DEPOSIT, Learner
from whalewire.addresses.live import LabelLoader
from whalewire.addresses.rpc import RpcClient, follow
from whalewire.addresses.store import Store
from whalewire.mempool.feeds.events import RawTxEvent
from whalewire.mempool.feeds.p2p import P2PFeed
from whalewire.mempool.watchlist import AddressBook
from whalewire.mempool.whales import AlertKind, WhaleDetector

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(
        LITECOIND is None, reason="litecoind not installed (scripts/dev test installs it)"
    ),
]

EXCHANGES = ("regx", "regy")
CUSTOMERS = 4


def spk(node: Node, address: str, wallet: str) -> bytes:
    info = node.call("getaddressinfo", address, wallet=wallet)
    return bytes.fromhex(info["scriptPubKey"])


def sweep(node: Node, wallet: str, sources: list[str], to: str) -> str:
    """Spend every coin of ``sources`` (addresses of ``wallet``) to ``to``, signed by it."""
    coins = node.call("listunspent", 1, 9999, sources, wallet=wallet)
    total = sum(Decimal(str(c["amount"])) for c in coins)
    raw = node.call(
        "createrawtransaction",
        [{"txid": c["txid"], "vout": c["vout"]} for c in coins],
        [{to: str(total - Decimal("0.001"))}],
    )
    signed = node.call("signrawtransactionwithwallet", raw, wallet=wallet)
    assert signed["complete"]
    return str(node.call("sendrawtransaction", signed["hex"]))


@pytest.fixture(scope="module")
def economy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, dict[str, Any]]]:
    with Node(Path(tmp_path_factory.mktemp("litecoind"))) as node:
        for w in ("miner", "customers", *EXCHANGES):
            node.call("createwallet", w)
        miner = node.call("getnewaddress", "", "bech32", wallet="miner")
        node.call("generatetoaddress", 110, miner)
        world: dict[str, Any] = {"hot": {}, "deposits": {}, "customers": []}
        for _ in range(CUSTOMERS):
            addr = node.call("getnewaddress", "", "bech32", wallet="customers")
            node.call("sendtoaddress", addr, 20, wallet="miner")
            world["customers"].append(addr)
        for ex in EXCHANGES:
            world["hot"][ex] = node.call("getnewaddress", "", "bech32", wallet=ex)
            node.call("sendtoaddress", world["hot"][ex], 50, wallet="miner")
            # one deposit address per customer, made by the exchange's wallet
            world["deposits"][ex] = [
                node.call("getnewaddress", "", "bech32", wallet=ex) for _ in range(CUSTOMERS)
            ]
        node.call("generatetoaddress", 1, miner)
        for ex in EXCHANGES:
            for dep in world["deposits"][ex]:
                node.call("sendtoaddress", dep, 1.5, wallet="customers")
        node.call("generatetoaddress", 1, miner)
        for ex in EXCHANGES:
            sweep(node, ex, world["deposits"][ex], world["hot"][ex])
            # a withdrawal to a customer, from the hot wallet
            node.call("generatetoaddress", 1, miner)
            sweep(node, ex, [world["hot"][ex]], world["customers"][0])
        node.call("generatetoaddress", 1, miner)
        yield node, world


def learned(node: Node, world: dict[str, Any], store_path: Path) -> Learner:
    learner = Learner()
    for ex in EXCHANGES:
        learner.seed(spk(node, world["hot"][ex], ex), ex, "hot wallet", "regtest wallet " + ex)
    rpc = RpcClient(f"http://whalewire:regtest-only@127.0.0.1:{node.rpc_port}")
    follow(rpc, learner)
    store = Store(store_path, network="regtest")
    store.save(learner)
    store.close()
    return learner


def test_learner_over_rpc_labels_each_exchanges_deposit_addresses(
    economy: tuple[Node, dict[str, Any]], tmp_path: Path
) -> None:
    node, world = economy
    learner = learned(node, world, tmp_path / "s.db")
    assert learner.height == node.call("getblockcount")
    for ex in EXCHANGES:
        for dep in world["deposits"][ex]:
            a = learner.ids[spk(node, dep, ex)]
            assert learner.role[a][:2] == (ex, DEPOSIT)
    customer = learner.ids[spk(node, world["customers"][1], "customers")]
    assert customer not in learner.role


def test_new_deposit_to_a_learned_address_is_detected_from_the_mempool(
    economy: tuple[Node, dict[str, Any]], tmp_path: Path
) -> None:
    node, world = economy
    learned(node, world, tmp_path / "s.db")
    detector = WhaleDetector(AddressBook.demo(), threshold_sats=100_000_000)
    loader = LabelLoader(tmp_path / "s.db", detector.watch_set)
    assert loader.poll() == CUSTOMERS * len(EXCHANGES)
    target = world["deposits"]["regy"][2]

    async def run() -> list[Any]:
        feed = P2PFeed("127.0.0.1", node.p2p_port, "regtest", name="p2p")
        await feed.connect()
        txid = await asyncio.to_thread(node.call, "sendtoaddress", target, 3, wallet="customers")
        alerts: list[Any] = []
        async with asyncio.timeout(30):
            async for event in feed:
                if isinstance(event, RawTxEvent) and event.txid == txid:
                    alerts = list(
                        detector.feed(event.raw, feed="p2p", recv_ns=0, recv_wall_ns=0, txid=txid)
                    )
                    break
        await feed.close()
        return alerts

    alerts = asyncio.run(run())
    assert [(a.kind, a.entity, a.value) for a in alerts] == [
        (AlertKind.DEPOSIT, "regy", 300_000_000)
    ]
    assert alerts[0].outputs[0].script_pubkey == spk(node, target, "regy")

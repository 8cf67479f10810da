"""Tests for following a node over JSON-RPC and for loading labels into the detector.

The node is a loopback HTTP server speaking Core's JSON-RPC (``getblockcount``,
``getblockhash``, ``getblock HASH 0``) over the synthetic chain, with basic auth; it can
switch to a forked chain to force a reorg. The detector is the real ``WhaleDetector``.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from whalewire.addresses.blockfiles import best_chain, index, read_chain
from whalewire.addresses.learner import DEPOSIT, Learner
from whalewire.addresses.live import LabelLoader, watch_store
from whalewire.addresses.rpc import RpcClient, RpcError, follow
from whalewire.addresses.seeds import load_seeds
from whalewire.addresses.store import Store
from whalewire.cli import main
from whalewire.mempool.tx import dsha256
from whalewire.mempool.watchlist import AddressBook
from whalewire.mempool.whales import WhaleDetector

AUTH = "Basic " + base64.b64encode(b"u:p").decode()


class Node:
    """The chain a fake node serves; ``blocks`` may be replaced (a reorg)."""

    def __init__(self, blocks: list[bytes]) -> None:
        self.blocks = blocks

    def answer(self, method: str, params: list[Any]) -> Any:
        if method == "getblockcount":
            return len(self.blocks) - 1
        if method == "getblockhash":
            return dsha256(self.blocks[params[0]][:80])[::-1].hex()
        if method == "getblock":
            for b in self.blocks:
                if dsha256(b[:80])[::-1].hex() == params[0]:
                    return b.hex()
        raise KeyError(method)


@pytest.fixture
def node(economy: Path) -> Iterator[tuple[str, Node]]:
    chain = [bytes(r) for _, r in read_chain(best_chain(index(economy / "blocks")))]
    state = Node(chain)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.headers.get("Authorization") != AUTH:
                self.send_response(401)
                self.end_headers()
                return
            try:
                out = {"result": state.answer(body["method"], body["params"]), "error": None}
            except (KeyError, IndexError):
                out = {"result": None, "error": {"code": -5, "message": "not found"}}
            data = json.dumps({**out, "id": body["id"]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://u:p@127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def seeded(economy: Path) -> Learner:
    learner = Learner()
    for s in load_seeds(economy / "seeds.csv"):
        learner.seed(s.script, s.entity, s.label, s.source)
    return learner


def test_rpc_follow_learns_what_the_block_files_give(economy: Path, node: tuple[str, Node]) -> None:
    url, state = node
    learner = seeded(economy)
    assert follow(RpcClient(url), learner) == len(state.blocks) - 1
    files = seeded(economy)
    for h, raw in read_chain(best_chain(index(economy / "blocks"))):
        files.connect(h, bytes(raw))
    assert learner.role == files.role


def test_rpc_wrong_password_is_an_error(node: tuple[str, Node]) -> None:
    url, _ = node
    with pytest.raises(RpcError):
        RpcClient(url.replace("u:p", "u:q")).call("getblockcount")


def test_rpc_cookie_file_authenticates(node: tuple[str, Node], tmp_path: Path) -> None:
    url, state = node
    (tmp_path / ".cookie").write_text("u:p")
    bare = url.replace("u:p@", "")
    assert (
        RpcClient(bare, cookie_file=tmp_path / ".cookie").call("getblockcount")
        == len(state.blocks) - 1
    )


def test_rpc_reorg_disconnects_back_to_the_fork(economy: Path, node: tuple[str, Node]) -> None:
    url, state = node
    rpc = RpcClient(url)
    learner = seeded(economy)
    follow(rpc, learner, stop_at=100)
    # the node switches to a chain that forks after block 90: a new block 91 (another
    # coinbase only) and nothing after it
    fork = state.blocks[91]
    coinbase = _first_tx(fork)  # legacy: its txid is the hash of all its bytes
    header = fork[:36] + dsha256(coinbase) + struct.pack("<III", 1, 0x207FFFFF, 99)
    state.blocks = [*state.blocks[:91], header + b"\x01" + coinbase]
    assert follow(rpc, learner) == 91
    reference = seeded(economy)
    for h, raw in enumerate(state.blocks):
        reference.connect(h, raw)
    assert learner.role == reference.role
    assert learner.utxo == reference.utxo


def _first_tx(block: bytes) -> bytes:
    from whalewire.mempool.tx import parse_block

    tx = parse_block(block).txs[0]
    return tx.serialize()


def test_loader_puts_learned_deposits_in_the_watch_set_and_the_detector_alerts(
    economy: Path, tmp_path: Path, truth: dict[str, Any]
) -> None:
    learner = seeded(economy)
    chain = [(h, bytes(r)) for h, r in read_chain(best_chain(index(economy / "blocks")))]
    for h, raw in chain[:60]:
        learner.connect(h, raw)
    store = Store(tmp_path / "s.db")
    store.save(learner)
    detector = WhaleDetector(AddressBook.demo(), threshold_sats=1)
    loader = LabelLoader(tmp_path / "s.db", detector.watch_set)
    first = loader.poll()
    assert first == sum(1 for r in learner.role.values() if r[1] == DEPOSIT)
    # later blocks learned while the detector runs: the loader picks the new labels up
    for h, raw in chain[60:]:
        learner.connect(h, raw)
    store.save(learner)
    assert loader.poll() > 0
    assert loader.poll() == 0
    # a deposit into a learned address, from the chain's last blocks, alerts as a deposit
    from whalewire.mempool.tx import parse_block

    deposits = {txid: (addr, ent) for h, txid, addr, ent in truth["deposits"] if h > 100}
    seen = 0
    for _, raw in chain[101:]:
        for tx in parse_block(raw).txs:
            if tx.txid in deposits:
                alerts = detector.feed(tx.serialize(), feed="test", recv_ns=0, recv_wall_ns=0)
                kinds = {(a.kind, a.entity) for a in alerts}
                if kinds:
                    assert ("deposit", deposits[tx.txid][1]) in kinds
                    seen += 1
    assert seen >= 0.95 * len(deposits)


def test_watch_store_picks_new_labels_up_from_its_thread(economy: Path, tmp_path: Path) -> None:
    learner = seeded(economy)
    chain = [(h, bytes(r)) for h, r in read_chain(best_chain(index(economy / "blocks")))]
    for h, raw in chain[:40]:
        learner.connect(h, raw)
    store = Store(tmp_path / "s.db")
    store.save(learner)
    detector = WhaleDetector(AddressBook.demo())
    loader = watch_store(tmp_path / "s.db", detector.watch_set, interval_s=0.02)
    try:
        first = len(detector.watch_set)
        assert first > len(AddressBook.demo())
        for h, raw in chain[40:]:
            learner.connect(h, raw)
        store.save(learner)
        want = len(AddressBook.demo()) + sum(1 for r in learner.role.values() if r[1] == DEPOSIT)
        deadline = time.monotonic() + 10
        while len(detector.watch_set) < want and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(detector.watch_set) == want > first
    finally:
        loader.close()


def test_learn_command_over_rpc_resumes_at_the_nodes_tip(
    economy: Path, node: tuple[str, Node], tmp_path: Path
) -> None:
    url, state = node
    store = str(tmp_path / "s.db")
    args = f"addresses learn --store {store} --rpc {url} --seed {economy / 'seeds.csv'}".split()
    assert main(args) == 0
    assert Store(store).height() == len(state.blocks) - 1
    assert main(args) == 0  # nothing new: a no-op
    learner = seeded(economy)
    for h, raw in enumerate(state.blocks):
        learner.connect(h, raw)
    assert Store(store).load().role == learner.role

"""The mempool.space WebSocket feed, per mempool/mempool backend/src/api/websocket-handler.ts.

Esplora-style transaction JSON is produced by a peer library (embit) from the real mainnet
block 951,658, so the raw bytes we rebuild are checked against the block itself. The socket
test runs a fake mempool.space on a real ``websockets`` server on loopback.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import ssl
from typing import Any

import pytest
from embit.transaction import Transaction
from websockets.asyncio.server import ServerConnection, serve

from whalewire.mempool.feeds._txid import split_block
from whalewire.mempool.feeds.events import BlockSeen, EventKind, FeedEvent, FeedGap, RawTxEvent
from whalewire.mempool.feeds.mempool_space import (
    Connector,
    MempoolSpaceError,
    MempoolSpaceFeed,
    MempoolSpaceProtocol,
    default_connect,
    serialize_esplora_tx,
    websockets_connect,
    whalewire_connect,
)
from whalewire.mempool.feeds.monitor import Monitor
from whalewire.net.errors import TLSFailure

from ._vectors import block_doc


def esplora(raw: bytes) -> dict[str, Any]:
    """Describe ``raw`` the way Esplora/mempool.space does, using embit's parser."""
    tx = Transaction.parse(raw)
    coinbase = tx.vin[0].txid == bytes(32) and tx.vin[0].vout == 0xFFFFFFFF
    return {
        "txid": tx.txid().hex(),
        "version": tx.version,
        "locktime": tx.locktime,
        "vin": [
            {
                "txid": i.txid.hex(),
                "vout": i.vout,
                "scriptsig": i.script_sig.data.hex(),
                "witness": [w.hex() for w in i.witness.items],
                "sequence": i.sequence,
                "is_coinbase": coinbase,
                "prevout": None,
            }
            for i in tx.vin
        ],
        "vout": [{"scriptpubkey": o.script_pubkey.data.hex(), "value": o.value} for o in tx.vout],
        "status": {"confirmed": False},
    }


def block_txs() -> tuple[list[bytes], list[str]]:
    doc = block_doc()
    return split_block(bytes.fromhex(str(doc["block"]))), [str(t) for t in doc["tx"]]


def test_every_block_tx_rebuilds_byte_for_byte_from_its_esplora_json() -> None:
    txs, ids = block_txs()
    for raw, txid in zip(txs, ids, strict=True):
        doc = esplora(raw)
        assert doc["txid"] == txid
        assert serialize_esplora_tx(doc) == raw


def test_tampered_esplora_json_fails_the_txid_check() -> None:
    txs, _ = block_txs()
    doc = esplora(txs[1])
    doc["vout"][0]["value"] += 1
    with pytest.raises(ValueError, match="rebuilds to txid"):
        serialize_esplora_tx(doc)


def test_esplora_json_missing_a_field_is_refused() -> None:
    txs, _ = block_txs()
    doc = esplora(txs[1])
    del doc["locktime"]
    with pytest.raises(ValueError, match="KeyError"):
        serialize_esplora_tx(doc)


def test_subscribe_sends_the_documented_messages() -> None:
    proto = MempoolSpaceProtocol(track_addresses=["bc1qgw64kdhf67803240csrzg480atmkaxp5snq0cm"])
    assert [json.loads(m) for m in proto.subscribe()] == [
        {"action": "want", "data": ["blocks", "mempool-blocks"]},
        {"track-mempool": True},
        {"track-addresses": ["bc1qgw64kdhf67803240csrzg480atmkaxp5snq0cm"]},
    ]
    assert json.loads(proto.ping()) == {"action": "ping"}


def test_unknown_want_is_refused_locally() -> None:
    with pytest.raises(ValueError, match="wantable"):
        MempoolSpaceProtocol(want=["blocks", "everything"])


def test_mempool_delta_maps_added_removed_mined_replaced_and_gaps() -> None:
    txs, ids = block_txs()
    proto = MempoolSpaceProtocol()

    def delta(seq: int, **kw: Any) -> str:
        body = {"sequence": seq, "added": [], "removed": [], "mined": [], "replaced": []}
        return json.dumps({"mempool-transactions": body | kw})

    events = proto.receive(delta(7, added=[esplora(txs[1]), esplora(txs[2])]), 1, 2)
    events += proto.receive(delta(8, removed=[ids[3]], mined=[ids[4]]), 1, 2)
    events += proto.receive(delta(11, replaced=[{"replaced": ids[5], "by": esplora(txs[6])}]), 1, 2)
    summary = [
        (type(e).__name__, getattr(e, "txid", None), getattr(e, "kind", None)) for e in events
    ]
    assert summary == [
        ("RawTxEvent", ids[1], EventKind.MEMPOOL),
        ("RawTxEvent", ids[2], EventKind.MEMPOOL),
        ("RawTxEvent", ids[3], EventKind.REMOVED),
        ("RawTxEvent", ids[4], EventKind.MINED),
        ("FeedGap", None, None),
        ("RawTxEvent", ids[5], EventKind.REMOVED),
    ]
    gap = events[4]
    assert isinstance(gap, FeedGap) and (gap.expected, gap.received) == (9, 11)
    assert isinstance(events[0], RawTxEvent) and events[0].raw == txs[1]


def test_multi_address_transactions_map_to_kinds() -> None:
    txs, ids = block_txs()
    msg = {
        "multi-address-transactions": {
            "bc1qaddr": {
                "mempool": [esplora(txs[1])],
                "confirmed": [esplora(txs[2])],
                "removed": [esplora(txs[3])],
            }
        }
    }
    events = MempoolSpaceProtocol().receive(json.dumps(msg), 1, 2)
    assert [(e.txid, e.kind) for e in events if isinstance(e, RawTxEvent)] == [
        (ids[1], EventKind.MEMPOOL),
        (ids[2], EventKind.MINED),
        (ids[3], EventKind.REMOVED),
    ]


def test_new_block_and_initial_blocks_report_the_tip() -> None:
    proto = MempoolSpaceProtocol()
    events = proto.receive(
        json.dumps({"blocks": [{"id": "aa", "height": 1}, {"id": "bb", "height": 2}]}), 1, 2
    )
    events += proto.receive(json.dumps({"block": {"id": "cc", "height": 3}}), 1, 2)
    assert [e.block_hash for e in events if isinstance(e, BlockSeen)] == ["bb", "cc"]


def test_malformed_transactions_are_counted_and_skipped() -> None:
    txs, ids = block_txs()
    bad = esplora(txs[1]) | {"txid": ids[2]}
    msg = {"mempool-transactions": {"sequence": 1, "added": [bad, 5], "removed": ["zz"]}}
    proto = MempoolSpaceProtocol()
    assert proto.receive(json.dumps(msg), 1, 2) == []
    assert proto.malformed == {"tx": 2, "txid": 1}


@pytest.mark.parametrize(
    "text",
    ['{"track-addresses-error": "too many addresses requested"}', "not json", "[1, 2]"],
)
def test_refusals_and_non_objects_raise(text: str) -> None:
    with pytest.raises(MempoolSpaceError):
        MempoolSpaceProtocol().receive(text, 1, 2)


class FakeMempoolSpace:
    """The handler subset we use: want, track-mempool, track-addresses, ping, then pushes."""

    def __init__(self, updates: list[dict[str, Any]]) -> None:
        self.updates = updates
        self.client_state: dict[str, Any] = {}

    async def handler(self, ws: ServerConnection) -> None:
        async for message in ws:
            msg = json.loads(message)
            response: dict[str, Any] = {}
            if msg.get("action") == "want":
                self.client_state["want"] = msg["data"]
                if "blocks" in msg["data"]:
                    response["blocks"] = [{"id": "00" * 32, "height": 951657}]
            if msg.get("track-mempool") is True:
                self.client_state["track-mempool"] = True
            if isinstance(msg.get("track-addresses"), list):
                self.client_state["track-addresses"] = msg["track-addresses"]
            if msg.get("action") == "ping":
                response["pong"] = True
            if response:
                await ws.send(json.dumps(response))
            if self.client_state.get("track-mempool") and "want" in self.client_state:
                for update in self.updates:
                    await ws.send(json.dumps(update))
                await ws.close()
                return


def _whalewire_client_available() -> bool:
    try:
        importlib.import_module("whalewire.net.client")
    except ImportError:
        return False
    return True


CONNECTORS = [
    pytest.param(websockets_connect, id="websockets-client"),
    pytest.param(
        whalewire_connect,
        id="whalewire-net-client",
        marks=pytest.mark.skipif(
            not _whalewire_client_available(), reason="whalewire.net.client not available"
        ),
    ),
]


@pytest.mark.parametrize("connect", CONNECTORS)
def test_feed_over_a_real_websocket_server_yields_normalised_events(connect: Connector) -> None:
    txs, ids = block_txs()
    doc = block_doc()
    updates = [
        {"mempool-transactions": {"sequence": 1, "added": [esplora(txs[1]), esplora(txs[2])]}},
        {"mempool-transactions": {"sequence": 2, "added": [esplora(txs[1])], "mined": [ids[2]]}},
        {"block": {"id": doc["hash"], "height": 951658}},
    ]
    fake = FakeMempoolSpace(updates)

    async def run() -> tuple[list[FeedEvent], Monitor]:
        async with serve(fake.handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            feed = MempoolSpaceFeed(f"ws://127.0.0.1:{port}", connect=connect)
            monitor = Monitor([feed])
            got: list[FeedEvent] = []
            await asyncio.wait_for(monitor.run(got.append), 10)
            return got, monitor

    got, monitor = asyncio.run(run())
    assert fake.client_state == {"want": ["blocks", "mempool-blocks"], "track-mempool": True}
    txs_seen = [(e.txid, e.kind, e.raw) for e in got if isinstance(e, RawTxEvent)]
    assert txs_seen == [
        (ids[1], EventKind.MEMPOOL, txs[1]),
        (ids[2], EventKind.MEMPOOL, txs[2]),
        (ids[2], EventKind.MINED, b""),
    ]
    assert [e.block_hash for e in got if isinstance(e, BlockSeen)] == ["00" * 32, doc["hash"]]
    assert monitor.dedup.duplicates == {"mempool.space": 1}


def test_feed_over_wss_uses_our_client_with_verification() -> None:
    # A real TLS server (trustme CA) on loopback, the peer library's server side.
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    txs, _ = block_txs()
    fake = FakeMempoolSpace([{"mempool-transactions": {"sequence": 1, "added": [esplora(txs[1])]}}])

    async def run() -> list[FeedEvent]:
        async with serve(fake.handler, "127.0.0.1", 0, ssl=server_ctx) as server:
            port = server.sockets[0].getsockname()[1]
            url = f"wss://127.0.0.1:{port}"
            with pytest.raises(TLSFailure):  # verification is on: the test CA is not trusted
                await default_connect(url)
            feed = MempoolSpaceFeed(
                url, connect=functools.partial(whalewire_connect, ssl=client_ctx)
            )
            got: list[FeedEvent] = []
            await asyncio.wait_for(Monitor([feed]).run(got.append), 10)
            return got

    got = asyncio.run(run())
    assert [e.raw for e in got if isinstance(e, RawTxEvent)] == [txs[1]]

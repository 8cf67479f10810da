"""mempool/feeds/p2p_pool.py: many peers, addr/addrv2 discovery, and who announced first.

The end-to-end case runs a real litecoind in regtest behind three delaying relays (peers
nearer and farther away): once the node has completed every peer's handshake, it makes the
transaction (wallet RPC), every relay's peer delivers it, the pool passes it once and
credits the nearest peer with its measured leads.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fleet.support import DelayRelay
from tests.nodes.litecoind import LITECOIND, Node

from whalewire.mempool.feeds.events import FeedEvent, RawTxEvent
from whalewire.mempool.feeds.p2p_messages import P2PProtocolError
from whalewire.mempool.feeds.p2p_pool import PeerPool, decode_addr, decode_addrv2

# addr (protocol documentation, "addr"): count, then per entry time u32 LE, services u64 LE,
# 16-byte IPv6 (IPv4-mapped ::ffff:a.b.c.d), port u16 BE
ADDR_2 = (
    b"\x02"
    + b"\x01\x00\x00\x00" + b"\x09\x04\x00\x00\x00\x00\x00\x00"
    + b"\x00" * 10 + b"\xff\xff" + bytes([203, 0, 113, 7]) + b"\x20\x8d"
    + b"\x01\x00\x00\x00" + b"\x01\x00\x00\x00\x00\x00\x00\x00"
    + bytes.fromhex("20010db8000000000000000000000001") + b"\x47\x9d"
)  # fmt: skip
# addrv2 (BIP 155): count, then time u32, services CompactSize, network id u8, address
# length CompactSize, address, port u16 BE; a TORv3 (4, 32 bytes) entry is skipped
ADDRV2_3 = (
    b"\x03"
    + b"\x00\x00\x00\x00" + b"\x01" + b"\x01" + b"\x04" + bytes([198, 51, 100, 2]) + b"\x20\x8d"
    + b"\x00\x00\x00\x00" + b"\x00" + b"\x04" + b"\x20" + b"\xaa" * 32 + b"\x20\x8d"
    + b"\x00\x00\x00\x00" + b"\xfd\x09\x04" + b"\x02" + b"\x10"
    + bytes.fromhex("20010db8000000000000000000000002") + b"\x47\x9d"
)  # fmt: skip


def test_addr_entries_decode_to_hosts_and_ports() -> None:
    assert decode_addr(ADDR_2) == [("203.0.113.7", 8333), ("2001:db8::1", 18333)]


def test_addrv2_keeps_ipv4_and_ipv6_and_skips_other_networks() -> None:
    assert decode_addrv2(ADDRV2_3) == [("198.51.100.2", 8333), ("2001:db8::2", 18333)]


@pytest.mark.parametrize("cut", [1, 10, 29, len(ADDR_2) - 1])
def test_cut_addr_is_a_protocol_error(cut: int) -> None:
    with pytest.raises(P2PProtocolError, match="addr"):
        decode_addr(ADDR_2[:cut])


@pytest.mark.parametrize("cut", [1, 7, 12, len(ADDRV2_3) - 1])
def test_cut_addrv2_is_a_protocol_error(cut: int) -> None:
    with pytest.raises(P2PProtocolError, match="addrv2"):
        decode_addrv2(ADDRV2_3[:cut])


def test_ipv4_address_of_wrong_length_is_a_protocol_error() -> None:
    bad = b"\x01" + b"\x00" * 4 + b"\x00" + b"\x01" + b"\x05" + b"\x01" * 5 + struct.pack(">H", 1)
    with pytest.raises(P2PProtocolError):
        decode_addrv2(bad)


def test_discovered_addresses_fill_the_pool_after_the_static_list_and_obey_allow() -> None:
    pool = PeerPool(
        [("127.0.0.1", 1)], "regtest", max_peers=3, allow=lambda host, port: host == "127.0.0.2"
    )
    pool._learn([("127.0.0.2", 5), ("192.0.2.9", 5), ("127.0.0.2", 6), ("127.0.0.2", 7)])
    assert list(pool.candidates) == [("127.0.0.2", 5), ("127.0.0.2", 6), ("127.0.0.2", 7)]
    assert pool._next_addresses() == [("127.0.0.1", 1), ("127.0.0.2", 5), ("127.0.0.2", 6)]


def test_no_discovery_learns_nothing() -> None:
    pool = PeerPool([("127.0.0.1", 1)], "regtest", discover=False)
    pool._learn([("127.0.0.2", 5)])
    assert not pool.candidates


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    if LITECOIND is None:
        pytest.skip("litecoind not installed (scripts/dev test installs it)")
    with Node(Path(tmp_path_factory.mktemp("litecoind"))) as n:
        n.call("createwallet", "w")
        n.call("generatetoaddress", 101, n.call("getnewaddress", wallet="w"))
        yield n


@pytest.mark.node
async def test_nearest_of_three_peers_is_credited_with_its_leads(node: Node) -> None:
    delays = {"near": 0.0, "mid": 0.08, "far": 0.2}
    relays = {k: DelayRelay("127.0.0.1", node.p2p_port, delay_s=d) for k, d in delays.items()}
    for relay in relays.values():
        await relay.start()
    pool = PeerPool(
        [("127.0.0.1", r.listen_port) for r in relays.values()], "regtest", discover=False
    )
    got: list[FeedEvent] = []
    running = asyncio.create_task(pool.run(got.append))
    try:
        # ready, not merely connected: the node announces a transaction only to the peers
        # whose handshake it has completed when the transaction enters its mempool (the far
        # peer's verack reaches it 0.6 s after the connect: three trips through the relay)
        for _ in range(400):
            if len(pool.ready) == 3:
                break
            await asyncio.sleep(0.05)
        assert len(pool.ready) == 3, pool.snapshot()
        to = node.call("getnewaddress", wallet="w")
        txid = await asyncio.to_thread(node.call, "sendtoaddress", to, 1.5, wallet="w")
        for _ in range(200):
            if pool.firsts.late.total() >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        for relay in relays.values():
            await relay.close()
    txs = [e for e in got if isinstance(e, RawTxEvent) and e.txid == txid]
    assert len(txs) == 1  # three peers delivered it, the pool passed it once
    near = f"p2p:127.0.0.1:{relays['near'].listen_port}"
    assert txs[0].feed == near
    snap = pool.snapshot()
    print(f"\n[fleet] first announcer leads: {snap['leads']}")
    assert snap["wins"] == {near: 1}
    # every later peer's delivery is credited to near with its lead; the relay holds each
    # direction, so the inv and the tx come back later by about twice the one-way delay
    # (plus the getdata's own trip)
    for k in ("mid", "far"):
        lead = snap["leads"][f"{near}>p2p:127.0.0.1:{relays[k].listen_port}"]
        assert lead["count"] == 1 and lead["p50_ms"] >= 2 * delays[k] * 1000 * 0.9, lead

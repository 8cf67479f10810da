"""The Bitcoin Core ZMQ feed, per doc/zmq.md: three-frame messages (topic, body, uint32 LE
sequence), ``rawtx``/``hashblock``/``sequence`` topics, gaps detected per topic.

Debian's litecoind is built without ZMQ (``litecoind -help`` lists no ``-zmqpub*``), so the
socket tests publish the exact documented frames from a real pyzmq XPUB socket on loopback;
the XPUB lets the test wait until our subscriptions have arrived instead of sleeping.
"""

from __future__ import annotations

import asyncio
import struct

import pytest
import zmq

from whalewire.mempool.feeds._txid import split_block
from whalewire.mempool.feeds.bitcoind_zmq import (
    BitcoindZmqFeed,
    SequenceNotice,
    ZmqDecoder,
    parse_sequence,
)
from whalewire.mempool.feeds.events import BlockSeen, EventKind, FeedEvent, FeedGap, RawTxEvent
from whalewire.mempool.feeds.monitor import Monitor

from ._vectors import block_doc


def seq(n: int) -> bytes:
    return struct.pack("<I", n)


def txs_and_ids() -> tuple[list[bytes], list[str]]:
    doc = block_doc()
    return split_block(bytes.fromhex(str(doc["block"]))), [str(t) for t in doc["tx"]]


def decode_all(dec: ZmqDecoder, messages: list[list[bytes]]) -> list[FeedEvent]:
    out: list[FeedEvent] = []
    for frames in messages:
        out += dec.decode(frames, 1, 2)
    return out


def test_rawtx_yields_mempool_events_with_the_node_txids() -> None:
    txs, ids = txs_and_ids()
    events = decode_all(ZmqDecoder(), [[b"rawtx", txs[i], seq(i - 1)] for i in (1, 2, 3)])
    assert [(e.txid, e.kind) for e in events if isinstance(e, RawTxEvent)] == [
        (ids[1], EventKind.MEMPOOL),
        (ids[2], EventKind.MEMPOOL),
        (ids[3], EventKind.MEMPOOL),
    ]


def test_rawtx_published_again_in_a_block_is_marked_mined() -> None:
    txs, _ = txs_and_ids()
    events = decode_all(
        ZmqDecoder(),
        [[b"rawtx", txs[1], seq(0)], [b"rawtx", txs[0], seq(1)], [b"rawtx", txs[1], seq(2)]],
    )
    assert [e.kind for e in events if isinstance(e, RawTxEvent)] == [
        EventKind.MEMPOOL,
        EventKind.MINED,  # the coinbase is never a mempool tx
        EventKind.MINED,
    ]


def test_sequence_a_overtaking_its_rawtx_does_not_make_it_look_mined() -> None:
    # Topics may be published on different sockets, so their relative order is not guaranteed.
    txs, ids = txs_and_ids()
    body = bytes.fromhex(ids[5]) + b"A" + struct.pack("<Q", 77)
    dec = ZmqDecoder()
    events = decode_all(dec, [[b"sequence", body, seq(0)], [b"rawtx", txs[5], seq(0)]])
    assert [(e.txid, e.kind) for e in events if isinstance(e, RawTxEvent)] == [
        (ids[5], EventKind.MEMPOOL)
    ]
    assert dec.last_mempool_seq == 77


def test_gap_is_reported_per_topic_and_the_stream_goes_on() -> None:
    txs, _ = txs_and_ids()
    dec = ZmqDecoder()
    block = bytes.fromhex(str(block_doc()["hash"]))
    events = decode_all(
        dec,
        [
            [b"rawtx", txs[1], seq(10)],
            [b"hashblock", block, seq(0)],
            [b"rawtx", txs[2], seq(11)],
            [b"rawtx", txs[3], seq(15)],
            [b"hashblock", block, seq(1)],
        ],
    )
    gaps = [e for e in events if isinstance(e, FeedGap)]
    assert [(g.topic, g.expected, g.received, g.lost) for g in gaps] == [("rawtx", 12, 15, 3)]
    assert sum(isinstance(e, RawTxEvent) for e in events) == 3


def test_sequence_counter_wraps_without_a_gap() -> None:
    block = bytes(32)
    events = decode_all(
        ZmqDecoder(), [[b"hashblock", block, seq(0xFFFFFFFF)], [b"hashblock", block, seq(0)]]
    )
    assert not any(isinstance(e, FeedGap) for e in events)


def test_hashblock_body_is_the_display_order_hash() -> None:
    doc = block_doc()
    (event,) = decode_all(ZmqDecoder(), [[b"hashblock", bytes.fromhex(str(doc["hash"])), seq(0)]])
    assert isinstance(event, BlockSeen)
    assert event.block_hash == doc["hash"] and event.connected


@pytest.mark.parametrize(
    ("body", "notice"),
    [
        (b"\x11" * 32 + b"C", SequenceNotice("11" * 32, "C", None)),
        (b"\x22" * 32 + b"D", SequenceNotice("22" * 32, "D", None)),
        (b"\x33" * 32 + b"A" + (5).to_bytes(8, "little"), SequenceNotice("33" * 32, "A", 5)),
        (
            b"\x44" * 32 + b"R" + (2**40).to_bytes(8, "little"),
            SequenceNotice("44" * 32, "R", 2**40),
        ),
    ],
)
def test_sequence_bodies_parse_per_doc(body: bytes, notice: SequenceNotice) -> None:
    assert parse_sequence(body) == notice


@pytest.mark.parametrize(
    "body", [b"", b"\x00" * 32, b"\x00" * 32 + b"A", b"\x00" * 32 + b"C\x00", b"\x00" * 32 + b"X"]
)
def test_malformed_sequence_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(ValueError, match="sequence"):
        parse_sequence(body)


def test_sequence_events_map_to_blocks_and_removals() -> None:
    events = decode_all(
        ZmqDecoder(),
        [
            [b"sequence", b"\x01" * 32 + b"C", seq(0)],
            [b"sequence", b"\x02" * 32 + b"D", seq(1)],
            [b"sequence", b"\x03" * 32 + b"R" + bytes(8), seq(2)],
        ],
    )
    assert events == [
        BlockSeen("01" * 32, "zmq", 1, 2, connected=True),
        BlockSeen("02" * 32, "zmq", 1, 2, connected=False),
        RawTxEvent(b"", "03" * 32, "zmq", EventKind.REMOVED, 1, 2),
    ]


@pytest.mark.parametrize(
    "frames",
    [
        [b"rawtx", b"\x01\x00"],
        [b"rawtx", b"\x01\x00\x00\x00", b"\x00\x00"],
        [b"rawtx", b"\x02\x00\x00\x00\x01", seq(0)],
        [b"hashblock", b"\x00" * 31, seq(0)],
    ],
)
def test_malformed_messages_are_counted_not_raised(frames: list[bytes]) -> None:
    dec = ZmqDecoder()
    assert dec.decode(frames, 0, 0) == []
    assert dec.malformed.total() == 1


class Publisher:
    """A Bitcoin Core-shaped publisher: an XPUB socket on a free loopback port."""

    def __init__(self) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.counters: dict[bytes, int] = {}

    def wait_subscriptions(self, n: int, timeout_ms: int = 5000) -> set[bytes]:
        got: set[bytes] = set()
        while len(got) < n:
            if not self.sock.poll(timeout_ms):
                raise TimeoutError(f"only {got} subscribed")
            msg = self.sock.recv()
            if msg[:1] == b"\x01":
                got.add(msg[1:])
        return got

    def publish(self, topic: bytes, body: bytes, *, skip: int = 0) -> None:
        n = self.counters.get(topic, 0) + skip
        self.sock.send_multipart([topic, body, struct.pack("<I", n)])
        self.counters[topic] = n + 1

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


def test_feed_over_a_real_socket_dedups_mined_and_reports_a_gap() -> None:
    txs, ids = txs_and_ids()
    doc = block_doc()

    async def run() -> tuple[list[FeedEvent], Monitor]:
        pub = Publisher()
        feed = BitcoindZmqFeed(pub.endpoint)
        monitor = Monitor([feed])
        got: list[FeedEvent] = []
        feed.open()
        await asyncio.to_thread(pub.wait_subscriptions, 3)
        task = asyncio.create_task(monitor.run(got.append))
        pub.publish(b"rawtx", txs[1])
        pub.publish(b"sequence", bytes.fromhex(ids[1]) + b"A" + bytes(8))
        pub.publish(b"rawtx", txs[2])
        pub.publish(b"rawtx", txs[3], skip=2)  # two notifications lost
        pub.publish(b"rawtx", txs[1])  # mined: published again
        pub.publish(b"hashblock", bytes.fromhex(str(doc["hash"])))
        async with asyncio.timeout(5):
            while not any(isinstance(e, BlockSeen) for e in got):
                await asyncio.sleep(0.005)
        task.cancel()
        pub.close()
        return got, monitor

    got, monitor = asyncio.run(run())
    txs_seen = [(e.txid, e.kind) for e in got if isinstance(e, RawTxEvent)]
    assert txs_seen == [
        (ids[1], EventKind.MEMPOOL),
        (ids[2], EventKind.MEMPOOL),
        (ids[3], EventKind.MEMPOOL),
        (ids[1], EventKind.MINED),
    ]
    assert [(g.topic, g.lost) for g in got if isinstance(g, FeedGap)] == [("rawtx", 2)]
    assert monitor.dedup.lost == {"zmq": 2}
    assert all(isinstance(e, RawTxEvent) and e.recv_ns > 0 for e in got[:1])


def test_feed_async_iteration_over_a_real_socket_keeps_order() -> None:
    txs, ids = txs_and_ids()

    async def run() -> list[str]:
        pub = Publisher()
        feed = BitcoindZmqFeed(pub.endpoint, topics=("rawtx",))
        feed.open()
        await asyncio.to_thread(pub.wait_subscriptions, 1)
        for raw in txs[1:51]:
            pub.publish(b"rawtx", raw)
        got: list[str] = []
        async with asyncio.timeout(5):
            async for event in feed:
                assert isinstance(event, RawTxEvent)
                got.append(event.txid)
                if len(got) == 50:
                    break
        pub.close()
        return got

    assert asyncio.run(run()) == ids[1:51]


def test_callback_failure_stops_the_feed_and_is_raised_from_run() -> None:
    txs, _ = txs_and_ids()

    async def run() -> None:
        pub = Publisher()
        feed = BitcoindZmqFeed(pub.endpoint, topics=("rawtx",))
        feed.open()
        await asyncio.to_thread(pub.wait_subscriptions, 1)
        pub.publish(b"rawtx", txs[1])

        def explode(event: FeedEvent) -> None:
            raise RuntimeError("detector bug")

        try:
            async with asyncio.timeout(5):
                await feed.run(explode)
        finally:
            pub.close()

    with pytest.raises(RuntimeError, match="detector bug"):
        asyncio.run(run())

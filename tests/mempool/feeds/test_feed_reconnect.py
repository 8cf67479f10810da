"""Reconnecting feeds: a P2P peer on loopback that drops us, refuses us, or is never there."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest

from whalewire.mempool.feeds.events import FeedEvent, RawTxEvent
from whalewire.mempool.feeds.p2p import P2PFeed
from whalewire.mempool.feeds.p2p_messages import (
    MAGIC,
    MessageReader,
    encode_message,
    encode_version,
)
from whalewire.mempool.feeds.reconnect import Reconnecting, backoff

from ._vectors import block_doc

REGTEST = MAGIC["regtest"]


def quick() -> Iterator[float]:
    return itertools.repeat(0.01)


def block_txs() -> tuple[list[bytes], list[str]]:
    from whalewire.mempool.feeds._txid import split_block

    doc = block_doc()
    return split_block(bytes.fromhex(str(doc["block"]))), [str(t) for t in doc["tx"]]


class DroppingPeer:
    """Handshakes, pushes one unsolicited ``tx`` per connection, then hangs up."""

    def __init__(self, txs: list[bytes]) -> None:
        self.txs = txs
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = self.connections
        self.connections += 1
        msgs = MessageReader(REGTEST)
        writer.write(encode_message(REGTEST, "version", encode_version(peer=("127.0.0.1", 1))))
        writer.write(encode_message(REGTEST, "verack"))
        got: list[str] = []
        while "verack" not in got:
            data = await reader.read(65536)
            if not data:
                return
            got += [c for c, _ in msgs.feed(data)]
        if n < len(self.txs):
            writer.write(encode_message(REGTEST, "tx", self.txs[n]))
        await writer.drain()
        writer.close()


def test_feed_is_rebuilt_after_the_peer_hangs_up() -> None:
    txs, ids = block_txs()
    peer = DroppingPeer(txs[1:4])

    async def run() -> tuple[list[str], Reconnecting]:
        server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        feed = Reconnecting(lambda: P2PFeed("127.0.0.1", port, "regtest"), delays=quick)
        got: list[str] = []
        async with asyncio.timeout(10):
            async for event in feed:
                if isinstance(event, RawTxEvent):
                    got.append(event.txid)
                if len(got) == 3:
                    break
        server.close()
        await server.wait_closed()
        return got, feed

    got, feed = asyncio.run(run())
    assert got == ids[1:4]
    assert feed.reconnects >= 2


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    async def run() -> None:
        # a port that was free a moment ago: nothing listens there
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        feed = Reconnecting(
            lambda: P2PFeed("127.0.0.1", port, "regtest"), delays=quick, max_attempts=3
        )
        await feed.run(lambda e: None)

    with pytest.raises(OSError):
        asyncio.run(run())


def test_callback_errors_are_raised_not_retried() -> None:
    txs, _ = block_txs()
    peer = DroppingPeer(txs[1:4])

    async def run() -> None:
        server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        feed = Reconnecting(lambda: P2PFeed("127.0.0.1", port, "regtest"), delays=quick)

        def explode(event: FeedEvent) -> None:
            raise KeyError("bug in the consumer")

        try:
            async with asyncio.timeout(10):
                await feed.run(explode)
        finally:
            server.close()
            await server.wait_closed()

    with pytest.raises(KeyError, match="bug in the consumer"):
        asyncio.run(run())
    assert peer.connections == 1


def test_backoff_grows_to_the_cap_and_jitter_stays_within_it() -> None:
    assert list(itertools.islice(backoff(1, 2, 5, jitter=False), 5)) == [1, 2, 4, 5, 5]
    for d, bound in zip(backoff(1, 2, 5), [1, 2, 4, 5, 5, 5], strict=False):
        assert 0 <= d <= bound

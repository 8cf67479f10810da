"""Feeds into the whale detector: the embedded replay through the Monitor, twice over.

Expected alert from shared/data/README.md's listing of block 951,658 (e8a4eef8... pays
1.62253446 BTC to 184UrCctSTXZEQNE83ewbbNQE5kvKjmSDq, which the demo address book files
under the fictional "demo-kraken"). Duplicated feeds must not duplicate the alert.
"""

from __future__ import annotations

import asyncio

from whalewire.mempool.feeds.events import EventKind, FeedEvent, RawTxEvent
from whalewire.mempool.feeds.monitor import Monitor
from whalewire.mempool.feeds.replay import DEFAULT_REPLAY, ReplayFeed, load_replay
from whalewire.mempool.watchlist import AddressBook
from whalewire.mempool.whales import WhaleAlert, WhaleDetector


def test_two_replays_of_the_block_raise_the_known_deposit_once() -> None:
    records = load_replay(DEFAULT_REPLAY)
    detector = WhaleDetector(AddressBook.demo())
    alerts: list[WhaleAlert] = []

    def on_event(event: FeedEvent) -> None:
        if isinstance(event, RawTxEvent) and event.kind is EventKind.MEMPOOL:
            alerts.extend(
                detector.feed(
                    event.raw,
                    feed=event.feed,
                    recv_ns=event.recv_ns,
                    recv_wall_ns=event.recv_wall_ns,
                )
            )

    feeds = [ReplayFeed(records, speed=None, name=n) for n in ("zmq-like", "p2p-like")]
    asyncio.run(Monitor(feeds).run(on_event))
    assert [(a.txid, a.entity) for a in alerts] == [
        ("e8a4eef8e2a4e528ba49d937f9a28b62bd8aad8e1a3ce0901a58b9eaef825b64", "demo-kraken")
    ]
    assert alerts[0].feed in ("zmq-like", "p2p-like")
    assert alerts[0].value == 162_253_446
    assert [o.address for o in alerts[0].outputs] == ["184UrCctSTXZEQNE83ewbbNQE5kvKjmSDq"]

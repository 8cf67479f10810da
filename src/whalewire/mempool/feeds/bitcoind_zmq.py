"""The Bitcoin Core ZMQ feed: ``rawtx``, ``hashblock`` and ``sequence`` notifications.

Per Bitcoin Core ``doc/zmq.md``, each notification is a three-frame ZMQ multipart message:
topic, body, and a little-endian uint32 counter that each publisher increments per topic, so a
skipped value means lost notifications. Bodies: ``rawtx`` a serialised transaction (published
when it enters the mempool and again for every block that includes it); ``hashblock`` the
32-byte block hash; ``sequence`` a 32-byte hash and a label, ``C``/``D`` (block connected /
disconnected) or ``A``/``R`` (tx added to / removed from the mempool) followed by an 8-byte
little-endian mempool sequence. Hashes arrive in display order (the publisher reverses the
uint256, ``zmqpublishnotifier.cpp``), despite the doc's "Little Endian" note.

:class:`ZmqDecoder` is the sans-IO part (frames in, events out, gaps reported, malformed
messages counted, never raised); :class:`BitcoindZmqFeed` drives it over a pyzmq SUB socket.
This module knows nothing of other feeds, of watch lists or of orders.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import zmq

from whalewire.mempool.feeds._callback import iterate
from whalewire.mempool.feeds._txid import TxParseError, coinbase, txid_of
from whalewire.mempool.feeds.events import (
    BlockSeen,
    EventKind,
    FeedEvent,
    FeedGap,
    RawTxEvent,
)

__all__ = ["DEFAULT_TOPICS", "BitcoindZmqFeed", "SequenceNotice", "ZmqDecoder", "parse_sequence"]

DEFAULT_TOPICS = ("rawtx", "hashblock", "sequence")
#: how many mempool txids the decoder remembers to tell a block's re-publication from news
_RECENT = 200_000


@dataclass(frozen=True, slots=True)
class SequenceNotice:
    """A parsed ``sequence`` body: ``label`` is one of ``A R C D``; ``mempool_seq`` for A/R."""

    hash: str
    label: str
    mempool_seq: int | None


def parse_sequence(body: bytes) -> SequenceNotice:
    """Parse a ``sequence`` topic body.

    Raises:
        ValueError: the body's length does not fit its label.
    """
    if len(body) < 33:
        raise ValueError(f"sequence body of {len(body)} bytes is too short")
    label = chr(body[32])
    if label in "CD":
        if len(body) != 33:
            raise ValueError(f"sequence {label} body must be 33 bytes, not {len(body)}")
        return SequenceNotice(body[:32].hex(), label, None)
    if label in "AR":
        if len(body) != 41:
            raise ValueError(f"sequence {label} body must be 41 bytes, not {len(body)}")
        return SequenceNotice(body[:32].hex(), label, int.from_bytes(body[33:41], "little"))
    raise ValueError(f"unknown sequence label {body[32:33]!r}")


class ZmqDecoder:
    """Turn Bitcoin Core ZMQ multipart messages into feed events.

    Attributes:
        last_seq: per topic, the last ZMQ sequence number seen.
        malformed: per topic, how many messages were dropped as malformed.
        last_mempool_seq: the mempool sequence of the latest ``A``/``R`` notice.
    """

    def __init__(self, name: str = "zmq") -> None:
        self.name = name
        self.last_seq: dict[str, int] = {}
        self.malformed: Counter[str] = Counter()
        self.last_mempool_seq: int | None = None
        self._mempool: OrderedDict[str, None] = OrderedDict()

    def _remember(self, txid: str) -> None:
        mempool = self._mempool
        mempool[txid] = None
        if len(mempool) > _RECENT:
            mempool.popitem(last=False)

    def decode(self, frames: Sequence[bytes], recv_ns: int, recv_wall_ns: int) -> list[FeedEvent]:
        """Return the events carried by one multipart message (a gap, if any, comes first)."""
        if len(frames) != 3 or len(frames[2]) != 4:
            self.malformed[frames[0].decode("ascii", "replace") if frames else ""] += 1
            return []
        topic_b, body, seq_b = frames
        topic = topic_b.decode("ascii", "replace")
        seq = int.from_bytes(seq_b, "little")
        out: list[FeedEvent] = []
        last = self.last_seq.get(topic)
        if last is not None and seq != (last + 1) & 0xFFFFFFFF:
            out.append(FeedGap(self.name, topic, (last + 1) & 0xFFFFFFFF, seq, recv_ns))
        self.last_seq[topic] = seq
        try:
            if topic == "rawtx":
                txid = txid_of(body)
                if txid in self._mempool or coinbase(body):
                    kind = EventKind.MINED
                else:
                    kind = EventKind.MEMPOOL
                    self._remember(txid)
                out.append(RawTxEvent(body, txid, self.name, kind, recv_ns, recv_wall_ns))
            elif topic == "hashblock":
                if len(body) != 32:
                    raise ValueError("hashblock body must be 32 bytes")
                out.append(BlockSeen(body.hex(), self.name, recv_ns, recv_wall_ns))
            elif topic == "sequence":
                out.extend(self._on_sequence(parse_sequence(body), recv_ns, recv_wall_ns))
        except (ValueError, TxParseError):
            self.malformed[topic] += 1
        return out

    def _on_sequence(self, notice: SequenceNotice, recv_ns: int, wall: int) -> list[FeedEvent]:
        label = notice.label
        if label == "A":
            # Only the txid: the rawtx topic brings the bytes. It must not count as "already
            # published": topics may come from different sockets, so this A can overtake the
            # rawtx of the same transaction, which would then wrongly look mined.
            self.last_mempool_seq = notice.mempool_seq
            return []
        if label == "R":
            self.last_mempool_seq = notice.mempool_seq
            self._mempool.pop(notice.hash, None)
            return [RawTxEvent(b"", notice.hash, self.name, EventKind.REMOVED, recv_ns, wall)]
        return [BlockSeen(notice.hash, self.name, recv_ns, wall, connected=label == "C")]


class BitcoindZmqFeed:
    """Subscribe to a node's ZMQ publishers: ``await feed.run(callback)`` or ``async for``.

    The SUB socket is a plain (non-asyncio) pyzmq socket whose notification descriptor is
    watched with ``loop.add_reader``; each wake-up drains every queued message without
    blocking and decodes it in place. :meth:`run` hands events to a callback from there, with
    no future or task switch per message (the hot path); ``async for`` adds one hop.

    Args:
        endpoints: ZMQ endpoints, e.g. ``tcp://127.0.0.1:28332``; Bitcoin Core may publish
            each topic on its own address, so all are connected to one SUB socket.
        topics: the topics to subscribe to.
        name: the feed name stamped on events.
        rcvhwm: the receive high-water mark; 0 means unbounded (ZMQ drops past it, which the
            sequence counters then report as a gap).
        context: the pyzmq context (the process-wide instance by default).
    """

    def __init__(
        self,
        endpoints: str | Sequence[str],
        topics: Sequence[str] = DEFAULT_TOPICS,
        *,
        name: str = "zmq",
        rcvhwm: int = 100_000,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        self.endpoints = [endpoints] if isinstance(endpoints, str) else list(endpoints)
        self.topics = tuple(topics)
        self.decoder = ZmqDecoder(name)
        self.rcvhwm = rcvhwm
        self._ctx = context or zmq.Context.instance()
        self._sock: zmq.Socket[bytes] | None = None

    def open(self) -> None:
        """Create the SUB socket, subscribe and connect (ZMQ reconnects by itself)."""
        if self._sock is not None:
            return
        sock = self._ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.RCVHWM, self.rcvhwm)
        sock.setsockopt(zmq.LINGER, 0)
        for topic in self.topics:
            sock.setsockopt(zmq.SUBSCRIBE, topic.encode("ascii"))
        for endpoint in self.endpoints:
            sock.connect(endpoint)
        self._sock = sock

    def close(self) -> None:
        """Close the socket (idempotent)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close(linger=0)

    def _drain(self, emit: Callable[[FeedEvent], object]) -> None:
        # The descriptor is edge-triggered (zmq_getsockopt ZMQ_FD): read until EAGAIN, or a
        # message left queued would never wake us again.
        assert self._sock is not None
        recv, decode = self._sock.recv_multipart, self.decoder.decode
        perf, wall, noblock, again = time.perf_counter_ns, time.time_ns, zmq.NOBLOCK, zmq.Again
        while True:
            try:
                frames = recv(noblock)
            except again:
                return
            for event in decode(frames, perf(), wall()):
                emit(event)

    async def run(self, on_event: Callable[[FeedEvent], object]) -> None:
        """Call ``on_event`` for every event until cancelled; the socket is closed at the end.

        An exception from ``on_event`` stops the feed and is raised here.
        """
        self.open()
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        stopped: asyncio.Future[None] = loop.create_future()
        fd = self._sock.fileno()

        def on_readable() -> None:
            try:
                self._drain(on_event)
            except BaseException as exc:  # surface it in run(), not in the loop's log
                loop.remove_reader(fd)
                if not stopped.done():
                    stopped.set_exception(exc)

        loop.add_reader(fd, on_readable)
        try:
            on_readable()
            await stopped
        finally:
            loop.remove_reader(fd)
            self.close()

    def __aiter__(self) -> AsyncIterator[FeedEvent]:
        return iterate(self.run)

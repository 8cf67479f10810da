"""The Bitcoin P2P feed: connect to a node, handshake, request announced transactions.

Over one asyncio TCP connection (an ``asyncio.Protocol``; messages are handled inside
``data_received``): send ``version``, answer ``version`` with ``verack``, tolerate the optional
feature messages (``wtxidrelay``, ``sendaddrv2``, ``sendheaders``, ``sendcmpct``,
``feefilter``), answer ``ping`` with ``pong``, turn ``inv`` of transactions into ``getdata``
(witness form, BIP 144) and ``tx`` replies into :class:`RawTxEvent` s; ``inv``/``headers`` of
blocks become :class:`BlockSeen`. Framing lives in ``p2p_messages``. This module knows nothing
of watch lists or orders; the node decides what to announce to us.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from typing import cast

from whalewire.mempool.feeds._callback import iterate
from whalewire.mempool.feeds.events import BlockSeen, FeedEvent, tx_event
from whalewire.mempool.feeds.p2p_messages import (
    DEFAULT_PORTS,
    MAGIC,
    MAX_PAYLOAD,
    MSG_BLOCK,
    MSG_TX,
    MSG_WITNESS_TX,
    MSG_WTX,
    InvItem,
    MessageReader,
    P2PError,
    Version,
    decode_headers,
    decode_inv,
    decode_version,
    encode_getdata,
    encode_message,
    encode_version,
)

__all__ = ["P2PFeed"]

#: how many recently requested inventory hashes are remembered, so a tx announced by the
#: node twice is requested once
_RECENT = 50_000


class _Link(asyncio.Protocol):
    """Moves bytes between the socket and the feed; stamps the receive time."""

    def __init__(self, feed: P2PFeed) -> None:
        self.feed = feed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport is not an asyncio.Transport subclass: no isinstance check
        self.feed._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        # A link the feed has closed may still deliver a last read: it is not ours any more.
        if self.feed._link is self:
            self.feed._on_data(data, time.perf_counter_ns(), time.time_ns())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.feed._link is self:
            self.feed._on_lost(exc)


class P2PFeed:
    """A transaction feed over one outbound P2P connection.

    ``await feed.run(callback)`` delivers events from the socket's read callback (the hot
    path); ``async for event in feed`` adds one hop. Either connects first if needed.

    Args:
        host: the node's address (loopback in tests).
        port: its P2P port; the network's default when omitted.
        network: ``mainnet``, ``testnet``, ``signet`` or ``regtest`` (selects the magic).
        name: the feed name stamped on events.
        handshake_timeout: seconds allowed for version/verack.
        max_payload: the largest message accepted from the peer.
        wtxidrelay: ask the node to announce transactions by wtxid (BIP 339); they are then
            requested as ``MSG_WTX``. Off by default: txid announcements are what a
            ZMQ or mempool.space feed also keys on.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        network: str = "mainnet",
        *,
        name: str = "p2p",
        handshake_timeout: float = 10.0,
        max_payload: int = MAX_PAYLOAD,
        user_agent: str = "/whalewire:0.1.0/",
        wtxidrelay: bool = False,
    ) -> None:
        if network not in MAGIC:
            raise ValueError(f"unknown network {network!r}; one of {sorted(MAGIC)}")
        self.host = host
        self.port = DEFAULT_PORTS[network] if port is None else port
        self.network = network
        self.magic = MAGIC[network]
        self.name = name
        self.handshake_timeout = handshake_timeout
        self.user_agent = user_agent
        self.wtxidrelay = wtxidrelay
        self.peer_version: Version | None = None
        #: inventory announcements received, per inv type (MSG_TX, MSG_WTX, MSG_BLOCK ...)
        self.announced: Counter[int] = Counter()
        self._msgs = MessageReader(self.magic, max_payload)
        self._requested: OrderedDict[bytes, None] = OrderedDict()
        self._transport: asyncio.Transport | None = None
        self._link: _Link | None = None
        self._verack = False
        self._handshake: asyncio.Future[Version] | None = None
        self._done: asyncio.Future[None] | None = None
        # Events that arrive before run() installs a callback wait here.
        self._backlog: deque[FeedEvent] = deque()
        self._emit: Callable[[FeedEvent], object] = self._backlog.append

    async def connect(self) -> Version:
        """Open the connection and complete the handshake; return the peer's ``version``.

        Raises:
            P2PError: the peer closed or did not finish the handshake in time.
            P2PProtocolError: the peer sent something malformed.
        """
        loop = asyncio.get_running_loop()
        # A fresh session: nothing of an earlier connection may leak into this one.
        self._msgs = MessageReader(self.magic, self._msgs.max_payload)
        self.peer_version, self._verack = None, False
        self._handshake = loop.create_future()
        self._done = loop.create_future()
        link = self._link = _Link(self)
        await loop.create_connection(lambda: link, self.host, self.port)
        self._send(
            "version", encode_version(peer=(self.host, self.port), user_agent=self.user_agent)
        )
        try:
            async with asyncio.timeout(self.handshake_timeout):
                return await self._handshake
        except TimeoutError:
            await self.close()
            raise P2PError(f"no version/verack from {self.host}:{self.port} in time") from None
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        transport, self._transport, self._link = self._transport, None, None
        if transport is not None:
            transport.close()
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def run(self, on_event: Callable[[FeedEvent], object]) -> None:
        """Call ``on_event`` for every event until the node closes the connection.

        Raises:
            P2PProtocolError: the peer broke the protocol (the connection is closed).
            Exception: whatever ``on_event`` raised (the connection is closed).
        """
        if self._transport is None:
            await self.connect()
        assert self._done is not None
        try:
            while self._backlog:
                on_event(self._backlog.popleft())
            self._emit = on_event
            await self._done
        finally:
            self._emit = self._backlog.append
            await self.close()

    def __aiter__(self) -> AsyncIterator[FeedEvent]:
        return iterate(self.run)

    # -- inside the read callback --

    def _send(self, command: str, payload: bytes = b"") -> None:
        if self._transport is None:
            raise P2PError("not connected")
        self._transport.write(encode_message(self.magic, command, payload))

    def _fail(self, exc: BaseException) -> None:
        for fut in (self._handshake, self._done):
            if fut is not None and not fut.done():
                fut.set_exception(exc)
                break
        if self._transport is not None:
            self._transport.close()

    def _on_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._handshake is not None and not self._handshake.done():
            err = P2PError(f"{self.host}:{self.port} closed during the handshake")
            self._handshake.set_exception(err)
        elif self._done is not None and not self._done.done():
            if exc is None:
                self._done.set_result(None)  # the node closed the connection: the feed ends
            else:
                self._done.set_exception(exc)

    def _on_data(self, data: bytes, recv_ns: int, recv_wall: int) -> None:
        try:
            for command, payload in self._msgs.feed(data):
                self._on_message(command, payload, recv_ns, recv_wall)
        except BaseException as exc:
            self._fail(exc)

    def _on_message(self, command: str, payload: bytes, recv_ns: int, recv_wall: int) -> None:
        if command == "tx":
            self._emit(tx_event(payload, self.name, recv_ns=recv_ns, recv_wall_ns=recv_wall))
        elif command == "inv":
            self._on_inv(decode_inv(payload), recv_ns, recv_wall)
        elif command == "headers":
            for h in decode_headers(payload):
                self._emit(BlockSeen(h, self.name, recv_ns, recv_wall))
        elif command == "ping":
            self._send("pong", payload)
        elif command == "version" and self.peer_version is None:
            self.peer_version = decode_version(payload)
            # BIP 339: wtxidrelay goes between the peer's version and our verack.
            if self.wtxidrelay and self.peer_version.version >= 70016:
                self._send("wtxidrelay")
            self._send("verack")
            self._handshake_step()
        elif command == "verack":
            self._verack = True
            self._handshake_step()
        # everything else (addr, feefilter, sendcmpct, wtxidrelay ...) is not ours

    def _handshake_step(self) -> None:
        hs = self._handshake
        if self.peer_version is not None and self._verack and hs is not None and not hs.done():
            hs.set_result(self.peer_version)

    def _on_inv(self, items: list[InvItem], recv_ns: int, recv_wall: int) -> None:
        wanted: list[InvItem] = []
        requested = self._requested
        for item in items:
            self.announced[item.type] += 1
            if item.type in (MSG_TX, MSG_WTX):
                if item.hash in requested:
                    continue
                requested[item.hash] = None
                if len(requested) > _RECENT:
                    requested.popitem(last=False)
                # BIP 144: ask for the witness serialisation; a wtxid (BIP 339) already implies it.
                kind = MSG_WITNESS_TX if item.type == MSG_TX else MSG_WTX
                wanted.append(InvItem(kind, item.hash))
            elif item.type == MSG_BLOCK:
                self._emit(BlockSeen(item.hex, self.name, recv_ns, recv_wall))
        if wanted:
            self._send("getdata", encode_getdata(wanted))

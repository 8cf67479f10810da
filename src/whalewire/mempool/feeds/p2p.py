"""The Bitcoin P2P feed: connect to a node, handshake, request announced transactions.

Over one asyncio TCP stream: send ``version``, answer ``version`` with ``verack``, tolerate
the optional feature messages (``wtxidrelay``, ``sendaddrv2``, ``sendheaders``, ``sendcmpct``,
``feefilter``), answer ``ping`` with ``pong``, turn ``inv`` of transactions into ``getdata``
(witness form, BIP 144) and ``tx`` replies into :class:`RawTxEvent` s; ``inv``/``headers`` of
blocks become :class:`BlockSeen`. Framing lives in ``p2p_messages``. This module knows nothing
of watch lists or orders; the node decides what to announce to us.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator

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

#: bytes asked of the socket per read
_READ_SIZE = 256 * 1024
#: how many recently requested inventory hashes are remembered, so a tx announced by the
#: node twice is requested once
_RECENT = 50_000


class P2PFeed:
    """A transaction feed over one outbound P2P connection (``async for event in feed``).

    Args:
        host: the node's address (loopback in tests).
        port: its P2P port; the network's default when omitted.
        network: ``mainnet``, ``testnet``, ``signet`` or ``regtest`` (selects the magic).
        name: the feed name stamped on events.
        handshake_timeout: seconds allowed for version/verack.
        max_payload: the largest message accepted from the peer.
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
        self.peer_version: Version | None = None
        self._msgs = MessageReader(self.magic, max_payload)
        self._pending: list[tuple[str, bytes]] = []
        self._requested: OrderedDict[bytes, None] = OrderedDict()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> Version:
        """Open the connection and complete the handshake; return the peer's ``version``.

        Raises:
            P2PError: the peer closed or did not finish the handshake in time.
            P2PProtocolError: the peer sent something malformed.
        """
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._send(
            "version", encode_version(peer=(self.host, self.port), user_agent=self.user_agent)
        )
        try:
            async with asyncio.timeout(self.handshake_timeout):
                got_verack = False
                while self.peer_version is None or not got_verack:
                    messages = await self._read()
                    if messages is None:
                        raise P2PError(f"{self.host}:{self.port} closed during the handshake")
                    for command, payload in messages:
                        if command == "version" and self.peer_version is None:
                            self.peer_version = decode_version(payload)
                            self._send("verack")
                        elif command == "verack":
                            got_verack = True
                        else:
                            self._pending.append((command, payload))
        except TimeoutError:
            await self.close()
            raise P2PError(f"no version/verack from {self.host}:{self.port} in time") from None
        except BaseException:
            await self.close()
            raise
        await self._writer.drain()
        return self.peer_version

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def _send(self, command: str, payload: bytes = b"") -> None:
        if self._writer is None:
            raise P2PError("not connected")
        self._writer.write(encode_message(self.magic, command, payload))

    async def _read(self) -> list[tuple[str, bytes]] | None:
        """Return the messages completed by the next read, or None at end of stream."""
        assert self._reader is not None
        data = await self._reader.read(_READ_SIZE)
        return self._msgs.feed(data) if data else None

    def __aiter__(self) -> AsyncIterator[FeedEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[FeedEvent]:
        if self._writer is None:
            await self.connect()
        perf, wall = time.perf_counter_ns, time.time_ns
        messages, self._pending = self._pending, []
        recv_ns, recv_wall = perf(), wall()
        try:
            while True:
                for command, payload in messages:
                    if command == "tx":
                        yield tx_event(payload, self.name, recv_ns=recv_ns, recv_wall_ns=recv_wall)
                    elif command == "inv":
                        for event in self._on_inv(decode_inv(payload), recv_ns, recv_wall):
                            yield event
                    elif command == "headers":
                        for h in decode_headers(payload):
                            yield BlockSeen(h, self.name, recv_ns, recv_wall)
                    elif command == "ping":
                        self._send("pong", payload)
                    # everything else (addr, feefilter, sendcmpct, getheaders ...) is not ours
                assert self._writer is not None
                await self._writer.drain()
                got = await self._read()
                if got is None:
                    return  # the node closed the connection: the feed ends
                messages = got
                recv_ns, recv_wall = perf(), wall()
        finally:
            await self.close()

    def _on_inv(self, items: list[InvItem], recv_ns: int, recv_wall: int) -> list[FeedEvent]:
        wanted: list[InvItem] = []
        blocks: list[FeedEvent] = []
        requested = self._requested
        for item in items:
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
                blocks.append(BlockSeen(item.hex, self.name, recv_ns, recv_wall))
        if wanted:
            self._send("getdata", encode_getdata(wanted))
        return blocks

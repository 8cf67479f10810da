"""Many Bitcoin peers as one feed: a static list, ``addr``/``addrv2`` discovery, first announcer.

A transaction reaches most of the network in about a second and the tail in tens of
seconds: a sensor connected to many peers sees it earlier than through one. ``PeerPool``
keeps up to ``max_peers`` outbound P2P connections (``P2PFeed`` each): the configured peers
first, then addresses the peers announce (``getaddr`` after each handshake; ``addr`` and
BIP 155 ``addrv2`` answers, IPv4 and IPv6 only, filtered by ``allow``). A peer that fails or
closes is retried after ``retry_s`` while others fill its place. A peer is *ready* once the
node has confirmed our side of the handshake (the ``pong`` to a ``ping`` sent after our
``verack``): a node announces a transaction only to the peers whose handshake it has
completed when the transaction enters its mempool, and never later, so a peer that is
connected but not ready misses what arrives meanwhile. Every peer requests what it
is announced, so the same transaction arrives from several peers: the first arrival passes
(``FirstArrival``), and the first peer's *lead* over each later one is recorded per peer
pair (``snapshot()``: wins per peer and lead percentiles). Knows nothing of watch lists,
alerts or orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from whalewire.mempool.feeds._callback import iterate
from whalewire.mempool.feeds.events import FeedEvent, RawTxEvent
from whalewire.mempool.feeds.firstseen import FirstArrival
from whalewire.mempool.feeds.p2p import P2PFeed
from whalewire.mempool.feeds.p2p_messages import (
    DEFAULT_PORTS,
    P2PError,
    P2PProtocolError,
    read_compact_size,
)

__all__ = ["PeerPool", "decode_addr", "decode_addrv2"]

log = logging.getLogger("whalewire.feeds.p2p_pool")

#: BIP 155 network ids this pool connects to (TORv3, I2P and CJDNS need other transports)
_IPV4, _IPV6 = 1, 2
#: the most addresses remembered as candidates
_MAX_CANDIDATES = 1000


def decode_addr(payload: bytes) -> list[tuple[str, int]]:
    """Return the (host, port) of an ``addr`` message (protocol docs: time, services, ip, port).

    Raises:
        P2PProtocolError: the payload is cut short.
    """
    try:
        count, i = read_compact_size(payload, 0, "addr")
        out = []
        for _ in range(count):
            ip = ipaddress.IPv6Address(payload[i + 12 : i + 28])  # after time (4), services (8)
            (port,) = struct.unpack_from(">H", payload, i + 28)
            mapped = ip.ipv4_mapped
            out.append((str(mapped if mapped is not None else ip), port))
            i += 30
        if i > len(payload):
            raise IndexError
        return out
    except (IndexError, struct.error, ipaddress.AddressValueError, KeyError):
        raise P2PProtocolError("malformed addr message", "addr") from None


def decode_addrv2(payload: bytes) -> list[tuple[str, int]]:
    """Return the IPv4/IPv6 (host, port) of an ``addrv2`` message (BIP 155); skip other nets.

    Raises:
        P2PProtocolError: cut short, or an address of the wrong length for its net.
    """
    try:
        count, i = read_compact_size(payload, 0, "addrv2")
        out = []
        for _ in range(count):
            i += 4  # time
            _, i = read_compact_size(payload, i, "addrv2")  # services
            net = payload[i]
            size, i = read_compact_size(payload, i + 1, "addrv2")
            raw = payload[i : i + size]
            i += size
            (port,) = struct.unpack_from(">H", payload, i)
            i += 2
            if net == _IPV4 and size == 4:
                out.append((str(ipaddress.IPv4Address(raw)), port))
            elif net == _IPV6 and size == 16:
                out.append((str(ipaddress.IPv6Address(raw)), port))
            elif net in (_IPV4, _IPV6):
                raise ValueError(f"address of {size} bytes for net {net}")
        return out
    except (IndexError, struct.error, ValueError, KeyError):
        raise P2PProtocolError("malformed addrv2 message", "addrv2") from None


class _Peer(P2PFeed):
    """A P2P feed that asks for addresses after its handshake, and says when the node is ready.

    After our ``verack`` the node still has to process it before it counts us as connected
    (Bitcoin Core relays a transaction only to fully connected peers, when it enters the
    mempool). A node handles one peer's messages in order, so the ``pong`` to a ``ping``
    sent after the handshake (BIP 31: the nonce comes back) proves it has.
    """

    def __init__(self, *args: Any, on_addresses: Callable[[list[tuple[str, int]]], None],
                 on_ready: Callable[[], None], **kw: Any) -> None:  # fmt: skip
        super().__init__(*args, **kw)
        self._on_addresses = on_addresses
        self._on_ready = on_ready
        self._nonce = b""

    async def connect(self) -> Any:
        version = await super().connect()
        self._nonce = secrets.token_bytes(8)
        self._send("getaddr")
        self._send("ping", self._nonce)
        return version

    def _on_message(self, command: str, payload: bytes, recv_ns: int, recv_wall: int) -> None:
        if command in ("addr", "addrv2"):
            decode = decode_addr if command == "addr" else decode_addrv2
            self._on_addresses(decode(payload))
            return
        if command == "pong" and self._nonce and payload == self._nonce:
            self._nonce = b""
            self._on_ready()
            return
        super()._on_message(command, payload, recv_ns, recv_wall)


class PeerPool:
    """Up to ``max_peers`` P2P peers as one deduplicated feed (``run(callback)``).

    Args:
        peers: the static list of (host, port).
        network: ``mainnet``, ``testnet``, ``signet`` or ``regtest``.
        max_peers: how many connections to keep.
        discover: connect to addresses the peers announce, beyond the static list.
        allow: which discovered (host, port) may be tried (default: any).
        name: the prefix of every peer's feed name (``<name>:<host>:<port>``).
        retry_s: how long a peer that failed waits before it is tried again.
    """

    def __init__(
        self,
        peers: Iterable[tuple[str, int]],
        network: str = "mainnet",
        *,
        max_peers: int = 8,
        discover: bool = True,
        allow: Callable[[str, int], bool] | None = None,
        name: str = "p2p",
        retry_s: float = 5.0,
    ) -> None:
        if max_peers < 1:
            raise ValueError(f"max_peers must be at least 1, not {max_peers}")
        self.static = list(dict.fromkeys(peers))
        self.network = network
        self.max_peers = max_peers
        self.discover = discover
        self.allow = allow or (lambda host, port: True)
        self.name = name
        self.retry_s = retry_s
        self.firsts = FirstArrival()
        #: discovered addresses not yet tried, oldest first
        self.candidates: dict[tuple[str, int], None] = {}
        #: (host, port) -> its running feed
        self.connected: dict[tuple[str, int], P2PFeed] = {}
        #: the connected peers whose node has completed the handshake (it announces to them)
        self.ready: set[tuple[str, int]] = set()
        self._failed: dict[tuple[str, int], float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    def _learn(self, addresses: list[tuple[str, int]]) -> None:
        if not self.discover:
            return
        for address in addresses:
            if address in self.connected or address in self.candidates:
                continue
            if len(self.candidates) >= _MAX_CANDIDATES or not self.allow(*address):
                continue
            self.candidates[address] = None
        self._wake.set()

    def _next_addresses(self) -> list[tuple[str, int]]:
        now = time.monotonic()
        room = self.max_peers - len(self.connected)
        picks: list[tuple[str, int]] = []
        for address in [*self.static, *self.candidates]:
            if room <= len(picks):
                break
            if address in self.connected or address in picks:
                continue
            if now - self._failed.get(address, -1e9) < self.retry_s:
                continue
            picks.append(address)
        return picks

    async def run(self, on_event: Callable[[FeedEvent], object]) -> None:
        """Keep the peers connected and pass each transaction's first arrival to ``on_event``."""
        admit = self.firsts.admit

        def deliver(event: FeedEvent) -> None:
            if type(event) is RawTxEvent and event.raw:
                if admit(event.txid, event.feed, event.recv_ns):
                    on_event(event)
            else:
                on_event(event)

        try:
            while True:
                for address in self._next_addresses():
                    self.candidates.pop(address, None)
                    task = asyncio.create_task(self._peer(address, deliver))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(self.retry_s, 1.0))
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def __aiter__(self) -> AsyncIterator[FeedEvent]:
        return iterate(self.run)

    async def _peer(self, address: tuple[str, int], deliver: Callable[[FeedEvent], None]) -> None:
        host, port = address
        feed = _Peer(
            host, port or DEFAULT_PORTS[self.network], self.network,
            name=f"{self.name}:{host}:{port}", on_addresses=self._learn,
            on_ready=lambda: self.ready.add(address),
        )  # fmt: skip
        self.connected[address] = feed
        try:
            await feed.run(deliver)
        except (OSError, P2PError) as exc:
            log.info("peer %s:%d: %s", host, port, exc)
        finally:
            self.connected.pop(address, None)
            self.ready.discard(address)
            self._failed[address] = time.monotonic()
            self._wake.set()

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: connected peers, candidates, and who announced first by how much."""
        return {
            "connected": [f"{h}:{p}" for h, p in self.connected],
            "ready": len(self.ready),
            "candidates": len(self.candidates),
            **self.firsts.snapshot(),
        }

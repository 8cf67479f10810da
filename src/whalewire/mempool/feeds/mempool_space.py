"""The mempool.space WebSocket feed: subscription messages out, normalised events in.

What the server speaks is taken from mempool/mempool ``backend/src/api/websocket-handler.ts``:
the client sends JSON objects such as ``{"action": "want", "data": ["blocks",
"mempool-blocks"]}``, ``{"track-mempool": true}``, ``{"track-addresses": [...]}`` and
``{"action": "ping"}``; the server answers with one JSON object per message whose keys say
what it holds: ``block``/``blocks``, ``mempool-transactions`` (``{sequence, added: [tx],
removed: [txid], mined: [txid], replaced: [{replaced, by: tx}]}``),
``multi-address-transactions`` (``{address: {mempool, confirmed, removed}}``),
``address-transactions``/``block-transactions`` (``track-address``), ``pong``, and
``track-addresses-error``. Transactions come as Esplora JSON, not raw bytes, so
:func:`serialize_esplora_tx` rebuilds the raw serialisation and checks it against the txid.

:class:`MempoolSpaceProtocol` is sans-IO (JSON text in, events out); :class:`MempoolSpaceFeed`
runs it over a WebSocket connection. This module knows nothing of watch lists or orders.
"""

from __future__ import annotations

import json
import ssl as ssl_module
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from whalewire.mempool.feeds._txid import TxParseError, txid_of
from whalewire.mempool.feeds.events import BlockSeen, EventKind, FeedEvent, FeedGap, RawTxEvent
from whalewire.mempool.tx import compact_size
from whalewire.net.client import connect as net_connect

__all__ = [
    "DEFAULT_URL",
    "MempoolSpaceError",
    "MempoolSpaceFeed",
    "MempoolSpaceProtocol",
    "default_connect",
    "serialize_esplora_tx",
    "websockets_connect",
    "whalewire_connect",
]

DEFAULT_URL = "wss://mempool.space/api/v1/ws"
#: the subscriptions the handler accepts in ``want`` (websocket-handler.ts ``wantable``)
WANTABLE = frozenset({"blocks", "mempool-blocks", "live-2h-chart", "stats", "tomahawk"})


class MempoolSpaceError(Exception):
    """The server refused a subscription (e.g. ``track-addresses-error``) or sent non-JSON."""


def _script(hex_str: str) -> bytes:
    b = bytes.fromhex(hex_str)
    return compact_size(len(b)) + b


def serialize_esplora_tx(tx: Mapping[str, Any]) -> bytes:
    """Rebuild a transaction's raw serialisation from its Esplora JSON.

    The witness form (BIP 144) is produced when any input carries a ``witness`` list.

    Raises:
        ValueError: a field is missing or malformed, or the rebuilt bytes do not hash to
            the JSON's ``txid``.
    """
    try:
        vin: list[Mapping[str, Any]] = tx["vin"]
        vout: list[Mapping[str, Any]] = tx["vout"]
        witnesses = [list(i.get("witness") or ()) for i in vin]
        parts = [struct.pack("<i", tx["version"])]
        segwit = any(witnesses)
        if segwit:
            parts.append(b"\x00\x01")
        parts.append(compact_size(len(vin)))
        for i in vin:
            if i.get("is_coinbase"):
                prevout = bytes(32) + b"\xff\xff\xff\xff"
            else:
                prevout = bytes.fromhex(i["txid"])[::-1] + struct.pack("<I", i["vout"])
            parts += (prevout, _script(i.get("scriptsig", "")), struct.pack("<I", i["sequence"]))
        parts.append(compact_size(len(vout)))
        for o in vout:
            parts += (struct.pack("<Q", o["value"]), _script(o["scriptpubkey"]))
        if segwit:
            for items in witnesses:
                parts.append(compact_size(len(items)))
                parts += (_script(item) for item in items)
        parts.append(struct.pack("<I", tx["locktime"]))
    except (KeyError, TypeError, AttributeError, struct.error) as exc:
        raise ValueError(f"esplora tx {tx.get('txid')!r}: {type(exc).__name__}: {exc}") from None
    raw = b"".join(parts)
    try:
        txid = txid_of(raw)
    except TxParseError as exc:
        raise ValueError(f"esplora tx {tx.get('txid')!r} rebuilds to bad bytes: {exc}") from None
    if txid != tx.get("txid"):
        raise ValueError(f"esplora tx {tx.get('txid')!r} rebuilds to txid {txid}")
    return raw


class MempoolSpaceProtocol:
    """The sans-IO client side of the mempool.space WebSocket API.

    Args:
        name: the feed name stamped on events.
        want: ``want`` subscriptions (``blocks``, ``mempool-blocks`` ...).
        track_mempool: ask for every mempool change (``mempool-transactions``).
        track_addresses: addresses whose transactions to follow (``multi-address-transactions``).

    Attributes:
        malformed: per message key, how many items were dropped as malformed.
        last_sequence: the mempool sequence of the latest ``mempool-transactions`` update.
    """

    def __init__(
        self,
        name: str = "mempool.space",
        *,
        want: Sequence[str] = ("blocks", "mempool-blocks"),
        track_mempool: bool = True,
        track_addresses: Iterable[str] = (),
    ) -> None:
        unknown = set(want) - WANTABLE
        if unknown:
            raise ValueError(f"not wantable: {sorted(unknown)}; one of {sorted(WANTABLE)}")
        self.name = name
        self.want = list(want)
        self.track_mempool = track_mempool
        self.track_addresses = list(track_addresses)
        self.malformed: Counter[str] = Counter()
        self.last_sequence: int | None = None

    def subscribe(self) -> list[str]:
        """Return the JSON texts to send right after the connection opens."""
        out = [json.dumps({"action": "want", "data": self.want})]
        if self.track_mempool:
            out.append(json.dumps({"track-mempool": True}))
        if self.track_addresses:
            out.append(json.dumps({"track-addresses": self.track_addresses}))
        return out

    @staticmethod
    def ping() -> str:
        """Return the keepalive the server answers with ``{"pong": true}``."""
        return json.dumps({"action": "ping"})

    def receive(self, text: str | bytes, recv_ns: int, recv_wall_ns: int) -> list[FeedEvent]:
        """Return the events carried by one server message.

        Raises:
            MempoolSpaceError: the message is not a JSON object, or refuses a subscription.
        """
        try:
            msg = json.loads(text)
        except (ValueError, RecursionError) as exc:  # nesting deeper than Python's stack
            raise MempoolSpaceError(f"server sent non-JSON: {exc}") from None
        if not isinstance(msg, dict):
            raise MempoolSpaceError(f"server sent a JSON {type(msg).__name__}, not an object")
        for key in ("track-addresses-error", "track-scriptpubkeys-error"):
            if key in msg:
                raise MempoolSpaceError(f"{key}: {msg[key]}")
        out: list[FeedEvent] = []
        stamp = (recv_ns, recv_wall_ns)
        if isinstance(block := msg.get("block"), dict) and isinstance(block.get("id"), str):
            out.append(BlockSeen(block["id"], self.name, *stamp))
        blocks = msg.get("blocks")
        if isinstance(blocks, list):
            known = [
                (b["height"], b["id"])
                for b in blocks
                if isinstance(b, dict)
                and isinstance(b.get("height"), int)
                and isinstance(b.get("id"), str)
            ]
            if known:
                out.append(BlockSeen(max(known)[1], self.name, *stamp))
        if isinstance(delta := msg.get("mempool-transactions"), dict):
            out += self._delta(delta, stamp)
        if isinstance(multi := msg.get("multi-address-transactions"), dict):
            for per_address in multi.values():
                if not isinstance(per_address, dict):
                    self.malformed["multi-address-transactions"] += 1
                    continue
                out += self._txs(per_address.get("mempool", ()), EventKind.MEMPOOL, stamp)
                out += self._txs(per_address.get("confirmed", ()), EventKind.MINED, stamp)
                out += self._txs(per_address.get("removed", ()), EventKind.REMOVED, stamp)
        out += self._txs(msg.get("address-transactions", ()), EventKind.MEMPOOL, stamp)
        out += self._txs(msg.get("block-transactions", ()), EventKind.MINED, stamp)
        return out

    def _delta(self, delta: Mapping[str, Any], stamp: tuple[int, int]) -> list[FeedEvent]:
        out: list[FeedEvent] = []
        seq = delta.get("sequence")
        if isinstance(seq, int):
            last = self.last_sequence
            if last is not None and seq != last + 1:
                out.append(FeedGap(self.name, "mempool-transactions", last + 1, seq, stamp[0]))
            self.last_sequence = seq
        out += self._txs(delta.get("added", ()), EventKind.MEMPOOL, stamp)
        out += self._ids(delta.get("removed", ()), EventKind.REMOVED, stamp)
        out += self._ids(delta.get("mined", ()), EventKind.MINED, stamp)
        replaced = delta.get("replaced", ())
        if isinstance(replaced, list):
            ids = [r.get("replaced") for r in replaced if isinstance(r, dict)]
            out += self._ids(ids, EventKind.REMOVED, stamp)
        return out

    def _txs(self, txs: object, kind: EventKind, stamp: tuple[int, int]) -> list[FeedEvent]:
        if not isinstance(txs, list):
            return []
        out: list[FeedEvent] = []
        for tx in txs:
            try:
                if not isinstance(tx, dict):
                    raise ValueError("not an object")
                raw = serialize_esplora_tx(tx)
            except ValueError:
                self.malformed["tx"] += 1
                continue
            out.append(RawTxEvent(raw, tx["txid"], self.name, kind, *stamp))
        return out

    def _ids(self, ids: object, kind: EventKind, stamp: tuple[int, int]) -> list[FeedEvent]:
        if not isinstance(ids, list):
            return []
        out: list[FeedEvent] = []
        for txid in ids:
            if isinstance(txid, str) and len(txid) == 64:
                out.append(RawTxEvent(b"", txid.lower(), self.name, kind, *stamp))
            else:
                self.malformed["txid"] += 1
        return out


class Connection(Protocol):
    """The little a WebSocket client must offer this feed."""

    async def send(self, message: str) -> None:
        """Send one text message."""

    async def recv(self) -> str | bytes | None:
        """Return the next message, or None once the server closed normally."""

    async def close(self) -> None:
        """Close the connection."""


Connector = Callable[[str], Awaitable[Connection]]


class _WebsocketsConnection:
    """Adapt a ``websockets`` client connection to :class:`Connection`."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def send(self, message: str) -> None:
        await self._conn.send(message)

    async def recv(self) -> str | bytes | None:
        from websockets.exceptions import ConnectionClosedOK  # noqa: PLC0415

        try:
            message: str | bytes = await self._conn.recv()
        except ConnectionClosedOK:
            return None
        return message

    async def close(self) -> None:
        await self._conn.close()


async def websockets_connect(url: str) -> Connection:
    """Connect with the ``websockets`` library (a dev-only alternative, for comparison)."""
    try:
        from websockets.asyncio.client import connect  # noqa: PLC0415 - optional dependency
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MempoolSpaceError("the websockets package is needed for wss:// URLs") from exc
    return _WebsocketsConnection(await connect(url, max_size=2**24))


class _WhalewireConnection:
    """Adapt a ``whalewire.net`` WebSocket to :class:`Connection`."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws

    async def send(self, message: str) -> None:
        self._ws.send(message)
        await self._ws.drain()

    async def recv(self) -> str | bytes | None:
        from whalewire.ws.exceptions import ConnectionClosed  # noqa: PLC0415

        try:
            message: str | bytes = await self._ws.recv()
        except ConnectionClosed as exc:
            if exc.code in (1000, 1001):  # RFC 6455 §7.4.1: normal closure, going away
                return None
            raise
        return message

    async def close(self) -> None:
        await self._ws.close()


async def whalewire_connect(url: str, *, ssl: ssl_module.SSLContext | None = None) -> Connection:
    """Connect with our own client, ``whalewire.net.client.connect`` (``ws://`` or ``wss://``).

    Args:
        ssl: for ``wss://``, a client context (default: verification on, system CAs).
    """
    return _WhalewireConnection(await net_connect(url, ssl=ssl))


async def default_connect(url: str) -> Connection:
    """Connect with ``whalewire.net`` (``ws://`` and ``wss://``, verification on)."""
    return await whalewire_connect(url)


class MempoolSpaceFeed:
    """Follow mempool.space (or a self-hosted instance) as a feed (``async for event``).

    Args:
        url: the WebSocket endpoint, e.g. :data:`DEFAULT_URL` or a local instance.
        protocol: the subscriptions (a default :class:`MempoolSpaceProtocol` when omitted).
        connect: the WebSocket connector: :func:`default_connect` (our ``whalewire.net``
            client, ``ws://`` and ``wss://``), or
            :func:`whalewire_connect` / :func:`websockets_connect` to force one.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        protocol: MempoolSpaceProtocol | None = None,
        *,
        connect: Connector = default_connect,
    ) -> None:
        self.url = url
        self.protocol = protocol or MempoolSpaceProtocol()
        self._connect = connect

    def __aiter__(self) -> AsyncIterator[FeedEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[FeedEvent]:
        conn = await self._connect(self.url)
        receive = self.protocol.receive
        perf, wall = time.perf_counter_ns, time.time_ns
        try:
            for text in self.protocol.subscribe():
                await conn.send(text)
            while (message := await conn.recv()) is not None:
                for event in receive(message, perf(), wall()):
                    yield event
        finally:
            await conn.close()

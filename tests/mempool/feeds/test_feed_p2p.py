"""Bitcoin P2P framing and payloads (sans-IO), and the feed against a scripted loopback peer.

Vector: the empty-payload ``verack`` on mainnet is ``f9beb4d9 "verack" 00000000 5df6e0e2``
(Bitcoin developer reference, "Message headers"; 5df6e0e2 is dSHA256("")[:4]).
"""

from __future__ import annotations

import asyncio
import struct

import pytest

from whalewire.mempool.feeds.events import FeedEvent, RawTxEvent
from whalewire.mempool.feeds.p2p import P2PFeed
from whalewire.mempool.feeds.p2p_messages import (
    MAGIC,
    MSG_BLOCK,
    MSG_TX,
    MSG_WITNESS_TX,
    InvItem,
    MessageReader,
    P2PError,
    P2PProtocolError,
    decode_headers,
    decode_inv,
    decode_version,
    encode_getdata,
    encode_message,
    encode_version,
)

from ._vectors import block_doc

VERACK_MAINNET = bytes.fromhex("f9beb4d976657261636b000000000000000000005df6e0e2")
REGTEST = MAGIC["regtest"]


def test_verack_matches_the_reference_bytes() -> None:
    assert encode_message(MAGIC["mainnet"], "verack") == VERACK_MAINNET


@pytest.mark.parametrize(
    ("network", "magic"),
    [
        ("mainnet", "f9beb4d9"),
        ("testnet", "0b110907"),
        ("signet", "0a03cf40"),
        ("regtest", "fabfb5da"),
    ],
)
def test_network_magic_table(network: str, magic: str) -> None:
    # Bitcoin Core chainparams.cpp pchMessageStart
    assert MAGIC[network].hex() == magic


def test_reader_splits_a_stream_fed_one_byte_at_a_time() -> None:
    stream = encode_message(REGTEST, "ping", b"12345678") + encode_message(REGTEST, "verack")
    reader = MessageReader(REGTEST)
    got = []
    for i in range(len(stream)):
        got += reader.feed(stream[i : i + 1])
    assert got == [("ping", b"12345678"), ("verack", b"")]


def test_reader_keeps_a_partial_message_for_the_next_read() -> None:
    msg = encode_message(REGTEST, "tx", b"x" * 100)
    reader = MessageReader(REGTEST)
    assert reader.feed(msg + msg[:30]) == [("tx", b"x" * 100)]
    assert reader.feed(msg[30:]) == [("tx", b"x" * 100)]


def test_wrong_magic_is_a_protocol_error() -> None:
    with pytest.raises(P2PProtocolError, match="magic"):
        MessageReader(REGTEST).feed(VERACK_MAINNET)


def test_bad_checksum_is_a_protocol_error_naming_the_command() -> None:
    msg = bytearray(encode_message(REGTEST, "tx", b"abc"))
    msg[-1] ^= 1
    with pytest.raises(P2PProtocolError) as info:
        MessageReader(REGTEST).feed(bytes(msg))
    assert info.value.command == "tx"
    assert "checksum" in info.value.reason


def test_oversized_length_is_refused_before_the_payload_arrives() -> None:
    header = REGTEST + b"tx".ljust(12, b"\x00") + struct.pack("<I", 5_000_000) + b"\x00" * 4
    with pytest.raises(P2PProtocolError, match="5000000"):
        MessageReader(REGTEST).feed(header)


@pytest.mark.parametrize(
    "command", [b"tx\x00x".ljust(12, b"\x00"), b"\x00" * 12, b"t\x01".ljust(12, b"\x00")]
)
def test_malformed_command_field_is_refused(command: bytes) -> None:
    header = REGTEST + command + struct.pack("<I", 0) + bytes.fromhex("5df6e0e2")
    with pytest.raises(P2PProtocolError, match="command"):
        MessageReader(REGTEST).feed(header)


def test_version_round_trips_its_fields() -> None:
    payload = encode_version(
        peer=("127.0.0.1", 18444),
        start_height=7,
        nonce=42,
        timestamp=1_700_000_000,
        user_agent="/t:1/",
    )
    v = decode_version(payload)
    assert (v.version, v.services, v.timestamp, v.nonce) == (70016, 0, 1_700_000_000, 42)
    assert (v.user_agent, v.start_height, v.relay) == ("/t:1/", 7, True)
    # 4 version + 8 services + 8 time + 26 + 26 addresses + 8 nonce + 1+5 agent + 4 height + 1 relay
    assert len(payload) == 91


def test_truncated_version_is_refused() -> None:
    payload = encode_version(peer=("127.0.0.1", 1))
    with pytest.raises(P2PProtocolError, match="version"):
        decode_version(payload[:60])


def test_inv_and_getdata_share_the_inventory_layout() -> None:
    items = [InvItem(MSG_WITNESS_TX, bytes(range(32))), InvItem(MSG_BLOCK, b"\xff" * 32)]
    payload = encode_getdata(items)
    assert payload[:5] == b"\x02\x01\x00\x00\x40"  # count 2, type 0x40000001 little-endian
    assert decode_inv(payload) == items
    assert items[0].hex == bytes(range(32))[::-1].hex()


def test_inv_whose_length_disagrees_with_its_count_is_refused() -> None:
    payload = encode_getdata([InvItem(MSG_TX, bytes(32))])
    with pytest.raises(P2PProtocolError, match="entries"):
        decode_inv(payload + b"\x00")


def test_headers_hash_to_the_block_hash() -> None:
    doc = block_doc()
    header = bytes.fromhex(str(doc["block"]))[:80]
    assert decode_headers(b"\x01" + header + b"\x00") == [doc["hash"]]


class ScriptedPeer:
    """A loopback TCP peer that handshakes, then runs ``script`` against our feed."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.server: asyncio.Server | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.connected = asyncio.Event()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        msgs = MessageReader(REGTEST)
        self.send("version", encode_version(peer=("127.0.0.1", 1), user_agent="/peer/"))
        self.send("wtxidrelay")
        self.send("sendaddrv2")
        self.send("verack")
        self.send("sendheaders")
        self.connected.set()
        while data := await reader.read(65536):
            for m in msgs.feed(data):
                self.received.put_nowait(m)

    def send(self, command: str, payload: bytes = b"") -> None:
        assert self.writer is not None
        self.writer.write(encode_message(REGTEST, command, payload))

    async def expect(self, command: str) -> bytes:
        async with asyncio.timeout(5):
            while True:
                got, payload = await self.received.get()
                if got == command:
                    return payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def test_feed_answers_ping_requests_announced_tx_and_yields_it() -> None:
    raw = bytes.fromhex(str(block_doc()["block"]))
    from whalewire.mempool.feeds._txid import split_block

    tx = split_block(raw)[1]
    txid = str(block_doc()["tx"][1])

    async def run() -> list[FeedEvent]:
        peer = ScriptedPeer()
        port = await peer.start()
        feed = P2PFeed("127.0.0.1", port, "regtest")
        await feed.connect()
        events: list[FeedEvent] = []

        async def consume() -> None:
            async for event in feed:
                events.append(event)

        task = asyncio.create_task(consume())
        await peer.expect("verack")
        peer.send("ping", b"nonce123")
        assert await peer.expect("pong") == b"nonce123"
        inv = InvItem(MSG_TX, bytes.fromhex(txid)[::-1])
        peer.send("inv", encode_getdata([inv]))
        peer.send("inv", encode_getdata([inv]))  # announced twice, requested once
        getdata = decode_inv(await peer.expect("getdata"))
        assert getdata == [InvItem(MSG_WITNESS_TX, inv.hash)]
        peer.send("tx", tx)
        peer.send("ping", b"barrier!")
        await peer.expect("pong")
        assert peer.received.empty()  # no second getdata
        await peer.close()
        await asyncio.wait_for(task, 5)  # the feed ends when the peer closes
        return events

    events = asyncio.run(run())
    assert [(type(e), getattr(e, "txid", None)) for e in events] == [(RawTxEvent, txid)]


def test_feed_raises_on_a_corrupt_message_from_the_peer() -> None:
    async def run() -> None:
        peer = ScriptedPeer()
        port = await peer.start()
        feed = P2PFeed("127.0.0.1", port, "regtest")
        await feed.connect()
        bad = bytearray(encode_message(REGTEST, "inv", b"\x00"))
        bad[-1] ^= 0xFF
        assert peer.writer is not None
        peer.writer.write(bytes(bad))
        try:
            async with asyncio.timeout(5):
                async for _ in feed:
                    pass
        finally:
            await peer.close()

    with pytest.raises(P2PProtocolError, match="checksum"):
        asyncio.run(run())


def test_callback_failure_closes_the_link_and_is_raised_from_run() -> None:
    doc = block_doc()
    block_hash = str(doc["hash"])

    async def run() -> None:
        peer = ScriptedPeer()
        port = await peer.start()
        feed = P2PFeed("127.0.0.1", port, "regtest")
        await feed.connect()
        peer.send("inv", encode_getdata([InvItem(MSG_BLOCK, bytes.fromhex(block_hash)[::-1])]))

        def explode(event: FeedEvent) -> None:
            raise RuntimeError(f"detector bug on {type(event).__name__}")

        try:
            async with asyncio.timeout(5):
                await feed.run(explode)
        finally:
            await peer.close()

    with pytest.raises(RuntimeError, match="detector bug on BlockSeen"):
        asyncio.run(run())


def test_peer_closing_during_the_handshake_is_a_p2p_error() -> None:
    async def run() -> None:
        async def slam(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(slam, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await P2PFeed("127.0.0.1", port, "regtest", handshake_timeout=5).connect()
        finally:
            server.close()
            await server.wait_closed()

    with pytest.raises(P2PError, match="handshake"):
        asyncio.run(run())


def test_a_feed_can_connect_again_after_close() -> None:
    async def run() -> tuple[str, str]:
        peer = ScriptedPeer()
        port = await peer.start()
        feed = P2PFeed("127.0.0.1", port, "regtest")
        first = await feed.connect()
        await feed.close()
        second = await feed.connect()
        await feed.close()
        await peer.close()
        return first.user_agent, second.user_agent

    assert asyncio.run(run()) == ("/peer/", "/peer/")

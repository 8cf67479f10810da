#!/usr/bin/env python3
"""Fuzz the network parsing of the mempool feeds: bitcoind's ZMQ, Bitcoin P2P, mempool.space.

Input: one byte choosing the feed, then:

* 0 ZMQ: multipart messages (topic, body, sequence). ``ZmqDecoder.decode`` never raises: a
  malformed message is counted and dropped.
* 1 P2P: the peer's byte stream, raw or as (command, payload) messages framed with good
  checksums, cut at fuzzer-chosen points, fed through ``P2PFeed``'s read path. It may fail
  the connection only with ``P2PProtocolError`` (bad framing or payload) or ``TxParseError``
  (a ``tx`` message that is not a transaction); whatever it asks back is framed correctly.
* 2 mempool.space: one server message. ``MempoolSpaceProtocol.receive`` raises only
  ``MempoolSpaceError``.
"""

from __future__ import annotations

import contextlib
import json

from fuzz._fuzz import Data, main
from whalewire.mempool.feeds.bitcoind_zmq import ZmqDecoder
from whalewire.mempool.feeds.mempool_space import MempoolSpaceError, MempoolSpaceProtocol
from whalewire.mempool.feeds.p2p import P2PFeed
from whalewire.mempool.feeds.p2p_messages import (
    MAGIC,
    MessageReader,
    P2PProtocolError,
    encode_message,
    encode_version,
)
from whalewire.mempool.tx import TxParseError

TOPICS = (b"rawtx", b"hashblock", b"sequence", b"rawblock", b"")
COMMANDS = ("tx", "inv", "headers", "ping", "version", "verack", "getdata", "addr", "x" * 12)
REGTEST = MAGIC["regtest"]


class _Wire:
    """The transport ``P2PFeed`` writes to: keeps the bytes, so the harness can check them."""

    def __init__(self) -> None:
        self.sent = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent += data

    def close(self) -> None:
        self.closed = True


def _zmq(d: Data) -> None:
    decoder = ZmqDecoder()
    while True:
        body = d.take(d.below(1024))
        frames = [d.pick(TOPICS), body, d.take(d.pick((4, 4, 4, 3, 0)))]
        decoder.decode(frames[: 1 + d.below(3)] if d.flag() else frames, 0, 0)
        if not d.byte():
            return


def _p2p(d: Data) -> None:
    if d.flag():
        stream = REGTEST + d.rest()
    else:
        stream = b""
        while True:
            payload = d.take(d.below(4096))
            stream += encode_message(REGTEST, d.pick(COMMANDS), payload)
            if not d.byte():
                break
    feed = P2PFeed("127.0.0.1", network="regtest")
    wire = _Wire()
    failures: list[BaseException] = []
    events: list[object] = []
    feed._transport = wire  # type: ignore[assignment]
    feed._emit = events.append
    feed._fail = failures.append  # type: ignore[method-assign,assignment]
    cuts = Data(stream[-5:]).cuts(len(stream))
    for start, end in cuts:
        feed._on_data(stream[start:end], 0, 0)
        if failures:
            break
    for exc in failures:
        assert isinstance(exc, P2PProtocolError | TxParseError), repr(exc)
    # what the feed answered (pong, verack, getdata) is well framed
    answers = MessageReader(REGTEST).feed(bytes(wire.sent))
    assert {command for command, _ in answers} <= {"pong", "verack", "getdata", "wtxidrelay"}


def _mempool_space(d: Data) -> None:
    with contextlib.suppress(MempoolSpaceError):
        MempoolSpaceProtocol(track_addresses=["bc1qexample"]).receive(d.rest(), 0, 0)


def test_one_input(data: bytes) -> None:
    """Feed the bytes to the feed the first byte picks; only documented errors escape."""
    d = Data(data)
    (_zmq, _p2p, _mempool_space)[d.byte() % 3](d)


def seeds() -> dict[str, bytes]:
    """A rawtx, hashblock and sequence from bitcoind, a P2P handshake, mempool.space replies."""
    tx = bytes.fromhex(
        "0100000001c997a5e56e104102fa209c6a852dd90660a20b2d9c352423edce25857fcd3704000000004847"
        "304402204e45e16932b8af514961a1d3a1a25fdf3f4f7732e9d624c6c61548ab5fb8cd410220181522ec8e"
        "ca07de4860a4acdd12909d831cc56cbbac4622082221a8768d1d0901ffffffff0200ca9a3b000000004341"
        "04ae1a62fe09c5f51b13905f07f06b99a2f7159b2225f374cd378d71302fa28414e7aab37397f554a7df5f"
        "142c21c1b7303b8a0626f1baded5c72a704f7e6cd84cac00286bee0000000043410411db93e1dcdb8a016b"
        "49840f8c53bc1eb68a382e97b1482ecad7b148a6909a5cb2e0eaddfb84ccf9744464f82e160bfa9b8b64f9"
        "d4c03f999b8643f656b412a3ac00000000"
    )  # the first bitcoin transaction (block 170): 10 BTC from Satoshi to Hal Finney
    block_hash = bytes.fromhex("00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee")

    def zmq(topic: bytes, body: bytes, seq: int, more: bool) -> bytes:
        # as _zmq reads one message: body length, body, topic, sequence size (4), sequence,
        # all frames kept, then whether another message follows
        return (
            len(body).to_bytes(2, "big")
            + body
            + bytes([TOPICS.index(topic), 0])
            + seq.to_bytes(4, "little")
            + bytes([0, int(more)])
        )

    added = block_hash[::-1] + b"A" + (5).to_bytes(8, "little")
    out = {
        "zmq-rawtx": b"\x00" + zmq(b"rawtx", tx, 1, False),
        "zmq-hashblock": b"\x00" + zmq(b"hashblock", block_hash, 1, False),
        "zmq-sequence-gap": b"\x00"
        + zmq(b"sequence", added, 1, True)
        + zmq(b"sequence", block_hash[::-1] + b"C", 3, False),
        "p2p-raw-version": bytes([1, 1])
        + encode_message(REGTEST, "version", encode_version(peer=("127.0.0.1", 18444)))[4:],
    }
    framed = [
        ("version", encode_version(peer=("127.0.0.1", 18444), nonce=1, timestamp=0)),
        ("verack", b""),
        ("ping", b"\x01" * 8),
        ("inv", b"\x02" + (1).to_bytes(4, "little") + bytes(32) + (2).to_bytes(4, "little")
         + block_hash[::-1]),
        ("tx", tx),
        ("headers", b"\x01" + bytes(80) + b"\x00"),
    ]  # fmt: skip
    stream = b""
    for i, (command, payload) in enumerate(framed):
        more = 1 if i < len(framed) - 1 else 0
        stream += len(payload).to_bytes(2, "big") + payload + bytes([COMMANDS.index(command), more])
    out["p2p-framed-session"] = bytes([1, 0]) + stream
    replies = {
        "block": {"block": {"id": block_hash.hex(), "height": 170}},
        "blocks": {"blocks": [{"id": block_hash.hex(), "height": 170}]},
        "mempool-delta": {
            "mempool-transactions": {
                "sequence": 5,
                "added": [
                    {
                        "txid": "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16",
                        "version": 1,
                        "locktime": 0,
                        "vin": [
                            {
                                "txid": tx[5:37][::-1].hex(),
                                "vout": 0,
                                "scriptsig": tx[42:114].hex(),
                                "sequence": 4294967295,
                            }
                        ],
                        "vout": [{"scriptpubkey": "51", "value": 1000000000}],
                    }
                ],
                "removed": ["00" * 32],
                "mined": [],
                "replaced": [{"replaced": "11" * 32}],
            }
        },
        "track-error": {"track-addresses-error": "too many"},
    }
    for name, reply in replies.items():
        out[f"mempool-space-{name}"] = bytes([2]) + json.dumps(reply).encode()
    return out


if __name__ == "__main__":
    main(test_one_input)

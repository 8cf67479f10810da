"""Property and fuzz tests for the feeds' sans-IO parts: split points and hostile input.

Only the documented errors may escape: ``P2PProtocolError`` from P2P framing and payloads,
``MempoolSpaceError`` from the mempool.space handler; the ZMQ decoder never raises.
"""

from __future__ import annotations

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from whalewire.mempool.feeds.bitcoind_zmq import ZmqDecoder
from whalewire.mempool.feeds.mempool_space import (
    MempoolSpaceError,
    MempoolSpaceProtocol,
    serialize_esplora_tx,
)
from whalewire.mempool.feeds.p2p_messages import (
    MAGIC,
    MessageReader,
    P2PProtocolError,
    decode_headers,
    decode_inv,
    decode_version,
    encode_message,
)

REGTEST = MAGIC["regtest"]
commands = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)
messages = st.lists(st.tuples(commands, st.binary(max_size=300)), max_size=8)


@settings(deadline=None)
@given(messages, st.data())
def test_any_chunking_of_a_stream_yields_the_same_messages(
    msgs: list[tuple[str, bytes]], data: st.DataObject
) -> None:
    stream = b"".join(encode_message(REGTEST, c, p) for c, p in msgs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader = MessageReader(REGTEST)
    got: list[tuple[str, bytes]] = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += reader.feed(stream[a:b])
    assert got == msgs


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_stream_raises_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(P2PProtocolError):
        MessageReader(REGTEST).feed(REGTEST + data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_payloads_raise_only_protocol_errors(payload: bytes) -> None:
    for decode in (decode_inv, decode_version, decode_headers):
        with contextlib.suppress(P2PProtocolError):
            decode(payload)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(max_size=60), max_size=4),
    st.sampled_from([b"rawtx", b"hashblock", b"sequence", b"x"]),
)
def test_zmq_decoder_never_raises(frames: list[bytes], topic: bytes) -> None:
    ZmqDecoder().decode([topic, *frames], 0, 0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        "mempool-transactions",
        "multi-address-transactions",
        "address-transactions",
        "block-transactions",
        "block",
        "blocks",
        "added",
        "removed",
        "mined",
        "replaced",
        "sequence",
        "vin",
        "vout",
        "txid",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, json_values, max_size=4))
def test_mempool_space_hostile_json_raises_only_its_error(msg: dict[str, object]) -> None:
    with contextlib.suppress(MempoolSpaceError):
        MempoolSpaceProtocol().receive(json.dumps(msg), 0, 0)


tx_keys = st.sampled_from(
    ["txid", "version", "locktime", "vin", "vout", "witness", "scriptsig", "sequence", "value"]
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(tx_keys, json_values, max_size=6))
def test_esplora_rebuild_of_hostile_json_raises_only_value_error(tx: dict[str, object]) -> None:
    with contextlib.suppress(ValueError):
        serialize_esplora_tx(tx)

"""Tests for ``whalewire.mempool.whales``: the whale rule (deposits, withdrawals, change)
over real transactions: mainnet block 951,658 with the demo address book, and the BIP 341
wallet test vector's signed transaction (bip-0341/wallet-test-vectors.json
keyPathSpending[0]: its ``utxosSpent`` say which scriptPubKey each input spends).

Ownership facts used as expected values are established with embit (an independent
implementation), Bitcoin Core's txids, or the BIP vectors, never with the detector itself.
Every test runs over the C walks (``whalewire.mempool._scan``) and over pure Python, and
``feed_all`` runs each with the detector hashing the txid itself and with the txid given, as
the engine passes a feed event's (``feed(txid=...)``): the alerts and the outpoints
remembered must be the same.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from whalewire.mempool.address import script_to_address
from whalewire.mempool.tx import Block, TxParseError, parse_block, parse_tx, txid_of
from whalewire.mempool.watchlist import AddressBook
from whalewire.mempool.whales import (
    SATS_PER_BTC,
    AlertKind,
    WhaleAlert,
    WhaleDetector,
    hash160,
    last_push,
    ripemd160_py,
)

DATA = Path(__file__).parent / "data"

BIP341 = json.loads((DATA / "bip341_keypath_spending.json").read_text())
SIGNED = bytes.fromhex(BIP341["fullySignedTx"])
SPENT = [bytes.fromhex(u["scriptPubKey"]) for u in BIP341["utxosSpent"]]
# BIP 173 vector: P2WPKH of the key hash 751e76e8..., the key that input 2 spends with (P2PKH)
KEY_G_P2WPKH = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
G_COMPRESSED = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")


pytestmark = pytest.mark.usefixtures("impl")  # every test over C and over pure Python

# whether feed_all hands the detector each transaction's txid (set by the fixture below)
TXID_GIVEN = {"on": False}


@pytest.fixture(autouse=True, params=["hashed by the detector", "given as a feed event's"])
def txid_source(request: pytest.FixtureRequest) -> Iterator[None]:
    TXID_GIVEN["on"] = request.param != "hashed by the detector"
    try:
        yield
    finally:
        TXID_GIVEN["on"] = False


def book(*rows: tuple[str, str]) -> AddressBook:
    lines = ["address,entity,label,source", *(f"{a},{e},,test" for a, e in rows)]
    return AddressBook.from_text("\n".join(lines))


def feed_all(detector: WhaleDetector, raws: list[bytes]) -> list[WhaleAlert]:
    alerts: list[WhaleAlert] = []
    for raw in raws:
        alerts.extend(
            detector.feed(
                raw,
                feed="test",
                recv_ns=time.perf_counter_ns(),
                recv_wall_ns=time.time_ns(),
                txid=txid_of(raw) if TXID_GIVEN["on"] else None,
            )
        )
    return alerts


def summary(alerts: list[WhaleAlert]) -> set[tuple[str, str, int, str]]:
    return {(a.kind.value, a.entity, a.value, a.txid) for a in alerts}


@pytest.fixture(scope="module")
def block(block_raw: bytes) -> Block:
    return parse_block(block_raw)


@pytest.fixture(scope="module")
def mempool_raws(block: Block) -> list[bytes]:
    return [tx.serialize() for tx in block.txs[1:]]  # the coinbase never enters a mempool


def tx_by_prefix(block: Block, prefix: str) -> Any:
    (tx,) = [t for t in block.txs if t.txid.startswith(prefix)]
    return tx


# --- the real block with the demo book -----------------------------------------------------


def test_demo_book_on_real_block_fires_one_deposit_at_one_btc(mempool_raws: list[bytes]) -> None:
    alerts = feed_all(WhaleDetector(AddressBook.demo()), mempool_raws)
    # ../shared/data/README.md: 1.62253446 BTC to 184UrCctSTXZEQNE83ewbbNQE5kvKjmSDq
    txid = "e8a4eef8e2a4e528ba49d937f9a28b62bd8aad8e1a3ce0901a58b9eaef825b64"
    assert summary(alerts) == {("deposit", "demo-kraken", 162253446, txid)}
    ((index, value, address),) = [(o.index, o.value, o.address) for o in alerts[0].outputs]
    assert (index, value, address) == (3, 162253446, "184UrCctSTXZEQNE83ewbbNQE5kvKjmSDq")


def test_demo_book_at_quarter_btc_adds_deposits_and_a_batch_withdrawal(
    block: Block, mempool_raws: list[bytes]
) -> None:
    from embit.transaction import Transaction

    alerts = feed_all(WhaleDetector(AddressBook.demo(), threshold_sats=25_000_000), mempool_raws)
    batch = tx_by_prefix(block, "a0a69735")
    # What leaves demo-binance: every output but its two change outputs (0 and 8), per embit.
    leaving = sum(
        o.value for i, o in enumerate(Transaction.parse(batch.serialize()).vout) if i not in (0, 8)
    )
    assert summary(alerts) == {
        ("deposit", "demo-kraken", 162253446, tx_by_prefix(block, "e8a4eef8").txid),
        ("deposit", "demo-coinbase", 50000000, tx_by_prefix(block, "d39e6417").txid),
        ("deposit", "demo-okx", 44007677, tx_by_prefix(block, "014cf678").txid),
        ("deposit", "demo-okx", 40928760, tx_by_prefix(block, "e6707305").txid),
        ("withdrawal", "demo-binance", leaving, batch.txid),
    }
    (withdrawal,) = [a for a in alerts if a.kind is AlertKind.WITHDRAWAL]
    assert [m.index for m in withdrawal.outputs] == [1, 2, 3, 4, 5, 6, 7]
    assert withdrawal.inputs == (0,)


def test_change_output_to_the_spending_address_does_not_fire(block: Block) -> None:
    from embit.ec import PublicKey
    from embit.networks import NETWORKS
    from embit.script import p2wpkh

    # ../shared/data/README.md: 10.82071353 BTC to bc1qgw64... in 6ec0ac0f...; embit shows
    # that an input of that transaction spends with the key of that very address.
    tx = tx_by_prefix(block, "6ec0ac0f")
    spenders = {
        p2wpkh(PublicKey.parse(i.witness[1])).address(NETWORKS["main"])
        for i in tx.inputs
        if len(i.witness) == 2 and len(i.witness[1]) == 33
    }
    assert "bc1qgw64kdhf67803240csrzg480atmkaxp5snq0cm" in spenders
    watched = book(("bc1qgw64kdhf67803240csrzg480atmkaxp5snq0cm", "ex"))
    assert feed_all(WhaleDetector(watched), [tx.serialize()]) == []
    # Lower the threshold: what leaves the address is a withdrawal, never a deposit.
    alerts = feed_all(WhaleDetector(watched, threshold_sats=1), [tx.serialize()])
    assert [(a.kind, a.value) for a in alerts] == [(AlertKind.WITHDRAWAL, tx.outputs[0].value)]


# counted_between: the detector remembers a whale's outpoints when next called (after the
# whale's order went out); the very next transaction must see them, asked for or not
@pytest.mark.parametrize("counted_between", [True, False])
def test_taproot_spend_is_recognised_by_the_outpoint_it_spends(
    block: Block, core_block: dict[str, Any], counted_between: bool
) -> None:
    # 014cf678... pays 0.44007677 BTC to a P2TR address (output 1). A later transaction
    # spending that outpoint reveals no key, but the detector saw the output paid.
    funding = tx_by_prefix(block, "014cf678")
    assert funding.txid in core_block["tx"]
    outpoint = bytes.fromhex(funding.txid)[::-1] + struct.pack("<I", 1)
    other_spk = bytes.fromhex("0014751e76e8199196d454941c45d1b3a323f1433bd6")
    spend = (
        struct.pack("<i", 2)
        + b"\x01"
        + outpoint
        + b"\x00"
        + b"\xfd\xff\xff\xff"
        + b"\x01"
        + struct.pack("<Q", 44_000_000)
        + bytes([len(other_spk)])
        + other_spk
        + b"\x00\x00\x00\x00"
    )
    detector = WhaleDetector(AddressBook.demo(), threshold_sats=25_000_000)
    first = feed_all(detector, [funding.serialize()])
    assert [(a.kind, a.entity) for a in first] == [(AlertKind.DEPOSIT, "demo-okx")]
    if counted_between:
        assert detector.tracked_outpoints == 1
    (alert,) = feed_all(detector, [spend])
    assert (alert.kind, alert.entity, alert.value, alert.inputs) == (
        AlertKind.WITHDRAWAL,
        "demo-okx",
        44_000_000,
        (0,),
    )
    assert [(o.index, o.value, o.address) for o in alert.outputs] == [(0, 44_000_000, KEY_G_P2WPKH)]


def test_tracked_outpoints_are_bounded(block: Block) -> None:
    raws = [tx_by_prefix(block, p).serialize() for p in ("014cf678", "e6707305", "d39e6417")]
    detector = WhaleDetector(AddressBook.demo(), max_tracked_outpoints=2)
    feed_all(detector, raws)
    assert detector.tracked_outpoints == 2


# --- inputs recognised by key (BIP 341 vector transaction) ---------------------------------


def test_p2pkh_and_p2wpkh_spenders_are_invisible_without_watched_outputs_by_default() -> None:
    watched = book((KEY_G_P2WPKH, "ex-a"), (script_to_address(SPENT[5]) or "", "ex-b"))
    assert feed_all(WhaleDetector(watched), [SIGNED]) == []


def test_inspect_all_inputs_recognises_p2pkh_and_p2wpkh_spenders() -> None:
    # utxosSpent[2] is P2PKH of key hash 751e76e8... (listed as its P2WPKH address: the same
    # key), utxosSpent[5] is P2WPKH; both leave with all 1e9 + 3.41e9 sat.
    watched = book((KEY_G_P2WPKH, "ex-a"), (script_to_address(SPENT[5]) or "", "ex-b"))
    alerts = feed_all(WhaleDetector(watched, inspect_all_inputs=True), [SIGNED])
    assert {(a.kind, a.entity, a.value, a.inputs) for a in alerts} == {
        (AlertKind.WITHDRAWAL, "ex-a", 4_410_000_000, (2,)),
        (AlertKind.WITHDRAWAL, "ex-b", 4_410_000_000, (5,)),
    }


def test_output_back_to_the_spending_entity_is_change_not_deposit() -> None:
    out0 = script_to_address(parse_tx(SIGNED).outputs[0].script_pubkey)
    assert out0 is not None
    watched = book((KEY_G_P2WPKH, "ex-a"), (out0, "ex-a"))
    (alert,) = feed_all(WhaleDetector(watched), [SIGNED])
    assert (alert.kind, alert.entity, alert.value) == (AlertKind.WITHDRAWAL, "ex-a", 3_410_000_000)
    # non-standard script: no address
    assert [(o.index, o.value, o.address) for o in alert.outputs] == [(1, 3_410_000_000, None)]


def test_exchange_to_exchange_is_a_deposit_and_a_withdrawal() -> None:
    out0 = script_to_address(parse_tx(SIGNED).outputs[0].script_pubkey)
    assert out0 is not None
    watched = book((KEY_G_P2WPKH, "ex-a"), (out0, "ex-c"))
    alerts = feed_all(WhaleDetector(watched), [SIGNED])
    assert {(a.kind, a.entity, a.value) for a in alerts} == {
        (AlertKind.DEPOSIT, "ex-c", 1_000_000_000),
        (AlertKind.WITHDRAWAL, "ex-a", 4_410_000_000),
    }


# --- thresholds, alert fields, errors ------------------------------------------------------


def test_per_entity_threshold_overrides_default(mempool_raws: list[bytes]) -> None:
    detector = WhaleDetector(AddressBook.demo(), thresholds={"demo-kraken": 200_000_000})
    assert feed_all(detector, mempool_raws) == []
    assert detector.threshold("demo-kraken") == 200_000_000
    assert detector.threshold("demo-okx") == 100_000_000


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"thresholds": {"demo-nobody": 5}}, "not in the address book: demo-nobody"),
        ({"thresholds": {"demo-okx": 0}}, "positive: demo-okx"),
        ({"threshold_sats": -1}, "positive: default"),
    ],
)
def test_bad_thresholds_are_refused(kwargs: dict[str, Any], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        WhaleDetector(AddressBook.demo(), **kwargs)


def test_alert_carries_feed_and_timestamps(block: Block) -> None:
    raw = tx_by_prefix(block, "e8a4eef8").serialize()
    recv = time.perf_counter_ns()
    (alert,) = WhaleDetector(AddressBook.demo()).feed(
        raw, feed="zmq", recv_ns=recv, recv_wall_ns=1_780_112_431_000_000_000
    )
    assert (alert.feed, alert.recv_ns, alert.recv_wall_ns) == (
        "zmq",
        recv,
        1_780_112_431_000_000_000,
    )
    assert alert.detect_ns >= recv and alert.latency_ns == alert.detect_ns - recv
    with pytest.raises(AttributeError):
        alert.value = 0  # type: ignore[misc]


def test_unwatched_transaction_gives_no_alert_object(block: Block) -> None:
    assert (
        WhaleDetector(AddressBook.demo()).feed(
            block.txs[5].serialize(), feed="t", recv_ns=0, recv_wall_ns=0
        )
        == ()
    )


def test_malformed_transaction_raises_tx_parse_error(block: Block) -> None:
    raw = tx_by_prefix(block, "e8a4eef8").serialize()
    with pytest.raises(TxParseError):
        WhaleDetector(AddressBook.demo()).feed(raw[:60], feed="t", recv_ns=0, recv_wall_ns=0)


# --- script helpers ------------------------------------------------------------------------


def test_hash160_of_generator_key_is_bip173_program() -> None:
    # BIP 173's first vector encodes 751e76e8..., HASH160 of the compressed generator point.
    assert hash160(G_COMPRESSED).hex() == "751e76e8199196d454941c45d1b3a323f1433bd6"


def test_last_push_of_p2pkh_script_sig_is_the_public_key() -> None:
    assert last_push(parse_tx(SIGNED).inputs[2].script_sig) == G_COMPRESSED


@pytest.mark.parametrize(
    ("script_hex", "expected"),
    [
        ("", None),
        ("00", ""),
        ("4c03aabbcc", "aabbcc"),
        ("4d0300aabbcc", "aabbcc"),
        ("4e03000000aabbcc", "aabbcc"),
        ("02aabb51", ""),  # OP_1 last
        ("02aabbac", None),  # OP_CHECKSIG: not push-only
        ("05aabb", None),  # truncated push
        ("4c", None),  # truncated OP_PUSHDATA1
    ],
)
def test_last_push_table(script_hex: str, expected: str | None) -> None:
    got = last_push(bytes.fromhex(script_hex))
    assert (got.hex() if got is not None else None) == expected


# RIPEMD-160 test vectors published by the algorithm's authors
# (homes.esat.kuleuven.be/~bosselae/ripemd160.html)
RIPEMD160_VECTORS = [
    (b"", "9c1185a5c5e9fc54612808977ee8f548b2258d31"),
    (b"a", "0bdc9d2d256b3ee9daae347be6f4dc835a467ffe"),
    (b"abc", "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"),
    (b"message digest", "5d0689ef49d2fae572b881b123a85ffa21595f36"),
    (b"abcdefghijklmnopqrstuvwxyz", "f71c27109c692c1b56bbdceb5b9d2865b3708dbc"),
    (
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "12a053384a9c0c88e405a06c27dcf49ada62eb2b",
    ),
    (
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "b0e20b6e3116640286ed3a87a5713079b21f5189",
    ),
    (b"1234567890" * 8, "9b752e45573d4b39f4dbd3323cab82bf63326bfb"),
]


@pytest.mark.parametrize(("message", "digest"), RIPEMD160_VECTORS)
def test_pure_python_ripemd160_matches_published_vectors(message: bytes, digest: str) -> None:
    assert ripemd160_py(message).hex() == digest


@pytest.mark.parametrize("size", [55, 56, 63, 64, 65, 119, 120, 1000])
def test_pure_python_ripemd160_at_padding_boundaries_matches_hashlib(size: int) -> None:
    import hashlib

    message = bytes(range(256)) * 4
    try:
        expected = hashlib.new("ripemd160", message[:size]).digest()
    except ValueError:
        pytest.skip("this OpenSSL build has no RIPEMD-160")
    assert ripemd160_py(message[:size]) == expected


# --- rehearsal: the hot path run on a shadow whale, nothing remembered ----------------------


def test_rehearse_alerts_the_first_entity_at_its_threshold_and_remembers_nothing() -> None:
    detector = WhaleDetector(AddressBook.demo(), thresholds={"demo-binance": 7 * SATS_PER_BTC})
    first = next(iter(AddressBook.demo().watch.values()))
    alert = detector.rehearse()
    assert alert is not None
    assert (alert.kind, alert.entity, alert.value, alert.feed) == (
        AlertKind.DEPOSIT,
        first.entity,
        detector.threshold(first.entity),
        "rehearsal",
    )
    assert [(o.index, o.script_pubkey) for o in alert.outputs] == [(0, first.script_pubkey)]
    # the shadow is a well-formed transaction whose txid the alert carries
    assert alert.txid == parse_tx(detector._shadow or b"").txid
    assert detector.tracked_outpoints == 0


def test_rehearsals_between_transactions_change_no_real_alert(mempool_raws: list[bytes]) -> None:
    plain = WhaleDetector(AddressBook.demo(), threshold_sats=25_000_000, max_tracked_outpoints=3)
    rehearsed = WhaleDetector(
        AddressBook.demo(), threshold_sats=25_000_000, max_tracked_outpoints=3
    )
    expected = summary(feed_all(plain, mempool_raws))
    got = []
    for raw in mempool_raws:
        rehearsed.rehearse()
        got.extend(feed_all(rehearsed, [raw]))
    assert summary(got) == expected
    assert rehearsed.tracked_outpoints == plain.tracked_outpoints
    assert rehearsed._spent == plain._spent  # nothing evicted, nothing added


def test_rehearse_with_an_empty_book_does_nothing() -> None:
    assert WhaleDetector(book()).rehearse() is None


# --- the txid given (a feed event's) against the txid hashed here --------------------------


def detected(alerts: tuple[WhaleAlert, ...]) -> list[tuple[Any, ...]]:
    """What an alert says, without its timestamps."""
    return [
        (a.txid, a.kind, a.entity, a.value, [(o.index, o.value) for o in a.outputs], a.inputs)
        for a in alerts
    ]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_given_txid_changes_no_alert_and_no_remembered_outpoint(
    block: Block, mempool_raws: list[bytes], data: st.DataObject
) -> None:
    # whales, the taproot whale's spend and ordinary transactions in any order, some with one
    # byte changed: fed with the txid a feed event carries (computed from the bytes) and
    # without it, the detectors must agree on every alert and on what they remember
    funding = tx_by_prefix(block, "014cf678")
    outpoint = bytes.fromhex(funding.txid)[::-1] + struct.pack("<I", 1)
    spend = (
        struct.pack("<i", 2) + b"\x01" + outpoint + b"\x00\xfd\xff\xff\xff\x01"
        + struct.pack("<Q", 44_000_000) + b"\x16\x00\x14" + bytes(20) + bytes(4)
    )  # fmt: skip
    whales = [tx_by_prefix(block, p).serialize() for p in ("e8a4eef8", "d39e6417", "e6707305")]
    pool = [*whales, funding.serialize(), spend, *mempool_raws[:20]]
    raws = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=12))
    given_id, hashed = (
        WhaleDetector(AddressBook.demo(), threshold_sats=25_000_000, max_tracked_outpoints=4)
        for _ in range(2)
    )
    alerted = 0
    for drawn in raws:
        raw = drawn
        if data.draw(st.booleans()):
            at = data.draw(st.integers(0, len(raw) - 1))
            raw = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :]
        try:
            txid = txid_of(raw)
        except TxParseError:
            continue  # no feed event carries these bytes
        ours = given_id.feed(raw, feed="t", recv_ns=0, recv_wall_ns=0, txid=txid)
        ref = hashed.feed(raw, feed="t", recv_ns=0, recv_wall_ns=0)
        assert detected(ours) == detected(ref)
        assert all(a.txid == txid for a in ours)
        alerted += len(ours)
    event("alerts: " + (str(alerted) if alerted < 3 else "3+"))
    assert given_id.tracked_outpoints == hashed.tracked_outpoints
    assert given_id._spent == hashed._spent


# --- hand-built transactions: multi-output deposits, legacy and nested spends --------------
# Built byte by byte in the BIP 144 layout (no code under test involved); the watched
# addresses are BIP 173's vectors and embit's encodings of scripts over the generator key G.
# The txid each alert must carry is embit's.

P2PKH_G = "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"  # HASH160(G) = 751e76e8... as P2PKH
P2SH_P2WPKH_G = "3JvL6Ymt8MVWiCNHC7oWU6nLeHNJKLZGLN"  # BIP 141 nested P2WPKH of G
# BIP 173: P2WSH of the script <G> OP_CHECKSIG (21 <G> ac)
P2PK_G = bytes.fromhex("21") + G_COMPRESSED + bytes.fromhex("ac")
P2WSH_P2PK_G = "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"
# a 1-of-1 bare multisig redeem script over G (OP_1 <G> OP_1 OP_CHECKMULTISIG), its P2SH
MULTI_G = bytes.fromhex("5121") + G_COMPRESSED + bytes.fromhex("51ae")
P2SH_MULTI_G = "3DicS6C8JZm59RsrgXr56iVHzYdQngiehV"  # embit's P2SH of MULTI_G
SIG = bytes.fromhex("30") * 71  # any 71 bytes stand for a DER signature
# output scripts of addresses no test book watches
ELSEWHERE = bytes.fromhex("0014") + bytes(range(20))
ELSEWHERE2 = bytes.fromhex("a914") + bytes(range(20, 40)) + bytes.fromhex("87")


def varint(n: int) -> bytes:
    return bytes([n]) if n < 0xFD else b"\xfd" + n.to_bytes(2, "little")


def push(data: bytes) -> bytes:
    """A minimal push of ``data`` (direct up to 75 bytes, else OP_PUSHDATA1)."""
    return (varint(len(data)) if len(data) <= 75 else b"\x4c" + bytes([len(data)])) + data


def outpoint(n: int) -> bytes:
    return bytes([n]) * 32 + (n).to_bytes(4, "little")


def raw_tx(
    inputs: list[tuple[bytes, bytes, list[bytes]]], outputs: list[tuple[int, bytes]]
) -> bytes:
    """Serialise a version-2 transaction: inputs as (outpoint, scriptSig, witness)."""
    segwit = any(w for _, _, w in inputs)
    out = (2).to_bytes(4, "little") + (b"\x00\x01" if segwit else b"")
    out += varint(len(inputs))
    for prev, script_sig, _ in inputs:
        out += prev + varint(len(script_sig)) + script_sig + b"\xff\xff\xff\xff"
    out += varint(len(outputs))
    for value, spk in outputs:
        out += value.to_bytes(8, "little") + varint(len(spk)) + spk
    if segwit:
        for _, _, witness in inputs:
            out += varint(len(witness)) + b"".join(varint(len(w)) + w for w in witness)
    return out + bytes(4)


def embit_txid(raw: bytes) -> str:
    from embit.transaction import Transaction

    return str(Transaction.parse(raw).txid().hex())


def spk_of(address: str) -> bytes:
    from embit.script import address_to_scriptpubkey

    return bytes(address_to_scriptpubkey(address).data)


def test_embit_agrees_with_the_hand_built_scripts() -> None:
    from embit.ec import PublicKey
    from embit.networks import NETWORKS
    from embit.script import Script, p2pkh, p2sh, p2wpkh, p2wsh

    g, main = PublicKey.parse(G_COMPRESSED), NETWORKS["main"]
    assert p2pkh(g).address(main) == P2PKH_G
    assert p2sh(p2wpkh(g)).address(main) == P2SH_P2WPKH_G
    assert p2wsh(Script(P2PK_G)).address(main) == P2WSH_P2PK_G
    assert p2sh(Script(MULTI_G)).address(main) == P2SH_MULTI_G


def test_two_watched_outputs_of_one_entity_add_up_to_a_deposit() -> None:
    # 0.6 + 0.5 BTC to two addresses of "ex": neither reaches 1 BTC, together they do
    watched = book((KEY_G_P2WPKH, "ex"), (P2PKH_G, "ex"))
    raw = raw_tx(
        [(outpoint(1), b"", [SIG, bytes([2]) + bytes(32)])],
        [(60_000_000, spk_of(KEY_G_P2WPKH)), (7, ELSEWHERE), (50_000_000, spk_of(P2PKH_G))],
    )
    (alert,) = feed_all(WhaleDetector(watched), [raw])
    assert (alert.kind, alert.entity, alert.value, alert.txid) == (
        AlertKind.DEPOSIT,
        "ex",
        110_000_000,
        embit_txid(raw),
    )
    assert [(o.index, o.value, o.address) for o in alert.outputs] == [
        (0, 60_000_000, KEY_G_P2WPKH),
        (2, 50_000_000, P2PKH_G),
    ]


def test_two_watched_outputs_below_the_threshold_together_give_no_alert() -> None:
    watched = book((KEY_G_P2WPKH, "ex"), (P2PKH_G, "ex"))
    raw = raw_tx(
        [(outpoint(1), b"", [SIG, bytes([2]) + bytes(32)])],
        [(60_000_000, spk_of(KEY_G_P2WPKH)), (39_999_999, spk_of(P2PKH_G))],
    )
    assert feed_all(WhaleDetector(watched), [raw]) == []
    # one satoshi more is exactly the threshold: it fires
    raw = raw_tx(
        [(outpoint(1), b"", [SIG, bytes([2]) + bytes(32)])],
        [(60_000_000, spk_of(KEY_G_P2WPKH)), (40_000_000, spk_of(P2PKH_G))],
    )
    (alert,) = feed_all(WhaleDetector(watched), [raw])
    assert alert.value == SATS_PER_BTC


def test_a_single_watched_output_exactly_at_the_threshold_fires_and_one_below_does_not() -> None:
    watched = book((KEY_G_P2WPKH, "ex"))
    spend = (outpoint(3), b"", [SIG, bytes([3]) + bytes(32)])
    at = raw_tx([spend], [(SATS_PER_BTC, spk_of(KEY_G_P2WPKH))])
    below = raw_tx([spend], [(SATS_PER_BTC - 1, spk_of(KEY_G_P2WPKH))])
    assert [a.value for a in feed_all(WhaleDetector(watched), [below, at])] == [SATS_PER_BTC]


def test_two_entities_paid_in_one_transaction_give_one_deposit_each() -> None:
    watched = book((KEY_G_P2WPKH, "ex-a"), (P2PKH_G, "ex-b"), (P2WSH_P2PK_G, "ex-a"))
    raw = raw_tx(
        [(outpoint(2), b"", [SIG, bytes([2]) + bytes(32)])],
        [
            (70_000_000, spk_of(KEY_G_P2WPKH)),
            (150_000_000, spk_of(P2PKH_G)),
            (30_000_000, spk_of(P2WSH_P2PK_G)),
        ],
    )
    alerts = feed_all(WhaleDetector(watched), [raw])
    assert sorted((a.entity, a.value, [o.index for o in a.outputs]) for a in alerts) == [
        ("ex-a", 100_000_000, [0, 2]),
        ("ex-b", 150_000_000, [1]),
    ]


# (watched address, scriptSig, witness) of an input that reveals the watched script
SPENDS = {
    # P2PKH: <sig> <G>; the key's HASH160 is in the watched P2PKH script
    "p2pkh": (P2PKH_G, push(SIG) + push(G_COMPRESSED), []),
    # P2SH: OP_0 <sig> <redeem script>; HASH160 of the redeem script
    "p2sh": (P2SH_MULTI_G, b"\x00" + push(SIG) + push(MULTI_G), []),
    # P2WSH with a two-item witness: <sig> <witness script>; SHA256 of the script
    "p2wsh": (P2WSH_P2PK_G, b"", [SIG, P2PK_G]),
    # P2SH-P2WPKH: scriptSig pushes the 22-byte program 0014<HASH160(G)>, witness <sig> <G>
    "p2sh-p2wpkh": (
        P2SH_P2WPKH_G,
        push(bytes.fromhex("0014751e76e8199196d454941c45d1b3a323f1433bd6")),
        [SIG, G_COMPRESSED],
    ),
}


@pytest.mark.parametrize("name", sorted(SPENDS))
def test_withdrawal_is_recognised_from_the_key_or_script_an_input_reveals(name: str) -> None:
    address, script_sig, witness = SPENDS[name]
    raw = raw_tx(
        [(outpoint(9), b"", [SIG, bytes([2]) + bytes(32)]), (outpoint(5), script_sig, witness)],
        [(120_000_000, ELSEWHERE), (80_000_000, ELSEWHERE2)],
    )
    detector = WhaleDetector(book((address, "ex")), inspect_all_inputs=True)
    (alert,) = feed_all(detector, [raw])
    assert (alert.kind, alert.entity, alert.value, alert.inputs, alert.txid) == (
        AlertKind.WITHDRAWAL,
        "ex",
        200_000_000,
        (1,),
        embit_txid(raw),
    )
    assert [(o.index, o.value) for o in alert.outputs] == [(0, 120_000_000), (1, 80_000_000)]


@pytest.mark.parametrize("name", sorted(SPENDS))
def test_revealed_spender_turns_a_payment_to_itself_into_change_by_default(name: str) -> None:
    # without inspect_all_inputs, inputs are read because an output pays the watched script:
    # the entity paying itself 2 BTC is change, and the 0.5 BTC sent elsewhere is below 1 BTC
    address, script_sig, witness = SPENDS[name]
    raw = raw_tx(
        [(outpoint(5), script_sig, witness)],
        [(200_000_000, spk_of(address)), (50_000_000, ELSEWHERE)],
    )
    assert feed_all(WhaleDetector(book((address, "ex"))), [raw]) == []
    (alert,) = feed_all(WhaleDetector(book((address, "ex")), threshold_sats=50_000_000), [raw])
    assert (alert.kind, alert.value, [o.index for o in alert.outputs]) == (
        AlertKind.WITHDRAWAL,
        50_000_000,
        [1],
    )


@pytest.mark.parametrize(
    ("label", "witness"),
    [
        ("one item: no script and signature", [P2PK_G]),
        ("three items", [b"", SIG, P2PK_G]),
    ],
)
def test_p2wsh_witness_script_is_the_last_item_whatever_the_count(
    label: str, witness: list[bytes]
) -> None:
    raw = raw_tx([(outpoint(5), b"", witness)], [(150_000_000, ELSEWHERE)])
    detector = WhaleDetector(book((P2WSH_P2PK_G, "ex")), inspect_all_inputs=True)
    alerts = feed_all(detector, [raw])
    # BIP 141: a P2WSH spend carries at least the witness script; with one item nothing else
    if len(witness) >= 2:
        assert [(a.kind, a.inputs) for a in alerts] == [(AlertKind.WITHDRAWAL, (0,))]
    else:
        assert alerts == []


# scriptSigs ending in a push of MULTI_G (recognised as its P2SH) or malformed around it
_REDEEM = push(MULTI_G)
SCRIPT_SIG_SHAPES = [
    ("pushdata1", b"\x4c" + bytes([len(MULTI_G)]) + MULTI_G, True),
    ("pushdata2", b"\x4d" + len(MULTI_G).to_bytes(2, "little") + MULTI_G, True),
    ("pushdata4", b"\x4e" + len(MULTI_G).to_bytes(4, "little") + MULTI_G, True),
    ("OP_1NEGATE first", b"\x4f" + _REDEEM, True),
    ("OP_16 first", b"\x60" + _REDEEM, True),
    ("OP_0 first", b"\x00" + _REDEEM, True),
    ("75-byte push first", push(bytes(75)) + _REDEEM, True),
    ("OP_1NEGATE last", _REDEEM + b"\x4f", False),
    ("OP_16 last", _REDEEM + b"\x60", False),
    ("OP_NOP first: not push-only", b"\x61" + _REDEEM, False),
    ("OP_RESERVED first: not push-only", b"\x50" + _REDEEM, False),
    ("truncated push", _REDEEM[:-1], False),
    ("truncated pushdata2 length", _REDEEM + b"\x4d\x01", False),
    ("truncated pushdata4 length", _REDEEM + b"\x4e\x01\x00\x00", False),
]


@pytest.mark.parametrize(
    ("script_sig", "recognised"),
    [(s, r) for _, s, r in SCRIPT_SIG_SHAPES],
    ids=[label for label, _, _ in SCRIPT_SIG_SHAPES],
)
def test_p2sh_spender_is_recognised_only_from_a_push_only_script_ending_in_the_redeem_script(
    script_sig: bytes, recognised: bool
) -> None:
    raw = raw_tx([(outpoint(4), script_sig, [])], [(300_000_000, ELSEWHERE)])
    detector = WhaleDetector(book((P2SH_MULTI_G, "ex")), inspect_all_inputs=True)
    alerts = feed_all(detector, [raw])
    assert [(a.kind, a.value) for a in alerts] == (
        [(AlertKind.WITHDRAWAL, 300_000_000)] if recognised else []
    )


@pytest.mark.parametrize(
    ("script_hex", "expected"),
    [
        ("4b" + "ab" * 75, "ab" * 75),  # 75 = 0x4b: the largest direct push
        ("4b" + "ab" * 74, None),  # one byte short
        ("4f", ""),  # OP_1NEGATE pushes a number, not data
        ("60", ""),  # OP_16
        ("50", None),  # OP_RESERVED is not a push
        ("61", None),  # OP_NOP
        ("01aa4f", ""),  # the last push wins, even a number
        ("4f01aa", "aa"),
        ("6001aa", "aa"),
        ("4c05aabb", None),  # OP_PUSHDATA1 longer than the script
        ("4d01", None),  # truncated OP_PUSHDATA2 length
        ("4d0100", None),  # OP_PUSHDATA2 of one byte, byte missing
        ("4d0100cc", "cc"),
        ("4e010000", None),  # truncated OP_PUSHDATA4 length
        ("4e01000000", None),
        ("4e01000000cc", "cc"),
        ("4c00", ""),  # OP_PUSHDATA1 of nothing
        ("01aa02bbcc", "bbcc"),
    ],
)
def test_last_push_edges(script_hex: str, expected: str | None) -> None:
    got = last_push(bytes.fromhex(script_hex))
    assert (got.hex() if got is not None else None) == expected


# --- cases the mutation run found unpinned (python -m mutation whales) ---------------------

# BIP 350 witness v1 outputs whose programs are 20 and 21 bytes: valid, not P2WPKH nor P2SH
# (encoded with embit's bech32m; the programs are HASH160(G) and HASH160(MULTI_G) || 00)
V1_KEY_HASH = "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kj9wkru"
V1_SCRIPT_HASH_PLUS_ONE = "bc1ps0htklte4gwn3r3mptr9hx9vtqxymgq6qq7ywpu3"
# 25 bytes like P2PKH, a 23-byte v1 program 00 || HASH160(G) || 0000
V1_25_BYTES = "bc1pqp63uahgrxged4z5jswyt5dn5v3lzsem6cqqqpfdzjq"


def test_embit_agrees_with_the_witness_v1_addresses() -> None:
    from embit import bech32
    from embit.hashes import hash160 as embit_hash160

    assert bech32.encode("bc", 1, embit_hash160(G_COMPRESSED)) == V1_KEY_HASH
    assert bech32.encode("bc", 1, embit_hash160(MULTI_G) + b"\x00") == V1_SCRIPT_HASH_PLUS_ONE
    assert bech32.encode("bc", 1, b"\x00" + embit_hash160(G_COMPRESSED) + bytes(2)) == V1_25_BYTES


@pytest.mark.parametrize(
    ("watched", "spend"),
    [
        (V1_KEY_HASH, "p2pkh"),  # the key's hash is the v1 program, yet no P2WPKH is watched
        (V1_SCRIPT_HASH_PLUS_ONE, "p2sh"),  # 20 of its 21 bytes hash the redeem script
        (V1_25_BYTES, "p2pkh"),  # as long as a P2PKH script, bytes 3..23 the key's hash
    ],
)
def test_a_witness_v1_output_is_not_recognised_from_a_key_or_redeem_script(
    watched: str, spend: str
) -> None:
    _, script_sig, witness = SPENDS[spend]
    raw = raw_tx([(outpoint(7), script_sig, witness)], [(300_000_000, ELSEWHERE)])
    detector = WhaleDetector(book((watched, "ex")), inspect_all_inputs=True)
    assert feed_all(detector, [raw]) == []


def test_one_entity_paying_itself_does_not_hide_another_entitys_deposit() -> None:
    # outputs: 0.1 BTC of change back to ex-a (listed first), 2 BTC to ex-b; ex-a's key
    # signs the input: ex-a withdraws the 2 BTC, ex-b receives them
    address_a, script_sig, witness = SPENDS["p2pkh"]
    watched = book((address_a, "ex-a"), (P2WSH_P2PK_G, "ex-b"))
    raw = raw_tx(
        [(outpoint(6), script_sig, witness)],
        [(10_000_000, spk_of(address_a)), (200_000_000, spk_of(P2WSH_P2PK_G))],
    )
    alerts = feed_all(WhaleDetector(watched), [raw])
    assert sorted((a.kind.value, a.entity, a.value) for a in alerts) == [
        ("deposit", "ex-b", 200_000_000),
        ("withdrawal", "ex-a", 200_000_000),
    ]


def test_an_entity_below_its_threshold_does_not_hide_the_next_entitys_deposit() -> None:
    # outputs: 0.5 BTC to ex-a (listed first, under its 1 BTC), 2 BTC to ex-b
    watched = book((KEY_G_P2WPKH, "ex-a"), (P2PKH_G, "ex-b"))
    raw = raw_tx(
        [(outpoint(8), b"", [SIG, bytes([2]) + bytes(32)])],
        [(50_000_000, spk_of(KEY_G_P2WPKH)), (200_000_000, spk_of(P2PKH_G))],
    )
    alerts = feed_all(WhaleDetector(watched), [raw])
    assert [(a.kind, a.entity, a.value) for a in alerts] == [
        (AlertKind.DEPOSIT, "ex-b", 200_000_000)
    ]


def test_matched_outputs_are_immutable() -> None:
    watched = book((KEY_G_P2WPKH, "ex"))
    raw = raw_tx([(outpoint(3), b"", [SIG, bytes(33)])], [(SATS_PER_BTC, spk_of(KEY_G_P2WPKH))])
    ((output,),) = [a.outputs for a in feed_all(WhaleDetector(watched), [raw])]
    with pytest.raises(AttributeError):
        output.value = 0  # type: ignore[misc]


def test_each_run_uses_the_walks_it_asked_for(impl: str) -> None:
    # a "python" run that silently used C (or the reverse) would test the wrong walks
    from whalewire.mempool import whales

    assert whales.SPEEDUPS is (impl == "c")
    assert (whales._c_scan_tx is None) is (impl == "python")


def test_the_oldest_tracked_outpoint_is_dropped_first() -> None:
    # two whales to the same address, one outpoint remembered: the second whale's stays,
    # so a later spend of it (no key revealed: recognised by outpoint only) is a withdrawal
    watched = book((KEY_G_P2WPKH, "ex"))
    first = raw_tx([(outpoint(1), b"", [SIG, bytes(33)])], [(150_000_000, spk_of(KEY_G_P2WPKH))])
    second = raw_tx([(outpoint(2), b"", [SIG, bytes(33)])], [(160_000_000, spk_of(KEY_G_P2WPKH))])

    def spending(funding: bytes) -> bytes:
        prev = bytes.fromhex(embit_txid(funding))[::-1] + bytes(4)
        return raw_tx([(prev, b"\x00", [])], [(140_000_000, ELSEWHERE)])

    detector = WhaleDetector(watched, max_tracked_outpoints=1)
    assert [a.kind for a in feed_all(detector, [first, second])] == [AlertKind.DEPOSIT] * 2
    assert feed_all(detector, [spending(first)]) == []
    (alert,) = feed_all(detector, [spending(second)])
    assert (alert.kind, alert.value, alert.inputs) == (AlertKind.WITHDRAWAL, 140_000_000, (0,))


@pytest.mark.parametrize(
    ("script_hex", "expected"),
    [
        ("4e00000000", ""),  # OP_PUSHDATA4 of nothing: the length ends the script
        ("4d0000", ""),  # OP_PUSHDATA2 of nothing
        ("4c01", None),  # OP_PUSHDATA1 of one byte, byte missing
    ],
)
def test_last_push_of_an_empty_pushdata_at_the_end(script_hex: str, expected: str | None) -> None:
    got = last_push(bytes.fromhex(script_hex))
    assert (got.hex() if got is not None else None) == expected

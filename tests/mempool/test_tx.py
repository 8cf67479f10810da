"""Tests for ``whalewire.mempool.tx``: Bitcoin transaction serialisation (Bitcoin Core
``primitives/transaction.h``; BIP 141 txid/wtxid and weight; BIP 144 segwit serialisation).

Expected values come from outside our code: Bitcoin Core's ``getblock`` JSON for mainnet
block 951,658 (hash, header, sizes, every txid), the block's own witness commitment (BIP 141:
it commits to every wtxid), the BIP 341 wallet test vectors, and embit (an independent
parser) for every output's value and scriptPubKey.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whalewire.mempool.tx import (
    Block,
    TxParseError,
    dsha256,
    parse_block,
    parse_tx,
    scan_outputs,
    scan_tx,
    tx_span,
    txid_of,
)

DATA = Path(__file__).parent / "data"

# --- helpers -------------------------------------------------------------------------------


def compact(n: int) -> bytes:
    """Serialise a compact size (Bitcoin Core serialize.h WriteCompactSize)."""
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", n)
    return b"\xff" + struct.pack("<Q", n)


def legacy_tx(n_in: int = 1, n_out: int = 1, script: bytes = b"\x51") -> bytes:
    ins = b"".join(
        bytes([i]) * 32 + struct.pack("<I", i) + compact(1) + b"\x00" + b"\xff" * 4
        for i in range(n_in)
    )
    outs = b"".join(
        struct.pack("<Q", 1000 + i) + compact(len(script)) + script for i in range(n_out)
    )
    return struct.pack("<i", 2) + compact(n_in) + ins + compact(n_out) + outs + b"\x00" * 4


@pytest.fixture(scope="module")
def block(block_raw: bytes) -> Block:
    return parse_block(block_raw)


# --- BIP 341 wallet vectors (bip-0341/wallet-test-vectors.json, keyPathSpending[0]) ---------
# Source: github.com/bitcoin/bips bip-0341/wallet-test-vectors.json (also Bitcoin Core
# src/test/data/bip341_wallet_vectors.json). "intermediary" holds the single-SHA256 hashes of
# the serialised prevouts, sequences and outputs: independent checks of every parsed field.
BIP341 = json.loads((DATA / "bip341_keypath_spending.json").read_text())
BIP341_UNSIGNED: str = BIP341["rawUnsignedTx"]
BIP341_SIGNED: str = BIP341["fullySignedTx"]
BIP341_HASH_PREVOUTS: str = BIP341["intermediary"]["hashPrevouts"]
BIP341_HASH_SEQUENCES: str = BIP341["intermediary"]["hashSequences"]
BIP341_HASH_OUTPUTS: str = BIP341["intermediary"]["hashOutputs"]
# inputSpending[8].expected.witness: the last input's key-path signature
BIP341_LAST_WITNESS: str = BIP341["lastInputWitness"]


def _bip341_hashes(raw_hex: str) -> tuple[str, str, str]:
    tx = parse_tx(bytes.fromhex(raw_hex))
    prevouts = b"".join(i.prevout for i in tx.inputs)
    seqs = b"".join(struct.pack("<I", i.sequence) for i in tx.inputs)
    outs = b"".join(
        struct.pack("<Q", o.value) + compact(len(o.script_pubkey)) + o.script_pubkey
        for o in tx.outputs
    )
    return tuple(hashlib.sha256(x).hexdigest() for x in (prevouts, seqs, outs))  # type: ignore[return-value]


def test_bip341_unsigned_tx_fields_match_published_hashes() -> None:
    assert _bip341_hashes(BIP341_UNSIGNED) == (
        BIP341_HASH_PREVOUTS,
        BIP341_HASH_SEQUENCES,
        BIP341_HASH_OUTPUTS,
    )


def test_bip341_signed_tx_fields_match_published_hashes() -> None:
    assert _bip341_hashes(BIP341_SIGNED) == (
        BIP341_HASH_PREVOUTS,
        BIP341_HASH_SEQUENCES,
        BIP341_HASH_OUTPUTS,
    )


def test_bip341_signed_tx_reads_witness_scriptsig_and_locktime() -> None:
    tx = parse_tx(bytes.fromhex(BIP341_SIGNED))
    assert tx.is_segwit and len(tx.inputs) == 9 and len(tx.outputs) == 2
    assert tx.inputs[8].witness == (bytes.fromhex(BIP341_LAST_WITNESS),)
    # input 2 spends the P2PKH utxo: <sig> <pubkey G> in its scriptSig, and no witness
    assert tx.inputs[2].witness == ()
    assert tx.inputs[2].script_sig.endswith(
        bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
    )
    # input 5 spends the P2WPKH utxo: witness <sig> <pubkey>
    assert len(tx.inputs[5].witness) == 2 and len(tx.inputs[5].witness[1]) == 33
    assert tx.locktime == 0x1DCD6500
    assert tx.outputs[0].value == 1_000_000_000


def test_bip341_unsigned_tx_is_legacy_and_wtxid_equals_txid() -> None:
    tx = parse_tx(bytes.fromhex(BIP341_UNSIGNED))
    assert not tx.is_segwit
    assert tx.wtxid == tx.txid == dsha256(bytes.fromhex(BIP341_UNSIGNED))[::-1].hex()


# --- the real block against Bitcoin Core ---------------------------------------------------


def test_block_hash_and_header_equal_cores(block: Block, core_block: dict[str, Any]) -> None:
    assert block.hash == core_block["hash"]
    assert block.prev_hash_hex == core_block["previousblockhash"]
    assert block.merkle_root[::-1].hex() == core_block["merkleroot"]
    assert block.version == core_block["version"]
    assert block.time == core_block["time"]
    assert block.nonce == core_block["nonce"]
    assert f"{block.bits:08x}" == core_block["bits"]


def test_every_txid_equals_cores(block: Block, core_block: dict[str, Any]) -> None:
    assert len(block.txs) == core_block["nTx"] == 374
    assert [tx.txid for tx in block.txs] == core_block["tx"]


def test_merkle_root_of_our_txids_equals_header(block: Block, core_block: dict[str, Any]) -> None:
    assert block.compute_merkle_root()[::-1].hex() == core_block["merkleroot"]


def test_sizes_and_weight_equal_cores(block: Block, core_block: dict[str, Any]) -> None:
    header_and_count = 80 + len(compact(len(block.txs)))
    assert header_and_count + sum(tx.size for tx in block.txs) == core_block["size"]
    assert (
        header_and_count + sum(tx.stripped_size for tx in block.txs) == core_block["strippedsize"]
    )
    assert 4 * header_and_count + sum(tx.weight for tx in block.txs) == core_block["weight"]


def test_segwit_count_is_369(block: Block) -> None:
    # ../shared/data/README.md: 374 transactions, 369 of them segwit
    assert sum(tx.is_segwit for tx in block.txs) == 369


def test_wtxids_match_the_coinbase_witness_commitment(
    block: Block, core_block: dict[str, Any]
) -> None:
    # BIP 141: the coinbase's last output starting 6a24aa21a9ed commits to
    # dSHA256(witness merkle root || reserved value), the root over wtxids with the
    # coinbase's wtxid taken as 32 zero bytes. The miner wrote it; the network checked it.
    coinbase = block.txs[0]
    reserved = bytes.fromhex(core_block["coinbase_tx"]["witness"])
    assert coinbase.inputs[0].witness == (reserved,)
    commitment = next(
        o.script_pubkey[6:38]
        for o in reversed(coinbase.outputs)
        if o.script_pubkey.startswith(bytes.fromhex("6a24aa21a9ed"))
    )
    level = [bytes(32)] + [bytes.fromhex(tx.wtxid)[::-1] for tx in block.txs[1:]]
    while len(level) > 1:
        if len(level) & 1:
            level.append(level[-1])
        level = [dsha256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    assert dsha256(level[0] + reserved) == commitment


def test_coinbase_fields_equal_cores(block: Block, core_block: dict[str, Any]) -> None:
    cb = core_block["coinbase_tx"]
    tx = block.txs[0]
    assert tx.version == cb["version"] and tx.locktime == cb["locktime"]
    assert tx.inputs[0].is_coinbase
    assert tx.inputs[0].sequence == cb["sequence"]
    assert tx.inputs[0].script_sig.hex() == cb["coinbase"]


def test_every_output_equals_embits(block: Block) -> None:
    from embit.transaction import Transaction

    for tx in block.txs:
        peer = Transaction.parse(tx.serialize())
        assert [(o.value, o.script_pubkey) for o in tx.outputs] == [
            (o.value, o.script_pubkey.data) for o in peer.vout
        ]
        assert [(i.prev_txid[::-1], i.prev_vout, i.sequence) for i in tx.inputs] == [
            (i.txid, i.vout, i.sequence) for i in peer.vin
        ]


def test_parse_tx_of_each_block_tx_equals_block_parse(block: Block) -> None:
    for tx in block.txs:
        alone = parse_tx(tx.serialize())
        assert (alone.txid, alone.wtxid, alone.start, alone.end) == (tx.txid, tx.wtxid, 0, tx.size)
        assert alone.inputs == tx.inputs and alone.outputs == tx.outputs


def test_readme_whale_outputs_have_core_values(block: Block) -> None:
    # ../shared/data/README.md lists the >= 1 BTC outputs (txid, BTC) of this block.
    expected = {
        ("6ec0ac0f5eda13232e4d9212fbb9393d55579dcd73b47d43e5c71486b790a7b4", 1082071353),
        ("5cddc90f4f529448a1849b9d1ff21e2bb647bd41262fdce149454933926dc4be", 318137322),
        ("fd09ffa77f4de17d5c10b46d11f4440ddfccd2c9613b30037edd6db96a014865", 312596191),
        ("45a8326eb58ee3eb9a30a3c7f5ac1b67e6fc0445fa80ac046d04df0e98f612c9", 180382936),
        ("e8a4eef8e2a4e528ba49d937f9a28b62bd8aad8e1a3ce0901a58b9eaef825b64", 162253446),
        ("6716f5e881bdea5f894e63f4c84d79d73a26330a77c16c1ab1e285377e1b756f", 151428511),
        ("9f1c42cc7dffca8237601a9e9ea30b49877e8a3c684e8304d4d1650707d4747b", 120011953),
    }
    got = {(tx.txid, o.value) for tx in block.txs for o in tx.outputs if o.value >= 100_000_000}
    assert got == expected


# --- scan_outputs --------------------------------------------------------------------------


def test_scan_outputs_finds_exactly_the_watched_outputs(block: Block) -> None:
    from embit.transaction import Transaction

    # Watch every third distinct scriptPubKey as embit reads it, then compare per tx.
    spks = sorted(
        {o.script_pubkey.data for tx in block.txs for o in Transaction.parse(tx.serialize()).vout}
    )
    watch = {spk: n for n, spk in enumerate(spks) if n % 3 == 0}
    total = 0
    for tx in block.txs:
        raw = tx.serialize()
        expected = [
            (i, o.value, watch[o.script_pubkey])
            for i, o in enumerate(tx.outputs)
            if o.script_pubkey in watch
        ]
        assert scan_outputs(raw, watch) == expected
        assert scan_outputs(block.raw, watch, tx.start) == expected
        total += len(expected)
    assert total > 100


def test_scan_outputs_on_truncated_outputs_raises_tx_parse_error(block: Block) -> None:
    raw = block.txs[1].serialize()
    tx = parse_tx(raw)
    cut = tx.witness_start - 1 if tx.is_segwit else len(raw) - 5
    with pytest.raises(TxParseError):
        scan_outputs(raw[:cut], {})


# --- malformed input: only TxParseError, with offset and field -----------------------------


@pytest.mark.parametrize("index", [0, 1, 2, 100, 200, 373])
def test_every_cut_of_a_block_tx_raises_tx_parse_error(block: Block, index: int) -> None:
    raw = block.txs[index].serialize()
    for cut in range(len(raw)):
        with pytest.raises(TxParseError) as info:
            parse_tx(raw[:cut])
        assert 0 <= info.value.offset <= cut


def test_every_cut_of_every_block_tx_raises_tx_parse_error(block: Block) -> None:
    for tx in block.txs:
        raw = tx.serialize()
        for cut in range(len(raw)):
            try:
                parse_tx(raw[:cut])
            except TxParseError:
                continue
            pytest.fail(f"{tx.txid} cut at {cut} parsed")


def test_every_cut_of_the_block_raises_tx_parse_error(block_raw: bytes) -> None:
    for cut in range(0, len(block_raw), 97):
        with pytest.raises(TxParseError):
            parse_block(block_raw[:cut])


def test_trailing_bytes_are_refused() -> None:
    raw = legacy_tx()
    with pytest.raises(TxParseError, match="trailing") as info:
        parse_tx(raw + b"\x00")
    assert info.value.offset == len(raw)


def test_forged_input_count_fails_without_allocating() -> None:
    raw = struct.pack("<i", 2) + b"\xfe\xff\xff\xff\x01" + b"\x00" * 50
    with pytest.raises(TxParseError) as info:
        parse_tx(raw)
    assert info.value.field == "input count" and info.value.offset == 4


def test_compact_size_above_core_max_is_refused() -> None:
    raw = struct.pack("<i", 2) + b"\xff" + struct.pack("<Q", 2**40) + b"\x00" * 50
    with pytest.raises(TxParseError, match="exceeds") as info:
        parse_tx(raw)
    assert info.value.field == "input count"


def test_non_canonical_compact_size_is_refused() -> None:
    good = legacy_tx()
    bad = good[:4] + b"\xfd\x01\x00" + good[5:]
    with pytest.raises(TxParseError, match="non-canonical"):
        parse_tx(bad)


def test_forged_script_length_names_the_field() -> None:
    good = legacy_tx()
    bad = good[: 4 + 1 + 36] + b"\xfe\x00\x00\x10\x00" + good[4 + 1 + 36 + 1 :]
    with pytest.raises(TxParseError) as info:
        parse_tx(bad)
    assert info.value.field == "input[0].script_sig"
    assert "input[0].script_sig" in str(info.value)


def test_segwit_flag_other_than_one_is_refused() -> None:
    good = legacy_tx()
    bad = good[:4] + b"\x00\x02" + good[4:]
    with pytest.raises(TxParseError, match="flag"):
        parse_tx(bad)


def test_segwit_marker_with_all_witnesses_empty_is_refused() -> None:
    # Bitcoin Core refuses this as "Superfluous witness record".
    good = legacy_tx(n_in=2)
    bad = good[:4] + b"\x00\x01" + good[4:-4] + b"\x00\x00" + good[-4:]
    with pytest.raises(TxParseError, match="witness"):
        parse_tx(bad)


def test_no_inputs_without_segwit_marker_is_refused() -> None:
    raw = struct.pack("<i", 1) + b"\x00" + b"\x00" + b"\x00" * 4
    with pytest.raises(TxParseError):
        parse_tx(raw)


def test_block_tx_error_names_the_transaction(block_raw: bytes) -> None:
    with pytest.raises(TxParseError, match=r"tx\[\d+\]"):
        parse_block(block_raw[:50_000])


def test_memoryview_and_bytearray_are_accepted() -> None:
    raw = legacy_tx(n_in=2, n_out=3)
    assert parse_tx(bytearray(raw)).txid == parse_tx(memoryview(raw)).txid == parse_tx(raw).txid  # type: ignore[arg-type]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_only_ever_raise_tx_parse_error(data: bytes) -> None:
    for fn in (parse_tx, parse_block):
        with contextlib.suppress(TxParseError):
            fn(data)
    with contextlib.suppress(TxParseError):
        scan_outputs(data, {})
    with contextlib.suppress(TxParseError):
        scan_tx(data, {}, {})


@settings(
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    deadline=None,
)
@given(st.data())
def test_mutated_real_txs_parse_or_raise_tx_parse_error(block: Block, data: st.DataObject) -> None:
    tx = block.txs[data.draw(st.integers(0, len(block.txs) - 1))]
    raw = bytearray(tx.serialize())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        parsed = parse_tx(bytes(raw))
    except TxParseError:
        return
    assert parsed.size == len(raw)


# --- round trips over generated transactions -----------------------------------------------

scripts = st.binary(max_size=300)  # up to 300 bytes: exercises the 0xfd compact size
txins = st.tuples(st.binary(min_size=36, max_size=36), scripts, st.integers(0, 2**32 - 1))
txouts = st.tuples(st.integers(0, 2**64 - 1), scripts)
witnesses = st.lists(st.binary(max_size=80), max_size=4)


def serialise(
    version: int, ins: list[Any], outs: list[Any], wits: list[list[bytes]] | None, locktime: int
) -> bytes:
    """Serialise per BIP 144 (witnesses given) or legacy: independent of the parser."""
    body = compact(len(ins)) + b"".join(
        p + compact(len(s)) + s + struct.pack("<I", q) for p, s, q in ins
    )
    body += compact(len(outs)) + b"".join(
        struct.pack("<Q", v) + compact(len(s)) + s for v, s in outs
    )
    if wits is None:
        return struct.pack("<i", version) + body + struct.pack("<I", locktime)
    wit = b"".join(compact(len(w)) + b"".join(compact(len(i)) + i for i in w) for w in wits)
    return struct.pack("<i", version) + b"\x00\x01" + body + wit + struct.pack("<I", locktime)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(-(2**31), 2**31 - 1),
    st.lists(st.tuples(txins, witnesses), min_size=1, max_size=4),
    st.lists(txouts, max_size=4),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_generated_transactions_round_trip(
    version: int, ins_wits: list[Any], outs: list[Any], locktime: int, segwit: bool
) -> None:
    ins = [i for i, _ in ins_wits]
    wits = [w for _, w in ins_wits]
    segwit = segwit and any(wits)  # an all-empty witness section is invalid (BIP 144)
    raw = serialise(version, ins, outs, wits if segwit else None, locktime)
    tx = parse_tx(raw)
    assert (tx.version, tx.locktime, tx.is_segwit) == (version, locktime, segwit)
    assert [(i.prevout, i.script_sig, i.sequence) for i in tx.inputs] == ins
    assert [i.witness for i in tx.inputs] == (
        [tuple(w) for w in wits] if segwit else [()] * len(ins)
    )
    assert [(o.value, o.script_pubkey) for o in tx.outputs] == outs
    legacy = serialise(version, ins, outs, None, locktime)
    assert tx.txid == dsha256(legacy)[::-1].hex()
    assert txid_of(raw) == tx.txid and tx_span(raw) == (len(raw), tx.witness_start)
    assert tx.wtxid == dsha256(raw)[::-1].hex()
    assert tx.size == len(raw) and tx.stripped_size == len(legacy)
    watch = {spk: n for n, (_, spk) in enumerate(outs) if n % 2 == 0}
    expected = [(n, v, watch[spk]) for n, (v, spk) in enumerate(outs) if spk in watch]
    assert scan_outputs(raw, watch) == expected


# --- txid_of / tx_span: the object-free path ------------------------------------------------


def test_txid_of_every_block_tx_equals_cores(
    block: Block, core_block: dict[str, Any], impl: str
) -> None:
    assert [txid_of(tx.serialize()) for tx in block.txs] == core_block["tx"]


def test_tx_span_finds_each_block_tx_in_place(block: Block) -> None:
    for tx in block.txs:
        assert tx_span(block.raw, tx.start) == (tx.end, tx.witness_start)


def test_every_cut_of_a_block_tx_makes_txid_of_raise(block: Block, impl: str) -> None:
    for tx in block.txs[:60]:
        raw = tx.serialize()
        for cut in range(len(raw)):
            with pytest.raises(TxParseError):
                txid_of(raw[:cut])
        with pytest.raises(TxParseError, match="trailing"):
            txid_of(raw + b"\x00")


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_txid_of_random_bytes_raises_only_tx_parse_error_or_agrees_with_parse_tx(
    data: bytes, impl: str
) -> None:
    try:
        got = txid_of(data)
    except TxParseError:
        with pytest.raises(TxParseError):
            parse_tx(data)
        return
    assert got == parse_tx(data).txid


def test_reprs_name_the_hashes_not_the_bytes(block: Block, core_block: dict[str, Any]) -> None:
    assert repr(block) == f"Block(hash={core_block['hash']}, txs=374, size={core_block['size']})"
    assert repr(block.txs[1]).startswith(f"Tx(txid={core_block['tx'][1]}, inputs=")

"""Tests for ``whalewire.mempool._scan`` (the optional C walks behind whale detection).

The C functions must agree with the pure-Python reference (``tx.scan_tx``, ``tx.parse_tx``,
``WhaleDetector._input_owner``) wherever they answer, and answer None (hand over to Python)
wherever the bytes are not a transaction they fully understand. Vectors: every transaction
of mainnet block 951,658 with Bitcoin Core's txids (``block_951658_expected.json``), every
cut of its whale transactions, BIP 173's hash160 of the generator key, and hypothesis.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whalewire.mempool import whales
from whalewire.mempool.tx import Block, TxParseError, parse_block, parse_tx, scan_tx
from whalewire.mempool.watchlist import AddressBook
from whalewire.mempool.whales import WhaleDetector, last_push, ripemd160_py

if not whales._HAVE_C:
    if os.environ.get("WHALEWIRE_REQUIRE_SPEEDUPS") == "1":
        raise AssertionError("WHALEWIRE_REQUIRE_SPEEDUPS=1 but whalewire.mempool._scan is missing")
    pytest.skip("whalewire.mempool._scan is not built", allow_module_level=True)

from whalewire.mempool import _scan

# the whale transactions the engine benchmark feeds (docs/address-book.md)
WHALES = ("e8a4eef8", "d39e6417", "e6707305", "014cf678", "a0a69735", "6ec0ac0f")


@pytest.fixture(scope="module")
def block(block_raw: bytes) -> Block:
    return parse_block(block_raw)


@pytest.fixture(scope="module")
def raws(block: Block) -> list[bytes]:
    return [tx.serialize() for tx in block.txs]


def every_output_and_outpoint(block: Block) -> tuple[dict[bytes, Any], dict[bytes, Any]]:
    """A watch set of every output script of the block, and of every outpoint it spends."""
    watch = {o.script_pubkey: ("spk", o.script_pubkey) for t in block.txs for o in t.outputs}
    spent = {i.prevout: ("outpoint", i.prevout) for t in block.txs for i in t.inputs}
    return watch, spent


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hash160(data: bytes) -> bytes:
    # the pure-Python reference (held to the RIPEMD-160 authors' vectors in test_whales.py):
    # hashlib may lack RIPEMD-160 where OpenSSL 3 leaves it to the legacy provider
    return ripemd160_py(sha256(data))


# --- scan_tx --------------------------------------------------------------------------------


def test_scan_matches_python_on_every_transaction_of_the_block(
    block: Block, raws: list[bytes]
) -> None:
    watch, spent = every_output_and_outpoint(block)
    for raw in raws:
        assert _scan.scan_tx(raw, watch, spent) == scan_tx(raw, watch, spent)


def test_scan_with_nothing_watched_finds_nothing(raws: list[bytes]) -> None:
    for raw in raws:
        assert _scan.scan_tx(raw, {}, {}) == ([], [])


def test_scan_reports_the_values_core_has_for_the_block(
    block: Block, core_block: dict[str, Any]
) -> None:
    # Bitcoin Core's txids for the block identify each transaction; output values come from
    # parse_tx (tested against embit in test_tx.py)
    watch, spent = every_output_and_outpoint(block)
    for tx, txid in zip(block.txs, core_block["tx"], strict=True):
        assert tx.txid == txid
        found, _ = _scan.scan_tx(tx.serialize(), watch, spent) or ([], [])
        assert [(i, v) for i, v, _ in found] == [(i, o.value) for i, o in enumerate(tx.outputs)]


def test_scan_of_every_cut_is_none_or_what_python_says(block: Block) -> None:
    watch, spent = every_output_and_outpoint(block)
    for tx in block.txs:
        if not tx.txid.startswith(WHALES):
            continue
        raw = tx.serialize()
        for cut in range(len(raw) + 1):
            piece = raw[:cut]
            ours = _scan.scan_tx(piece, watch, spent)
            try:
                ref = scan_tx(piece, watch, spent)
            except TxParseError:
                assert ours is None, cut
            else:
                assert ours is None or ours == ref, cut


def test_scan_of_non_bytes_or_non_dicts_hands_over_to_python(raws: list[bytes]) -> None:
    raw = raws[5]
    assert _scan.scan_tx(bytearray(raw), {}, {}) is None
    assert _scan.scan_tx(raw, AddressBook.demo().watch.items(), {}) is None  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_scan_of_random_bytes_is_none_or_what_python_says(data: bytes) -> None:
    watch = {b"": 1, b"\x00": 2}
    ours = _scan.scan_tx(data, watch, {data[4:40]: 3})
    try:
        ref = scan_tx(data, watch, {data[4:40]: 3})
    except TxParseError:
        assert ours is None
    else:
        assert ours is None or ours == ref


# --- inspect, reveal, txid: the txid and the keys inputs reveal -----------------------------
# reveal and txid are inspect's walk without the hash and without the dicts: each must give
# inspect's answer (and refuse what it refuses) on every vector


def test_inspect_gives_cores_txid_for_every_transaction(
    raws: list[bytes], core_block: dict[str, Any]
) -> None:
    for raw, txid in zip(raws, core_block["tx"], strict=True):
        seen = _scan.inspect(raw, {}, {}, {})
        assert seen is not None
        assert (seen[0][::-1].hex(), seen[1], seen[2]) == (txid, txid, [])
        assert (_scan.txid(raw), _scan.reveal(raw, {}, {}, {})) == (txid, [])


def revealed_keys(block: Block) -> tuple[dict[bytes, Any], dict[bytes, Any], dict[bytes, Any]]:
    """Every hash an input of the block could be recognised by, tagged with where it is from."""
    by_pkh: dict[bytes, Any] = {}
    by_sh: dict[bytes, Any] = {}
    by_wsh: dict[bytes, Any] = {}
    for t in block.txs:
        for k, txin in enumerate(t.inputs):
            if txin.witness:
                by_pkh[hash160(txin.witness[-1])] = ("pkh-w", t.txid, k)
                by_wsh[sha256(txin.witness[-1])] = ("wsh", t.txid, k)
            pushed = last_push(txin.script_sig)
            if pushed:
                by_sh[hash160(pushed)] = ("sh", t.txid, k)
                if len(pushed) in (33, 65):
                    by_pkh[hash160(pushed)] = ("pkh-s", t.txid, k)
    return by_pkh, by_sh, by_wsh


def reference_owners(detector: WhaleDetector, raw: bytes) -> list[tuple[int, Any]]:
    out = []
    for k, txin in enumerate(parse_tx(raw).inputs):
        owner = detector._input_owner(txin)
        if owner is not None:
            out.append((k, owner))
    return out


@pytest.mark.parametrize("only", [None, "pkh", "sh", "wsh"])
def test_inspect_recognises_the_same_inputs_as_python(
    block: Block, raws: list[bytes], only: str | None
) -> None:
    by_pkh, by_sh, by_wsh = revealed_keys(block)
    # one kind of key at a time too: which dicts are empty changes which hashes are tried
    if only is not None:
        by_pkh, by_sh, by_wsh = (
            d if only == n else {} for d, n in ((by_pkh, "pkh"), (by_sh, "sh"), (by_wsh, "wsh"))
        )
    detector = WhaleDetector(AddressBook.demo())
    detector._by_pkh, detector._by_sh, detector._by_wsh = by_pkh, by_sh, by_wsh
    recognised = 0
    for raw in raws:
        seen = _scan.inspect(raw, by_pkh, by_sh, by_wsh)
        assert seen is not None
        ref = reference_owners(detector, raw)
        assert seen[2] == ref
        assert _scan.reveal(raw, by_pkh, by_sh, by_wsh) == ref
        recognised += len(ref)
    assert recognised > 10  # the block's inputs really were looked at


def test_inspect_of_every_cut_and_of_trailing_bytes_is_none(block: Block) -> None:
    for tx in block.txs:
        if not tx.txid.startswith(WHALES):
            continue
        raw = tx.serialize()
        for bad in [*(raw[:cut] for cut in range(len(raw))), raw + b"\x00"]:
            assert _scan.inspect(bad, {}, {}, {}) is None, len(bad)
            assert _scan.reveal(bad, {}, {}, {}) is None, len(bad)
            assert _scan.txid(bad) is None, len(bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_inspect_of_random_bytes_is_none_or_what_parse_tx_says(data: bytes) -> None:
    seen = _scan.inspect(data, {}, {}, {})
    # the same walk: the same refusals, the same txid
    assert _scan.txid(data) == (None if seen is None else seen[1])
    assert _scan.reveal(data, {}, {}, {}) == (None if seen is None else [])
    try:
        tx = parse_tx(data)
    except TxParseError:
        assert seen is None
    else:
        assert seen is None or seen == (tx.txid_bytes, tx.txid, [])


def test_hash160_of_generator_key_is_bip173_program() -> None:
    # BIP 173: bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 is P2WPKH of the compressed
    # generator point; its program is the key's HASH160
    g = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
    assert _scan.hash160(g).hex() == "751e76e8199196d454941c45d1b3a323f1433bd6"


def test_inspect_of_a_transaction_with_more_inputs_than_the_stack_holds() -> None:
    # 100 P2WPKH-shaped inputs (the C walk keeps up to 64 scriptSig spans on the stack):
    # txid against hashlib over the legacy serialisation (BIP 144: witness excluded), owners
    # against the Python reference
    keys = [b"\x02" + bytes([k]) * 32 for k in range(100)]
    ins = b"".join(
        bytes([k]) * 32 + k.to_bytes(4, "little") + b"\x00" + b"\xff" * 4 for k in range(100)
    )
    outs = b"\x01" + (5000).to_bytes(8, "little") + b"\x16\x00\x14" + bytes(20)
    wit = b"".join(b"\x02\x47" + b"\x30" * 71 + b"\x21" + key for key in keys)
    raw = b"\x02\x00\x00\x00" + b"\x00\x01" + b"\x64" + ins + outs + wit + bytes(4)
    legacy = b"\x02\x00\x00\x00" + b"\x64" + ins + outs + bytes(4)
    by_pkh = {hash160(keys[k]): ("pkh", k) for k in (0, 63, 64, 99)}
    seen = _scan.inspect(raw, by_pkh, {}, {})
    assert seen is not None
    assert seen[0] == sha256(sha256(legacy))
    assert _scan.txid(raw) == seen[0][::-1].hex()
    detector = WhaleDetector(AddressBook.demo())
    detector._by_pkh, detector._by_sh, detector._by_wsh = by_pkh, {}, {}
    assert seen[2] == reference_owners(detector, raw) == [(k, ("pkh", k)) for k in (0, 63, 64, 99)]
    assert _scan.reveal(raw, by_pkh, {}, {}) == seen[2]

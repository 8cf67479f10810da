"""The C walks of ``whalewire.mempool._scan`` must ANSWER on every transaction they are built for.

Each function of ``_scan`` returns None for bytes it does not fully understand, and the
Python reference then decides; so a test that only compares C with Python cannot see a C walk
that refuses too much (it is merely slower). These tests call the C functions directly and
assert their exact answers (never None) on transactions built here byte by byte per Bitcoin
Core's serialisation (``primitives/transaction.h``, ``serialize.h`` ``WriteCompactSize``,
BIP 144), with txids computed by ``hashlib`` over the legacy serialisation: every compact-size
width at its boundaries (252/253, 65535/65536 and ``MAX_SIZE``), 253 inputs, outputs and
witness items, the smallest shapes the walks' size guards admit, each way an input reveals
its key or script (P2PKH, P2WPKH, two-item P2WSH, nested P2SH-P2WPKH, every push opcode of a
scriptSig), and the bytes they must still refuse. Issue 23: ``python -m mutation scan_c``.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

import pytest

from whalewire.mempool import whales
from whalewire.mempool.tx import TxParseError, parse_tx, scan_tx
from whalewire.mempool.watchlist import AddressBook
from whalewire.mempool.whales import WhaleDetector, ripemd160_py

if not whales._HAVE_C:
    if os.environ.get("WHALEWIRE_REQUIRE_SPEEDUPS") == "1":
        raise AssertionError("WHALEWIRE_REQUIRE_SPEEDUPS=1 but whalewire.mempool._scan is missing")
    pytest.skip("whalewire.mempool._scan is not built", allow_module_level=True)

from whalewire.mempool import _scan

#: Bitcoin Core serialize.h MAX_SIZE: the largest compact size a deserialiser accepts
MAX_SIZE = 0x02000000


# --- a transaction written out by hand -------------------------------------------------------


def compact_size(n: int) -> bytes:
    """Bitcoin Core's WriteCompactSize: the shortest of the four encodings."""
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


@dataclass
class In:
    prevout: bytes  #: 32-byte txid (internal order) + 4-byte index
    script_sig: bytes = b""
    witness: list[bytes] = field(default_factory=list)
    sequence: bytes = b"\xff\xff\xff\xff"


@dataclass
class Out:
    value: int
    script: bytes


def outpoint(k: int) -> bytes:
    return bytes([k % 251 + 1]) * 32 + k.to_bytes(4, "little")


def body(ins: list[In], outs: list[Out]) -> bytes:
    """Inputs and outputs, each list behind its count (the txid's preimage between version
    and locktime)."""
    parts = [compact_size(len(ins))]
    for i in ins:
        parts += [i.prevout, compact_size(len(i.script_sig)), i.script_sig, i.sequence]
    parts.append(compact_size(len(outs)))
    for o in outs:
        parts += [o.value.to_bytes(8, "little"), compact_size(len(o.script)), o.script]
    return b"".join(parts)


VERSION = (2).to_bytes(4, "little")
LOCKTIME = (0).to_bytes(4, "little")


def serialize(ins: list[In], outs: list[Out], *, segwit: bool | None = None) -> bytes:
    """BIP 144 when any input has a witness (or ``segwit``), else the legacy layout."""
    if segwit is None:
        segwit = any(i.witness for i in ins)
    if not segwit:
        return VERSION + body(ins, outs) + LOCKTIME
    stacks = b"".join(
        compact_size(len(i.witness)) + b"".join(compact_size(len(w)) + w for w in i.witness)
        for i in ins
    )
    return VERSION + b"\x00\x01" + body(ins, outs) + stacks + LOCKTIME


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hash160(data: bytes) -> bytes:
    return ripemd160_py(sha256(data))


def txid(ins: list[In], outs: list[Out]) -> str:
    """The display-order txid: double SHA-256 of the legacy serialisation, reversed (BIP 144)."""
    return sha256(sha256(VERSION + body(ins, outs) + LOCKTIME))[::-1].hex()


def assert_walked(raw: bytes, expected_txid: str) -> None:
    """Every C walk answers (not None) with the txid and no owners; parse_tx agrees."""
    none: dict[bytes, str] = {}
    seen = _scan.inspect(raw, none, none, none)
    assert seen is not None
    assert (seen[0][::-1].hex(), seen[1], seen[2]) == (expected_txid, expected_txid, [])
    assert _scan.txid(raw) == expected_txid
    assert _scan.reveal(raw, {}, {}, {}) == []
    assert parse_tx(raw).txid == expected_txid


def assert_refused(raw: bytes) -> None:
    """Every C walk hands the bytes back (None), and Python names the fault."""
    assert _scan.inspect(raw, {}, {}, {}) is None
    assert _scan.reveal(raw, {}, {}, {}) is None
    assert _scan.txid(raw) is None
    with pytest.raises(TxParseError):
        parse_tx(raw)


KEY = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
SIG = b"\x30" * 71
P2WPKH = b"\x00\x14" + bytes(range(20))


def p2wpkh_in(k: int = 0, key: bytes = KEY) -> In:
    return In(outpoint(k), witness=[SIG, key])


# --- compact sizes: every width at its boundaries, in every place one is read ---------------

SIZES = [252, 253, 0xFFFF, 0x10000]


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}B" for s in SIZES])
def test_a_scriptsig_of_each_compact_size_width_is_walked(size: int) -> None:
    ins = [In(outpoint(1), script_sig=bytes(size))]  # OP_0 repeated: push-only, pushes nothing
    outs = [Out(5000, P2WPKH)]
    raw = serialize(ins, outs)
    assert_walked(raw, txid(ins, outs))
    assert _scan.scan_tx(raw, {P2WPKH: "w"}, {outpoint(1): "s"}) == ([(0, 5000, "w")], [(0, "s")])


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}B" for s in SIZES])
def test_an_output_script_of_each_compact_size_width_is_walked_and_matched(size: int) -> None:
    script = b"\x6a" + bytes(size - 1)  # OP_RETURN and data
    ins = [p2wpkh_in(1)]
    outs = [Out(1, P2WPKH), Out(123_456_789, script)]
    raw = serialize(ins, outs)
    assert_walked(raw, txid(ins, outs))
    assert _scan.scan_tx(raw, {script: "big"}, {}) == ([(1, 123_456_789, "big")], [])


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}B" for s in SIZES])
def test_a_witness_item_of_each_compact_size_width_is_walked(size: int) -> None:
    script = bytes(size)
    ins = [In(outpoint(1), witness=[SIG, script])]  # a P2WSH spend of a large script
    outs = [Out(5000, P2WPKH)]
    raw = serialize(ins, outs)
    assert_walked(raw, txid(ins, outs))
    assert _scan.reveal(raw, {}, {}, {sha256(script): "wsh"}) == [(0, "wsh")]


@pytest.mark.parametrize("count", [252, 253])
def test_253_inputs_outputs_and_witness_items_are_walked(count: int) -> None:
    ins = [p2wpkh_in(k) for k in range(count)]
    outs = [Out(k + 1, b"\x6a" + bytes([k % 256])) for k in range(count)]
    raw = serialize(ins, outs)
    assert_walked(raw, txid(ins, outs))
    watch, spent = {outs[-1].script: "last"}, {outpoint(count - 1): "x"}
    assert _scan.scan_tx(raw, watch, spent) == ([(count - 1, count, "last")], [(count - 1, "x")])
    many = [In(outpoint(0), witness=[b"\x01"] * (count - 1) + [b"script"])]
    raw = serialize(many, outs[:1])
    assert_walked(raw, txid(many, outs[:1]))
    assert _scan.reveal(raw, {}, {}, {sha256(b"script"): "wsh"}) == [(0, "wsh")]


def test_a_witness_item_of_exactly_max_size_is_walked_and_one_more_byte_is_refused() -> None:
    # serialize.h: ReadCompactSize throws above MAX_SIZE, accepts MAX_SIZE itself
    ins = [In(outpoint(1), witness=[SIG, bytes(MAX_SIZE)])]
    outs = [Out(5000, P2WPKH)]
    assert _scan.txid(serialize(ins, outs)) == txid(ins, outs)
    ins[0].witness[1] = bytes(MAX_SIZE + 1)
    assert _scan.txid(serialize(ins, outs)) is None


@pytest.mark.parametrize(
    "length",
    # 252 in three bytes, 65535 in five, 2^32 in nine: Core's ReadCompactSize throws
    # "non-canonical ReadCompactSize()" for each
    [b"\xfd\xfc\x00", b"\xfe\xff\xff\x00\x00", b"\xff\x00\x00\x00\x00\x01\x00\x00\x00"],
    ids=["3-byte-252", "5-byte-65535", "9-byte-2^32"],
)
def test_a_non_canonical_compact_size_is_refused(length: bytes) -> None:
    size = int.from_bytes(length[1:], "little")
    script = bytes(min(size, 0x10000))
    outs = [Out(5000, P2WPKH)]
    raw = VERSION + b"\x01" + outpoint(1) + length + script + b"\xff" * 4
    raw += body([], outs)[1:] + LOCKTIME
    assert_refused(raw)
    assert _scan.scan_tx(raw, {}, {}) is None


# --- scan_tx: what it must still answer --------------------------------------------------------


def test_scan_matches_a_watched_empty_output_script() -> None:
    ins = [p2wpkh_in(1)]
    outs = [Out(7, b""), Out(8, P2WPKH)]
    raw = serialize(ins, outs)
    assert _scan.scan_tx(raw, {b"": "empty", P2WPKH: "w"}, {}) == (
        [(0, 7, "empty"), (1, 8, "w")],
        [],
    )


def test_scan_looks_up_a_spent_set_of_one_outpoint() -> None:
    ins = [p2wpkh_in(1), p2wpkh_in(2)]
    raw = serialize(ins, [Out(5000, P2WPKH)])
    assert _scan.scan_tx(raw, {}, {outpoint(2): "mine"}) == ([], [(1, "mine")])


def test_scan_reads_outputs_up_to_the_last_one_without_the_locktime() -> None:
    # like tx.scan_tx, the scan stops after the last output: what follows is not its business
    raw = serialize([p2wpkh_in(1)], [Out(9, P2WPKH)])
    before_witness = VERSION + b"\x00\x01" + body([p2wpkh_in(1)], [Out(9, P2WPKH)])
    for cut in (before_witness, raw[:-4]):
        assert _scan.scan_tx(cut, {P2WPKH: "w"}, {}) == ([(0, 9, "w")], [])
        assert scan_tx(cut, {P2WPKH: "w"}, {}) == ([(0, 9, "w")], [])


def test_scan_answers_for_no_outputs_and_for_no_inputs() -> None:
    no_outputs = serialize([p2wpkh_in(1)], [])
    assert _scan.scan_tx(no_outputs, {}, {outpoint(1): "s"}) == ([], [(0, "s")])
    no_inputs = VERSION + b"\x00\x01" + body([], [Out(3, P2WPKH)]) + LOCKTIME
    assert _scan.scan_tx(no_inputs, {P2WPKH: "w"}, {}) == ([(0, 3, "w")], [])
    assert scan_tx(no_inputs, {P2WPKH: "w"}, {}) == ([(0, 3, "w")], [])


# --- walk_tx: the smallest shapes its size guards admit ----------------------------------------


def test_one_input_with_an_empty_scriptsig_and_one_tiny_output_is_walked() -> None:
    # 41 + 1 + 10 + 4 bytes after the input count: exactly one input's minimum fits, and
    # after the output count 14 bytes: exactly one output's minimum (9) fits
    ins = [In(outpoint(1))]
    outs = [Out(0, b"\x6a")]
    assert_walked(serialize(ins, outs), txid(ins, outs))


def test_twenty_inputs_with_empty_scriptsigs_are_walked() -> None:
    # 20 x 41 + 1 + 10 + 4 = 835 bytes after the count: 20 minimal inputs (835 // 41 = 20)
    ins = [In(outpoint(k)) for k in range(20)]
    outs = [Out(0, b"\x6a")]
    assert_walked(serialize(ins, outs), txid(ins, outs))


def test_ten_outputs_with_empty_scripts_are_walked() -> None:
    # 10 x 9 + 4 = 94 bytes after the output count: 10 minimal outputs (94 // 9 = 10)
    ins = [In(outpoint(1))]
    outs = [Out(k, b"") for k in range(10)]
    assert_walked(serialize(ins, outs), txid(ins, outs))


def test_a_transaction_with_no_outputs_is_walked() -> None:
    ins = [p2wpkh_in(1)]
    assert_walked(serialize(ins, []), txid(ins, []))


def test_a_legacy_transaction_with_one_input_is_walked() -> None:
    ins = [In(outpoint(1), script_sig=b"\x47" + SIG[:71] + b"\x21" + KEY)]
    outs = [Out(5000, P2WPKH)]
    assert_walked(serialize(ins, outs), txid(ins, outs))


def test_a_segwit_transaction_with_one_input_without_witness_is_walked() -> None:
    # a P2PKH input beside a P2WPKH one: its stack is empty (BIP 144 allows it)
    ins = [In(outpoint(1), script_sig=b"\x47" + SIG + b"\x21" + KEY), p2wpkh_in(2)]
    outs = [Out(5000, P2WPKH)]
    assert_walked(serialize(ins, outs), txid(ins, outs))


def test_taproot_key_path_spends_with_one_witness_item_each_are_walked() -> None:
    ins = [In(outpoint(k), witness=[bytes([k]) * 64]) for k in range(3)]
    outs = [Out(5000, b"\x51\x20" + bytes(32))]
    assert_walked(serialize(ins, outs), txid(ins, outs))


def test_a_segwit_flag_other_than_one_is_refused() -> None:
    # BIP 144: the flag must be 0x01
    raw = bytearray(serialize([p2wpkh_in(1)], [Out(5000, P2WPKH)]))
    raw[5] = 2
    assert_refused(bytes(raw))


def test_a_segwit_marker_with_every_witness_empty_is_refused() -> None:
    # Core: "Superfluous witness record"
    assert_refused(serialize([In(outpoint(1)), In(outpoint(2))], [Out(1, P2WPKH)], segwit=True))


# --- inspect: each way an input reveals its key or script --------------------------------------


def owners(raw: bytes, by_pkh: Any = None, by_sh: Any = None, by_wsh: Any = None) -> Any:
    """C's owners (inspect and reveal must agree), checked against the Python reference."""
    by_pkh, by_sh, by_wsh = by_pkh or {}, by_sh or {}, by_wsh or {}
    seen = _scan.inspect(raw, by_pkh, by_sh, by_wsh)
    assert seen is not None
    assert _scan.reveal(raw, by_pkh, by_sh, by_wsh) == seen[2]
    detector = WhaleDetector(AddressBook.demo())
    detector._by_pkh, detector._by_sh, detector._by_wsh = by_pkh, by_sh, by_wsh
    reference = [
        (k, o)
        for k, txin in enumerate(parse_tx(raw).inputs)
        if (o := detector._input_owner(txin)) is not None
    ]
    assert seen[2] == reference
    return seen[2]


def one_input(txin: In) -> bytes:
    return serialize([txin], [Out(5000, P2WPKH)])


def test_a_legacy_p2pkh_input_reveals_its_key_with_only_key_hashes_watched() -> None:
    raw = one_input(In(outpoint(1), script_sig=b"\x47" + SIG + b"\x21" + KEY))
    assert owners(raw, by_pkh={hash160(KEY): "pkh"}) == [(0, "pkh")]


@pytest.mark.parametrize("key", [KEY, b"\x04" + bytes(range(64))], ids=["33B", "65B"])
def test_a_p2wpkh_input_reveals_a_compressed_or_uncompressed_key(key: bytes) -> None:
    raw = one_input(p2wpkh_in(1, key))
    assert owners(raw, by_pkh={hash160(key): "pkh"}) == [(0, "pkh")]


@pytest.mark.parametrize(
    "witness",
    # a 34-byte last item is no key; three items are no P2WPKH stack
    [[SIG, KEY + b"\x00"], [b"", SIG, KEY]],
    ids=["34B-item", "three-items"],
)
def test_only_a_two_item_stack_ending_in_a_key_is_read_as_p2wpkh(witness: list[bytes]) -> None:
    raw = one_input(In(outpoint(1), witness=witness))
    assert owners(raw, by_pkh={hash160(witness[-1]): "pkh"}) == []


def test_a_two_item_p2wsh_stack_reveals_its_script() -> None:
    script = b"\x51"  # OP_TRUE: spent with one empty item and the script
    raw = one_input(In(outpoint(1), witness=[b"", script]))
    assert owners(raw, by_wsh={sha256(script): "wsh"}) == [(0, "wsh")]


def test_a_nested_p2sh_p2wpkh_input_reveals_its_program_with_one_script_hash_watched() -> None:
    program = b"\x00\x14" + hash160(KEY)
    raw = one_input(In(outpoint(1), script_sig=b"\x16" + program, witness=[SIG, KEY]))
    assert owners(raw, by_sh={hash160(program): "sh"}) == [(0, "sh")]


def test_a_witness_input_reads_its_scriptsig_only_for_script_hashes() -> None:
    # a one-item witness beside a scriptSig pushing a key: only P2SH reads that scriptSig
    raw = one_input(In(outpoint(1), script_sig=b"\x21" + KEY, witness=[bytes(64)]))
    assert owners(raw, by_pkh={hash160(KEY): "pkh"}) == []
    assert owners(raw, by_pkh={hash160(KEY): "pkh"}, by_sh={b"\x00" * 20: "x"}) == [(0, "pkh")]


def test_p2sh_of_op_true_reveals_its_one_byte_redeem_script() -> None:
    # the anyone-can-spend P2SH address 3MaB7QVq3k4pQx3BhsvEADgzQonLSBwMdj: HASH160(OP_TRUE)
    h = bytes.fromhex("da1745e9b549bd0bfa1a569971c77eba30cd5a4b")
    assert hash160(b"\x51") == h
    raw = one_input(In(outpoint(1), script_sig=b"\x01\x51"))
    assert owners(raw, by_sh={h: "sh"}) == [(0, "sh")]


REDEEM_75 = bytes(range(75))
REDEEM_80 = bytes(range(80))
REDEEM_300 = bytes(k % 256 for k in range(300))


@pytest.mark.parametrize(
    ("script_sig", "redeem"),
    [
        (b"\x4b" + REDEEM_75, REDEEM_75),  # the longest direct push
        (b"\x00\x4c\x50" + REDEEM_80, REDEEM_80),  # OP_0, OP_PUSHDATA1
        (b"\x4d\x2c\x01" + REDEEM_300, REDEEM_300),  # OP_PUSHDATA2
        (b"\x4e\x50\x00\x00\x00" + REDEEM_80, REDEEM_80),  # OP_PUSHDATA4
        (b"\x4f\x4b" + REDEEM_75, REDEEM_75),  # OP_1NEGATE first
        (b"\x51\x4b" + REDEEM_75, REDEEM_75),  # OP_1 first
        (b"\x60\x4b" + REDEEM_75, REDEEM_75),  # OP_16 first
    ],
    ids=["push75", "pushdata1", "pushdata2", "pushdata4", "1negate", "op1", "op16"],
)
def test_every_push_opcode_reveals_the_last_pushed_redeem_script(
    script_sig: bytes, redeem: bytes
) -> None:
    raw = one_input(In(outpoint(1), script_sig=script_sig))
    assert owners(raw, by_sh={hash160(redeem): "sh"}) == [(0, "sh")]


@pytest.mark.parametrize(
    "script_sig",
    [
        b"\x61\x4b" + REDEEM_75,  # OP_NOP first: not push-only
        b"\x4b" + REDEEM_75 + b"\x61",  # OP_NOP last
        b"\x4b" + REDEEM_75 + b"\x05\xaa",  # a truncated last push
        b"\x4b" + REDEEM_75 + b"\x4d\x01",  # a truncated OP_PUSHDATA2 length
        b"\x4b" + REDEEM_75 + b"\x51",  # OP_1 last: the last push is a number, no data
    ],
    ids=["nop-first", "nop-last", "cut-push", "cut-pushdata2", "op1-last"],
)
def test_a_scriptsig_that_is_not_push_only_or_ends_in_no_data_reveals_nothing(
    script_sig: bytes,
) -> None:
    raw = one_input(In(outpoint(1), script_sig=script_sig))
    # what a walk reading past the script would find: the sequence's first byte
    watched = {hash160(REDEEM_75): "sh", hash160(b"\xff"): "past"}
    assert owners(raw, by_sh=watched, by_pkh={hash160(b"\xff"): "past"}) == []


# --- the txid's str -----------------------------------------------------------------------------


def test_the_txid_str_is_64_ascii_digits_ending_in_cpythons_terminator() -> None:
    # C code reads a str's ASCII data up to its NUL (PyUnicode_AsUTF8 hands out the buffer
    # itself): a 65th digit written over the terminator would run into the next object
    as_utf8 = ctypes.pythonapi.PyUnicode_AsUTF8
    as_utf8.restype = ctypes.c_char_p
    as_utf8.argtypes = [ctypes.py_object]
    ins = [p2wpkh_in(1)]
    outs = [Out(5000, P2WPKH)]
    expected = txid(ins, outs)
    for hex_txid in (
        _scan.txid(serialize(ins, outs)),
        (_scan.inspect(serialize(ins, outs), {}, {}, {}) or ("", "", []))[1],
    ):
        assert hex_txid == expected
        assert as_utf8(hex_txid) == expected.encode()

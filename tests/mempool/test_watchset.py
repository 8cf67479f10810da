"""Tests for ``whalewire.mempool.watchset`` and its compact C twin (``_scan.WatchSet``).

Both sets answer every question alike (``PyWatchSet`` is the reference), the C hash is the
Python ``script_hash`` (vectors computed by hand from the definition below, independent of
either implementation for the empty script), and ``_scan.scan_tx`` over the compact set
gives what the Python ``scan_tx`` gives over a dict, on every transaction of mainnet block
951,658. Growth happens while another thread keeps looking scripts up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whalewire.mempool import whales
from whalewire.mempool.tx import Block, parse_block, scan_tx
from whalewire.mempool.watchset import PyWatchSet, WatchSetLike, script_hash

if whales._HAVE_C:
    from whalewire.mempool import _scan

MAKERS: list[Callable[[list[Any]], WatchSetLike[Any]]] = [PyWatchSet]
if whales._HAVE_C:
    MAKERS.append(_scan.WatchSet)
elif os.environ.get("WHALEWIRE_REQUIRE_SPEEDUPS") == "1":
    raise AssertionError("WHALEWIRE_REQUIRE_SPEEDUPS=1 but whalewire.mempool._scan is missing")
needs_c = pytest.mark.skipif(not whales._HAVE_C, reason="whalewire.mempool._scan is not built")

# one script of each template the compact set stores specially, and two it stores raw
SCRIPTS = [
    bytes.fromhex("76a914") + bytes(range(20)) + bytes.fromhex("88ac"),  # P2PKH
    bytes.fromhex("a914") + bytes(range(1, 21)) + bytes.fromhex("87"),  # P2SH
    bytes.fromhex("0014") + bytes(range(2, 22)),  # P2WPKH
    bytes.fromhex("0020") + bytes(range(32)),  # P2WSH
    bytes.fromhex("5120") + bytes(range(1, 33)),  # P2TR
    bytes.fromhex("6a0461626364"),  # OP_RETURN "abcd"
    b"",
]


@pytest.fixture(params=MAKERS, ids=lambda m: m.__name__)
def make(request: pytest.FixtureRequest) -> Callable[[list[Any]], WatchSetLike[Any]]:
    maker: Callable[[list[Any]], WatchSetLike[Any]] = request.param
    return maker


def test_hash_of_the_empty_script_is_the_finaliser_of_the_seed() -> None:
    # by hand: h = 0xC2B2AE3D27D4EB4F (n = 0), then MurmurHash3's fmix64
    m = (1 << 64) - 1
    h = 0xC2B2AE3D27D4EB4F
    h ^= h >> 33
    h = h * 0xFF51AFD7ED558CCD & m
    h ^= h >> 33
    h = h * 0xC4CEB9FE1A85EC53 & m
    h ^= h >> 33
    assert script_hash(b"") == h


@needs_c
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_c_hash_equals_python_hash(script: bytes) -> None:
    assert _scan.script_hash(script) == script_hash(script)


def test_each_template_is_found_and_its_near_misses_are_not(make: Any) -> None:
    ws = make(["a", "b"])
    for s in SCRIPTS:
        assert ws.add(s, 1) is True
    assert len(ws) == len(SCRIPTS)
    for s in SCRIPTS:
        assert ws.get(s) == "b"
        assert s in ws
        for near in (s + b"\x00", s[:-1], bytes([s[0] ^ 1]) + s[1:] if s else b"\x01"):
            if near not in SCRIPTS:
                assert ws.get(near) is None
                assert ws.get(near, "none") == "none"


def test_add_again_replaces_the_index_and_counts_once(make: Any) -> None:
    ws = make(["a", "b"])
    assert ws.add(SCRIPTS[0], 0) is True
    assert ws.add(SCRIPTS[0], 1) is False
    assert (ws.get(SCRIPTS[0]), len(ws)) == ("b", 1)


def test_discard_forgets_and_a_later_add_restores(make: Any) -> None:
    ws = make(["a"])
    ws.add(SCRIPTS[2], 0)
    assert ws.discard(SCRIPTS[2]) is True
    assert ws.discard(SCRIPTS[2]) is False
    assert (ws.get(SCRIPTS[2]), SCRIPTS[2] in ws, len(ws)) == (None, False, 0)
    assert ws.add(SCRIPTS[2], 0) is True
    assert (ws.get(SCRIPTS[2]), len(ws)) == ("a", 1)


def test_bad_index_and_long_script_are_refused_and_change_nothing(make: Any) -> None:
    ws = make(["a"])
    with pytest.raises(IndexError):
        ws.add(SCRIPTS[0], 1)
    with pytest.raises(IndexError):
        ws.add(SCRIPTS[0], -1)
    with pytest.raises(ValueError, match="at most 255"):
        ws.add(b"\x51" * 256, 0)
    assert len(ws) == 0
    ws.add(b"\x51" * 255, 0)
    assert ws.get(b"\x51" * 255) == "a"


def test_values_appended_later_can_be_pointed_at(make: Any) -> None:
    values: list[str] = []
    ws = make(values)
    values.append("late")
    ws.add(SCRIPTS[1], 0)
    assert ws.get(SCRIPTS[1]) == "late"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["add", "discard"]), st.binary(max_size=40)), max_size=60)
)
def test_c_and_python_sets_agree_on_any_sequence_of_writes(ops: list[tuple[str, bytes]]) -> None:
    sets = [m(["x", "y"]) for m in MAKERS]
    for k, (op, s) in enumerate(ops):
        answers = {ws.add(s, k % 2) if op == "add" else ws.discard(s) for ws in sets}
        assert len(answers) == 1
    for _, s in ops:
        assert len({ws.get(s) for ws in sets}) == 1
    assert len({len(ws) for ws in sets}) == 1


def test_many_scripts_through_several_growths(make: Any) -> None:
    ws = make(["deposit"])
    scripts = [b"\x00\x14" + i.to_bytes(20, "big") for i in range(50_000)]
    assert ws.add_many(scripts, 0) == 50_000
    assert ws.add_many(scripts[:10], 0) == 0
    assert all(ws.get(s) == "deposit" for s in scripts)
    assert ws.get(b"\x00\x14" + (50_000).to_bytes(20, "big")) is None


@needs_c
def test_reserve_sizes_the_table_once_and_nbytes_stays_compact() -> None:
    ws = _scan.WatchSet(["e"])
    ws.reserve(100_000)
    cap = ws.capacity
    assert cap >= 100_000 / 0.8
    ws.add_many([b"\x00\x14" + os.urandom(20) for _ in range(100_000)], 0)
    assert ws.capacity == cap
    # 8 bytes a slot at <= 0.8 load plus a 25-byte record, with the last chunk not yet full
    assert ws.nbytes < 100_000 * 40 + (4 << 20)


@needs_c
def test_lookups_go_on_while_another_thread_grows_the_set() -> None:
    ws = _scan.WatchSet(["old", "new"])
    first = [b"\x00\x14" + i.to_bytes(20, "big") for i in range(20_000)]
    ws.add_many(first, 0)
    more = [b"\x00\x20" + i.to_bytes(32, "big") for i in range(400_000)]
    done = threading.Event()

    def write() -> None:
        ws.add_many(more, 1)
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    looked = 0
    while not done.is_set():
        assert ws.get(first[looked % len(first)]) == "old"
        looked += 1
    writer.join()
    assert looked > 0
    assert all(ws.get(s) == "new" for s in more[::997])
    assert len(ws) == 420_000


@needs_c
def test_a_second_writer_during_growth_is_refused() -> None:
    ws = _scan.WatchSet(["v"])
    errors: list[BaseException] = []
    big = [b"\x00\x14" + i.to_bytes(20, "big") for i in range(600_000)]

    def grow() -> None:
        ws.add_many(big, 0)

    writer = threading.Thread(target=grow)
    writer.start()
    while writer.is_alive():
        try:
            ws.add(b"\x51", 0)
        except RuntimeError as exc:
            errors.append(exc)
            break
    writer.join()
    # either the second writer met a growth in progress and was refused, or never overlapped
    assert all("another thread" in str(e) for e in errors)
    assert len(ws) in (600_000, 600_001)


# --- the scanner over the compact set --------------------------------------------------------


@pytest.fixture(scope="module")
def block(block_raw: bytes) -> Block:
    return parse_block(block_raw)


@needs_c
def test_c_scan_over_compact_set_equals_python_scan_over_dict(block: Block) -> None:
    values = [("spk", k) for k in range(3)]
    ws: _scan.WatchSet[Any] = _scan.WatchSet(values)
    ref: PyWatchSet[Any] = PyWatchSet(values)
    watch: dict[bytes, Any] = {}
    for n, o in enumerate(o for t in block.txs for o in t.outputs):
        if n % 3 != 2 and len(o.script_pubkey) <= 255:  # a third left unwatched
            ws.add(o.script_pubkey, n % 3)
            ref.add(o.script_pubkey, n % 3)
            watch[o.script_pubkey] = values[n % 3]
    spent: dict[bytes, Any] = {i.prevout: "out" for t in block.txs for i in t.inputs[:1]}
    hits = 0
    for tx in block.txs:
        raw = tx.serialize()
        ours = _scan.scan_tx(raw, ws, spent)
        assert ours == scan_tx(raw, watch, spent) == scan_tx(raw, ref, spent)
        assert ours is not None
        hits += len(ours[0])
    assert hits > 300


@needs_c
def test_c_scan_over_empty_compact_set_finds_nothing(block: Block) -> None:
    ws: _scan.WatchSet[str] = _scan.WatchSet([])
    for tx in block.txs:
        assert _scan.scan_tx(tx.serialize(), ws, {}) == ([], [])

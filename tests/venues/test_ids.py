"""Client order ids (venues/ids.py): each venue's documented format, determinism, uniqueness.

Formats: Binance ``newClientOrderId`` ``^[\\.A-Z\\:/a-z0-9_-]{1,36}$`` (web-socket-api.md
parameter tables); Kraken ``cl_ord_id`` long UUID / short UUID / free text <= 18 (Kraken
"Spot Client Order Identifiers"); Coinbase Exchange ``client_oid`` UUID.
"""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whalewire.venues.ids import (
    BINANCE_ID_PATTERN,
    MAX_SEQ,
    ClientOrderIds,
    binance_client_order_id,
    binance_seq,
    kraken_client_order_id,
    parse_uuid_seq,
    uuid_client_order_id,
)

# Restated here from the Binance docs rather than imported, so a typo in the module's copy
# cannot make the test agree with it.
BINANCE_DOC_PATTERN = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
LONG_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

namespaces = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
seqs = st.integers(0, MAX_SEQ)


@given(namespaces, seqs)
def test_binance_id_matches_documented_pattern_and_parses_back(ns: str, seq: int) -> None:
    cid = binance_client_order_id(ns, seq)
    assert BINANCE_DOC_PATTERN.match(cid)
    assert BINANCE_ID_PATTERN.pattern == BINANCE_DOC_PATTERN.pattern
    assert len(cid) == len(binance_client_order_id(ns, 0))  # fixed width per namespace
    assert binance_seq(cid, ns) == seq


@given(namespaces, seqs)
def test_uuid_ids_are_v4_shaped_and_parse_back(ns: str, seq: int) -> None:
    cid = uuid_client_order_id(ns, seq)
    assert LONG_UUID.match(cid)
    assert uuid.UUID(cid).version == 4
    assert parse_uuid_seq(cid, ns) == seq
    assert kraken_client_order_id(ns, seq) == cid


@given(namespaces, st.lists(seqs, min_size=2, max_size=50, unique=True))
def test_distinct_sequence_numbers_give_distinct_ids(ns: str, many: list[int]) -> None:
    assert len({binance_client_order_id(ns, s) for s in many}) == len(many)
    assert len({uuid_client_order_id(ns, s) for s in many}) == len(many)


def test_ids_are_deterministic_across_generators() -> None:
    a, b = ClientOrderIds("prod1", next_seq=41), ClientOrderIds("prod1", next_seq=41)
    assert [a.binance(a.take()) for _ in range(3)] == [b.binance(b.take()) for _ in range(3)]
    assert a.next_seq == 44
    assert a.kraken(7) == b.kraken(7) == a.coinbase(7)


def test_namespaces_do_not_collide() -> None:
    assert binance_client_order_id("a", 1) != binance_client_order_id("b", 1)
    assert uuid_client_order_id("a", 1) != uuid_client_order_id("b", 1)
    assert parse_uuid_seq(uuid_client_order_id("a", 1), "b") is None
    assert binance_seq(binance_client_order_id("a", 1), "b") is None


def test_concrete_binance_id() -> None:
    assert binance_client_order_id("prod1", 35) == "ww-prod1-00000000000z"
    assert ClientOrderIds("prod1").binance_width == len("ww-prod1-00000000000z")


@pytest.mark.parametrize(
    "foreign",
    ["ww-prod1-00000000000Z", "ww-prod1-+0000000000z", "ww-prod1-0000_000000z", "x", "ww-prod1-1"],
)
def test_foreign_ids_do_not_parse(foreign: str) -> None:
    assert binance_seq(foreign, "prod1") is None


def test_foreign_uuid_does_not_parse() -> None:
    assert parse_uuid_seq(str(uuid.uuid4()), "prod1") is None
    assert parse_uuid_seq("not-a-uuid", "prod1") is None


@pytest.mark.parametrize(
    ("ns", "seq"), [("", 0), ("UPPER", 0), ("toolongns", 0), ("a", -1), ("a", MAX_SEQ + 1)]
)
def test_out_of_range_inputs_are_refused(ns: str, seq: int) -> None:
    with pytest.raises(ValueError):
        binance_client_order_id(ns, seq)

"""The intent log (engine/intents.py): its record format over real files and a real SIGKILL.

A record is ``crc32 | length | seq | body``; a scan stops at the first record that is
empty, torn, fails its checksum or goes back in sequence.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.factories import run_then_sigkill

from whalewire.engine.intents import (
    HEADER,
    RECORD,
    IntentLog,
    IntentLogError,
    IntentLogFull,
)


def reopen(path: Path) -> list[tuple[int, bytes]]:
    log = IntentLog(path, owner=7)
    try:
        return list(log.records())
    finally:
        log.close()


def test_records_survive_a_reopen_in_order(tmp_path: Path) -> None:
    log = IntentLog(tmp_path / "i", owner=7)
    log.append(3, b"first")
    log.append(4, b"second")
    log.close()
    assert reopen(tmp_path / "i") == [(3, b"first"), (4, b"second")]


def test_a_reopened_log_appends_after_its_records(tmp_path: Path) -> None:
    IntentLog(tmp_path / "i", owner=7).close()
    log = IntentLog(tmp_path / "i", owner=7)
    log.append(1, b"a")
    log.close()
    log = IntentLog(tmp_path / "i", owner=7)
    assert not log.empty
    log.append(2, b"b")
    log.close()
    assert reopen(tmp_path / "i") == [(1, b"a"), (2, b"b")]


def test_file_is_preallocated_and_the_owner_kept(tmp_path: Path) -> None:
    log = IntentLog(tmp_path / "i", owner=0xDEADBEEF, size=10_000)
    assert log.size % 4096 == 0 and log.size >= 10_000
    log.close()
    assert (tmp_path / "i").stat().st_size == log.size
    assert (tmp_path / "i").stat().st_blocks * 512 >= log.size  # no holes
    assert IntentLog(tmp_path / "i", owner=1).owner == 0xDEADBEEF  # the file's, not ours


def test_a_torn_last_record_is_ignored_and_the_ones_before_kept(tmp_path: Path) -> None:
    log = IntentLog(tmp_path / "i", owner=7)
    log.append(1, b"whole")
    log.append(2, b"torn in the middle")
    log.close()
    # the process died inside append: half of the second body never reached the file
    second = HEADER.size + RECORD.size + len(b"whole")
    with open(tmp_path / "i", "r+b") as f:
        f.seek(second + RECORD.size + 5)
        f.write(bytes(8))
    assert reopen(tmp_path / "i") == [(1, b"whole")]


@pytest.mark.parametrize("field", ["crc", "length", "seq", "body"])
def test_a_record_with_any_byte_changed_ends_the_scan(tmp_path: Path, field: str) -> None:
    log = IntentLog(tmp_path / "i", owner=7)
    log.append(1, b"kept")
    log.append(2, b"damaged")
    log.append(3, b"after the damage")
    log.close()
    second = HEADER.size + RECORD.size + len(b"kept")
    offset = {"crc": 0, "length": 4, "seq": 8, "body": RECORD.size + 2}[field]
    with open(tmp_path / "i", "r+b") as f:
        f.seek(second + offset)
        byte = f.read(1)
        f.seek(second + offset)
        f.write(bytes([byte[0] ^ 0x01]))
    assert reopen(tmp_path / "i") == [(1, b"kept")]


def test_clear_then_append_reuses_the_start_and_hides_older_records(tmp_path: Path) -> None:
    log = IntentLog(tmp_path / "i", owner=7)
    log.append(1, b"a much longer first record")
    log.append(2, b"second")
    log.clear()
    assert log.empty
    assert list(log.records()) == []
    log.append(3, b"short")  # its end marker hides what is left of 1 and 2
    log.close()
    assert reopen(tmp_path / "i") == [(3, b"short")]


def test_a_scratch_append_is_written_where_the_next_record_goes_and_never_read(
    tmp_path: Path,
) -> None:
    log = IntentLog(tmp_path / "i", owner=7)
    log.append(1, b"real")
    log.append(2, b"rehearsed", scratch=True)
    assert b"rehearsed" in (tmp_path / "i").read_bytes()  # the stores happened
    assert list(log.records()) == [(1, b"real")]
    log.append(2, b"next real")  # over the scratch record
    log.close()
    assert reopen(tmp_path / "i") == [(1, b"real"), (2, b"next real")]


def test_a_file_whose_creation_died_before_its_header_is_taken_as_empty(tmp_path: Path) -> None:
    (tmp_path / "i").write_bytes(bytes(4096))  # allocated, header never written
    log = IntentLog(tmp_path / "i", owner=7)
    assert log.owner == 7 and log.empty
    log.close()


def test_a_record_going_back_in_sequence_ends_the_scan(tmp_path: Path) -> None:
    log = IntentLog(tmp_path / "i", owner=7)
    log.append(5, b"a")
    log.append(5, b"b")  # the journal never does this; a scan must not trust it
    log.close()
    assert reopen(tmp_path / "i") == [(5, b"a")]


def test_full_log_refuses_and_writes_nothing_until_cleared(tmp_path: Path) -> None:
    log = IntentLog(tmp_path / "i", owner=7, size=4096)
    body = b"x" * 300
    seq = 0
    with pytest.raises(IntentLogFull) as caught:
        while True:
            seq += 1
            log.append(seq, body)
    assert caught.value.needed == 300 + 2 * RECORD.size
    assert caught.value.free < caught.value.needed
    assert [s for s, _ in log.records()] == list(range(1, seq))
    log.clear()
    log.append(seq, body)  # wraps to the start
    assert [s for s, _ in log.records()] == [seq]
    log.close()


def test_a_file_that_is_not_an_intent_log_is_refused(tmp_path: Path) -> None:
    (tmp_path / "i").write_bytes(b"SQLite format 3\0" + bytes(4080))
    with pytest.raises(IntentLogError, match="not a whalewire intent log"):
        IntentLog(tmp_path / "i", owner=7)


def test_a_log_of_another_version_is_refused_with_advice(tmp_path: Path) -> None:
    IntentLog(tmp_path / "i", owner=7).close()
    with open(tmp_path / "i", "r+b") as f:
        f.seek(8)
        f.write(struct.pack("<I", 99))
    with pytest.raises(IntentLogError, match="version 99"):
        IntentLog(tmp_path / "i", owner=7)


@settings(max_examples=60, deadline=None)
@given(
    bodies=st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=8),
    cut=st.integers(min_value=0, max_value=2000),
)
def test_a_log_cut_at_any_byte_yields_exactly_the_whole_records_before_the_cut(
    tmp_path_factory: pytest.TempPathFactory, bodies: list[bytes], cut: int
) -> None:
    path = tmp_path_factory.mktemp("cut") / "i"
    log = IntentLog(path, owner=7)
    ends = []
    for seq, body in enumerate(bodies, start=1):
        log.append(seq, body)
        ends.append(log._off)
    log.close()
    # everything from the cut on is lost (zeros, as in a fresh pre-allocated file)
    data = bytearray(path.read_bytes())
    cut = HEADER.size + min(cut, ends[-1] - HEADER.size)
    data[cut:] = bytes(len(data) - cut)
    path.write_bytes(data)
    whole = [
        (seq, body)
        for seq, (body, end) in enumerate(zip(bodies, ends, strict=True), 1)
        if end <= cut
    ]
    assert reopen(path) == whole


def test_a_record_appended_before_a_sigkill_is_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "i"
    run_then_sigkill(
        f"""
from whalewire.engine.intents import IntentLog
log = IntentLog({str(path)!r}, owner=7)
for seq in range(1, 51):
    log.append(seq, b"intent %d" % seq)  # never closed, never flushed
"""
    )
    assert reopen(path) == [(seq, b"intent %d" % seq) for seq in range(1, 51)]

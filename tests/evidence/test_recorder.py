"""evidence/recorder.py and recording.py: rows in, the same rows out of real files.

Both formats, rotation by size and by time, drops counted when the queue is full, and
``*.part`` files (still being written) never read.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from whalewire.evidence.recorder import Recorder, _calm
from whalewire.evidence.recording import RecordingError, load, read_table
from whalewire.evidence.writer import ProcessRecorder
from whalewire.mempool.feeds.events import EventKind, RawTxEvent


def _files(directory: Path, table: str) -> list[Path]:
    return sorted(p for p in (directory / table).iterdir())


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_rows_recorded_read_back_equal_in_each_format(tmp_path: Path, fmt: str) -> None:
    tx = RawTxEvent(b"\x01\x02", "ab" * 32, "zmq", EventKind.MEMPOOL, 7, 1_000)
    with Recorder(tmp_path, fmt=fmt) as rec:  # type: ignore[arg-type]
        rec.tx(tx)
        rec.alert(2_000, "cd" * 32, "exA", "deposit", 5_000_000_000, "SELL 0.001")
        rec.top(3_000, "binance", "BTCUSDT", 99.5, 1.0, 100.5, 2.0)
        rec.top(2_500, "binance", "BTCUSDT", None, 0.0, 100.0, 1.0)
        rec.levels(4_000, "binance", "BTCUSDT", [(99.5, 1.0), (99.0, 3.0)], [(100.5, 2.0)])
        rec.trade(5_000, "binance", "BTCUSDT", 100.0, 0.25, "sell")
    tables = load(tmp_path)
    assert tables["txs"].to_pylist() == [
        {
            "ts_ns": 1_000,
            "recv_ns": 7,
            "feed": "zmq",
            "kind": 1,
            "txid": "ab" * 32,
            "raw": b"\x01\x02",
        }
    ]
    assert tables["alerts"].to_pylist()[0]["decision"] == "SELL 0.001"
    # sorted by time on read, a missing side stays missing
    assert [r["bid"] for r in tables["tops"].to_pylist()] == [None, 99.5]
    levels = tables["levels"].to_pylist()
    assert [(r["side"], r["level"], r["price"], r["qty"]) for r in levels] == [
        ("bid", 0, 99.5, 1.0),
        ("bid", 1, 99.0, 3.0),
        ("ask", 0, 100.5, 2.0),
    ]
    assert tables["trades"].to_pylist()[0]["taker"] == "sell"
    suffix = ".parquet" if fmt == "parquet" else ".arrow"
    assert [p.suffix for p in _files(tmp_path, "tops")] == [suffix]


def test_table_rotates_when_its_file_passes_max_bytes(tmp_path: Path) -> None:
    rec = Recorder(tmp_path, fmt="arrow", compression="none", max_bytes=20_000, batch_rows=100)
    rec.start()
    for i in range(3_000):
        rec.trade(i, "binance", "BTCUSDT", 100.0 + i, 0.1)
    stats = rec.close()
    files = _files(tmp_path, "trades")
    assert len(files) >= 3
    assert stats.files["trades"] == len(files)
    assert read_table(tmp_path, "trades")["ts_ns"].to_pylist() == list(range(3_000))


def test_table_rotates_when_its_file_is_older_than_max_seconds(tmp_path: Path) -> None:
    now = [1_000.0]
    rec = Recorder(tmp_path, max_seconds=60.0, clock_s=lambda: now[0])
    for i in range(3):
        rec.top(i, "v", "s", 1.0, 1.0, 2.0, 1.0)
        rec._drain()
        rec._files[2].flush(now[0])
        now[0] += 61.0
        rec._rotate()  # what the writer thread does after each drain
    rec.close()
    assert len(_files(tmp_path, "tops")) == 3
    assert read_table(tmp_path, "tops").num_rows == 3


def test_full_queue_drops_and_counts_rows_never_blocks(tmp_path: Path) -> None:
    rec = Recorder(tmp_path, capacity=10)  # not started: nothing drains
    for i in range(25):
        rec.trade(i, "v", "s", 1.0, 1.0)
    stats = rec.close()
    assert stats.dropped == 15
    assert stats.rows["trades"] == 10
    assert read_table(tmp_path, "trades").num_rows == 10


def test_part_files_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "tops").mkdir()
    (tmp_path / "tops" / "tops-1.parquet.part").write_bytes(b"half a file")
    assert read_table(tmp_path, "tops").num_rows == 0


def test_folder_without_tables_is_not_a_recording(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="not a recording"):
        load(tmp_path)


def test_file_of_another_table_is_refused(tmp_path: Path) -> None:
    with Recorder(tmp_path) as rec:
        rec.trade(1, "v", "s", 1.0, 1.0)
    (tmp_path / "trades").rename(tmp_path / "tops_tmp")
    (tmp_path / "tops").rmdir()
    (tmp_path / "tops_tmp").rename(tmp_path / "tops")
    with pytest.raises(RecordingError, match="expected tops"):
        read_table(tmp_path, "tops")


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        Recorder(tmp_path, fmt="csv")  # type: ignore[arg-type]


def test_writer_thread_moves_to_its_cpus_and_lowers_its_priority(tmp_path: Path) -> None:
    cpu = min(os.sched_getaffinity(0))
    seen: dict[str, object] = {}

    def probe() -> None:
        _calm(frozenset({cpu}), 7)
        seen["cpus"] = os.sched_getaffinity(0)
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = os.sched_getaffinity(0)
    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    assert seen == {"cpus": {cpu}, "nice": os.getpriority(os.PRIO_PROCESS, 0) + 7}
    # the calling thread (the engine's, in a run) keeps its own CPUs
    assert os.sched_getaffinity(0) == before


def test_recording_with_a_cpu_set_writes_as_usual(tmp_path: Path) -> None:
    with Recorder(tmp_path, cpus={min(os.sched_getaffinity(0))}) as rec:
        rec.trade(1, "v", "s", 1.0, 2.0)
    assert read_table(tmp_path, "trades").num_rows == 1


def test_process_recorder_writes_the_same_rows_from_a_child(tmp_path: Path) -> None:
    tx = RawTxEvent(b"\x01\x02", "ab" * 32, "zmq", EventKind.MEMPOOL, 7, 1_000)
    rec = ProcessRecorder(tmp_path, flush_bytes=64)  # many small writes: frames get cut
    rec.start()
    rec.tx(tx)
    for i in range(2_000):
        rec.top(2_000 + i, "binance", "BTCUSDT", 99.5, 1.0, None, 0.0)
    rec.levels(4_000, "binance", "BTCUSDT", [(99.5, 1.0)], [(100.5, 2.0), (101.0, 3.0)])
    rec.alert(5_000, "cd" * 32, "exA", "deposit", 7, "COOLDOWN")
    rec.trade(6_000, "binance", "BTCUSDT", 100.0, 0.25, "sell")
    stats = rec.close()
    assert stats.dropped == 0
    assert stats.rows == {"txs": 1, "alerts": 1, "tops": 2_000, "levels": 3, "trades": 1}
    tables = load(tmp_path)
    assert tables["txs"].to_pylist()[0]["raw"] == b"\x01\x02"
    assert tables["tops"]["ts_ns"].to_pylist() == [2_000 + i for i in range(2_000)]
    assert tables["tops"]["ask"].null_count == 2_000
    assert [r["qty"] for r in tables["levels"].to_pylist()] == [1.0, 2.0, 3.0]
    assert tables["alerts"].to_pylist()[0]["decision"] == "COOLDOWN"


def test_process_recorder_drops_and_counts_rows_past_its_buffer(tmp_path: Path) -> None:
    rec = ProcessRecorder(tmp_path, max_buffer=100)  # not started: nothing drains
    for i in range(50):
        rec.trade(i, "v", "s", 1.0, 1.0)
    # each frame is ~30 bytes: a few fit before the buffer passes 100 bytes
    assert 0 < rec.dropped < 50
    assert rec.close().dropped == rec.dropped


def test_process_recorder_whose_child_died_counts_rows_and_never_raises_on_the_hot_side(
    tmp_path: Path,
) -> None:
    rec = ProcessRecorder(tmp_path, flush_bytes=1)
    rec.start()
    child = rec._child
    assert child is not None
    child.kill()
    child.wait()
    for i in range(100):
        rec.trade(i, "v", "s", 1.0, 1.0)  # the first write finds the pipe broken
    assert isinstance(rec.failure, BrokenPipeError)
    assert rec.dropped == 100
    with pytest.raises(RuntimeError, match="recorder process failed"):
        rec.close()

"""The order journal (engine/journal.py) over a real SQLite file and real processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.engine.factories import event, fill, initialized, run_then_sigkill, submit

from whalewire.engine.intents import HEADER, IntentLog
from whalewire.engine.journal import Journal, JournalError
from whalewire.engine.oms import OrderStatus
from whalewire.model import (
    OrderAccepted,
    OrderDenied,
    OrderSubmitted,
)


def test_replay_rebuilds_orders_with_their_status_and_fills(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as j:
        j.append(initialized("a"))
        j.append(event(OrderSubmitted, "a"))
        j.append(event(OrderAccepted, "a"))
        j.append(fill("t1", "0.4", "100", "a"))
        j.append(initialized("b"))
    with Journal(tmp_path / "j.db") as j:
        orders = j.replay()
    assert orders["a"].status is OrderStatus.PARTIALLY_FILLED
    assert orders["a"].trade_ids == {"t1"}
    assert orders["b"].status is OrderStatus.INITIALIZED


def test_denied_command_is_replayed_as_a_final_denied_order(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as j:
        j.append(submit("d"))
        j.append(OrderDenied(client_order_id="d", ts_init=3, ts_event=3, reason="MAX_QTY"))
        orders = j.replay()
    assert orders["d"].status is OrderStatus.DENIED
    assert orders["d"].is_final


def test_event_the_state_machine_refuses_makes_replay_fail_loudly(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as j:
        j.append(initialized("a"))
        j.append(event(OrderAccepted, "a"))  # accepted before submitted: impossible
        with pytest.raises(JournalError, match="not allowed in status INITIALIZED"):
            j.replay()


def test_second_engine_cannot_open_a_journal_in_use(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal(path):
        code = textwrap.dedent(
            f"""
            from whalewire.engine.journal import Journal, JournalLocked
            try:
                Journal({str(path)!r})
            except JournalLocked as exc:
                print(exc)
                raise SystemExit(3)
            """
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
    assert result.returncode == 3, result.stderr
    assert "locked by another process" in result.stdout
    # released on close: a later engine opens it
    Journal(path).close()


def test_rows_appended_before_a_sigkill_survive(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    killed_after(path, 'for i in range(50): j.append(initialized(f"o{i}"))')
    with Journal(path) as j:
        orders = j.replay()
    assert sorted(orders) == sorted(f"o{i}" for i in range(50))


def test_journal_from_another_schema_version_is_refused_with_advice(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "j.db"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='99' WHERE key='schema'")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="schema 99"):
        Journal(path)


def test_sequence_numbers_are_never_reused_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal(path) as j:
        first = j.next_seq
        assert j.append(initialized("a")) == first
        assert j.next_seq == first + 1
    with Journal(path) as j:
        assert j.next_seq == first + 1
        assert j.append(initialized("b")) == first + 1


# SQLite's default checkpoints every 1000 WAL pages inside whichever commit crosses the
# threshold (https://www.sqlite.org/wal.html#automatic_checkpoint); ours are explicit
def test_appends_never_checkpoint_by_themselves_and_checkpoint_restarts_the_wal(
    tmp_path: Path,
) -> None:
    wal = tmp_path / "j.db-wal"
    with Journal(tmp_path / "j.db") as j:
        for i in range(1100):
            j.append(initialized(f"c{i}"))
        assert j.uncheckpointed == 1100
        grown = wal.stat().st_size
        assert grown > 1100 * 4096  # one page per row at least: no checkpoint ran
        j.checkpoint()
        assert j.uncheckpointed == 0
        for i in range(10):
            j.append(initialized(f"d{i}"))
        assert wal.stat().st_size == grown  # the WAL is rewritten from its start
        assert len(j.replay()) == 1110


def test_checkpoint_in_another_thread_while_appending_loses_no_row(tmp_path: Path) -> None:
    import threading

    with Journal(tmp_path / "j.db") as j:
        done = threading.Event()
        checkpoints = 0

        def keep_checkpointing() -> None:
            nonlocal checkpoints
            while not done.is_set():
                j.checkpoint()
                checkpoints += 1

        worker = threading.Thread(target=keep_checkpointing)
        worker.start()
        try:
            seqs = [j.append(initialized(f"t{i}")) for i in range(1500)]
        finally:
            done.set()
            worker.join(timeout=30)
        assert checkpoints > 0
        assert seqs == list(range(1, 1501))
    with Journal(tmp_path / "j.db") as j:
        assert list(j.replay()) == [f"t{i}" for i in range(1500)]


def test_rehearsed_rows_go_to_the_scratch_file_only(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as j:
        j.append(initialized("real"))
        for i in range(300):
            j.rehearse(initialized(f"shadow{i}"))
        assert j.next_seq == 2
        assert [m.client_order_id for m in j.messages()] == ["real"]
        scratch = j.rehearsal_path
        assert scratch.exists()
        # checkpointed every 64 rehearsals: the scratch WAL stays a few dozen pages
        scratch_wal = scratch.with_name(scratch.name + "-wal")
        assert scratch_wal.stat().st_size <= 70 * (4096 + 24)
        # the intent was written where the next one goes, and is never read as one
        log = IntentLog(j.intents_path, owner=0)
        assert list(log.records()) == []
        log.close()
        written = j.intents_path.read_bytes()[HEADER.size : HEADER.size + 400]
        assert b'"client_order_id":"shadow299"' in written
    assert not scratch.exists()
    with Journal(tmp_path / "j.db") as j:
        assert list(j.replay()) == ["real"]


# ---------------------------------------------------------------- the pre-send intent log


def killed_after(path: Path, steps: str) -> None:
    """Run ``steps`` on ``j = Journal(path)`` in a real process, then SIGKILL it."""
    run_then_sigkill(
        f"""
from tests.engine.factories import event, initialized
from whalewire.engine.journal import Journal
from whalewire.model import OrderSubmitted
j = Journal({str(path)!r})
"""
        + textwrap.dedent(steps)
    )


def test_intent_logged_before_a_sigkill_becomes_its_row_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    # killed between the intent and its SQLite row (the engine: after the send)
    killed_after(path, 'assert j.intend(initialized("sent")) == 1')
    with Journal(path) as j:
        assert j.merged_intents == 1
        orders = j.replay()
        assert orders["sent"].status is OrderStatus.INITIALIZED  # reconciled by the engine
        assert orders["sent"].command == initialized("sent").command
        assert j.next_seq == 2


def test_intents_are_merged_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    killed_after(path, 'j.intend(initialized("a")); j.intend(initialized("b"))')
    with Journal(path) as j:
        assert j.merged_intents == 2
    with Journal(path) as j:
        assert j.merged_intents == 0
        assert [m.client_order_id for m in j.messages()] == ["a", "b"]


def test_an_intent_merged_but_not_yet_cleared_is_not_merged_again(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    killed_after(path, 'j.intend(initialized("a"))')
    saved = (tmp_path / "j.db.intents").read_bytes()
    with Journal(path) as j:
        assert j.merged_intents == 1
    # as if the previous open died after its SQLite commit, before clearing the log
    (tmp_path / "j.db.intents").write_bytes(saved)
    with Journal(path) as j:
        assert j.merged_intents == 0
        assert [m.client_order_id for m in j.messages()] == ["a"]


def test_sequence_numbers_after_a_crash_between_intent_and_row(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    killed_after(
        path,
        """
        assert j.intend(initialized("a")) == 1
        assert j.append(event(OrderSubmitted, "a")) == 2  # settles a's row first
        assert j.intend(initialized("b")) == 3  # then the process dies
        """,
    )
    with Journal(path) as j:
        assert j.next_seq == 4
        assert j.intend(initialized("c")) == 4
        assert j.append(event(OrderSubmitted, "c")) == 5
        orders = j.replay()
    assert list(orders) == ["a", "b", "c"]
    assert orders["a"].status is OrderStatus.SUBMITTED
    assert orders["b"].status is OrderStatus.INITIALIZED


def test_the_intent_log_is_cleared_once_sqlite_has_the_rows(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as j:
        j.intend(initialized("a"))
        log = IntentLog(j.intents_path, owner=0)  # a second view of the same file
        assert [seq for seq, _ in log.records()] == [1]
        j.append(event(OrderSubmitted, "a"))
        assert list(log.records()) == []
        log.close()


def test_intents_piling_up_without_appends_are_settled_when_the_log_fills(
    tmp_path: Path,
) -> None:
    with Journal(tmp_path / "j.db") as j:
        seqs = [j.intend(initialized(f"o{i}")) for i in range(1000)]  # ~300 B each: > 64 KiB
        assert seqs == list(range(1, 1001))
    with Journal(tmp_path / "j.db") as j:
        assert j.merged_intents == 0
        assert list(j.replay()) == [f"o{i}" for i in range(1000)]


def test_with_full_durability_the_intent_is_a_synced_sqlite_row(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db", durability="full") as j:
        assert j.intend(initialized("a")) == 1
        log = IntentLog(j.intents_path, owner=0)
        assert list(log.records()) == []  # straight into SQLite (FULL: fsynced)
        log.close()
        assert j.uncheckpointed == 1


def test_an_intent_log_left_next_to_another_journal_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    killed_after(path, 'j.intend(initialized("a"))')
    for suffix in ("", "-wal", "-shm"):  # the journal is gone, its intent log is not
        (tmp_path / f"j.db{suffix}").unlink(missing_ok=True)
    with pytest.raises(JournalError, match="belongs to another journal"):
        Journal(path)
    # refused without keeping the lock: once the operator deletes the log, it opens
    (tmp_path / "j.db.intents").unlink()
    with Journal(path) as j:
        assert list(j.replay()) == []


def test_a_rehearsal_between_an_intent_and_its_row_leaves_the_intent_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    killed_after(
        path,
        """
        j.intend(initialized("real"))
        j.rehearse(initialized("shadow"))  # written after the real intent, checksum inverted
        """,
    )
    with Journal(path) as j:
        assert j.merged_intents == 1
        assert [m.client_order_id for m in j.messages()] == ["real"]

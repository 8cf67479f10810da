"""The journal's replay (engine/journal.py): what rebuilds orders after a restart.

Cases the mutation run (``python -m mutation journal``) found unpinned: a command journaled
before the order passed, a cancel command between events, and merging an intent log whose
first record SQLite already has. Real SQLite files; the intent log written with its own API.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from tests.engine.factories import event, fill, initialized, submit

from whalewire.engine.intents import IntentLog
from whalewire.engine.journal import Journal
from whalewire.engine.oms import OrderStatus
from whalewire.model import (
    CancelOrder,
    OrderAccepted,
    OrderCanceled,
    OrderSubmitted,
    encode,
)


def test_a_command_journaled_before_its_order_passed_replays_as_that_order(
    tmp_path: Path,
) -> None:
    # the command is pending until the order's first event says what became of it: here
    # it passed (OrderInitialized), so it is an order of record, not a denial
    with Journal(tmp_path / "j.db") as j:
        j.append(submit("a"))
        j.append(initialized("a"))
        j.append(event(OrderSubmitted, "a"))
        j.append(event(OrderAccepted, "a"))
        orders = j.replay()
    assert orders["a"].status is OrderStatus.ACCEPTED
    assert [type(e).__name__ for e in orders["a"].events] == [
        "OrderInitialized",
        "OrderSubmitted",
        "OrderAccepted",
    ]


def test_a_cancel_command_is_skipped_and_the_events_after_it_still_apply(
    tmp_path: Path,
) -> None:
    with Journal(tmp_path / "j.db") as j:
        j.append(initialized("a"))
        j.append(event(OrderSubmitted, "a"))
        j.append(event(OrderAccepted, "a"))
        j.append(CancelOrder(client_order_id="a", ts_init=4, venue="binance", symbol="BTCUSDT"))
        j.append(fill("t1", "0.4", "100", "a"))
        j.append(event(OrderCanceled, "a"))
        j.append(initialized("b"))
        orders = j.replay()
    assert orders["a"].status is OrderStatus.CANCELED
    assert str(orders["a"].filled_qty) == "0.4"  # the fill after the cancel command counted
    assert orders["b"].status is OrderStatus.INITIALIZED


def _owner(db: Path) -> int:
    with closing(sqlite3.connect(db)) as con:
        (value,) = con.execute("SELECT value FROM meta WHERE key='intents_owner'").fetchone()
    return int(value)


def test_merging_skips_an_intent_sqlite_has_and_still_merges_the_ones_after_it(
    tmp_path: Path,
) -> None:
    # the previous run died after its SQLite commit of "a" and before clearing the log, and
    # had logged "b" since: the log holds both, SQLite only "a"
    path = tmp_path / "j.db"
    with Journal(path) as j:
        assert j.append(initialized("a")) == 1
    log = IntentLog(path.with_name("j.db.intents"), owner=_owner(path))
    log.append(1, encode(initialized("a")))
    log.append(2, encode(initialized("b")))
    log.close()
    with Journal(path) as j:
        assert j.merged_intents == 1
        assert [m.client_order_id for m in j.messages()] == ["a", "b"]
        assert j.next_seq == 3
    with closing(sqlite3.connect(path)) as con:
        rows = con.execute("SELECT seq, client_order_id, type FROM messages ORDER BY seq")
        # a merged intent's row is the row append would have written: same type column
        assert rows.fetchall() == [(1, "a", "OrderInitialized"), (2, "b", "OrderInitialized")]

"""engine/events.py: venue changes become events; a drain writes each one once, in time order."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from whalewire.engine.events import EventLog
from whalewire.engine.logs import configure_logging


def test_reconnects_disconnects_and_clock_changes_are_seen_by_diffing_status() -> None:
    events = EventLog()
    events.watch({"binance": {"connected": True, "reconnects": 0, "clock": "SYNCED"}})
    events.watch({"binance": {"connected": False, "reconnects": 0, "clock": "SYNCED"}})
    events.watch({"binance": {"connected": True, "reconnects": 1, "clock": "RESYNCING"}})
    drained = events.drain()
    assert [e["event"] for e in drained] == ["disconnect", "reconnect", "clock"]
    assert drained[1]["reconnects"] == 1
    assert (drained[2]["was"], drained[2]["state"]) == ("SYNCED", "RESYNCING")
    assert events.drain() == []  # each event once


def test_a_drain_writes_json_lines_in_event_time_order(tmp_path: Path) -> None:
    clock = iter([2_000_000_000, 3_000_000_000]).__next__
    events = EventLog(wall_ns=clock)
    seen: list[str] = []
    events.subscribers.append(lambda e: seen.append(str(e["event"])))
    handler = configure_logging(path=tmp_path / "log")
    try:
        events.emit("halt", {"source": "http (alice)"})  # stamped 2 s
        events.emit("whale", {"txid": "ab" * 32, "decision": "COOLDOWN"}, ts_ns=1_000_000_000)
        events.emit("resume", {"source": "cli"})  # stamped 3 s
        events.drain()
    finally:
        handler.close()
        logging.getLogger("whalewire").removeHandler(handler)
    lines = [json.loads(x) for x in (tmp_path / "log").read_text().splitlines()]
    assert [x["event"] for x in lines] == ["whale", "halt", "resume"] == seen
    assert lines[1]["msg"] == "trading HALTED by http (alice)"
    assert lines[0]["ts_event"] == "1970-01-01T00:00:01+00:00".replace("+", ".000000+")
    assert events.counts == {"whale": 1, "halt": 1, "resume": 1}

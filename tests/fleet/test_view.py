"""fleet/view.py: the fleet's terminal view draws every executor and sensor of a survey."""

from __future__ import annotations

from rich.console import Console

from whalewire.fleet.operator import summarize
from whalewire.fleet.view import render, switch_text

ROWS = [
    {"role": "sensor", "name": "s-tokyo", "health": "ok", "age_s": 0.1, "stats": {
        "transactions": 812, "alerts": 5, "feeds": [{"name": "replay"}],
        "peers": {"connected": ["a:1", "b:2"], "ready": 1}}},
    {"role": "executor", "name": "ex-paris", "health": "ok", "age_s": 0.2, "stats": {
        "halted": "kill switch: ops@console (broadcast)", "orders_sent": 4,
        "open_orders": ["ww-7"], "positions": {"BTCUSDT": "-0.02"},
        "recent_alerts": [{"txid": "ab" * 32, "entity": "demo-binance", "kind": "deposit",
                           "value": 1, "sensor": "s-tokyo", "seen_wall_ns": 1,
                           "outcome": "traded"}],
        "dedup": {"wins": {"s-tokyo": 4}, "leads": {"s-tokyo>s-ny": {"p50_ms": 118.25}}}}},
    {"role": "executor", "name": "ex-tokyo", "health": "lost", "age_s": 9.0, "stats": {}},
]  # fmt: skip


def drawn(survey: dict[str, object]) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(render(survey))  # type: ignore[arg-type]
    return console.export_text()


def test_every_role_its_state_and_the_leads_are_drawn() -> None:
    kill = {"action": "kill", "source": "ops@console", "issued_wall_ns": 1}
    text = drawn(summarize(ROWS, kill, {"ex-paris", "ex-gone"}))
    assert "kill switch kill by ops@console" in text
    assert "executors 0/2 trading" in text and "ex-tokyo lost" in text
    assert "unheard (in the order stream): ex-gone" in text
    line = next(row for row in text.splitlines() if row.startswith("ex-paris"))
    assert "kill switch: ops@console (broadcast)" in line and "BTCUSDT -0.02" in line
    assert "abababab" in line and "traded via s-tokyo" in line
    sensor = next(row for row in text.splitlines() if row.startswith("s-tokyo"))
    assert "replay" in sensor and "1/2" in sensor and "812" in sensor
    assert "s-tokyo>s-ny" in text and "ex-paris 118.2" in text


def test_kill_switch_never_set_or_unreadable_is_said_so() -> None:
    assert switch_text(None) == "never set (trade)"
    assert switch_text("unknown") == "unknown"

"""The terminal dashboard (engine/dashboard.py) renders every part of a status snapshot."""

from __future__ import annotations

import io

from rich.console import Console

from whalewire.engine.dashboard import render

STATUS = {
    "mode": "paper",
    "trading_state": "HALTED",
    "state_reason": "kill switch: signal SIGUSR1",
    "uptime_s": 12.0,
    "connections": [
        {
            "venue": "binance",
            "connected": True,
            "rtt_us": {"count": 3, "p50": 41.5, "p99": 88.0},
            "sent": 4,
            "acks": 4,
        }
    ],
    "feeds": [{"name": "replay", "events": 374, "duplicates": 2, "gaps": 0}],
    "whales": {
        "seen": 1,
        "recent": [
            {
                "txid": "6ec0ac0f5eda13232e4d",
                "entity": "demo-binance",
                "kind": "deposit",
                "value_btc": 10.82071353,
                "decision": "SELL 0.001",
            }
        ],
    },
    "ignored": {"COOLDOWN": 2},
    "orders": {
        "sent": 1,
        "filled": 1,
        "rejected": 0,
        "denied": 0,
        "unknown": 0,
        "recent": [
            {
                "client_order_id": "ww1",
                "side": "SELL",
                "quantity": "0.001",
                "status": "FILLED",
                "filled": "0.001",
                "avg_px": "60000",
            }
        ],
    },
    "positions": {
        "BTCUSDT": {
            "position": "-0.001",
            "realized_pnl": "0",
            "unrealized_pnl": "0",
            "last_price": "60000",
        }
    },
    "latency_us": {"trigger_to_send": {"count": 1, "p50": 21.0, "p99": 21.0, "p99.9": 21.0}},
}


def test_dashboard_shows_state_connections_whales_orders_pnl_and_latency() -> None:
    console = Console(file=io.StringIO(), width=160)
    console.print(render(STATUS))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    for expected in (
        "HALTED",
        "kill switch: signal SIGUSR1",
        "binance",
        "41.5",
        "replay",
        "374",
        "demo-binance",
        "10.8207",
        "ww1",
        "FILLED",
        "-0.001",
        "trigger_to_send",
        "21.0",
        "ignored 2",
    ):
        assert expected in text, expected


def test_dashboard_renders_an_empty_snapshot_without_failing() -> None:
    console = Console(file=io.StringIO(), width=100)
    console.print(render({}))
    assert "whalewire" in console.file.getvalue()  # type: ignore[attr-defined]


def _busy_status() -> dict[str, object]:
    """A snapshot with every list full, a denial and all latency stages."""
    whale = dict(STATUS["whales"]["recent"][0])  # type: ignore[index]
    order = dict(STATUS["orders"]["recent"][0])  # type: ignore[index]
    denied = dict(order, client_order_id="ww2", status="DENIED", filled="0", reason="MAX_POSITION")
    stages = ("detect", "decide", "risk", "journal", "send", "trigger_to_send", "ack")
    return {
        **STATUS,
        "control_url": "http://127.0.0.1:8787",
        "whales": {
            "seen": 9,
            "recent": [whale] * 8 + [dict(whale, decision="DENIED MAX_POSITION")],
        },
        "orders": {
            **STATUS["orders"],  # type: ignore[dict-item]
            "denied": 1,
            "denied_by_reason": {"MAX_POSITION": 1},
            "recent": [order] * 8 + [denied],
        },
        "latency_us": {s: {"count": 9, "p50": 20.0, "p99": 30.0, "p99.9": 31.0} for s in stages},
        "events": [{"ts": "2026-12-07T20:00:00.000000+00:00", "line": "whale x"}] * 9,
    }


def test_at_80x24_everything_fits_and_the_control_url_stays_on_screen() -> None:
    console = Console(file=io.StringIO(), width=80, height=24)
    console.print(render(_busy_status(), height=24))
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert len(lines) <= 24, "\n".join(lines)
    assert "http://127.0.0.1:8787" in lines[1]
    text = "\n".join(lines)
    assert "MAX_POSITION" in text  # the denial's reason, in the counts and the order row
    assert "..." not in text


def test_a_denied_order_shows_its_reason_not_its_price() -> None:
    console = Console(file=io.StringIO(), width=160)
    console.print(render(_busy_status(), height=60))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "DENIED MAX_POSITION" in text  # the whale's decision
    assert "denied 1 (MAX_POSITION 1)" in text
    assert "recent events" in text and "whale x" in text

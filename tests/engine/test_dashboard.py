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
        "ignored alerts 2",
    ):
        assert expected in text, expected


def test_dashboard_renders_an_empty_snapshot_without_failing() -> None:
    console = Console(file=io.StringIO(), width=100)
    console.print(render({}))
    assert "whalewire" in console.file.getvalue()  # type: ignore[attr-defined]

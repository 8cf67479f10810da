"""Metrics (engine/metrics.py): percentiles from known samples, Prometheus exposition."""

from __future__ import annotations

from whalewire.engine.metrics import Latency, Metrics


def test_percentiles_of_a_known_distribution_are_exact_to_three_digits() -> None:
    lat = Latency("send")
    for v in range(1, 10_001):  # 1..10000 ns, uniform
        lat.record(v * 1000)
    summary = lat.summary()
    assert summary["count"] == 10_000
    assert abs(summary["p50"] - 5_000_000) <= 5_000
    assert abs(summary["p99"] - 9_900_000) <= 9_900
    assert abs(summary["p99.9"] - 9_990_000) <= 9_990
    assert summary["min"] == 1000
    assert abs(summary["max"] - 10_000_000) <= 10_000


def test_empty_latency_reports_zero_count_and_no_buckets() -> None:
    lat = Latency("ack")
    assert lat.summary() == {"count": 0}
    assert lat.percentile(99) == 0
    assert lat.buckets() == []


def test_buckets_hold_every_sample_once() -> None:
    lat = Latency("detect")
    samples = [500, 600, 700, 5_000, 50_000, 50_000, 1_000_000]
    for s in samples:
        lat.record(s)
    buckets = lat.buckets(10)
    assert sum(c for _, c in buckets) == len(samples)
    assert [b for b, _ in buckets] == sorted(b for b, _ in buckets)
    assert buckets[-1][0] >= 1_000_000


def test_prometheus_exposition_has_counters_gauges_and_summaries() -> None:
    m = Metrics()
    m.inc("orders_sent")
    m.inc("orders_sent")
    m.set("trading_halted", 1)
    m.latency("trigger_to_send").record(20_000)
    text = m.to_prometheus()
    assert "# TYPE whalewire_orders_sent_total counter\nwhalewire_orders_sent_total 2\n" in text
    assert "whalewire_trading_halted 1\n" in text
    assert "# TYPE whalewire_latency_trigger_to_send_seconds summary" in text
    assert 'whalewire_latency_trigger_to_send_seconds{quantile="0.5"} 0.000020' in text
    assert "whalewire_latency_trigger_to_send_seconds_count 1\n" in text
    assert "# HELP whalewire_latency_trigger_to_send_seconds feed receive" in text


def test_state_exposition_labels_denials_venues_and_symbols() -> None:
    from whalewire.engine.metrics import state_exposition

    status = {
        "trading_state": "HALTED",
        "armed": True,
        "connections": [{"venue": "binance", "connected": False, "reconnects": 2}],
        "feeds": [{"name": "zmq", "events": 10, "duplicates": 1, "gaps": 3}],
        "whales": {"seen": 4},
        "orders": {"open": 1, "unknown": 0, "denied_by_reason": {"MAX_POSITION": 2}},
        "positions": {"BTCUSDT": {"position": "-0.002", "realized_pnl": "1.50",
                                  "unrealized_pnl": "-0.25"}},
    }  # fmt: skip
    lines = state_exposition(status, {"halt": 1}).splitlines()
    for expected in (
        'whalewire_trading_state{state="HALTED"} 1',
        'whalewire_trading_state{state="ACTIVE"} 0',
        'whalewire_venue_up{venue="binance"} 0',
        'whalewire_venue_reconnects_total{venue="binance"} 2',
        'whalewire_feed_gaps_total{feed="zmq"} 3',
        'whalewire_denials_total{reason="MAX_POSITION"} 2',
        'whalewire_position{symbol="BTCUSDT"} -0.002',
        'whalewire_realized_pnl{symbol="BTCUSDT"} 1.5',
        'whalewire_events_total{kind="halt"} 1',
        "# TYPE whalewire_denials_total counter",
    ):
        assert expected in lines, expected

"""Fault plans: reproducible from a seed, applied around the Binance handler.

Injected answers use Binance ``errors.md`` codes (-1007 TIMEOUT "execution status
unknown", -1008 SERVER_BUSY, -1003 TOO_MANY_REQUESTS) and the 5xx meaning given in
``web-socket-api.md`` ("Status codes": execution status unknown).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

from tests.emulator.support import DOC_API_KEY, DOC_SECRET, Clock, doc_order, hmac_sign, make

from whalewire.emulator.binance.exchange import BinanceConfig, BinanceExchange
from whalewire.emulator.faults import (
    FaultInjector,
    FaultKind,
    FaultPlan,
    skewed_clock,
)

MIXED = FaultPlan(
    seed=42,
    latency_ms=5,
    jitter_ms=10,
    drop_rate=0.1,
    disconnect_rate=0.05,
    unknown_rate=0.1,
    server_error_rate=0.1,
)


def decisions(plan: FaultPlan, n: int = 500) -> list[tuple[float, FaultKind | None]]:
    injector = FaultInjector(plan)
    return [(d.delay_ms, d.kind) for d in (injector.next_decision() for _ in range(n))]


def test_same_seed_gives_the_same_faults_and_another_seed_does_not():
    assert decisions(MIXED) == decisions(MIXED)
    assert decisions(replace(MIXED, seed=43)) != decisions(MIXED)


def test_rates_and_delays_follow_the_plan():
    kinds = Counter(kind for _, kind in decisions(MIXED, 2000))
    # each rate applies to what the faults before it left: 10 %, then 10 % of 90 %, ...
    assert 150 <= kinds[FaultKind.SERVER_ERROR] <= 250
    assert 130 <= kinds[FaultKind.UNKNOWN] <= 230
    assert 110 <= kinds[FaultKind.DROP] <= 210
    assert 40 <= kinds[FaultKind.DISCONNECT] <= 120
    delays = [delay for delay, _ in decisions(MIXED, 2000)]
    assert min(delays) >= 5 and max(delays) < 15


def test_windows_storm_then_ban_and_a_shutdown_at_its_index():
    plan = FaultPlan(storm=(3, 6), ban_from=10, shutdown_at=8)
    kinds = [kind for _, kind in decisions(plan, 12)]
    assert kinds == [None, None, None] + [FaultKind.RATE_LIMITED] * 3 + [
        None,
        None,
        FaultKind.SHUTDOWN,
        None,
        FaultKind.BANNED,
        FaultKind.BANNED,
    ]


def run(plan: FaultPlan, request: dict[str, Any]):
    clock, exchange, session = make()
    injector = FaultInjector(plan)
    outcome = injector.apply(json.dumps(request), session.handle, exchange.render_fault)
    return clock, exchange, [json.loads(t) for t in outcome.texts], outcome


def market_buy(ts: int) -> dict[str, Any]:
    return doc_order(ts, side="BUY", type="MARKET", quantity="0.001")


def btc_of(exchange: BinanceExchange) -> str:
    return str(exchange.registry.accounts["doc"].free("BTC"))


def test_unknown_answer_hides_an_order_that_did_execute():
    _, exchange, texts, outcome = run(FaultPlan(unknown_rate=1.0), market_buy(1_660_801_715_431))
    (answer,) = texts
    assert (answer["status"], answer["error"]["code"]) == (503, -1007)
    assert answer["id"] == "req-1660801715431"
    assert not outcome.close
    assert btc_of(exchange) != "10"  # the BUY filled: only a query can tell


def test_server_error_answer_means_the_order_never_reached_the_engine():
    _, exchange, texts, _ = run(FaultPlan(server_error_rate=1.0), market_buy(1_660_801_715_431))
    assert (texts[0]["status"], texts[0]["error"]["code"]) == (503, -1008)
    assert btc_of(exchange) == "10"


def test_drop_and_disconnect_execute_the_order_but_send_no_answer():
    for plan, close in ((FaultPlan(drop_rate=1.0), False), (FaultPlan(disconnect_rate=1.0), True)):
        _, exchange, texts, outcome = run(plan, market_buy(1_660_801_715_431))
        assert texts == [] and outcome.close is close
        assert btc_of(exchange) != "10"


def test_storm_answers_429_and_ban_answers_418_then_closes():
    _, exchange, texts, outcome = run(FaultPlan(storm=(0, 1)), market_buy(1_660_801_715_431))
    assert (texts[0]["status"], texts[0]["error"]["code"]) == (429, -1003)
    assert texts[0]["error"]["data"]["retryAfter"] == 1_660_801_740_000  # next minute
    assert not outcome.close and btc_of(exchange) == "10"
    _, _, texts, outcome = run(FaultPlan(ban_from=0), {"id": 1, "method": "ping"})
    assert texts[0]["status"] == 418 and outcome.close


def test_shutdown_notice_follows_the_answer_then_the_connection_closes():
    clock, _, texts, outcome = run(FaultPlan(shutdown_at=0), {"id": 1, "method": "ping"})
    assert len(texts) == 2 and texts[0]["status"] == 200
    assert texts[1] == {"event": {"e": "serverShutdown", "E": clock.now}}
    assert outcome.close


def test_clock_skew_makes_a_correct_client_timestamp_look_ahead():
    base = Clock(1_660_801_715_431)
    exchange = BinanceExchange(skewed_clock(base, -2000), BinanceConfig(book_levels=0))
    exchange.registry.open_account("doc")
    exchange.registry.add_hmac_key("doc", DOC_API_KEY, DOC_SECRET)
    session = exchange.connect()
    params = hmac_sign({"apiKey": DOC_API_KEY, "timestamp": base.now})
    (raw,) = session.handle(json.dumps({"id": 1, "method": "account.status", "params": params}))
    assert json.loads(raw)["error"] == {
        "code": -1021,
        "msg": "Timestamp for this request was 1000ms ahead of the server's time.",
    }


def test_a_faulty_session_replays_identically_from_its_seed():
    def transcript() -> list[str]:
        clock, exchange, session = make()
        injector = FaultInjector(MIXED)
        out: list[str] = []
        for i in range(60):
            clock.now += 10
            outcome = injector.apply(
                json.dumps(market_buy(clock.now)), session.handle, exchange.render_fault
            )
            out.extend(outcome.texts)
            out.append(f"delay={outcome.delay_ms:.6f} close={outcome.close} #{i}")
        return out

    first = transcript()
    assert first == transcript()
    assert any('"status":503' in t for t in first)

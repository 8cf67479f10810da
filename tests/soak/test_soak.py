"""Soak (issue 8): a busy mempool through a real engine against a faulty emulator, on loopback.

Both variants run the same harness (``harness.run_soak``): an engine process fed by a
synthetic mempool (the embedded block's transactions re-serialised with new locktimes,
one deposit every 100) trades against an emulator process whose fault plan changes
while it runs: latency and jitter, dropped answers (the engine's ack deadline makes an
unanswered order UNKNOWN), 5xx "execution status unknown" answers (the venue did act),
5xx overload answers (it did not), and a venue clock skewed ahead and then behind, within
``recvWindow``. Then faults stop, a final reconciliation runs, and the venue's books are
compared with the journal: nothing lost, nothing doubled, nothing left open, memory flat.
The short variant runs on every test run; the long one (``slow``) for four minutes.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from tests.soak.harness import START_BTC, Phase, SoakResult, SoakSpec, run_soak

from whalewire.engine.oms import OrderStatus

#: Binance errors.md: -2013 NO_SUCH_ORDER "Order does not exist."
NO_SUCH_ORDER = -2013

FAULTS = {
    "latency_ms": 1.0,
    "jitter_ms": 4.0,
    "drop_rate": 0.06,
    "unknown_rate": 0.03,
    "server_error_rate": 0.03,
}


def phases(seconds: float) -> tuple[Phase, ...]:
    """Faults from the start; the venue clock 400 ms ahead, then 400 ms behind (recvWindow is
    1000 ms), then more drops with the clock back in line."""
    return (
        Phase(0.0, {**FAULTS, "seed": 1, "clock_skew_ms": 400}),
        Phase(seconds * 0.4, {**FAULTS, "seed": 2, "clock_skew_ms": -400}),
        Phase(seconds * 0.7, {**FAULTS, "seed": 3, "drop_rate": 0.12}),
    )


def check(result: SoakResult, rss_bound_kb: int) -> None:
    """The soak's verdicts: zero lost, zero duplicated, all final, memory flat."""
    orders = result.orders
    print(json.dumps(result.numbers(), indent=1))  # the figures docs/benchmarks.md reports
    assert len(orders) >= 20, "too few orders to say anything"
    # once faults stop, the engine's own reconciliations (no restart, no operator) leave
    # nothing open, and the final reconciliation finds nothing left to do
    assert result.quiet["open"] == {}
    assert result.reconciled["open"] == {}
    assert [o for o in orders.values() if not o.is_final] == []
    # no client order id was initialized (and so sent) twice
    assert max(result.initialized.values()) == 1
    assert set(result.initialized) <= set(orders)
    # the venue: no client order id twice, and exactly the orders the journal says it has
    venue_ids = [v["client_order_id"] for v in result.venue_orders]
    assert len(venue_ids) == len(set(venue_ids))
    absent = {OrderStatus.NOT_FOUND, OrderStatus.REJECTED, OrderStatus.DENIED}
    at_venue = {coid for coid, o in orders.items() if o.status not in absent}
    assert set(venue_ids) == at_venue
    executed = {v["client_order_id"]: Decimal(v["executed_qty"]) for v in result.venue_orders}
    assert {coid: orders[coid].filled_qty for coid in at_venue} == executed
    # what the journal says the venue never had, the venue confirms it does not have
    assert set(result.absent_checked.values()) <= {NO_SUCH_ORDER}
    # the venue's balance moved by exactly what the journal says filled (sells only)
    assert result.filled() > 0
    assert START_BTC - result.venue_btc == result.filled()
    # the faults did happen, and orders went through UNKNOWN and came back
    hit = result.faults_hit
    assert hit.get("DROP", 0) and hit.get("UNKNOWN", 0) and hit.get("SERVER_ERROR", 0)
    assert result.numbers()["orders_through_unknown"] > 0
    # memory: after warm-up, the end is within the bound of the start, and so is the peak
    base, end, peak = result.rss_growth_kb()
    assert end - base < rss_bound_kb, (base, end)
    assert peak - base < rss_bound_kb, (base, peak)


def test_short_soak_under_faults_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    seconds = 14.0
    spec = SoakSpec(seconds=seconds, phases=phases(seconds), warmup_s=4.0, settle_s=5.0)
    check(run_soak(spec, tmp_path), rss_bound_kb=8 * 1024)


@pytest.mark.slow
def test_four_minute_soak_under_faults_loses_nothing_and_memory_stays_flat(
    tmp_path: Path,
) -> None:
    seconds = 210.0
    spec = SoakSpec(seconds=seconds, phases=phases(seconds), warmup_s=40.0, settle_s=40.0)
    result = run_soak(spec, tmp_path)
    check(result, rss_bound_kb=10 * 1024)
    # with faults still on, 40 s after the feed stops the engine has settled every order
    # by itself (a dropped order.status costs request_timeout_s = 5 s, then it asks again)
    assert result.settled["open"] == {}

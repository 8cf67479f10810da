"""The reflex (``engine/reflex.py``) against the reference path: the same engine, whales fired
from armed orders or decided by strategy and risk, must come out identical.

DESIGN.md: "the reflex arms them before a whale"; issue 18 item 2: "a hypothesis test drives
both with the same whales, fills and limit changes and proves identical orders, ids, journal
and risk state". Two engines over real SQLite journals get the same steps on the same fake
clock: whales (fresh and repeated transactions, every entity and kind), venue fills,
acceptances and cancels, marks pushed as market data would, venue price updates, limit
changes, halts and resumes, with a rehearsal after every step. Only the venue client is
a stand-in that records what it is asked to send.
"""

from __future__ import annotations

import asyncio
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.factories import Clock, NoDetector, RecordingVenue

from whalewire.engine.app import Engine
from whalewire.engine.config import parse_config
from whalewire.engine.journal import Journal
from whalewire.engine.warmup import ShadowAlert
from whalewire.mempool.whales import AlertKind
from whalewire.model import OrderAccepted, OrderCanceled, OrderFilled, encode

CONFIG = """
[engine]
namespace = "rfx"
[strategy]
min_value_sats = 25_000_000
cooldown_s = 5.0
max_reactions = 6
window_s = 30.0
sides = { deposit = "SELL", withdrawal = "BUY" }
[strategy.routes.Kraken]
venue = "binance"
symbol = "ETHUSDT"
[risk]
max_orders_per_second = 2
max_orders_per_minute = 5
[risk.symbols.BTCUSDT]
max_order_qty = 0.01
max_order_notional = 200
max_position = 0.003
max_daily_loss = 150
[risk.symbols.ETHUSDT]
max_order_qty = 0.01
max_order_notional = 2000
max_position = 0.004
max_daily_loss = 100
"""

ENTITIES = ["Binance", "Kraken", "OKX"]
PRICES = [Decimal(p) for p in ("60000", "61000", "59000", "120000", "210000", "30000")]


class PricedVenue(RecordingVenue):
    """The recording venue with a last price the test moves (a venue's price update)."""

    prices: dict[str, Decimal]

    def last_price(self, symbol: str) -> Decimal | None:
        return self.prices.get(symbol)


def build(root: Path, name: str, fast: bool) -> tuple[Engine, PricedVenue, Clock]:
    clock = Clock()
    venue = PricedVenue(clock)
    venue.prices = {"BTCUSDT": Decimal("60000"), "ETHUSDT": Decimal("60000")}
    engine = Engine(
        parse_config(CONFIG),
        venues={"binance": venue},
        detector=NoDetector(),
        journal=Journal(root / f"{name}.db"),
        namespace="rfx",
        monotonic_ns=clock.monotonic,
        wall_ns=clock.wall_ns,
    )
    engine.pipeline.fast = fast
    engine.armed = True
    return engine, venue, clock


def snapshot(engine: Engine, venue: PricedVenue) -> dict[str, Any]:
    risk, strategy = engine.risk, engine.strategy
    return {
        "placed": [encode(c) for c in venue.placed],
        "journal": [encode(m) for m in engine.journal.messages()],
        "next_seq": engine.journal.next_seq,
        "orders": {k: (o.status, encode(o.command)) for k, o in engine.orders.items()},
        "ignored": dict(engine.pipeline.ignored),
        "risk": (risk.state, {s: repr(b) for s, b in risk.books.items()}),
        "rates": (list(risk._last_second), list(risk._last_minute)),
        "reserved": {s: repr(r) for s, r in engine.execution.reserved.items()},
        "strategy": (
            list(strategy._seen),
            dict(strategy._last_by_entity),
            list(strategy._reactions),
        ),
        "whales": list(engine.pipeline.recent_whales),
        "counters": {k: v for k, v in engine.metrics.counters.items()},
    }


whale = st.tuples(
    st.just("whale"),
    st.sampled_from(ENTITIES),
    st.sampled_from([200_000_000, 30_000_000, 10_000_000]),
    st.sampled_from([AlertKind.DEPOSIT, AlertKind.WITHDRAWAL]),
    st.sampled_from([0, 0, 0, 0, 1, 3]),  # 0: a fresh txid; n: the n-th latest again
    st.sampled_from([False] * 7 + [True]),  # mined
)
symbol = st.sampled_from(["BTCUSDT", "ETHUSDT"])
STEPS = {
    "whale": whale,
    "advance": st.tuples(
        st.just("advance"), st.sampled_from([0.6, 1.1, 5.5, 31.0, 61.0, 86_400.0])
    ),
    "fill": st.tuples(
        st.just("fill"),
        st.integers(0, 5),
        st.sampled_from(["0.0004", "0.001"]),
        st.sampled_from(PRICES),
        st.booleans(),  # reported by the venue (re-armed), or applied by reconciliation (not)
    ),
    "accept": st.tuples(st.just("accept"), st.integers(0, 5)),
    "cancel": st.tuples(st.just("cancel"), st.integers(0, 5)),
    "mark": st.tuples(st.just("mark"), symbol, st.sampled_from(PRICES)),
    "venue_price": st.tuples(st.just("venue_price"), symbol, st.sampled_from(PRICES)),
    "limits": st.tuples(
        st.just("limits"), st.sampled_from(["0.002", "0.003", "0.0005"]), st.booleans()
    ),
    "halt": st.tuples(st.just("halt")),
    "resume": st.tuples(st.just("resume")),
}
# whales most of the time, between the events that move what the armed orders rest on
WEIGHTS = ["whale"] * 8 + ["advance", "fill", "mark"] * 3 + ["accept", "cancel"] * 2 + [
    "venue_price", "limits", "halt", "resume"
]  # fmt: skip
STEP = st.sampled_from(WEIGHTS).flatmap(lambda kind: STEPS[kind])


async def apply(
    step: tuple[Any, ...], engine: Engine, venue: PricedVenue, clock: Clock, txids: list[str]
) -> None:
    kind = step[0]
    if kind == "whale":
        _, entity, value, alert_kind, again, mined = step
        if again and len(txids) >= again:
            txid = txids[-again]
        else:
            txid = f"{len(txids):064x}"
            txids.append(txid)
        alert = ShadowAlert(
            entity=entity, value=value, txid=txid, kind=alert_kind, recv_ns=clock.mono
        )
        engine.on_alert(alert, mined=mined)
    elif kind == "advance":
        clock.advance(step[1])
    elif kind in ("fill", "accept", "cancel"):
        coids = sorted(c for c, o in engine.orders.items() if not o.is_final)
        if not coids:
            return
        coid = coids[step[1] % len(coids)]
        now = clock.mono
        if kind == "fill":
            order = engine.orders[coid]
            qty = min(Decimal(step[2]), order.leaves_qty)
            # reconciliation applies its events directly (engine/execution.py): no re-arm
            report = venue.emit if step[4] else engine.execution.apply
            report(
                OrderFilled(
                    client_order_id=coid,
                    ts_init=now,
                    ts_event=now,
                    trade_id=f"t{now}-{coid}",
                    last_qty=qty,
                    last_px=step[3],
                    commission=Decimal(0),
                    commission_asset="USDT",
                )
            )
        elif kind == "accept":
            venue.emit(
                OrderAccepted(client_order_id=coid, ts_init=now, ts_event=now, venue_order_id="1")
            )
        else:
            venue.emit(OrderCanceled(client_order_id=coid, ts_init=now, ts_event=now))
    elif kind == "mark":  # market data's push (engine/marketdata.py): no re-arm follows
        engine.risk.on_trade_price(step[1], step[2])
    elif kind == "venue_price":  # the venue heard a new price: pushed at the next re-arm
        venue.prices[step[1]] = step[2]
    elif kind == "limits":
        risk = engine.risk
        symbols = dict(risk.config.symbols)
        old = symbols["BTCUSDT"]
        symbols["BTCUSDT"] = msgspec.structs.replace(old, max_position=Decimal(step[1]))
        risk.config = msgspec.structs.replace(risk.config, symbols=symbols)
        if step[2]:  # told, or found out by the next whale
            engine.pipeline.reflex.rearm()
    elif kind == "halt":
        await engine.kill("test")
    elif kind == "resume":
        engine.resume("test")


async def run_both(
    steps: list[tuple[Any, ...]], root: Path
) -> tuple[Engine, Engine, dict[str, Any], dict[str, Any]]:
    fast, fast_venue, fast_clock = build(root, "fast", True)
    ref, ref_venue, ref_clock = build(root, "ref", False)
    try:
        fast_txids: list[str] = []
        ref_txids: list[str] = []
        for step in steps:
            await apply(step, fast, fast_venue, fast_clock, fast_txids)
            await apply(step, ref, ref_venue, ref_clock, ref_txids)
            # both rehearse (a rehearsal's own effect is tests/engine/test_rehearsal.py's),
            # each with the reflex's shadow fire
            fast.rehearse()
            ref.rehearse()
        return fast, ref, snapshot(fast, fast_venue), snapshot(ref, ref_venue)
    finally:
        await fast.close()
        await ref.close()
        fast.journal.close()
        ref.journal.close()


@settings(max_examples=150, deadline=None)
@given(st.lists(STEP, min_size=5, max_size=60))
def test_reflex_and_reference_path_give_identical_orders_ids_journal_and_risk_state(
    steps: list[tuple[Any, ...]],
) -> None:
    with tempfile.TemporaryDirectory() as root:
        _, ref, got, want = asyncio.run(run_both(steps, Path(root)))
    assert got == want
    assert ref.pipeline.reflex.fired == 0


SCRIPT: list[tuple[Any, ...]] = [
    ("whale", "Binance", 200_000_000, AlertKind.DEPOSIT, 0, False),  # fired: SELL BTCUSDT
    ("advance", 1.1),
    ("whale", "Kraken", 200_000_000, AlertKind.DEPOSIT, 0, False),  # fired: SELL ETHUSDT
    ("fill", 0, "0.001", Decimal("60000"), True),
    ("advance", 1.1),
    ("whale", "OKX", 200_000_000, AlertKind.WITHDRAWAL, 0, False),  # fired: BUY BTCUSDT
    ("mark", "BTCUSDT", Decimal("210000")),  # outside the notional band: the reference denies
    ("advance", 5.5),
    ("whale", "Binance", 200_000_000, AlertKind.WITHDRAWAL, 0, False),
]


async def test_armed_orders_fire_and_a_mark_outside_the_band_goes_to_risk(tmp_path: Path) -> None:
    fast, _, got, want = await run_both(SCRIPT, tmp_path)
    assert got == want
    assert fast.pipeline.reflex.fired == 3
    assert fast.metrics.counters["orders_sent"] == 3
    assert fast.metrics.counters["orders_denied"] == 1
    assert b'"reason":"MAX_ORDER_NOTIONAL"' in got["journal"][-1]

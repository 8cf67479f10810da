"""Risk's reference price comes from the venues without a per-order read, for every sizing.

The reflex pushes each configured route's venue price into risk when it re-arms (at
start, after every order and venue event). With fraction sizing no route is armed, and
the reference path's notional check needs that mark all the same: every order was once
denied NO_REFERENCE_PRICE when an engine ran without the runner's periodic marking (the
soak's engine worker drives it by hand).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.engine.factories import CONFIG, Alert, make_engine

from whalewire.engine.oms import OrderStatus

FRACTION = CONFIG.replace(
    "[strategy]\n",
    '[strategy]\nsize_mode = "fraction"\nfraction = "0.00001"\nqty_step = "0.00001"\n',
)


async def test_fraction_sizing_orders_are_marked_at_the_venues_price(tmp_path: Path) -> None:
    engine, venue = make_engine(tmp_path, "fraction", FRACTION)
    assert engine.risk.books["BTCUSDT"].last_price == Decimal("60000")  # pushed at start
    engine.pipeline.on_alert(Alert("aa" * 32))  # type: ignore[arg-type]
    assert [c.symbol for c in venue.placed] == ["BTCUSDT"]
    (order,) = engine.execution.orders.values()
    assert order.status is not OrderStatus.DENIED

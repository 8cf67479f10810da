"""Kraken Spot WebSocket v2 ``add_order`` / ``batch_add`` flags the emulator checks but
that do not change matching: ``deadline`` ("Range of valid offsets (from current time) is
500 milliseconds to 60 seconds ... The engine will prevent this order from matching after
this time") and ``reduce_only`` ("Reduces an existing margin position": a spot account has
none, "Spot REST API" > "Errors" ``EOrder:Reduce only:No position exists``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.emulator.support import KRAKEN_TOKEN, kraken_call, kraken_make
from tests.emulator.support import kraken_order as kraken_request

from whalewire.emulator.kraken.exchange import KrakenConfig, KrakenExchange, KrakenSession


def _kraken() -> tuple[KrakenExchange, KrakenSession]:
    _, exchange, session = kraken_make(KrakenConfig(book_levels=0))
    return exchange, session


def _rfc3339(ms: int) -> str:
    # written here, not by the emulator: "Format: RFC3339 Example: 2022-12-25T09:30:59.123Z"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


@pytest.mark.parametrize(
    ("offset_ms", "placed"),
    [(500, True), (60_000, True), (5_000, True), (499, False), (60_001, False), (-1, False)],
)
def test_kraken_deadline_must_lie_500_ms_to_60_s_ahead(offset_ms: int, placed: bool) -> None:
    exchange, session = _kraken()
    now = exchange.clock()
    request = kraken_request(
        order_type="limit", limit_price=1000.0, deadline=_rfc3339(now + offset_ms)
    )
    response = kraken_call(session, request)[0]
    assert response["success"] is placed, response
    if not placed:
        assert response["error"] == "EGeneral:Invalid arguments:deadline"
    assert len(exchange.engine.open_orders("doc")) == (1 if placed else 0)


@pytest.mark.parametrize("deadline", ["tomorrow", "2023-09-21T14:35:09", 17])
def test_kraken_deadline_that_is_not_rfc3339_with_offset_is_invalid(deadline: object) -> None:
    _, session = _kraken()
    response = kraken_call(session, kraken_request(deadline=deadline))[0]
    assert response["error"] == "EGeneral:Invalid arguments:deadline"


def test_kraken_batch_deadline_applies_to_the_batch() -> None:
    exchange, session = _kraken()
    orders = [{"order_type": "limit", "side": "buy", "order_qty": 0.01, "limit_price": p}
              for p in (1000.0, 1001.0)]  # fmt: skip
    params = {"symbol": "BTC/USD", "orders": orders, "token": KRAKEN_TOKEN}
    late = {"method": "batch_add", "params": {**params, "deadline": _rfc3339(exchange.clock() - 1)}}
    response = kraken_call(session, late)[0]
    assert response["error"] == "EGeneral:Invalid arguments:deadline"
    assert exchange.engine.open_orders("doc") == []


def test_kraken_reduce_only_has_no_position_to_reduce_on_spot() -> None:
    _, session = _kraken()
    response = kraken_call(session, kraken_request(reduce_only=True))[0]
    assert response["error"] == "EOrder:Reduce only:No position exists"
    assert kraken_call(session, kraken_request(reduce_only="yes"))[0]["error"] == (
        "EGeneral:Invalid arguments:reduce_only"
    )
    assert kraken_call(session, kraken_request(reduce_only=False, order_qty=0.01))[0]["success"]

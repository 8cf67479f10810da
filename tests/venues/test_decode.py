"""The venues' sans-IO decoders (venues/*/decode.py, venues/decoding.py): types in, paths out.

Documented shapes decode into typed values (Binance ``user-data-stream.md``
"executionReport", Kraken Spot WebSocket v2 "Executions", Coinbase "Exchange WebSocket
Channels" ``match``); anything else raises ``VenueDecodeError`` naming the venue, the
message and the field path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from whalewire.venues.binance import decode as binance
from whalewire.venues.coinbase import decode as coinbase
from whalewire.venues.decoding import VenueDecodeError
from whalewire.venues.kraken import decode as kraken


def _binance_report(data: bytes) -> Any:
    return binance.execution_report(binance.message(data).event)


def _kraken_rows(data: bytes) -> Any:
    return kraken.executions(kraken.message(data).data)


REPORT = {"e": "executionReport", "c": "ww-1", "x": "TRADE", "l": "0.5", "L": "100.25", "t": 3}
ROW = {"exec_type": "trade", "cl_ord_id": "c1", "order_id": "O1", "last_qty": 0.5, "last_price": 9}
MATCH = {"type": "match", "price": "100.25", "size": "0.5", "taker_order_id": "t"}


def test_documented_messages_decode_to_typed_values() -> None:
    report = _binance_report(json.dumps({"subscriptionId": 0, "event": REPORT}).encode())
    assert (report.client_order_id, report.l, report.L) == (
        "ww-1",
        Decimal("0.5"),
        Decimal("100.25"),
    )
    (row,) = _kraken_rows(json.dumps({"channel": "executions", "data": [ROW]}).encode())
    assert (row.cl_ord_id, row.last_qty, row.last_price) == ("c1", Decimal("0.5"), Decimal(9))
    match = coinbase.feed(json.dumps(MATCH))
    assert (match.price, match.size) == (Decimal("100.25"), Decimal("0.5"))


def test_a_cancel_names_the_canceled_order() -> None:
    report = binance.ExecutionReport(x="CANCELED", c="cancel-req", C="ww-1")
    assert report.client_order_id == "ww-1"


@pytest.mark.parametrize(
    ("decoder", "message", "venue", "what", "path"),
    [
        (
            _binance_report,
            {"event": {**REPORT, "l": "NaN"}},
            "binance",
            "executionReport",
            "$.event.l",
        ),
        (_binance_report, {"event": {**REPORT, "c": 5}}, "binance", "executionReport", "$.event.c"),
        (binance.message, {"status": "ok"}, "binance", "message", "$.status"),
        (binance.message, {"error": {"code": "x"}}, "binance", "message", "$.error.code"),
        (
            _kraken_rows,
            {"data": [{**ROW, "last_qty": "1e999999"}]},
            "kraken",
            "executions",
            "$.data[0].last_qty",
        ),
        (_kraken_rows, {"data": [ROW, {"order_id": "O2"}]}, "kraken", "executions", "$.data[1]"),
        (coinbase.feed, {**MATCH, "size": "Infinity"}, "coinbase", "feed message", "$.size"),
        (coinbase.feed, {"price": "1"}, "coinbase", "feed message", "$"),
    ],
)
def test_a_message_that_does_not_fit_names_venue_message_and_path(
    decoder: Callable[[bytes], Any], message: dict[str, Any], venue: str, what: str, path: str
) -> None:
    with pytest.raises(VenueDecodeError) as caught:
        decoder(json.dumps(message).encode())
    assert (caught.value.venue, caught.value.message, caught.value.path) == (venue, what, path)
    assert f"{venue}: malformed {what}: " in str(caught.value)


def test_text_that_is_not_json_is_a_decode_error_at_the_root() -> None:
    with pytest.raises(VenueDecodeError) as caught:
        binance.message(b"{not json")
    assert caught.value.path == "$"


def test_best_effort_ids_come_out_of_messages_that_do_not_decode() -> None:
    assert binance.request_id(b'{"id":"ww-1","status":"ok"}') == "ww-1"
    assert binance.order_of(msgspec.Raw(b'{"c":"a","C":"b","l":"NaN"}')) == "b"
    assert kraken.request_id(b'{"req_id":7,"success":"maybe"}') == 7
    refs = kraken.execution_refs(msgspec.Raw(b'[{"cl_ord_id":"c1","last_qty":"x"}]'))
    assert [r.cl_ord_id for r in refs] == ["c1"]
    assert (
        coinbase.feed_refs('{"type":"match","taker_order_id":"t","price":"x"}').taker_order_id
        == "t"
    )

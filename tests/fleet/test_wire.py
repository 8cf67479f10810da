"""fleet/wire.py: every message round-trips; what does not decode is counted and dropped."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from whalewire.fleet.wire import (
    SCHEMA_VERSION,
    Ack,
    Action,
    Alert,
    Command,
    Heartbeat,
    Inbox,
    OrderRecord,
    Role,
    Seen,
    Subjects,
    encode,
)
from whalewire.mempool.whales import AlertKind
from whalewire.model import OrderFilled, OrderInitialized, Side, SubmitOrder

TXID = "ab" * 32

MESSAGES = [
    Alert(
        sensor="tokyo-1",
        txid=TXID,
        kind=AlertKind.DEPOSIT,
        entity="demo-binance",
        value=250_000_000,
        feed="p2p",
        seen_wall_ns=1_700_000_000_000_000_000,
        sent_wall_ns=1_700_000_000_000_050_000,
    ),
    Seen(sensor="tokyo-1", txid=TXID, feed="zmq", seen_wall_ns=5),
    Command(action=Action.KILL, source="ops@console", issued_wall_ns=7),
    Ack(
        executor="ex-tokyo",
        action=Action.KILL,
        source="ops@console",
        issued_wall_ns=7,
        halted="kill switch: ops@console (broadcast)",
        open_orders=["ww-3"],
        cancel_failures={"binance:BTCUSDT": "failed: 503"},
        wall_ns=8,
    ),
    Heartbeat(role=Role.EXECUTOR, name="ex-tokyo", seq=3, wall_ns=9, stats={"orders": 2}),
    OrderRecord(
        executor="ex-tokyo",
        seq=12,
        message=OrderInitialized(
            client_order_id="ww-12",
            ts_init=1,
            ts_event=1,
            command=SubmitOrder(
                client_order_id="ww-12",
                ts_init=1,
                venue="binance",
                symbol="BTCUSDT",
                side=Side.SELL,
                quantity=Decimal("0.005"),
            ),
        ),
    ),
    OrderRecord(
        executor="ex-tokyo",
        seq=13,
        message=OrderFilled(
            client_order_id="ww-12",
            ts_init=2,
            ts_event=2,
            trade_id="t1",
            last_qty=Decimal("0.005"),
            last_px=Decimal("97000.10"),
        ),
    ),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips_with_its_version(message: object) -> None:
    inbox = Inbox()
    data = encode(message)  # type: ignore[arg-type]
    assert b'"v":1' in data
    assert inbox.decode(data) == message
    assert inbox.received == 1
    assert not inbox.dropped


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "malformed"),
        (b"\x00\xff garbage", "malformed"),
        (b"[1, 2, 3]", "malformed"),
        (b'{"type": "alert"}', "malformed"),  # fields missing
        (b'{"type": "no-such-kind", "v": 1}', "malformed"),
        (b'{"type": "alert", "v": 2, "sensor": "x"}', "version"),  # a newer schema
        (
            b'{"type": "command", "v": 1, "action": "explode", "source": "x", "issued_wall_ns": 1}',
            "malformed",
        ),
    ],
)
def test_undecodable_message_is_counted_and_dropped(data: bytes, reason: str) -> None:
    inbox = Inbox()
    assert inbox.decode(data) is None
    assert inbox.dropped == {reason: 1}
    assert inbox.received == 0


def test_well_formed_message_of_another_version_is_dropped_as_version() -> None:
    future = msgspec.json.encode(
        {
            "type": "seen",
            "v": SCHEMA_VERSION + 1,
            "sensor": "s",
            "txid": TXID,
            "feed": "f",
            "seen_wall_ns": 1,
        }
    )
    inbox = Inbox()
    assert inbox.decode(future) is None
    assert inbox.dropped == {"version": 1}


def test_expect_drops_another_kind_as_unexpected() -> None:
    inbox = Inbox()
    assert inbox.expect(encode(MESSAGES[2]), Alert) is None
    assert inbox.dropped == {"unexpected": 1}
    assert inbox.received == 0
    assert inbox.expect(encode(MESSAGES[0]), Alert) == MESSAGES[0]


@given(st.binary(max_size=300))
def test_garbage_never_raises(data: bytes) -> None:
    inbox = Inbox()
    result = inbox.decode(data)
    assert result is None or inbox.received == 1
    assert sum(inbox.dropped.values()) + inbox.received == 1


def test_subjects_make_names_into_single_tokens() -> None:
    s = Subjects("ww")
    assert s.alert("demo.binance exchange") == "ww.alerts.demo_binance_exchange"
    assert s.heartbeat("executor", "tokyo.1") == "ww.hb.executor.tokyo_1"
    assert s.order_events("ex>1") == "ww.orders.ex_1"
    assert s.ack("ex.1") == "ww.ack.ex_1"

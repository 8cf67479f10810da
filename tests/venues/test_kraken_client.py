"""The Kraken WebSocket v2 client (venues/kraken/client.py) against the emulator on loopback.

Real sockets: our WebSocket client and server for ``/v2``, aiohttp for the signed REST
calls (``GetWebSocketsToken``, ``OpenOrders``, ``ClosedOrders``), the emulator verifying
API-Sign, nonces and tokens as Kraken documents them ("Spot REST Authentication",
"Spot WebSocket v2").
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest
from tests.venues.support import Events

from whalewire.emulator.faults import FaultPlan
from whalewire.emulator.kraken.exchange import KrakenConfig
from whalewire.emulator.kraken.server import KrakenEmulator
from whalewire.model import (
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderNotFound,
    OrderRejected,
    OrderStatusUnknown,
    OrderType,
    Side,
    SubmitOrder,
    TimeInForce,
)
from whalewire.venues.base import VenueUnavailable
from whalewire.venues.credentials import Credentials, Secret
from whalewire.venues.ids import kraken_client_order_id
from whalewire.venues.kraken import KrakenClient, KrakenError
from whalewire.venues.ratelimit import ConnectionLimiter

NS = "k"
_seq = iter(range(1, 10**6))


@pytest.fixture
async def emulator() -> AsyncIterator[KrakenEmulator]:
    emu = KrakenEmulator()
    await emu.start()
    yield emu
    await emu.close()


async def started(emu: KrakenEmulator, **kw: object) -> tuple[KrakenClient, Events]:
    keys = emu.open_default_account(f"acct{next(_seq)}")
    creds = Credentials(
        venue="kraken", api_key=Secret(keys.api_key), api_secret=Secret(keys.secret)
    )
    client = KrakenClient(emu.url, emu.rest_url, creds, **kw)  # type: ignore[arg-type]
    events = Events()
    client.on_event = events
    await client.start()
    return client, events


def order(qty: str = "0.02", side: Side = Side.BUY, **kw: object) -> SubmitOrder:
    return SubmitOrder(
        client_order_id=kraken_client_order_id(NS, next(_seq)),
        ts_init=0,
        venue="kraken",
        symbol="BTC/USD",
        side=side,
        quantity=Decimal(qty),
        **kw,  # type: ignore[arg-type]
    )


def resting(qty: str = "0.01") -> SubmitOrder:
    # far below the synthetic book's bids (mid 60000): it rests
    return order(
        qty, order_type=OrderType.LIMIT, price=Decimal(1000), time_in_force=TimeInForce.GTC
    )


async def test_start_gets_token_rules_and_reference_price(emulator: KrakenEmulator) -> None:
    client, _ = await started(emulator)
    # the engine asks the client for ids: Kraken's long-UUID cl_ord_id, the template's width
    cid = client.client_order_id("paper", 7)
    assert cid == kraken_client_order_id("paper", 7) and len(cid) == client.cid_width == 36
    status = client.status()
    assert status["connected"] is True and status["authenticated"] == "token"
    # the instrument channel's increments for BTC/USD (tick 0.1, 1e-8 BTC)
    rules = client.rules["BTC/USD"]
    assert rules.price(Decimal("60000.123")) == b"60000.1"
    assert rules.quantity(Decimal("0.123456789")) == b"0.12345678"
    price = client.last_price("BTC/USD")
    assert price is not None and Decimal(59_000) < price < Decimal(61_000)
    await client.close()


async def test_market_order_is_acked_then_filled_with_fees(emulator: KrakenEmulator) -> None:
    client, events = await started(emulator)
    cmd = order("0.02")
    client.place(cmd)
    # the add_order response and the executions "new" both say accepted (the OMS dedups)
    ack = (await events.wait_for(OrderAccepted, cmd.client_order_id))[0]
    assert isinstance(ack, OrderAccepted) and ack.venue_order_id.startswith("O")
    fills: list[OrderFilled] = []
    async with asyncio.timeout(10):
        while sum(f.last_qty for f in fills) < Decimal("0.02"):
            got = await events.wait_for(OrderFilled, cmd.client_order_id, len(fills) + 1)
            fills = [e for e in got if isinstance(e, OrderFilled)]
    assert sum(f.last_qty for f in fills) == Decimal("0.02")
    assert all(f.last_px > 0 and f.commission > 0 and f.commission_asset for f in fills)
    assert len({f.trade_id for f in fills}) == len(fills)
    assert client.status()["rtt_us"]["count"] == 1
    await client.close()


async def test_order_the_account_cannot_pay_for_is_rejected_with_kraken_error(
    emulator: KrakenEmulator,
) -> None:
    client, events = await started(emulator)
    cmd = order("500")  # the default account holds USD 1,000,000: 500 BTC cost 30 M
    client.place(cmd)
    (rej,) = await events.wait_for(OrderRejected, cmd.client_order_id)
    assert isinstance(rej, OrderRejected)
    assert rej.message == "EOrder:Insufficient funds"
    assert not [e for e in events.items if isinstance(e, OrderAccepted)]
    await client.close()


async def test_cancel_all_cancels_a_resting_order(emulator: KrakenEmulator) -> None:
    client, events = await started(emulator)
    cmd = resting()
    client.place(cmd)
    await events.wait_for(OrderAccepted, cmd.client_order_id)
    assert await client.cancel_all("BTC/USD") == 1
    await events.wait_for(OrderCanceled, cmd.client_order_id)
    assert await client.cancel_all("BTC/USD") == 0
    await client.close()


async def test_cancel_by_client_order_id(emulator: KrakenEmulator) -> None:
    client, events = await started(emulator)
    cmd = resting()
    client.place(cmd)
    await events.wait_for(OrderAccepted, cmd.client_order_id)
    await client.cancel(cmd.client_order_id, "BTC/USD")
    await events.wait_for(OrderCanceled, cmd.client_order_id)
    with pytest.raises(KrakenError, match="EOrder:Unknown order"):
        await client.cancel(cmd.client_order_id, "BTC/USD")
    await client.close()


async def test_dead_man_switch_fires_when_not_refreshed(emulator: KrakenEmulator) -> None:
    client, events = await started(emulator)
    cmd = resting()
    client.place(cmd)
    await events.wait_for(OrderAccepted, cmd.client_order_id)
    trigger = await client.refresh_dead_man(1)
    assert trigger.endswith("Z") and client.status()["dead_man_trigger"] == trigger
    # no refresh: the venue cancels everything when the second runs out
    await events.wait_for(OrderCanceled, cmd.client_order_id)
    await client.close()


async def test_dead_man_switch_refreshed_then_disarmed_keeps_the_order(
    emulator: KrakenEmulator,
) -> None:
    client, events = await started(emulator)
    cmd = resting()
    client.place(cmd)
    await events.wait_for(OrderAccepted, cmd.client_order_id)
    await client.refresh_dead_man(60)
    assert await client.refresh_dead_man(0) == "0"
    assert emulator.exchange.next_dead_man() is None
    assert len(emulator.exchange.engine.open_orders(client_account(emulator))) == 1
    await client.close()


def client_account(emu: KrakenEmulator) -> str:
    # the most recently opened account is the client's
    return list(emu.exchange.registry.accounts)[-1]


async def test_reconcile_finds_filled_and_resting_orders(emulator: KrakenEmulator) -> None:
    client, events = await started(emulator)
    filled = order("0.01")
    client.place(filled)
    await events.wait_for(OrderFilled, filled.client_order_id)
    found = await client.reconcile(filled.client_order_id, "BTC/USD")
    assert isinstance(found[0], OrderAccepted)
    (fill,) = [e for e in found if isinstance(e, OrderFilled)]
    assert fill.last_qty == Decimal("0.01") and fill.trade_id.startswith("recon:")
    rest = resting()
    client.place(rest)
    await events.wait_for(OrderAccepted, rest.client_order_id)
    found = await client.reconcile(rest.client_order_id, "BTC/USD")
    assert [type(e) for e in found] == [OrderAccepted]
    await client.cancel(rest.client_order_id, "BTC/USD")
    await events.wait_for(OrderCanceled, rest.client_order_id)
    found = await client.reconcile(rest.client_order_id, "BTC/USD")
    assert [type(e) for e in found] == [OrderAccepted, OrderCanceled]
    await client.close()


async def test_reconcile_unknown_id_is_not_found_only_after_the_settle_time(
    emulator: KrakenEmulator,
) -> None:
    client, events = await started(emulator)
    never_sent = kraken_client_order_id(NS, next(_seq))
    (absent,) = await client.reconcile(never_sent, "BTC/USD")
    assert isinstance(absent, OrderNotFound)
    # refused before processing ("EService:Busy"): the order is unknown, then absent
    emulator.set_faults(FaultPlan(server_error_rate=1.0))
    cmd = order("0.01")
    client.place(cmd)
    (unknown,) = await events.wait_for(OrderStatusUnknown, cmd.client_order_id)
    assert isinstance(unknown, OrderStatusUnknown) and "EService:Busy" in unknown.reason
    emulator.set_faults(None)
    # just sent: it could still be in flight, so absence is not an answer yet
    with pytest.raises(KrakenError, match="still unknown"):
        await client.reconcile(cmd.client_order_id, "BTC/USD")
    client.not_found_after_s = 0  # as if the settle time had passed
    (absent,) = await client.reconcile(cmd.client_order_id, "BTC/USD")
    assert isinstance(absent, OrderNotFound)
    await client.close()


async def test_disconnect_with_order_in_flight_reports_unknown(emulator: KrakenEmulator) -> None:
    client, events = await started(emulator)
    emulator.set_faults(FaultPlan(disconnect_rate=1.0))
    cmd = order("0.01")
    client.place(cmd)
    (unknown,) = await events.wait_for(OrderStatusUnknown, cmd.client_order_id)
    assert isinstance(unknown, OrderStatusUnknown) and "disconnect" in unknown.reason
    with pytest.raises(VenueUnavailable):
        client.place(order("0.01"))
    await client.close()


async def test_service_unavailable_answer_is_unknown_not_rejected(emulator: KrakenEmulator) -> None:
    client, events = await started(emulator)
    emulator.set_faults(FaultPlan(unknown_rate=1.0))
    cmd = order("0.01")
    client.place(cmd)
    (unknown,) = await events.wait_for(OrderStatusUnknown, cmd.client_order_id)
    assert isinstance(unknown, OrderStatusUnknown) and "EService:Unavailable" in unknown.reason
    # the order was processed behind the fault: reconciliation finds it
    emulator.set_faults(None)
    found = await client.reconcile(cmd.client_order_id, "BTC/USD")
    assert isinstance(found[0], OrderAccepted)
    await client.close()


async def test_ioc_limit_that_cannot_fill_expires(emulator: KrakenEmulator) -> None:
    client, events = await started(emulator)
    cmd = order(
        "0.01", order_type=OrderType.LIMIT, price=Decimal(1000), time_in_force=TimeInForce.IOC
    )
    client.place(cmd)
    await events.wait_for(OrderExpired, cmd.client_order_id)
    await client.close()


async def test_silent_connection_is_closed_by_the_heartbeat_watchdog() -> None:
    # a venue that never sends a heartbeat: the client gives up after its timeout
    emu = KrakenEmulator(heartbeat_interval=3600)
    await emu.start()
    try:
        client, events = await started(emu, heartbeat_timeout_s=0.3)
        cmd = resting()
        emu.set_faults(FaultPlan(drop_rate=1.0))
        client.place(cmd)
        (unknown,) = await events.wait_for(OrderStatusUnknown, cmd.client_order_id)
        assert isinstance(unknown, OrderStatusUnknown)
        assert client.status()["connected"] is False
        await client.close()
    finally:
        await emu.close()


async def test_heartbeats_are_counted() -> None:
    emu = KrakenEmulator(heartbeat_interval=0.05)
    await emu.start()
    try:
        client, _ = await started(emu)
        async with asyncio.timeout(10):
            while client.heartbeats < 2:
                await asyncio.sleep(0.02)
        await client.close()
    finally:
        await emu.close()


async def test_bad_secret_fails_start_with_invalid_signature(emulator: KrakenEmulator) -> None:
    keys = emulator.open_default_account("badsecret")
    creds = Credentials(
        venue="kraken",
        api_key=Secret(keys.api_key),
        api_secret=Secret("c2VjcmV0c2VjcmV0c2VjcmV0"),
    )
    client = KrakenClient(emulator.url, emulator.rest_url, creds)
    with pytest.raises(KrakenError, match="EAPI:Invalid signature"):
        await client.start()
    assert client.status()["connected"] is False


async def test_unlisted_symbol_fails_start(emulator: KrakenEmulator) -> None:
    with pytest.raises(KrakenError, match="DOGE/XYZ"):
        await started(emulator, symbols=("DOGE/XYZ",))


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def test_dropped_connection_reconnects_with_a_fresh_token_and_trades_again(
    emulator: KrakenEmulator,
) -> None:
    client, events = await started(emulator)
    first_token = client._token
    await emulator.disconnect_all()
    await until(lambda: client.reconnects == 1 and client.ready)
    assert client._token != first_token  # a new GetWebSocketsToken per connection
    cmd = order("0.01")
    client.place(cmd)  # the template carries the new token: the venue accepts it
    await events.wait_for(OrderAccepted, cmd.client_order_id)
    await client.close()


async def test_dead_man_switch_is_armed_with_the_new_token_after_a_reconnect(
    emulator: KrakenEmulator,
) -> None:
    client, events = await started(emulator)
    await emulator.disconnect_all()
    await until(lambda: client.reconnects == 1 and client.ready)
    cmd = resting()
    client.place(cmd)
    await events.wait_for(OrderAccepted, cmd.client_order_id)
    trigger = await client.refresh_dead_man(1)  # the token of the new connection
    assert client.status()["dead_man_trigger"] == trigger
    await events.wait_for(OrderCanceled, cmd.client_order_id)  # it fired
    await client.close()


async def test_close_while_reconnecting_stops_the_reconnects(emulator: KrakenEmulator) -> None:
    client, _ = await started(emulator)
    await emulator.close()  # nobody listening: every attempt fails and is retried
    await until(lambda: client.supervisor.failures >= 2)
    await client.close()
    assert not client.supervisor.running
    failures = client.supervisor.failures
    await asyncio.sleep(0.3)  # past the next backoff delays
    assert client.supervisor.failures == failures and client.status()["connected"] is False


async def test_a_burst_of_reconnects_is_held_back_by_the_connection_limit(
    emulator: KrakenEmulator,
) -> None:
    # spot-ws-intro: ~150 attempts per rolling 10 minutes per IP, scaled down to 2 per minute
    limiter = ConnectionLimiter(2, 60_000)
    client, _ = await started(emulator, connection_limiter=limiter)
    await emulator.disconnect_all()
    await until(lambda: client.reconnects == 1 and client.ready)
    await emulator.disconnect_all()
    await until(lambda: limiter.held_until_ms is not None)
    assert emulator._connections == 2  # the server saw no third attempt
    assert client.status()["connected"] is False
    assert client.status()["connects_held_until_ms"] == limiter.held_until_ms
    await client.close()  # also ends the reconnect waiting for its slot


# -- the rehearsal: the same work as place into scratch, and a warm-up pong ----------------


async def test_rehearsal_sends_one_empty_pong_and_no_order_then_an_order_is_acked(
    emulator: KrakenEmulator,
) -> None:
    client, events = await started(emulator, pong_interval_ms=60_000)
    before = next(client._req_ids)
    client.rehearse(order())
    client.rehearse(order())  # within the interval: no second pong
    assert (client.sent, client.rehearsals, client.warm_pong.sent) == (0, 2, 1)
    assert len(client._pending) == 0 and not client._sent_ns
    cmd = order()
    client.place(cmd)
    await events.wait_for(OrderAccepted, cmd.client_order_id)
    assert next(client._req_ids) == before + 2  # the order took one: the rehearsals none
    assert emulator.unsolicited_pongs == 1
    assert {e.client_order_id for e in events.items} == {cmd.client_order_id}
    status = client.status()
    assert (status["sent"], status["rehearsals"], status["warm_pongs"]) == (1, 2, 1)
    await client.close()


async def test_rehearsal_disconnected_or_in_dry_run_writes_nothing(
    emulator: KrakenEmulator,
) -> None:
    dry, _ = await started(emulator, dry_run=True, pong_interval_ms=1)
    dry.rehearse(order())
    assert (dry.rehearsals, dry.warm_pong.sent) == (1, 0)  # filled and framed, not sent
    await dry.close()
    dry.rehearse(order())
    assert dry.rehearsals == 1
    assert emulator.unsolicited_pongs == 0


# -- a venue that sends what does not decode (issue 14: never close the order connection) --


def _execution(coid: str, order_id: str, **fields: object) -> str:
    # one "executions" update row (Spot WebSocket v2), one or more fields made hostile
    row: dict[str, object] = {
        "exec_type": "trade",
        "order_id": order_id,
        "cl_ord_id": coid,
        "exec_id": "T1",
        "symbol": "BTC/USD",
        "last_qty": 0.005,
        "last_price": 1000.0,
        "timestamp": "2026-12-07T20:00:00.000000Z",
        **fields,
    }
    return json.dumps({"channel": "executions", "type": "update", "data": [row]})


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"last_qty": "NaN"}, "$.data[0].last_qty"),
        ({"last_price": "a lot"}, "$.data[0].last_price"),
        ({"last_qty": None}, "$.data[0].last_qty"),
        ({"fees": [{"asset": "USD", "qty": "1e999999"}]}, "$.data[0].fees[0].qty"),
        ({"exec_type": 3}, "$.data[0].exec_type"),
    ],
)
async def test_malformed_execution_turns_its_order_unknown_and_keeps_the_connection(
    emulator: KrakenEmulator, fields: dict[str, object], path: str
) -> None:
    client, events = await started(emulator)
    cmd = resting()
    client.place(cmd)
    (ack, *_) = await events.wait_for(OrderAccepted, cmd.client_order_id)
    assert isinstance(ack, OrderAccepted)
    emulator.inject(_execution(cmd.client_order_id, ack.venue_order_id, **fields))
    (unknown,) = await events.wait_for(OrderStatusUnknown, cmd.client_order_id)
    assert isinstance(unknown, OrderStatusUnknown)
    assert "malformed executions" in unknown.reason and f"`{path}`" in unknown.reason
    assert events.of(OrderFilled, cmd.client_order_id) == []
    assert client.status()["connected"] is True and client.status()["malformed"] == 1
    assert await client.ping() > 0  # the same connection still answers
    assert client.reconnects == 0
    await client.close()


async def test_frames_that_are_not_messages_are_counted_and_change_nothing(
    emulator: KrakenEmulator,
) -> None:
    client, events = await started(emulator)
    for text in ("not json", "[]", '{"channel":"ticker","data":[{"symbol":1}]}', '{"req_id":"x"}'):
        emulator.inject(text)
    assert await client.ping() > 0
    assert client.status()["malformed"] == 4 and events.items == []
    await client.close()


async def test_malformed_add_order_answer_turns_the_order_unknown_and_keeps_the_connection(
    emulator: KrakenEmulator,
) -> None:
    client, events = await started(emulator)
    emulator.set_faults(FaultPlan(drop_rate=1.0))  # the venue's own answer never comes
    cmd = order()
    client.place(cmd)
    # the order's req_id is one of the first few: answer each with a success that is no bool
    for req_id in range(1, 40):
        emulator.inject(json.dumps({"method": "add_order", "req_id": req_id, "success": "yes"}))
    (unknown,) = await events.wait_for(OrderStatusUnknown, cmd.client_order_id)
    assert isinstance(unknown, OrderStatusUnknown) and "`$.success`" in unknown.reason
    emulator.set_faults(None)
    assert await client.ping() > 0
    assert client.status()["connected"] is True and client.reconnects == 0
    await client.close()


async def test_cancel_after_a_partial_fill_states_what_executed() -> None:
    # an empty book: our resting BUY is the only bid; another account's IOC SELL takes part
    emu = KrakenEmulator(KrakenConfig(book_levels=0))
    await emu.start()
    try:
        client, events = await started(emu)
        taker, _ = await started(emu)
        px = Decimal(60000)
        cmd = order("0.01", order_type=OrderType.LIMIT, price=px, time_in_force=TimeInForce.GTC)
        client.place(cmd)
        await events.wait_for(OrderAccepted, cmd.client_order_id)
        taker.place(
            order(
                "0.004",
                Side.SELL,
                order_type=OrderType.LIMIT,
                price=px,
                time_in_force=TimeInForce.IOC,
            )
        )
        (trade,) = await events.wait_for(OrderFilled, cmd.client_order_id)
        assert isinstance(trade, OrderFilled)
        assert (trade.last_qty, trade.cum_qty) == (Decimal("0.004"), Decimal("0.004"))
        await client.cancel(cmd.client_order_id, "BTC/USD")
        (canceled,) = await events.wait_for(OrderCanceled, cmd.client_order_id)
        assert isinstance(canceled, OrderCanceled)
        assert (canceled.executed_qty, canceled.avg_px) == (Decimal("0.004"), px)
        await taker.close()
        await client.close()
    finally:
        await emu.close()

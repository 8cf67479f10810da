"""The Binance WebSocket API client (venues/binance/client.py) against the emulator on loopback.

Real sockets, our own WebSocket client and server, the emulator verifying signatures and
timestamps as Binance documents; both authentication modes (per-request HMAC and
``session.logon`` with Ed25519).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest
from tests.venues.support import NS, Events, binance_cid, binance_order

from whalewire.emulator import matching
from whalewire.emulator.accounts import open_default_account
from whalewire.emulator.binance.exchange import BinanceConfig
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.faults import FaultPlan
from whalewire.model import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderNotFound,
    OrderRejected,
    OrderStatusUnknown,
    OrderType,
    Side,
    SubmitOrder,
    TimeInForce,
)
from whalewire.net import uring
from whalewire.net.uring import RingTransport
from whalewire.venues.base import VenueUnavailable
from whalewire.venues.binance import BinanceClient, BinanceError
from whalewire.venues.credentials import Credentials, Secret
from whalewire.venues.ids import BINANCE_ID_WIDTH, binance_client_order_id
from whalewire.venues.ratelimit import ConnectionLimiter

WIDTH = BINANCE_ID_WIDTH[len(NS)]
#: numbers the accounts the tests open
_seq = iter(range(1, 10**6))


@pytest.fixture
async def emulator() -> AsyncIterator[BinanceEmulator]:
    emu = BinanceEmulator()
    await emu.start()
    yield emu
    await emu.close()


async def started(
    emu: BinanceEmulator,
    *,
    session: bool,
    dry_run: bool = False,
    recv_window_ms: int = 1000,
    connection_limiter: ConnectionLimiter | None = None,
    account: str = "",
    pong_interval_ms: float = 250.0,
    send_backend: str = "socket",
):
    keys = open_default_account(emu.exchange.registry, account or f"acct{next(_seq)}")
    if session:
        creds = Credentials(
            venue="binance",
            api_key=Secret(keys.ed25519_api_key),
            private_key_pem=Secret(keys.ed25519_private_key_pem),
        )
    else:
        creds = Credentials(
            venue="binance", api_key=Secret(keys.hmac_api_key), api_secret=Secret(keys.hmac_secret)
        )
    client = BinanceClient(
        emu.url,
        creds,
        cid_width=WIDTH,
        dry_run=dry_run,
        recv_window_ms=recv_window_ms,
        connection_limiter=connection_limiter,
        pong_interval_ms=pong_interval_ms,
        send_backend=send_backend,
    )
    events = Events()
    client.on_event = events
    await client.start()
    return client, events


order = binance_order


@pytest.mark.parametrize("session", [False, True], ids=["hmac", "ed25519-session"])
async def test_market_order_is_accepted_then_filled_in_full(
    emulator: BinanceEmulator, session: bool
) -> None:
    client, events = await started(emulator, session=session)
    assert client.status()["authenticated"] == ("session" if session else "per-request HMAC")
    cmd = order("0.02")
    client.place(cmd)
    # the ACK response and the stream's NEW report both say accepted (the OMS dedups)
    ack = (await events.wait_for(OrderAccepted, cmd.client_order_id))[0]
    assert isinstance(ack, OrderAccepted) and ack.venue_order_id
    fills = [e for e in events.items if isinstance(e, OrderFilled)]
    async with asyncio.timeout(10):
        while sum(f.last_qty for f in fills) < Decimal("0.02"):
            await events.wait_for(OrderFilled, cmd.client_order_id, len(fills) + 1)
            fills = [e for e in events.items if isinstance(e, OrderFilled)]
    assert sum(f.last_qty for f in fills) == Decimal("0.02")
    assert all(f.last_px > 0 for f in fills)
    assert client.last_price("BTCUSDT") is not None
    await client.close()


async def test_order_the_account_cannot_pay_for_is_rejected_with_binance_code(
    emulator: BinanceEmulator,
) -> None:
    client, events = await started(emulator, session=False)
    cmd = order("500")  # the default account holds 10 BTC
    client.place(cmd)
    (rej,) = await events.wait_for(OrderRejected, cmd.client_order_id)
    assert isinstance(rej, OrderRejected)
    assert rej.code == -2010
    await client.close()


async def test_reconcile_finds_a_filled_order_and_reports_an_unknown_id_as_not_found(
    emulator: BinanceEmulator,
) -> None:
    client, events = await started(emulator, session=False, recv_window_ms=100)
    cmd = order("0.01")
    client.place(cmd)
    await events.wait_for(OrderAccepted, cmd.client_order_id)
    found = await client.reconcile(cmd.client_order_id, "BTCUSDT")
    assert isinstance(found[0], OrderAccepted)
    fills = [e for e in found if isinstance(e, OrderFilled)]
    assert sum(f.last_qty for f in fills) == Decimal("0.01")
    await asyncio.sleep(1.2)  # past recvWindow + 1 s of anything signed since start
    missing = await client.reconcile(binance_client_order_id(NS, 999_999), "BTCUSDT")
    assert [type(e) for e in missing] == [OrderNotFound]
    await client.close()


async def test_absent_order_is_not_final_while_its_recv_window_is_open(
    emulator: BinanceEmulator,
) -> None:
    # -2013 right after signing: the order may still be in flight behind the venue's
    # backend (rest-api.md "Timing security"), so the answer is "ask again"
    client, _ = await started(emulator, session=False, recv_window_ms=5000)
    with pytest.raises(BinanceError, match="Order does not exist"):
        await client.reconcile(binance_client_order_id(NS, 888_888), "BTCUSDT")
    await client.close()


async def test_cancel_all_cancels_a_resting_limit_order(emulator: BinanceEmulator) -> None:
    client, events = await started(emulator, session=True)
    mid = client.last_price("BTCUSDT")
    assert mid is not None
    cmd = order(
        "0.01",
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        price=(mid * Decimal("1.02")).quantize(Decimal("0.01")),
    )
    client.place(cmd)
    await events.wait_for(OrderAccepted, cmd.client_order_id)
    assert await client.cancel_all("BTCUSDT") == 1
    await events.wait_for(OrderCanceled, cmd.client_order_id)
    assert await client.cancel_all("BTCUSDT") == 0  # nothing left open
    await client.close()


async def test_dry_run_builds_and_signs_but_sends_nothing(emulator: BinanceEmulator) -> None:
    client, events = await started(emulator, session=False, dry_run=True, recv_window_ms=100)
    cmd = order("0.01")
    client.place(cmd)
    await asyncio.sleep(0.2)  # give a (wrongly) sent order time to be answered
    assert client.sent == 0
    assert [e for e in events.items if e.client_order_id == cmd.client_order_id] == []
    await asyncio.sleep(1.2)  # past recvWindow + 1 s: the venue's "does not exist" is final
    missing = await client.reconcile(cmd.client_order_id, "BTCUSDT")
    assert [type(e) for e in missing] == [OrderNotFound]
    await client.close()


async def test_place_after_the_connection_closed_raises_before_sending(
    emulator: BinanceEmulator,
) -> None:
    client, _ = await started(emulator, session=False)
    await client.close()
    await asyncio.sleep(0.05)
    with pytest.raises(VenueUnavailable, match=r"not connected|connection closed"):
        client.place(order())


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_burst_of_reconnects_is_held_back_by_the_connection_limit(
    emulator: BinanceEmulator,
) -> None:
    # web-socket-api "Connection limits" (300 per 5 minutes per IP), scaled down to 3 per
    # minute: the venue dropping us again and again must not make us reconnect at will
    limiter = ConnectionLimiter(3, 60_000)
    client, _ = await started(emulator, session=False, connection_limiter=limiter)
    for reconnects in (1, 2):
        await emulator.disconnect_all()
        await until(lambda n=reconnects: client.reconnects == n and client.ready)
    await emulator.disconnect_all()
    await until(lambda: limiter.held_until_ms is not None)
    # the server saw exactly the three attempts the limit allows, and no fourth
    assert emulator._connections == 3
    status = client.status()
    assert status["connected"] is False
    assert status["connects_held_until_ms"] == limiter.held_until_ms
    with pytest.raises(VenueUnavailable, match="not connected"):
        client.place(order())
    await client.close()  # also ends the reconnect waiting for its slot
    await until(lambda: not client.supervisor.running)


async def test_shutdown_notice_turns_the_order_in_flight_unknown_then_logs_on_again(
    emulator: BinanceEmulator,
) -> None:
    # the venue's serverShutdown event, then its close: the order's answer never comes
    client, events = await started(emulator, session=True, account="shutdown")
    emulator.set_faults(FaultPlan(drop_rate=1.0))
    lost = order()
    client.place(lost)
    emulator.set_faults(None)
    await emulator.announce_shutdown()
    (unknown,) = await events.wait_for(OrderStatusUnknown, lost.client_order_id)
    assert isinstance(unknown, OrderStatusUnknown) and "disconnect" in unknown.reason
    await until(lambda: client.reconnects == 1 and client.ready)
    assert client.logged_on and client.status()["connected"] is True
    again = order()
    client.place(again)  # a fresh session.logon: the venue takes it
    await events.wait_for(OrderAccepted, again.client_order_id)
    # nothing was resent on the new connection: the venue counted two orders, not three
    assert orders_counted(emulator, "shutdown") == 2
    await client.close()


async def test_a_connection_shut_down_during_warm_up_fails_it_at_once_and_is_retried(
    emulator: BinanceEmulator,
) -> None:
    client, _ = await started(emulator, session=False)
    # every connection is shut down after answering its second request (a clock sample):
    # the warm-up's pending request fails with the close, not after request_timeout_s
    emulator.set_faults(FaultPlan(shutdown_at=1))
    await emulator.disconnect_all()
    await until(lambda: client.supervisor.failures >= 1, timeout_s=client.request_timeout_s / 2)
    assert not client.ready
    with pytest.raises(VenueUnavailable):
        client.place(order())
    emulator.set_faults(None)
    await until(lambda: client.reconnects == 1 and client.ready)
    await client.close()
    assert not client.supervisor.running


@pytest.mark.skipif(not uring.available()[0], reason=f"no io_uring: {uring.available()[1]}")
async def test_reconnect_puts_the_io_uring_send_backend_under_the_new_connection(
    emulator: BinanceEmulator,
) -> None:
    client, events = await started(emulator, session=False, send_backend="uring")
    first = client._ws
    assert first is not None and isinstance(first._proto.transport, RingTransport)
    await emulator.disconnect_all()
    await until(lambda: client.reconnects == 1 and client.ready)
    ws = client._ws
    assert ws is not None and ws is not first
    assert isinstance(ws._proto.transport, RingTransport)
    assert client.status()["send_backend"] == "uring"
    cmd = order()
    client.place(cmd)
    await events.wait_for(OrderAccepted, cmd.client_order_id)
    await client.close()


# -- the rehearsal: the same work as place into scratch, and a warm-up pong ----------------


def orders_counted(emu: BinanceEmulator, account: str) -> int:
    # the ORDERS counters of the account; the longest window (a day) has seen them all
    return max(c.count for c in emu.exchange.order_usage(account).counters)


def limiter_counts(client: BinanceClient) -> list[int]:
    return [w.count for w in client.limiter.windows]


@pytest.mark.parametrize("session", [False, True], ids=["hmac", "ed25519-session"])
async def test_rehearsal_sends_one_empty_pong_and_no_order_then_an_order_is_verified(
    emulator: BinanceEmulator, session: bool
) -> None:
    account = f"rehearse{next(_seq)}"
    client, events = await started(
        emulator, session=session, account=account, pong_interval_ms=60_000
    )
    charged = limiter_counts(client)
    shadow = order("0.01")
    client.rehearse(shadow)
    client.rehearse(shadow)  # within the pong interval: fill and sign again, no second pong
    # nothing counted: no rate-limit charge, no pending request, no signed timestamp, no order
    assert limiter_counts(client) == charged
    assert (client.sent, client.rehearsals, client.warm_pong.sent) == (0, 2, 1)
    assert len(client._pending) == 0 and not client._signed_ms
    # an order right after: the venue verifies its signature and timestamp and accepts it;
    # it reads the pong first (same connection, in order)
    cmd = order("0.01")
    client.place(cmd)
    await events.wait_for(OrderAccepted, cmd.client_order_id)
    assert emulator.unsolicited_pongs == 1
    assert emulator.pong_timeouts == 0
    assert orders_counted(emulator, account) == 1  # the real order only
    assert [e.client_order_id for e in events.items] == [cmd.client_order_id] * len(events.items)
    assert shadow.client_order_id not in {e.client_order_id for e in events.items}
    status = client.status()
    assert (status["sent"], status["rehearsals"], status["warm_pongs"]) == (1, 2, 1)
    assert status["connected"] is True
    await client.close()


async def test_rehearsal_asks_a_full_rate_limiter_without_counting_or_failing(
    emulator: BinanceEmulator,
) -> None:
    client, _ = await started(emulator, session=True, pong_interval_ms=60_000)
    client.limiter.headroom = 1e-9  # every window full: place must refuse
    charged = limiter_counts(client)
    with pytest.raises(VenueUnavailable, match="rate limit"):
        client.place(order())
    client.rehearse(order())  # the same check, its verdict dropped: still rehearses
    assert limiter_counts(client) == charged
    assert (client.sent, client.rehearsals, client.warm_pong.sent) == (0, 1, 1)
    await until(lambda: emulator.unsolicited_pongs == 1)
    await client.close()


async def test_pongs_follow_the_interval_and_zero_sends_none(emulator: BinanceEmulator) -> None:
    client, _ = await started(emulator, session=True, pong_interval_ms=1)
    for _ in range(3):
        await asyncio.sleep(0.002)  # past the interval each time
        client.rehearse(order())
    never, _ = await started(emulator, session=True, pong_interval_ms=0)
    never.rehearse(order())
    assert (client.warm_pong.sent, never.warm_pong.sent, never.rehearsals) == (3, 0, 1)
    await until(lambda: emulator.unsolicited_pongs == 3)
    await client.close()
    await never.close()


async def test_rehearsal_before_start_after_close_or_with_the_clock_paused_does_nothing(
    emulator: BinanceEmulator,
) -> None:
    client, _ = await started(emulator, session=False)
    client.clock.on_timestamp_rejected()  # what a -1021 does: no timestamps until resampled
    client.rehearse(order())
    await client.close()
    await asyncio.sleep(0.05)
    client.rehearse(order())  # disconnected
    keys = open_default_account(emulator.exchange.registry, f"acct{next(_seq)}")
    creds = Credentials(
        venue="binance", api_key=Secret(keys.hmac_api_key), api_secret=Secret(keys.hmac_secret)
    )
    fresh = BinanceClient(emulator.url, creds, cid_width=WIDTH)
    fresh.rehearse(order())  # never connected
    assert (client.rehearsals, client.warm_pong.sent, fresh.rehearsals) == (0, 0, 0)
    assert emulator.unsolicited_pongs == 0


async def test_rehearsal_of_a_symbol_the_venue_does_not_list_raises_like_place(
    emulator: BinanceEmulator,
) -> None:
    client, _ = await started(emulator, session=True)
    charged = limiter_counts(client)
    unlisted = SubmitOrder(
        client_order_id=binance_cid(),
        ts_init=0,
        venue="binance",
        symbol="NOPE",
        side=Side.SELL,
        quantity=Decimal("0.01"),
    )
    with pytest.raises(VenueUnavailable, match="unknown symbol NOPE"):
        client.rehearse(unlisted)
    with pytest.raises(VenueUnavailable, match="unknown symbol NOPE"):
        client.place(unlisted)
    # refused before the rate limiter: nothing sent, nothing charged
    assert (client.sent, client.warm_pong.sent) == (0, 0)
    assert limiter_counts(client) == charged
    await client.close()


# -- a venue that sends what does not decode (issue 14: never close the order connection) --


def _report(coid: str, **fields: object) -> str:
    # an executionReport with user-data-stream.md's fields, one or more made hostile
    event: dict[str, object] = {
        "e": "executionReport",
        "E": 1,
        "s": "BTCUSDT",
        "c": coid,
        "x": "TRADE",
        "X": "PARTIALLY_FILLED",
        "i": 1,
        "t": 7,
        "T": 1,
        "l": "0.00500000",
        "L": "1000.00",
        **fields,
    }
    return json.dumps({"subscriptionId": 0, "event": event})


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"l": "NaN"}, "$.event.l"),
        ({"L": "not a price"}, "$.event.L"),
        ({"l": "1e999999"}, "$.event.l"),
        ({"x": 5}, "$.event.x"),
        ({"T": "soon"}, "$.event.T"),
    ],
)
async def test_malformed_execution_report_turns_its_order_unknown_and_keeps_the_connection(
    emulator: BinanceEmulator, fields: dict[str, object], path: str
) -> None:
    client, events = await started(emulator, session=False)
    resting = order(
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        price=Decimal("1000"),
        time_in_force=TimeInForce.GTC,
    )
    client.place(resting)
    await events.wait_for(OrderAccepted, resting.client_order_id)
    assert emulator.inject(_report(resting.client_order_id, **fields)) == 1
    (unknown,) = await events.wait_for(OrderStatusUnknown, resting.client_order_id)
    assert isinstance(unknown, OrderStatusUnknown)
    assert "malformed executionReport" in unknown.reason and f"`{path}`" in unknown.reason
    assert events.of(OrderFilled, resting.client_order_id) == []
    status = client.status()
    assert status["connected"] is True and status["malformed"] == 1
    # the same connection still answers and takes orders
    assert "serverTime" in await client.request("time", {})
    cmd = order()
    client.place(cmd)
    await events.wait_for(OrderFilled, cmd.client_order_id)
    assert client.reconnects == 0
    await client.close()


@pytest.mark.parametrize(
    "answer",
    [
        '{{"id":"{coid}","status":"ok"}}',
        '{{"id":"{coid}","status":200,"result":{{"orderId":"x"}}}}',
    ],
)
async def test_malformed_order_place_answer_turns_the_order_unknown_and_keeps_the_connection(
    emulator: BinanceEmulator, answer: str
) -> None:
    client, events = await started(emulator, session=False)
    emulator.set_faults(FaultPlan(drop_rate=1.0))  # the venue's own answer never comes
    cmd = order()
    client.place(cmd)
    emulator.inject(answer.format(coid=cmd.client_order_id))
    (unknown,) = await events.wait_for(OrderStatusUnknown, cmd.client_order_id)
    assert isinstance(unknown, OrderStatusUnknown) and "malformed" in unknown.reason
    emulator.set_faults(None)
    assert "serverTime" in await client.request("time", {})
    assert client.status()["connected"] is True and client.reconnects == 0
    await client.close()


async def test_frames_that_are_not_messages_are_counted_and_change_nothing(
    emulator: BinanceEmulator,
) -> None:
    client, events = await started(emulator, session=False)
    for text in ("not json", "[1,2]", '{"id":"r999","status":"x"}', '{"event":{"e":7}}'):
        emulator.inject(text)
    assert "serverTime" in await client.request("time", {})
    assert client.status()["malformed"] == 4 and events.items == []
    await client.close()


async def test_cancel_after_a_partial_fill_states_what_executed_on_both_channels() -> None:
    # an empty book: our resting SELL is the only ask, and another account takes part of it
    emu = BinanceEmulator(BinanceConfig(book_levels=0))
    await emu.start()
    try:
        client, events = await started(emu, session=True)
        cmd = order(
            "0.01",
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.GTC,
            price=Decimal("50000"),
        )
        client.place(cmd)
        await events.wait_for(OrderAccepted, cmd.client_order_id)
        open_default_account(emu.exchange.registry, "taker")
        exchange = emu.exchange
        exchange.publish(
            exchange.engine.place(
                matching.PlaceOrder(
                    "taker",
                    "BTCUSDT",
                    matching.Side.BUY,
                    matching.OrderType.LIMIT,
                    Decimal("0.004"),
                    price=Decimal("50000"),
                    time_in_force=matching.TimeInForce.IOC,
                )
            )
        )
        (trade,) = await events.wait_for(OrderFilled, cmd.client_order_id)
        assert isinstance(trade, OrderFilled)
        assert (trade.last_qty, trade.cum_qty) == (Decimal("0.004"), Decimal("0.004"))
        await client.cancel(cmd.client_order_id, "BTCUSDT")
        # the order.cancel answer and the user stream's CANCELED report both say it
        both = await events.wait_for(OrderCanceled, cmd.client_order_id, 2)
        for canceled in both:
            assert isinstance(canceled, OrderCanceled)
            assert canceled.executed_qty == Decimal("0.004")
            assert canceled.avg_px == Decimal("50000")
        await client.close()
    finally:
        await emu.close()

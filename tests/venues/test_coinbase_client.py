"""The Coinbase Exchange client (venues/coinbase/client.py) against the emulator over loopback TLS.

Real TLS on 127.0.0.1 with ``trustme`` certificates: the emulator's REST listener serves a
certificate from a test CA, and the client verifies it (verification on, trusting only
that CA). The feed is ``ws://`` because our WebSocket client has no ``wss://`` yet. Every
order travels as a signed ``POST /orders`` on the one kept-alive connection; acks come back
on it, fills on the ``user`` channel.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
import trustme
from tests.venues.support import Events

from whalewire.emulator.coinbase.exchange import CoinbaseConfig, RestResponse
from whalewire.emulator.coinbase.server import CoinbaseEmulator, loopback_tls
from whalewire.emulator.faults import FaultPlan
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
from whalewire.net.errors import TLSFailure
from whalewire.venues.base import VenueUnavailable
from whalewire.venues.coinbase import CoinbaseClient, CoinbaseError
from whalewire.venues.credentials import Credentials, Secret
from whalewire.venues.ids import uuid_client_order_id
from whalewire.venues.ratelimit import ConnectionLimiter

_seq = iter(range(1, 10**6))


class ShiftedClock:
    """Wall-clock milliseconds plus a shift the test moves (the venue's clock)."""

    def __init__(self) -> None:
        self.shift_ms = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.shift_ms


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls() -> Iterator[Tls]:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()  # CERT_REQUIRED and hostname checks on
    ca.configure_trust(client)
    yield Tls(server, client)


@dataclass
class Venue:
    emulator: CoinbaseEmulator
    clock: ShiftedClock


@pytest.fixture
async def venue(tls: Tls) -> AsyncIterator[Venue]:
    clock = ShiftedClock()
    emu = CoinbaseEmulator(clock=clock)
    await emu.start(ssl=tls.server)
    yield Venue(emu, clock)
    await emu.close()


async def started(
    venue: Venue, tls: Tls, connection_limiter: ConnectionLimiter | None = None
) -> tuple[CoinbaseClient, Events]:
    keys = venue.emulator.open_default_account(f"acct{next(_seq)}")
    creds = Credentials(
        venue="coinbase",
        api_key=Secret(keys.api_key),
        api_secret=Secret(keys.secret),
        passphrase=Secret(keys.passphrase),
    )
    client = CoinbaseClient(
        venue.emulator.rest_url,
        venue.emulator.ws_url,
        creds,
        ssl_context=tls.client,
        connection_limiter=connection_limiter,
    )
    events = Events()
    client.on_event = events
    await client.start()
    return client, events


def order(
    qty: str = "0.01",
    side: Side = Side.BUY,
    *,
    price: str | None = None,
    tif: TimeInForce | None = None,
) -> SubmitOrder:
    return SubmitOrder(
        client_order_id=uuid_client_order_id("cb", next(_seq)),
        ts_init=time.perf_counter_ns(),
        venue="coinbase",
        symbol="BTC-USD",
        side=side,
        quantity=Decimal(qty),
        order_type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        price=Decimal(price) if price is not None else None,
        time_in_force=tif,
    )


async def test_start_reads_products_clock_and_reference_price(venue: Venue, tls: Tls) -> None:
    client, _ = await started(venue, tls)
    try:
        assert client.rules["BTC-USD"].step_size == Decimal("0.00000001")
        assert client.clock.can_send
        assert client.last_price("BTC-USD") == Decimal(60_000)
        assert client.status()["tls"] is True
    finally:
        await client.close()


async def test_market_order_is_acked_then_filled_over_the_user_channel(
    venue: Venue, tls: Tls
) -> None:
    client, events = await started(venue, tls)
    try:
        cmd = order("0.02")
        client.place(cmd)
        coid = cmd.client_order_id
        acks = await events.wait_for(OrderAccepted, coid, count=2)  # feed `received` + POST 200
        (fill,) = await events.wait_for(OrderFilled, coid)
        assert isinstance(fill, OrderFilled)
        assert fill.last_qty == Decimal("0.02")
        assert fill.last_px >= Decimal(60_000)
        assert fill.commission == fill.last_qty * fill.last_px * Decimal("0.006")
        assert fill.commission_asset == "USD"
        venue_ids = {e.venue_order_id for e in acks if isinstance(e, OrderAccepted)}
        assert len(venue_ids) == 1
        assert client.status()["acks"] == 1
    finally:
        await client.close()


async def test_order_beyond_balance_is_rejected_with_coinbase_message(
    venue: Venue, tls: Tls
) -> None:
    client, events = await started(venue, tls)
    try:
        cmd = order("100", price="60000")  # 6,000,000 USD against 1,000,000
        client.place(cmd)
        (rejected,) = await events.wait_for(OrderRejected, cmd.client_order_id)
        assert isinstance(rejected, OrderRejected)
        assert (rejected.code, rejected.message) == (400, "Insufficient funds")
    finally:
        await client.close()


async def test_cancel_all_cancels_a_resting_order(venue: Venue, tls: Tls) -> None:
    client, events = await started(venue, tls)
    try:
        cmd = order("0.1", price="50000", tif=TimeInForce.GTC)
        client.place(cmd)
        await events.wait_for(OrderAccepted, cmd.client_order_id, count=2)
        assert await client.cancel_all("BTC-USD") == 1
        await events.wait_for(OrderCanceled, cmd.client_order_id)
        assert events.of(OrderExpired, cmd.client_order_id) == []
        assert await client.cancel_all("BTC-USD") == 0
    finally:
        await client.close()


async def test_ioc_remainder_is_expired_not_canceled(venue: Venue, tls: Tls) -> None:
    client, events = await started(venue, tls)
    try:
        cmd = order("0.1", price="50000", tif=TimeInForce.IOC)  # below every ask
        client.place(cmd)
        await events.wait_for(OrderExpired, cmd.client_order_id)
        assert events.of(OrderCanceled, cmd.client_order_id) == []
    finally:
        await client.close()


async def test_cancel_one_order_by_client_oid(venue: Venue, tls: Tls) -> None:
    client, events = await started(venue, tls)
    try:
        cmd = order("0.1", Side.SELL, price="90000", tif=TimeInForce.GTC)
        client.place(cmd)
        await events.wait_for(OrderAccepted, cmd.client_order_id, count=2)
        await client.cancel(cmd.client_order_id, "BTC-USD")
        await events.wait_for(OrderCanceled, cmd.client_order_id)
        with pytest.raises(CoinbaseError) as info:
            await client.cancel(cmd.client_order_id, "BTC-USD")
        assert info.value.status == 404
    finally:
        await client.close()


async def test_reconcile_found_reports_accept_and_fill(venue: Venue, tls: Tls) -> None:
    client, events = await started(venue, tls)
    try:
        cmd = order("0.03")
        client.place(cmd)
        await events.wait_for(OrderFilled, cmd.client_order_id)
        found = await client.reconcile(cmd.client_order_id, "BTC-USD")
        assert [type(e) for e in found] == [OrderAccepted, OrderFilled]
        fill = found[1]
        assert isinstance(fill, OrderFilled) and fill.last_qty == Decimal("0.03")
    finally:
        await client.close()


async def test_reconcile_not_found_only_after_the_30_second_window(venue: Venue, tls: Tls) -> None:
    client, _ = await started(venue, tls)
    try:
        never_sent = uuid_client_order_id("cb", next(_seq))
        # inside the window an unseen order may still arrive: not a final answer
        with pytest.raises(CoinbaseError) as info:
            await client.reconcile(never_sent, "BTC-USD")
        assert info.value.status == 404
        venue.clock.shift_ms += 40_000
        await client.resync_clock()
        (event,) = await client.reconcile(never_sent, "BTC-USD")
        assert isinstance(event, OrderNotFound) and event.client_order_id == never_sent
    finally:
        await client.close()


async def test_stale_timestamp_is_rejected_and_the_clock_resynchronises(
    venue: Venue, tls: Tls
) -> None:
    client, events = await started(venue, tls)
    try:
        venue.clock.shift_ms += 60_000  # the venue's clock jumps; ours has not seen it
        cmd = order()
        client.place(cmd)
        (rejected,) = await events.wait_for(OrderRejected, cmd.client_order_id)
        assert isinstance(rejected, OrderRejected)
        assert (rejected.code, rejected.message) == (401, "request timestamp expired")
        assert client.clock.rejections == 1
        async with asyncio.timeout(10):
            while not client.clock.can_send:
                await asyncio.sleep(0.01)
        again = order()
        client.place(again)
        await events.wait_for(OrderFilled, again.client_order_id)
    finally:
        await client.close()


async def test_one_tls_connection_carries_every_order(venue: Venue, tls: Tls) -> None:
    client, events = await started(venue, tls)
    try:
        before = venue.emulator.rest_connections
        commands = [order("0.001") for _ in range(20)]
        for cmd in commands:
            client.place(cmd)
        for cmd in commands:
            await events.wait_for(OrderFilled, cmd.client_order_id)
            # pipelined answers matched by position: the POST's id equals the feed's
            acks = await events.wait_for(OrderAccepted, cmd.client_order_id, count=2)
            assert len({e.venue_order_id for e in acks if isinstance(e, OrderAccepted)}) == 1
        await client.cancel_all("BTC-USD")
        await client.reconcile(commands[0].client_order_id, "BTC-USD")
        assert before == 1  # start(): time, products and ticker on the same connection
        assert venue.emulator.rest_connections == 1
        assert client.connections_opened == 1
        assert client.status()["acks"] == 20
    finally:
        await client.close()


async def test_client_refuses_a_certificate_it_does_not_trust(venue: Venue) -> None:
    keys = venue.emulator.open_default_account(f"acct{next(_seq)}")
    creds = Credentials(
        venue="coinbase",
        api_key=Secret(keys.api_key),
        api_secret=Secret(keys.secret),
        passphrase=Secret(keys.passphrase),
    )
    # the system trust store does not know the test CA: verification must fail
    client = CoinbaseClient(venue.emulator.rest_url, venue.emulator.ws_url, creds)
    with pytest.raises(ssl.SSLCertVerificationError):
        await client.start()
    assert client.connections_opened == 0


async def test_dropped_connection_makes_the_order_unknown_then_reconnects(
    venue: Venue, tls: Tls
) -> None:
    client, events = await started(venue, tls)
    try:
        venue.emulator.set_faults(FaultPlan(disconnect_rate=1.0))
        cmd = order()
        client.place(cmd)
        (unknown,) = await events.wait_for(OrderStatusUnknown, cmd.client_order_id)
        assert isinstance(unknown, OrderStatusUnknown) and "disconnect" in unknown.reason
        venue.emulator.set_faults(None)
        async with asyncio.timeout(10):
            while client.status()["connected"] is False:
                await asyncio.sleep(0.01)
        # the venue processed it before cutting: reconciliation finds it
        found = await client.reconcile(cmd.client_order_id, "BTC-USD")
        assert isinstance(found[0], OrderAccepted)
        assert client.connections_opened == 2
    finally:
        await client.close()


async def test_reconnects_beyond_the_connection_limit_are_held_back(venue: Venue, tls: Tls) -> None:
    # exchange/websocket-feed/rate-limits (8 per second per IP), scaled down to 3 per
    # minute: start opens the REST connection and the feed, one reconnect fits, no more
    limiter = ConnectionLimiter(3, 60_000)
    client, events = await started(venue, tls, limiter)
    try:
        venue.emulator.set_faults(FaultPlan(disconnect_rate=1.0))
        first = order()
        client.place(first)
        await events.wait_for(OrderStatusUnknown, first.client_order_id)
        async with asyncio.timeout(10):
            while client.status()["connected"] is False:
                await asyncio.sleep(0.01)
        second = order()
        client.place(second)
        await events.wait_for(OrderStatusUnknown, second.client_order_id)
        async with asyncio.timeout(10):
            while limiter.held_until_ms is None:
                await asyncio.sleep(0.01)
        assert client.connections_opened == 2  # the REST connection: start + one reconnect
        assert client.status()["connected"] is False
        with pytest.raises(VenueUnavailable):
            client.place(order())
    finally:
        await client.close()


async def test_place_before_start_sends_nothing(tls: Tls) -> None:
    creds = Credentials(
        venue="coinbase",
        api_key=Secret("k" * 32),
        api_secret=Secret("c2VjcmV0"),
        passphrase=Secret("p"),
    )
    client = CoinbaseClient(
        "https://127.0.0.1:1", "ws://127.0.0.1:1", creds, ssl_context=tls.client
    )
    with pytest.raises(VenueUnavailable):
        client.place(order())


async def test_venue_5xx_makes_the_order_unknown_and_reconcile_finds_it(
    venue: Venue, tls: Tls
) -> None:
    client, events = await started(venue, tls)
    try:
        venue.emulator.set_faults(FaultPlan(unknown_rate=1.0))  # processed, answered 500
        cmd = order()
        client.place(cmd)
        (unknown,) = await events.wait_for(OrderStatusUnknown, cmd.client_order_id)
        assert isinstance(unknown, OrderStatusUnknown) and "server_error" in unknown.reason
        venue.emulator.set_faults(None)
        found = await client.reconcile(cmd.client_order_id, "BTC-USD")
        assert [type(e) for e in found] == [OrderAccepted, OrderFilled]
        assert client.connections_opened == 1  # a 500 answer keeps the connection
    finally:
        await client.close()


async def test_429_rejects_and_pauses_sending(venue: Venue, tls: Tls) -> None:
    client, events = await started(venue, tls)
    try:
        venue.emulator.set_faults(FaultPlan(storm=(0, 1)))
        cmd = order()
        client.place(cmd)
        (rejected,) = await events.wait_for(OrderRejected, cmd.client_order_id)
        assert isinstance(rejected, OrderRejected)
        assert (rejected.code, rejected.message) == (429, "Rate limit exceeded")
        with pytest.raises(VenueUnavailable, match="429"):
            client.place(order())
    finally:
        await client.close()


async def test_feed_drop_is_resubscribed_and_fills_flow_again(venue: Venue, tls: Tls) -> None:
    client, events = await started(venue, tls)
    try:
        await venue.emulator.disconnect_feeds()
        async with asyncio.timeout(10):
            while client.feed_reconnects < 1:
                await asyncio.sleep(0.01)
        cmd = order()
        client.place(cmd)
        await events.wait_for(OrderFilled, cmd.client_order_id)
    finally:
        await client.close()


async def test_feed_dropped_again_is_resubscribed_again_until_close(venue: Venue, tls: Tls) -> None:
    client, _ = await started(venue, tls)
    try:
        for drops in (1, 2):
            await venue.emulator.disconnect_feeds()
            async with asyncio.timeout(10):
                while client.feed_reconnects < drops or not client.status()["feed_connected"]:
                    await asyncio.sleep(0.01)
    finally:
        await client.close()
    assert not client.feed.running and client.status()["feed_connected"] is False


async def test_client_and_emulator_agree_under_a_path_prefix(tls: Tls) -> None:
    emu = CoinbaseEmulator(CoinbaseConfig(path_prefix="/coinbase"))
    await emu.start(ssl=tls.server)
    try:
        assert emu.rest_url.endswith("/coinbase")
        client, events = await started(Venue(emu, ShiftedClock()), tls)
        try:
            cmd = order()
            client.place(cmd)
            await events.wait_for(OrderFilled, cmd.client_order_id)
            found = await client.reconcile(cmd.client_order_id, "BTC-USD")
            assert isinstance(found[0], OrderAccepted)
        finally:
            await client.close()
    finally:
        await emu.close()


async def test_same_client_order_id_twice_in_flight_is_refused_before_any_byte(
    venue: Venue, tls: Tls
) -> None:
    client, events = await started(venue, tls)
    try:
        venue.emulator.set_faults(FaultPlan(latency_ms=50))  # keep the first one in flight
        cmd = order()
        client.place(cmd)
        with pytest.raises(VenueUnavailable, match="already in flight"):
            client.place(cmd)
        assert client.sent == 1
        await events.wait_for(OrderFilled, cmd.client_order_id)
    finally:
        await client.close()


async def test_keepalive_holds_the_connection_past_the_venues_idle_timeout(tls: Tls) -> None:
    emu = CoinbaseEmulator(idle_timeout_s=0.3)
    await emu.start(ssl=tls.server)
    try:
        keys = emu.open_default_account()
        creds = Credentials(
            venue="coinbase",
            api_key=Secret(keys.api_key),
            api_secret=Secret(keys.secret),
            passphrase=Secret(keys.passphrase),
        )
        kept = CoinbaseClient(
            emu.rest_url, emu.ws_url, creds, ssl_context=tls.client, keepalive_s=0.1
        )
        await kept.start()
        async with asyncio.timeout(10):
            while kept.keepalives < 8:  # 0.8 s idle from the venue's side, by then
                await asyncio.sleep(0.02)
        assert emu.rest_connections == 1
        assert kept.connections_opened == 1
        await kept.close()
    finally:
        await emu.close()


async def test_without_keepalive_the_venue_closes_and_the_client_reconnects(tls: Tls) -> None:
    emu = CoinbaseEmulator(idle_timeout_s=0.5)
    await emu.start(ssl=tls.server)
    try:
        keys = emu.open_default_account()
        creds = Credentials(
            venue="coinbase",
            api_key=Secret(keys.api_key),
            api_secret=Secret(keys.secret),
            passphrase=Secret(keys.passphrase),
        )
        idle = CoinbaseClient(
            emu.rest_url, emu.ws_url, creds, ssl_context=tls.client, keepalive_s=None
        )
        events = Events()
        idle.on_event = events
        await idle.start()
        async with asyncio.timeout(10):
            while idle.connections_opened < 2:
                await asyncio.sleep(0.02)
            while not idle.status()["connected"]:
                await asyncio.sleep(0.02)
        cmd = order()
        idle.place(cmd)
        await events.wait_for(OrderFilled, cmd.client_order_id)
        await idle.close()
    finally:
        await emu.close()


async def test_emulators_own_self_signed_certificate_verifies_for_the_client() -> None:
    own = loopback_tls()
    emu = CoinbaseEmulator()
    await emu.start(ssl=own.server)
    try:
        client, events = await started(
            Venue(emu, ShiftedClock()), Tls(own.server, own.client_context())
        )
        try:
            cmd = order()
            client.place(cmd)
            await events.wait_for(OrderFilled, cmd.client_order_id)
        finally:
            await client.close()
    finally:
        await emu.close()


async def test_rehearsal_signs_into_scratch_and_writes_nothing_then_an_order_is_acked(
    venue: Venue, tls: Tls
) -> None:
    client, events = await started(venue, tls)
    try:
        client.rehearse(order("0.02"))
        client.rehearse(order("0.02", price="1000", tif=TimeInForce.GTC))
        assert (client.sent, client.rehearsals) == (0, 2)
        assert len(client._pending) == 0 and not client._inflight and not client._signed_ms
        # the next response on the kept-alive connection is this order's: nothing was
        # written ahead of it (a stray request would have shifted the answers by one)
        cmd = order("0.02")
        client.place(cmd)
        await events.wait_for(OrderAccepted, cmd.client_order_id, count=2)
        assert {e.client_order_id for e in events.items} == {cmd.client_order_id}
        status = client.status()
        assert (status["sent"], status["acks"], status["rehearsals"]) == (1, 1, 2)
    finally:
        await client.close()
    client.rehearse(order())  # closed: does nothing, raises nothing
    assert client.rehearsals == 2


# -- a venue that sends what does not decode (issue 14: never close the order connection) --


def _match(taker_order_id: str, **fields: object) -> str:
    # a user-channel "match" (Exchange WebSocket Channels), one or more fields made hostile
    message: dict[str, object] = {
        "type": "match",
        "trade_id": 10,
        "maker_order_id": "ac928c66-ca53-498f-9c13-a110027a60e8",
        "taker_order_id": taker_order_id,
        "side": "sell",
        "size": "0.005",
        "price": "1000.00",
        "product_id": "BTC-USD",
        "taker_fee_rate": "0.006",
        "time": "2026-12-07T20:00:00.000000Z",
        **fields,
    }
    return json.dumps(message)


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"size": "NaN"}, "$.size"),
        ({"price": "cheap"}, "$.price"),
        ({"taker_fee_rate": "1e999999"}, "$.taker_fee_rate"),
        ({"price": None}, "$.size"),
        ({"trade_id": [1]}, "$.trade_id"),
    ],
)
async def test_malformed_feed_match_turns_its_order_unknown_and_keeps_the_feed(
    venue: Venue, tls: Tls, fields: dict[str, object], path: str
) -> None:
    client, events = await started(venue, tls)
    try:
        cmd = order(price="1000.00", tif=TimeInForce.GTC)
        client.place(cmd)
        (ack, *_) = await events.wait_for(OrderAccepted, cmd.client_order_id)
        assert isinstance(ack, OrderAccepted)
        assert venue.emulator.inject(_match(ack.venue_order_id, **fields)) == 1
        (unknown,) = await events.wait_for(OrderStatusUnknown, cmd.client_order_id)
        assert isinstance(unknown, OrderStatusUnknown)
        assert "malformed feed message" in unknown.reason and f"`{path}`" in unknown.reason
        assert events.of(OrderFilled, cmd.client_order_id) == []
        assert client.status()["malformed"] == 1 and client.feed_reconnects == 0
        # the feed is still subscribed: a market order's fill arrives on it
        market = order()
        client.place(market)
        await events.wait_for(OrderFilled, market.client_order_id)
    finally:
        await client.close()


async def test_a_wss_feed_is_verified_with_the_rest_context_and_delivers_fills(tls: Tls) -> None:
    # the feed over TLS too: the client trusts it with the context it verifies REST with
    emu = CoinbaseEmulator(clock=ShiftedClock())
    await emu.start(ssl=tls.server, feed_ssl=tls.server)
    assert emu.ws_url.startswith("wss://")
    client, events = await started(Venue(emu, ShiftedClock()), tls)
    try:
        cmd = order()
        client.place(cmd)
        await events.wait_for(OrderFilled, cmd.client_order_id)
    finally:
        await client.close()
        await emu.close()


async def test_a_wss_feed_the_client_cannot_verify_is_refused(tls: Tls) -> None:
    emu = CoinbaseEmulator()
    await emu.start(ssl=tls.server, feed_ssl=tls.server)
    keys = emu.open_default_account()
    creds = Credentials(
        venue="coinbase",
        api_key=Secret(keys.api_key),
        api_secret=Secret(keys.secret),
        passphrase=Secret(keys.passphrase),
    )
    # REST over plain http: the feed falls back to the system trust store, which refuses
    # the test CA's certificate
    plain = CoinbaseEmulator()
    await plain.start()
    client = CoinbaseClient(plain.rest_url, emu.ws_url, creds)
    try:
        with pytest.raises(TLSFailure):
            await client.start()
    finally:
        await client.close()
        await plain.close()
        await emu.close()


@pytest.mark.parametrize("body", [b'{"id": 5}', b"not json", b'["a"]'])
async def test_a_200_order_answer_that_does_not_decode_turns_the_order_unknown(
    venue: Venue, tls: Tls, body: bytes
) -> None:
    client, events = await started(venue, tls)
    try:
        # the venue takes the order but answers with a body no client could read
        exchange = venue.emulator.exchange
        real_place = exchange.place

        def garbled(account: str, request: bytes, now: int) -> RestResponse:
            real_place(account, request, now)
            return RestResponse(200, body)

        exchange.place = garbled  # type: ignore[method-assign]
        cmd = order()
        client.place(cmd)
        (unknown,) = await events.wait_for(OrderStatusUnknown, cmd.client_order_id)
        assert isinstance(unknown, OrderStatusUnknown)
        assert "malformed POST /orders answer" in unknown.reason
        assert client.status()["malformed"] == 1 and client.status()["connected"] is True
        # the same kept-alive connection still answers: reconciliation finds the order
        reconciled = await client.reconcile(cmd.client_order_id, "BTC-USD")
        assert any(isinstance(e, OrderFilled) for e in reconciled)
        assert client.connections_opened == 1
    finally:
        await client.close()


async def test_cancel_after_a_partial_fill_states_what_executed(tls: Tls) -> None:
    # an empty book: our resting SELL is the only ask; another account's IOC BUY takes part
    clock = ShiftedClock()
    emu = CoinbaseEmulator(CoinbaseConfig(book_levels=0), clock=clock)
    await emu.start(ssl=tls.server)
    empty = Venue(emu, clock)
    client, events = await started(empty, tls)
    taker, _ = await started(empty, tls)
    try:
        cmd = order("0.01", Side.SELL, price="60000", tif=TimeInForce.GTC)
        client.place(cmd)
        await events.wait_for(OrderAccepted, cmd.client_order_id, count=2)
        taker.place(order("0.004", Side.BUY, price="60000", tif=TimeInForce.IOC))
        (trade,) = await events.wait_for(OrderFilled, cmd.client_order_id)
        assert isinstance(trade, OrderFilled) and trade.last_qty == Decimal("0.004")
        await client.cancel(cmd.client_order_id, "BTC-USD")
        (canceled,) = await events.wait_for(OrderCanceled, cmd.client_order_id)
        # done states what was left: 0.006 of 0.01; its price is the order's limit
        assert isinstance(canceled, OrderCanceled) and canceled.executed_qty == Decimal("0.004")
    finally:
        await taker.close()
        await client.close()
        await emu.close()

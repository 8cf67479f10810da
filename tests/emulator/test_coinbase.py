"""The Coinbase Exchange emulator's sans-IO handler (emulator/coinbase/: exchange, render).

Checks the documented behaviour of Coinbase Exchange (docs.cdp.coinbase.com):
"Exchange REST API Authentication" (CB-ACCESS-* headers, base64 HMAC-SHA256 over
timestamp + method + requestPath + body, the 30-second window), "Rate Limits" (429),
"Create a new order" / "Get single order" / "Cancel an order" / "Cancel all orders" /
"Get all fills" / "Get server time" bodies, and "Exchange WebSocket Channels" (full and user
channel ``received``/``open``/``match``/``done``). Requests are signed here with the
stdlib, independently of the emulator's verifier; Coinbase publishes no signed example
with a usable secret, so no published vector exists to replay.
"""

from __future__ import annotations

import base64
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.emulator.support import CB_KEY as KEY
from tests.emulator.support import CB_NOW_MS as NOW_MS
from tests.emulator.support import CB_PASSPHRASE as PASSPHRASE
from tests.emulator.support import CB_SECRET as SECRET
from tests.emulator.support import coinbase_make as make
from tests.emulator.support import coinbase_oid as oid
from tests.emulator.support import coinbase_request as request
from tests.emulator.support import coinbase_sign as sign

from whalewire.emulator.coinbase.exchange import (
    CoinbaseConfig,
    CoinbaseExchange,
    RateBucket,
)
from whalewire.emulator.coinbase.feed import CoinbaseFeedSession


def subscribe(
    exchange: CoinbaseExchange, channel: str = "user", **override: str
) -> CoinbaseFeedSession:
    session = exchange.connect()
    ts = "%.3f" % (exchange.clock() / 1000)
    msg = {
        "type": "subscribe",
        "product_ids": ["BTC-USD"],
        "channels": [channel],
        "key": KEY,
        "passphrase": PASSPHRASE,
        "timestamp": ts,
        "signature": sign(ts, "GET", "/users/self/verify", ""),
        **override,
    }
    answer = json.loads(session.handle(json.dumps(msg))[0])
    assert answer["type"] == ("error" if override else "subscriptions"), answer
    return session


def feed(session: CoinbaseFeedSession) -> list[dict[str, Any]]:
    return [json.loads(t) for t in session.data_to_send()]


# ----------------------------------------------------------------- authentication


def test_signed_request_within_window_is_answered() -> None:
    _, exchange = make()
    response = request(exchange, "GET", "/accounts")
    assert response.status == 200
    usd = next(a for a in response.json() if a["currency"] == "USD")
    assert Decimal(usd["available"]) == Decimal(1_000_000)
    assert Decimal(usd["hold"]) == 0


@pytest.mark.parametrize("skew_ms", [-29_999, 29_999])
def test_timestamp_just_inside_30_seconds_is_accepted(skew_ms: int) -> None:
    _, exchange = make()
    assert request(exchange, "GET", "/accounts", ts_ms=NOW_MS + skew_ms).status == 200


@pytest.mark.parametrize("skew_ms", [-30_001, 30_001, -3_600_000])
def test_timestamp_outside_30_seconds_is_401_request_timestamp_expired(skew_ms: int) -> None:
    _, exchange = make()
    response = request(exchange, "GET", "/accounts", ts_ms=NOW_MS + skew_ms)
    assert (response.status, response.json()) == (401, {"message": "request timestamp expired"})


def test_wrong_signature_is_401_invalid_signature() -> None:
    _, exchange = make()
    other = base64.b64encode(b"x" * 64).decode()
    response = request(exchange, "GET", "/accounts", secret=other)
    assert (response.status, response.json()) == (401, {"message": "invalid signature"})


def test_signature_covers_the_body() -> None:
    _, exchange = make()
    ts = "%.3f" % (NOW_MS / 1000)
    signed = json.dumps({"product_id": "BTC-USD", "side": "buy", "size": "1", "price": "1"})
    sent = signed.replace('"1"}', '"2"}')
    headers = {
        "cb-access-key": KEY,
        "cb-access-sign": sign(ts, "POST", "/orders", signed),
        "cb-access-timestamp": ts,
        "cb-access-passphrase": PASSPHRASE,
    }
    response = exchange.handle("POST", "/orders", headers, sent.encode())
    assert (response.status, response.json()["message"]) == (401, "invalid signature")


def test_wrong_passphrase_and_unknown_key_are_401() -> None:
    _, exchange = make()
    assert request(exchange, "GET", "/accounts", passphrase="nope").json() == {
        "message": "Invalid Passphrase"
    }
    response = request(exchange, "GET", "/accounts", key="f" * 32)
    assert (response.status, response.json()) == (401, {"message": "Invalid API Key"})


def test_non_numeric_timestamp_is_400() -> None:
    _, exchange = make()
    headers = {
        "cb-access-key": KEY,
        "cb-access-sign": "x",
        "cb-access-timestamp": "yesterday",
        "cb-access-passphrase": PASSPHRASE,
    }
    response = exchange.handle("GET", "/accounts", headers, b"")
    assert (response.status, response.json()) == (400, {"message": "invalid timestamp"})


def test_private_burst_beyond_limit_is_429() -> None:
    _, exchange = make(CoinbaseConfig(private_rate=RateBucket(15, 30), book_levels=0))
    statuses = [request(exchange, "GET", "/accounts").status for _ in range(31)]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


def test_time_answers_iso_and_epoch() -> None:
    _, exchange = make()
    body = exchange.handle("GET", "/time", {}, b"").json()
    # "Get server time": {"iso": "2015-01-07T23:47:25.201Z", "epoch": 1420674445.201}
    assert body == {"iso": "2023-11-14T22:13:20.000Z", "epoch": 1_700_000_000.0}


def test_products_list_increments() -> None:
    _, exchange = make()
    products = {p["id"]: p for p in exchange.handle("GET", "/products", {}, b"").json()}
    btc = products["BTC-USD"]
    assert (btc["base_currency"], btc["quote_currency"]) == ("BTC", "USD")
    assert (btc["base_increment"], btc["quote_increment"]) == ("0.00000001", "0.01")


# ----------------------------------------------------------------- orders and the feed


# "Place a new order" (Coinbase Exchange, formerly GDAX, API reference): the documented
# request and response, reproduced in SDKs since (e.g. ccxt's coinbasepro parseOrder comment)
DOC_ORDER_REQUEST = {"size": "0.01", "price": "0.100", "side": "buy", "product_id": "BTC-USD"}
DOC_ORDER_RESPONSE = {
    "id": "d0c5340b-6d6c-49d9-b567-48c4bfca13d2",
    "price": "0.10000000",
    "size": "0.01000000",
    "product_id": "BTC-USD",
    "side": "buy",
    "stp": "dc",
    "type": "limit",
    "time_in_force": "GTC",
    "post_only": False,
    "created_at": "2016-12-08T20:02:28.53864Z",
    "fill_fees": "0.0000000000000000",
    "filled_size": "0.00000000",
    "executed_value": "0.0000000000000000",
    "status": "pending",
    "settled": False,
}


def test_documented_order_request_gets_the_documented_answer_shape() -> None:
    _, exchange = make()
    response = request(exchange, "POST", "/orders", DOC_ORDER_REQUEST)
    assert response.status == 200
    got = response.json()
    assert set(DOC_ORDER_RESPONSE) <= set(got)
    varying = {"id", "created_at"}
    assert {k: got[k] for k in DOC_ORDER_RESPONSE if k not in varying} == {
        k: v for k, v in DOC_ORDER_RESPONSE.items() if k not in varying
    }
    assert str(uuid.UUID(got["id"])) == got["id"]


def test_limit_order_rests_answers_pending_and_feeds_received_then_open() -> None:
    _, exchange = make()
    user = subscribe(exchange)
    coid = oid()
    body = {"product_id": "BTC-USD", "side": "buy", "type": "limit", "price": "50000.00"}
    response = request(exchange, "POST", "/orders", {**body, "size": "0.5", "client_oid": coid})
    assert response.status == 200
    order = response.json()
    # "Create a new order" response fields
    assert {
        "id",
        "price",
        "size",
        "product_id",
        "side",
        "type",
        "time_in_force",
        "post_only",
    } <= set(order)
    assert (order["status"], order["settled"], order["client_oid"]) == ("pending", False, coid)
    messages = feed(user)
    assert [m["type"] for m in messages] == ["received", "open"]
    received, opened = messages
    assert received["order_id"] == order["id"] and received["client_oid"] == coid
    assert (received["order_type"], received["side"], received["price"]) == (
        "limit",
        "buy",
        "50000.00000000",
    )
    assert opened["remaining_size"] == "0.50000000"
    assert opened["sequence"] == received["sequence"] + 1
    got = request(exchange, "GET", f"/orders/client:{coid}").json()
    assert (got["id"], got["status"], got["filled_size"]) == (order["id"], "open", "0.00000000")
    usd = next(a for a in request(exchange, "GET", "/accounts").json() if a["currency"] == "USD")
    # "Holds": a limit buy holds price x size x (1 + fee-percent): 25,000 x 1.006
    assert Decimal(usd["hold"]) == Decimal(25_150)


def test_market_buy_feeds_received_match_done_with_taker_fields() -> None:
    _, exchange = make()
    user = subscribe(exchange)
    coid = oid()
    order = request(
        exchange,
        "POST",
        "/orders",
        {
            "product_id": "BTC-USD",
            "side": "buy",
            "type": "market",
            "size": "0.01",
            "client_oid": coid,
        },
    ).json()
    messages = feed(user)
    assert [m["type"] for m in messages] == ["received", "match", "done"]
    match, done = messages[1], messages[2]
    assert match["taker_order_id"] == order["id"]
    assert match["side"] == "sell"  # the maker's side ("Full channel", match)
    assert match["user_id"] == match["taker_user_id"]
    assert match["taker_fee_rate"] == "0.006"
    assert (done["reason"], done["order_id"]) == ("filled", order["id"])
    assert "remaining_size" not in done  # market orders never rest
    fills = request(exchange, "GET", f"/fills?order_id={order['id']}").json()
    assert [(f["trade_id"], f["liquidity"], f["size"]) for f in fills] == [
        (match["trade_id"], "T", "0.01000000")
    ]
    # the fee is charged in quote: price * size * 0.6 %
    assert Decimal(fills[0]["fee"]) == Decimal(match["price"]) * Decimal("0.01") * Decimal("0.006")


def test_full_channel_sees_other_users_orders_without_user_fields() -> None:
    _, exchange = make()
    exchange.registry.open_account("other", {"USD": Decimal(1_000_000)})
    exchange.add_key("other", "a" * 32, SECRET, "p2")
    watcher = subscribe(exchange, "full")
    watcher.account_id = "other"
    request(
        exchange,
        "POST",
        "/orders",
        {"product_id": "BTC-USD", "side": "buy", "type": "market", "size": "0.01"},
    )
    match = next(m for m in feed(watcher) if m["type"] == "match")
    assert "user_id" not in match


def test_user_channel_does_not_see_other_users_orders() -> None:
    _, exchange = make()
    exchange.registry.open_account("other", {"USD": Decimal(1_000_000)})
    exchange.add_key("other", "a" * 32, SECRET, "p2")
    user = subscribe(exchange)
    body = {"product_id": "BTC-USD", "side": "buy", "type": "market", "size": "0.01"}
    assert request(exchange, "POST", "/orders", body, key="a" * 32, passphrase="p2").status == 200
    assert feed(user) == []


def test_cancel_by_client_oid_answers_it_feeds_done_and_then_404() -> None:
    _, exchange = make()
    user = subscribe(exchange)
    coid = oid()
    body = {
        "product_id": "BTC-USD",
        "side": "sell",
        "price": "70000.00",
        "size": "1",
        "client_oid": coid,
    }
    request(exchange, "POST", "/orders", body)
    feed(user)
    response = request(exchange, "DELETE", f"/orders/client:{coid}?product_id=BTC-USD")
    # "Cancel an order": the client_oid when canceled by client_oid
    assert (response.status, response.json()) == (200, coid)
    (done,) = feed(user)
    assert (done["type"], done["reason"], done["remaining_size"]) == (
        "done",
        "canceled",
        "1.00000000",
    )
    # "Get single order": canceled without any match may answer 404
    assert request(exchange, "GET", f"/orders/client:{coid}").status == 404
    assert request(exchange, "DELETE", f"/orders/client:{coid}").status == 404


def test_cancel_all_lists_canceled_ids() -> None:
    _, exchange = make()
    ids = []
    for price in ("40000.00", "41000.00"):
        body = {"product_id": "BTC-USD", "side": "buy", "price": price, "size": "0.1"}
        ids.append(request(exchange, "POST", "/orders", body).json()["id"])
    response = request(exchange, "DELETE", "/orders?product_id=BTC-USD")
    assert (response.status, sorted(response.json())) == (200, sorted(ids))
    assert request(exchange, "DELETE", "/orders").json() == []


def test_fok_that_cannot_fill_ends_canceled_without_match() -> None:
    _, exchange = make()
    user = subscribe(exchange)
    body = {
        "product_id": "BTC-USD",
        "side": "buy",
        "price": "60000.01",
        "size": "5",
        "time_in_force": "FOK",
    }
    request(exchange, "POST", "/orders", body)
    assert [(m["type"], m.get("reason")) for m in feed(user)] == [
        ("received", None),
        ("done", "canceled"),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"price": "50000.001", "size": "0.1"}, "price is too accurate. Smallest unit is 0.01"),
        (
            {"price": "50000", "size": "0.000000001"},
            "size is too accurate. Smallest unit is 0.00000001",
        ),
        ({"price": "50000", "size": "100"}, "Insufficient funds"),
        (
            {"product_id": "DOGE-USD", "price": "1", "size": "1"},
            "product_id is not a valid product",
        ),
        (
            {"price": "1", "size": "1", "time_in_force": "GTT"},
            "time_in_force must be GTC, IOC or FOK (GTT is not emulated)",
        ),
        ({"type": "market"}, "market orders must specify exactly one of size or funds"),
    ],
)
def test_invalid_order_is_400_with_message(body: dict[str, str], message: str) -> None:
    _, exchange = make()
    full = {"product_id": "BTC-USD", "side": "buy", **body}
    response = request(exchange, "POST", "/orders", full)
    assert (response.status, response.json()) == (400, {"message": message})


def test_reused_client_oid_is_refused() -> None:
    _, exchange = make()
    coid = oid()
    body = {
        "product_id": "BTC-USD",
        "side": "buy",
        "type": "market",
        "size": "0.01",
        "client_oid": coid,
    }
    assert request(exchange, "POST", "/orders", body).status == 200
    response = request(exchange, "POST", "/orders", body)
    assert (response.status, response.json()) == (400, {"message": "duplicate client_oid"})


def test_market_order_by_funds_spends_at_most_funds() -> None:
    _, exchange = make()
    body = {"product_id": "BTC-USD", "side": "buy", "type": "market", "funds": "1000.00"}
    order_id = request(exchange, "POST", "/orders", body).json()["id"]
    got = request(exchange, "GET", f"/orders/{order_id}").json()
    assert got["specified_funds"] == "1000.0000000000000000"
    assert Decimal(got["executed_value"]) <= 1000
    assert got["status"] == "done"


# ----------------------------------------------------------------- feed subscribe


def test_feed_subscribe_with_bad_signature_is_refused() -> None:
    _, exchange = make()
    session = subscribe(exchange, signature="AAAA")
    assert session.channels == {}


def test_feed_subscribe_with_expired_timestamp_says_so() -> None:
    _, exchange = make()
    session = exchange.connect()
    ts = "%.3f" % ((NOW_MS - 31_000) / 1000)
    msg = {
        "type": "subscribe",
        "product_ids": ["BTC-USD"],
        "channels": ["user"],
        "key": KEY,
        "passphrase": PASSPHRASE,
        "timestamp": ts,
        "signature": sign(ts, "GET", "/users/self/verify", ""),
    }
    answer = json.loads(session.handle(json.dumps(msg))[0])
    assert (answer["type"], answer["reason"]) == ("error", "request timestamp expired")


def test_feed_channels_in_object_form_subscribe_too() -> None:
    _, exchange = make()
    session = exchange.connect()
    msg = {"type": "subscribe", "channels": [{"name": "heartbeat", "product_ids": ["ETH-USD"]}]}
    answer = json.loads(session.handle(json.dumps(msg))[0])
    assert answer == {
        "type": "subscriptions",
        "channels": [{"name": "heartbeat", "product_ids": ["ETH-USD"]}],
    }


# "Exchange WebSocket Channels", "Full channel": the documented examples' fields (the same
# examples Coinbase's own gdax-java client quotes, e.g. OrderDoneOrderBookMessage)
DOC_FEED_FIELDS = {
    "received": {
        "type",
        "time",
        "product_id",
        "sequence",
        "order_id",
        "size",
        "price",
        "side",
        "order_type",
    },
    "open": {
        "type",
        "time",
        "product_id",
        "sequence",
        "order_id",
        "price",
        "remaining_size",
        "side",
    },
    "done": {
        "type",
        "time",
        "product_id",
        "sequence",
        "price",
        "order_id",
        "reason",
        "side",
        "remaining_size",
    },
    "match": {
        "type",
        "trade_id",
        "sequence",
        "maker_order_id",
        "taker_order_id",
        "time",
        "product_id",
        "size",
        "price",
        "side",
    },
}
#: what the emulator adds: our client_oid on received; the authenticated match's user fields
EXTRA = {
    "received": {"client_oid"},
    "open": set(),
    "done": set(),
    "match": {"taker_user_id", "user_id", "taker_profile_id", "profile_id", "taker_fee_rate"},
}


def test_feed_messages_have_exactly_the_documented_fields() -> None:
    _, exchange = make()
    user = subscribe(exchange)
    rest = {
        "product_id": "BTC-USD",
        "side": "buy",
        "price": "50000.00",
        "size": "0.1",
        "client_oid": oid(),
    }
    request(exchange, "POST", "/orders", rest)
    request(exchange, "DELETE", f"/orders/client:{rest['client_oid']}")
    # a limit buy crossing the best ask: received, match, done (filled), all documented
    take = {
        "product_id": "BTC-USD",
        "side": "buy",
        "price": "60000.01",
        "size": "0.01",
        "client_oid": oid(),
    }
    request(exchange, "POST", "/orders", take)
    seen: dict[str, dict[str, Any]] = {}
    for message in feed(user):
        seen.setdefault(message["type"], message)
    assert set(seen) == set(DOC_FEED_FIELDS)
    for kind, fields in DOC_FEED_FIELDS.items():
        assert set(seen[kind]) == fields | EXTRA[kind], kind


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_order_keys = st.sampled_from(
    [
        "product_id",
        "side",
        "type",
        "price",
        "size",
        "funds",
        "time_in_force",
        "client_oid",
        "post_only",
    ]
)
_plausible = {
    "product_id": st.sampled_from(["BTC-USD", "ETH-USD", "X"]),
    "side": st.sampled_from(["buy", "sell", "hold"]),
    "type": st.sampled_from(["limit", "market", "stop"]),
    "price": st.sampled_from(["60000.01", "0.1", "-1", "1e3", "NaN", "59000"]),
    "size": st.sampled_from(["0.01", "0", "1e-9", "Infinity", "3"]),
    "funds": st.sampled_from(["100.00", "0.001", "-5"]),
    "time_in_force": st.sampled_from(["GTC", "IOC", "FOK", "GTT"]),
}


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        _order_keys, _json_values | st.sampled_from(["BTC-USD", "buy", "0.01"]), max_size=7
    ),
    st.data(),
)
def test_any_signed_order_body_is_answered_200_or_400_never_raises(
    body: dict[str, Any], data: st.DataObject
) -> None:
    for key, values in _plausible.items():
        if data.draw(st.booleans()):
            body[key] = data.draw(values)
    _, exchange = make(CoinbaseConfig(private_rate=RateBucket(1e9, 10**9), book_levels=3))
    response = request(exchange, "POST", "/orders", body)
    assert response.status in (200, 400), response.body
    assert isinstance(response.json(), dict)

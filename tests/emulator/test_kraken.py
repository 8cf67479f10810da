"""The Kraken emulator (emulator/kraken/: exchange, server) against Kraken's documentation.

Sources, named per test: Kraken "Spot REST Authentication" (the API-Sign example),
"Spot REST API" ``GetWebSocketsToken`` and the error strings, and the "Spot WebSocket v2"
pages ``ping``, ``heartbeat``, ``add_order``, ``cancel_order``, ``cancel_all``,
``cancel_all_orders_after`` (``cancel_after``) and ``executions``. Requests the pages show
are sent verbatim. REST signing here is written with stdlib ``hmac`` apart from both the
emulator's verifier and ``venues.signing``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.emulator.support import KRAKEN_DOC_BODY as DOC_BODY
from tests.emulator.support import KRAKEN_DOC_NONCE as DOC_NONCE
from tests.emulator.support import KRAKEN_DOC_SIGN as DOC_SIGN
from tests.emulator.support import KRAKEN_KEY as DOC_KEY
from tests.emulator.support import KRAKEN_NOW as NOW
from tests.emulator.support import KRAKEN_SECRET as DOC_SECRET
from tests.emulator.support import KRAKEN_TOKEN as DOC_TOKEN
from tests.emulator.support import KRAKEN_TOKEN_2 as DOC_TOKEN_2
from tests.emulator.support import kraken_call as call
from tests.emulator.support import kraken_execution_rows as execution_rows
from tests.emulator.support import kraken_make as make
from tests.emulator.support import kraken_order as order
from tests.emulator.support import kraken_rest_call as rest_call
from tests.emulator.support import kraken_subscribe_executions as subscribe_executions

from whalewire.emulator.faults import FaultPlan
from whalewire.emulator.kraken.exchange import (
    KrakenConfig,
    rfc3339,
    verify_api_sign,
)
from whalewire.emulator.kraken.server import KrakenEmulator
from whalewire.net.client import connect
from whalewire.ws.exceptions import InvalidHandshake

CL_A = "a1b2c3d4-0000-4000-8000-000000000001"
CL_B = "a1b2c3d4-0000-4000-8000-000000000002"


# ----------------------------------------------------------------- REST: token, API-Sign


def test_documented_api_sign_example_verifies() -> None:
    # Kraken "Spot REST Authentication": the AddOrder example verifies with its secret
    assert verify_api_sign("/0/private/AddOrder", DOC_BODY, DOC_SECRET, DOC_SIGN)
    assert not verify_api_sign(
        "/0/private/AddOrder", DOC_BODY.replace("1.25", "1.26"), DOC_SECRET, DOC_SIGN
    )
    assert not verify_api_sign("/0/private/Balance", DOC_BODY, DOC_SECRET, DOC_SIGN)


def test_signed_get_websockets_token_returns_token_and_documented_expiry() -> None:
    _, exchange, _ = make()
    status, body = rest_call(exchange, "/0/private/GetWebSocketsToken", f"nonce={DOC_NONCE}")
    # "Spot REST API" GetWebSocketsToken: {"error": [], "result": {"token", "expires": 900}}
    assert status == 200
    assert body["error"] == []
    assert set(body["result"]) == {"token", "expires"} and body["result"]["expires"] == 900
    assert exchange.account_of(body["result"]["token"]) == "doc"


def test_token_request_under_a_deployment_prefix_verifies_the_kraken_path() -> None:
    _, exchange, _ = make()
    body = f"nonce={DOC_NONCE}"
    inner = hashlib.sha256((DOC_NONCE + body).encode()).digest()
    mac = hmac.new(
        base64.b64decode(DOC_SECRET), b"/0/private/GetWebSocketsToken" + inner, hashlib.sha512
    )
    headers = {"api-key": DOC_KEY, "api-sign": base64.b64encode(mac.digest()).decode()}
    answer = exchange.rest("POST", "/kraken/0/private/GetWebSocketsToken", headers, body.encode())
    assert json.loads(answer.body)["error"] == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"key": "no-such-key"}, "EAPI:Invalid key"),
        ({"secret": base64.b64encode(b"x" * 64).decode()}, "EAPI:Invalid signature"),
    ],
    ids=["unknown-key", "wrong-secret"],
)
def test_token_request_with_bad_credentials_gets_kraken_error(
    kwargs: dict[str, str], error: str
) -> None:
    _, exchange, _ = make()
    status, body = rest_call(exchange, "/0/private/GetWebSocketsToken", "nonce=5", **kwargs)
    # Kraken answers API errors with 200 and the error list ("Spot REST API" > errors)
    assert status == 200 and body == {"error": [error]}


def test_nonce_must_increase_per_key() -> None:
    _, exchange, _ = make()
    assert rest_call(exchange, "/0/private/GetWebSocketsToken", "nonce=10")[1]["error"] == []
    for stale in ("10", "9"):
        _, body = rest_call(exchange, "/0/private/GetWebSocketsToken", f"nonce={stale}")
        assert body == {"error": ["EAPI:Invalid nonce"]}
    assert rest_call(exchange, "/0/private/GetWebSocketsToken", "nonce=11")[1]["error"] == []


def test_unknown_rest_method_is_404_unknown_method() -> None:
    _, exchange, _ = make()
    answer = exchange.rest("POST", "/0/private/Withdraw", {}, b"nonce=1")
    assert answer.status == 404
    assert json.loads(answer.body) == {"error": ["EGeneral:Unknown method"]}


def test_unused_token_expires_after_15_minutes_but_a_used_one_stays_valid() -> None:
    clock, exchange, session = make()
    _, body = rest_call(exchange, "/0/private/GetWebSocketsToken", "nonce=1")
    stale = body["result"]["token"]
    _, body = rest_call(exchange, "/0/private/GetWebSocketsToken", "nonce=2")
    used = body["result"]["token"]
    call(session, {"method": "subscribe", "params": {"channel": "executions", "token": used}})
    clock.now += 901_000
    response, _ = call(session, order(token=stale))
    assert response["success"] is False and response["error"] == "ESession:Invalid session"
    response, _ = call(session, order(token=used))
    assert response["success"] is True


# ----------------------------------------------------------------- WebSocket v2 requests


def test_documented_ping_gets_pong_with_req_id_and_times() -> None:
    _, _, session = make()
    # Spot WebSocket v2 "ping": the documented request, verbatim
    response, _ = call(session, {"method": "ping", "req_id": 101})
    assert response == {
        "method": "pong",
        "req_id": 101,
        "time_in": rfc3339(NOW),
        "time_out": rfc3339(NOW),
    }
    assert response["time_in"] == "2023-09-21T14:35:07.197000Z"


def test_documented_cancel_all_orders_after_sets_trigger_time_timeout_seconds_ahead() -> None:
    _, _, session = make()
    # Spot WebSocket v2 "cancel_all_orders_after" (cancel_after): the documented request
    request = {
        "method": "cancel_all_orders_after",
        "params": {"timeout": 100, "token": "zwpdzWUe18Bn6h4TAMorh26+QbcMeST2B5tamfe+pgQ"},
        "req_id": 1234567890,
    }
    response, _ = call(session, request)
    assert response["method"] == "cancel_all_orders_after"
    assert response["req_id"] == 1234567890 and response["success"] is True
    assert response["result"] == {
        "currentTime": "2023-09-21T14:35:07.197000Z",
        "triggerTime": "2023-09-21T14:36:47.197000Z",
    }
    assert set(response) == {"method", "req_id", "result", "success", "time_in", "time_out"}


def test_documented_add_order_and_executions_requests_get_documented_shapes() -> None:
    _, _, session = make()
    # Spot WebSocket v2 "executions": the documented subscribe request, verbatim
    response, (snapshot,) = call(
        session,
        {
            "method": "subscribe",
            "params": {
                "channel": "executions",
                "token": "G38a1tGFzqGiUCmnegBcm8d4nfP3tytiNQz6tkCBYXY",
                "snap_orders": True,
                "snap_trades": True,
            },
        },
    )
    assert response["success"] is True and response["result"]["channel"] == "executions"
    assert snapshot["type"] == "snapshot" and snapshot["data"] == []
    # Spot WebSocket v2 "add_order": the documented limit order, verbatim
    request = {
        "method": "add_order",
        "params": {
            "order_type": "limit",
            "side": "buy",
            "limit_price": 26500.4,
            "order_userref": 100054,
            "order_qty": 1.2,
            "symbol": "BTC/USD",
            "token": "G38a1tGFzqGiUCmnegBcm8d4nfP3tytiNQz6tkCBYXY",
        },
        "req_id": 123456789,
    }
    response, messages = call(session, request)
    # the documented response: {"method": "add_order", "req_id": 123456789, "result":
    # {"order_id": "AA5JGQ-SBMRC-SCJ7J7", "order_userref": 100054}, "success": true,
    # "time_in": ..., "time_out": ...}
    assert set(response) == {"method", "req_id", "result", "success", "time_in", "time_out"}
    assert response["method"] == "add_order" and response["req_id"] == 123456789
    assert set(response["result"]) == {"order_id", "order_userref"}
    assert response["result"]["order_userref"] == 100054 and response["success"] is True
    rows = execution_rows(messages)
    assert [r["exec_type"] for r in rows] == ["pending_new", "new"]
    assert rows[0]["limit_price"] == 26500.4 and rows[0]["order_qty"] == 1.2
    assert all(r["order_userref"] == 100054 for r in rows)
    # cancel_order's documented response: {"method": "cancel_order", "req_id": ...,
    # "result": {"order_id": "OLUMT4-UTEGU-ZYM7E9"}, "success": true, "time_in", "time_out"}
    cancel = {
        "method": "cancel_order",
        "params": {"order_id": [response["result"]["order_id"]], "token": DOC_TOKEN_2},
        "req_id": 123456789,
    }
    answer, _ = call(session, cancel)
    assert set(answer) == {"method", "req_id", "result", "success", "time_in", "time_out"}
    assert answer["result"] == {"order_id": response["result"]["order_id"]}


def test_validate_only_add_order_places_nothing() -> None:
    _, exchange, session = make()
    response, messages = call(session, order(validate=True))
    assert response["success"] is True and response["result"] == {}
    assert messages == [] and exchange.engine.open_orders("doc") == []


def test_market_order_is_acked_then_streamed_new_trade_filled_with_fees() -> None:
    _, _, session = make()
    snapshot = subscribe_executions(session)
    assert snapshot[0]["channel"] == "executions" and snapshot[0]["type"] == "snapshot"
    response, messages = call(session, order(cl_ord_id=CL_A, req_id=7))
    # add_order response: method, req_id, result.order_id (+ cl_ord_id), success, times
    assert response["method"] == "add_order" and response["req_id"] == 7
    assert response["success"] is True
    order_id = response["result"]["order_id"]
    assert response["result"] == {"order_id": order_id, "cl_ord_id": CL_A}
    # Kraken order ids look like "OQCLML-BW3P3-BUCMWZ"
    assert [len(p) for p in order_id.split("-")] == [6, 5, 6] and order_id[0] == "O"
    rows = execution_rows(messages)
    kinds = [r["exec_type"] for r in rows]
    assert kinds[:2] == ["pending_new", "new"] and kinds[-1] == "filled"
    trades = [r for r in rows if r["exec_type"] == "trade"]
    assert trades and all(r["order_id"] == order_id and r["cl_ord_id"] == CL_A for r in rows)
    assert sum(Decimal(str(t["last_qty"])) for t in trades) == Decimal("0.5")
    for t in trades:
        assert t["liquidity_ind"] == "t" and t["exec_id"].startswith("T")
        (fee,) = t["fees"]
        assert set(fee) == {"asset", "qty"} and fee["qty"] > 0
        assert t["cost"] == pytest.approx(t["last_qty"] * t["last_price"])
    assert rows[-1]["order_status"] == "filled" and rows[-1]["cum_qty"] == 0.5
    # sequence numbers increase per connection
    seqs = [m["sequence"] for m in [*snapshot, *messages] if m.get("channel") == "executions"]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_order_the_account_cannot_pay_for_is_rejected_insufficient_funds() -> None:
    _, _, session = make()
    response, messages = call(session, order(order_qty=500, req_id=9))  # the account holds 10 BTC
    assert response["success"] is False
    assert response["error"] == "EOrder:Insufficient funds"
    assert response["req_id"] == 9 and "result" not in response
    assert messages == []


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"symbol": "DOGE/XYZ"}, "EQuery:Unknown asset pair"),
        ({"order_type": "iceberg"}, "EGeneral:Invalid arguments:order_type"),
        ({"side": "hold"}, "EGeneral:Invalid arguments:side"),
        ({"order_qty": 0.00001}, "EOrder:Order minimum not met"),
        ({"order_qty": 0.123456789}, "EGeneral:Invalid arguments:order_qty"),
        ({"order_type": "limit", "limit_price": 100.05}, "EGeneral:Invalid arguments:limit_price"),
        (
            {"order_type": "limit", "limit_price": 100, "time_in_force": "gtx"},
            "EGeneral:Invalid arguments:time_in_force",
        ),
        ({"cl_ord_id": "x" * 19}, "EGeneral:Invalid arguments:cl_ord_id"),
        ({"token": "not-a-token"}, "ESession:Invalid session"),
    ],
)
def test_invalid_add_order_gets_kraken_error(params: dict[str, Any], error: str) -> None:
    _, _, session = make()
    response, _ = call(session, order(**params))
    assert response["success"] is False and response["error"] == error


def test_unknown_method_is_answered_unknown_method() -> None:
    _, _, session = make()
    response, _ = call(session, {"method": "withdraw", "req_id": 3})
    assert response["success"] is False and response["error"] == "EGeneral:Unknown method"
    assert response["req_id"] == 3


def test_resting_limit_order_is_canceled_by_cl_ord_id_and_streamed_canceled() -> None:
    _, _, session = make()
    subscribe_executions(session)
    response, _ = call(
        session,
        order(
            order_type="limit",
            limit_price=1000,
            order_qty=0.01,
            cl_ord_id=CL_A,
            time_in_force="gtc",
        ),
    )
    order_id = response["result"]["order_id"]
    # Spot WebSocket v2 "cancel_order": a list of cl_ord_id
    cancel = {
        "method": "cancel_order",
        "params": {"cl_ord_id": [CL_A], "token": DOC_TOKEN},
        "req_id": 4,
    }
    response, messages = call(session, cancel)
    assert response["success"] is True
    assert response["result"] == {"order_id": order_id, "cl_ord_id": CL_A}
    (row,) = execution_rows(messages)
    assert row["exec_type"] == "canceled" and row["order_status"] == "canceled"
    assert row["order_id"] == order_id and row["cl_ord_id"] == CL_A
    again, _ = call(session, cancel)
    assert again["success"] is False and again["error"] == "EOrder:Unknown order"


def test_cancel_order_by_order_id_and_rejects_mixing_identifiers() -> None:
    _, _, session = make()
    response, _ = call(session, order(order_type="limit", limit_price=1000, order_qty=0.01))
    order_id = response["result"]["order_id"]
    mixed = {"order_id": [order_id], "cl_ord_id": [CL_A], "token": DOC_TOKEN}
    response, _ = call(session, {"method": "cancel_order", "params": mixed})
    assert response["error"].startswith("EGeneral:Invalid arguments")
    params = {"order_id": [order_id], "token": DOC_TOKEN}
    response, _ = call(session, {"method": "cancel_order", "params": params})
    assert response["success"] is True and response["result"] == {"order_id": order_id}


def test_cancel_all_cancels_every_resting_order_and_counts_them() -> None:
    _, exchange, session = make()
    subscribe_executions(session)
    for cl, px in ((CL_A, 1000), (CL_B, 1100)):
        call(session, order(order_type="limit", limit_price=px, order_qty=0.01, cl_ord_id=cl))
    # Spot WebSocket v2 "cancel_all" (the params hold only the token)
    response, messages = call(
        session, {"method": "cancel_all", "params": {"token": DOC_TOKEN}, "req_id": 5}
    )
    assert response["result"] == {"count": 2} and response["success"] is True
    rows = execution_rows(messages)
    assert {r["cl_ord_id"] for r in rows} == {CL_A, CL_B}
    assert {r["exec_type"] for r in rows} == {"canceled"}
    assert exchange.engine.open_orders("doc") == []
    response, _ = call(session, {"method": "cancel_all", "params": {"token": DOC_TOKEN}})
    assert response["result"] == {"count": 0}


def test_ioc_remainder_expires_and_unfillable_fok_expires_without_a_trade() -> None:
    _, exchange, session = make(KrakenConfig(book_levels=1))
    subscribe_executions(session)
    best_ask = exchange.engine.depth("BTC/USD")[1][0]
    price = float(best_ask[0])
    qty = float(best_ask[1]) + 1  # more than the one level holds
    _, messages = call(
        session, order(order_type="limit", limit_price=price, order_qty=qty, time_in_force="ioc")
    )
    kinds = [r["exec_type"] for r in execution_rows(messages)]
    assert "trade" in kinds and kinds[-1] == "expired"
    _, messages = call(
        session, order(order_type="limit", limit_price=price, order_qty=qty, time_in_force="fok")
    )
    kinds = [r["exec_type"] for r in execution_rows(messages)]
    assert "trade" not in kinds and kinds[-1] == "expired"


def test_duplicate_cl_ord_id_among_open_orders_is_refused() -> None:
    _, _, session = make()
    resting = order(order_type="limit", limit_price=1000, order_qty=0.01, cl_ord_id=CL_A)
    assert call(session, resting)[0]["success"] is True
    response, _ = call(session, resting)
    assert response["success"] is False and response["error"] == "EOrder:Duplicate cl_ord_id"


def test_executions_snapshot_lists_open_orders() -> None:
    _, exchange, session = make()
    call(session, order(order_type="limit", limit_price=1000, order_qty=0.01, cl_ord_id=CL_A))
    other = exchange.connect()
    response, snapshot = call(
        other,
        {
            "method": "subscribe",
            "params": {"channel": "executions", "token": DOC_TOKEN},
            "req_id": 2,
        },
    )
    assert response["result"]["channel"] == "executions" and response["success"] is True
    (message,) = snapshot
    assert message["type"] == "snapshot"
    (row,) = message["data"]
    assert row["cl_ord_id"] == CL_A and row["order_status"] == "new"
    assert row["limit_price"] == 1000


def test_dead_man_switch_cancels_everything_when_it_runs_out_and_then_disarms() -> None:
    clock, exchange, session = make()
    subscribe_executions(session)
    call(session, order(order_type="limit", limit_price=1000, order_qty=0.01, cl_ord_id=CL_A))
    arm = {"method": "cancel_all_orders_after", "params": {"timeout": 60, "token": DOC_TOKEN}}
    call(session, arm)
    assert exchange.next_dead_man() == NOW + 60_000
    clock.now += 59_999
    assert exchange.fire_dead_man(clock.now) == 0
    clock.now += 1
    assert exchange.fire_dead_man(clock.now) == 1
    (row,) = execution_rows([json.loads(t) for t in session.data_to_send()])
    assert row["exec_type"] == "canceled" and row["cl_ord_id"] == CL_A
    # "the feature is disabled until the next cancel_all_orders_after request"
    assert exchange.next_dead_man() is None


def test_dead_man_switch_disarmed_with_zero_cancels_nothing() -> None:
    clock, exchange, session = make()
    call(session, order(order_type="limit", limit_price=1000, order_qty=0.01))
    call(
        session,
        {"method": "cancel_all_orders_after", "params": {"timeout": 60, "token": DOC_TOKEN}},
    )
    response, _ = call(
        session, {"method": "cancel_all_orders_after", "params": {"timeout": 0, "token": DOC_TOKEN}}
    )
    assert response["result"]["triggerTime"] == "0"
    clock.now += 3_600_000
    assert exchange.fire_dead_man(clock.now) == 0
    assert len(exchange.engine.open_orders("doc")) == 1


def test_open_and_closed_orders_filter_by_cl_ord_id() -> None:
    _, exchange, session = make()
    placed, _ = call(
        session, order(order_type="limit", limit_price=1000, order_qty=0.01, cl_ord_id=CL_A)
    )
    call(session, order(order_qty=0.01, cl_ord_id=CL_B))
    _, body = rest_call(exchange, "/0/private/OpenOrders", f"nonce=1&cl_ord_id={CL_A}")
    ((txid, info),) = body["result"]["open"].items()
    assert info["cl_ord_id"] == CL_A and info["status"] == "open" and info["vol"] == "0.01"
    assert txid == placed["result"]["order_id"]
    _, body = rest_call(exchange, "/0/private/ClosedOrders", f"nonce=2&cl_ord_id={CL_B}")
    ((_, info),) = body["result"]["closed"].items()
    assert info["status"] == "closed" and Decimal(info["vol_exec"]) == Decimal("0.01")
    _, body = rest_call(exchange, "/0/private/ClosedOrders", f"nonce=3&cl_ord_id={CL_A}")
    assert body["result"] == {"closed": {}, "count": 0}


# ----------------------------------------------------------------- whatever arrives

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["BTC/USD", "buy", "sell", "limit", "market", "ioc", "fok", DOC_TOKEN, CL_A]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_param_names = st.sampled_from(
    [
        "token",
        "symbol",
        "side",
        "order_type",
        "order_qty",
        "limit_price",
        "time_in_force",
        "cl_ord_id",
        "order_id",
        "order_userref",
        "validate",
        "timeout",
        "channel",
        "snap_orders",
    ]
)
_METHOD_NAMES = [
    "ping",
    "subscribe",
    "add_order",
    "cancel_order",
    "cancel_all",
    "cancel_all_orders_after",
    "nope",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(_METHOD_NAMES),
    params=st.dictionaries(_param_names, _values, max_size=6),
    req_id=st.none() | st.integers(0, 2**31),
)
def test_any_request_gets_a_well_formed_answer(
    method: str, params: dict[str, Any], req_id: int | None
) -> None:
    _, _, session = make(KrakenConfig(book_levels=2))
    request: dict[str, Any] = {"method": method, "params": params}
    if req_id is not None:
        request["req_id"] = req_id
    texts = session.handle(json.dumps(request))
    answer = json.loads(texts[0])
    assert answer["method"] == ("pong" if method == "ping" else method)
    assert answer.get("req_id") == req_id
    if method != "ping" or answer.get("success") is False:
        assert isinstance(answer["success"], bool)
        assert ("result" in answer) == answer["success"]
    if answer.get("success") is False:
        # Kraken's error strings are "<category>:<message>"
        category = answer["error"].split(":", 1)[0]
        assert category in {"EGeneral", "EOrder", "EQuery", "ESession"} or (
            answer["error"].startswith("Currency pair not supported")
        )
    for text in texts[1:]:
        assert "channel" in json.loads(text) or json.loads(text)["method"] == method


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
def test_any_text_gets_a_failure_answer_not_an_exception(text: str) -> None:
    _, _, session = make(KrakenConfig(book_levels=0))
    answer = json.loads(session.handle(text)[0])
    assert answer.get("success") is False or answer.get("method") == "pong"


# ----------------------------------------------------------------- over loopback


async def _recv_json(
    ws: Any, channel: str | None = None, method: str | None = None
) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            msg = json.loads(await ws.recv())
            if (channel is None or msg.get("channel") == channel) and (
                method is None or msg.get("method") == method
            ):
                return msg


async def test_server_greets_with_status_then_sends_heartbeats_after_a_subscription() -> None:
    emu = KrakenEmulator(heartbeat_interval=0.05)
    await emu.start()
    try:
        ws = await connect(emu.url, deflate=False)
        # Spot WebSocket v2 "Status": the first message of a connection
        greeting = json.loads(await ws.recv())
        assert greeting["channel"] == "status" and greeting["type"] == "update"
        assert greeting["data"][0]["system"] == "online"
        assert greeting["data"][0]["api_version"] == "v2"
        ws.send('{"method":"subscribe","params":{"channel":"instrument"},"req_id":1}')
        # Spot WebSocket v2 "heartbeat": {"channel": "heartbeat"} and nothing else
        assert await _recv_json(ws, channel="heartbeat") == {"channel": "heartbeat"}
        await ws.close()
    finally:
        await emu.close()


async def test_server_dead_man_timer_cancels_resting_order_of_a_silent_client() -> None:
    emu = KrakenEmulator()
    await emu.start()
    try:
        emu.exchange.registry.open_account("doc", {"USD": Decimal(100_000)})
        emu.exchange.register_token(DOC_TOKEN, "doc")
        ws = await connect(emu.url, deflate=False)
        sub = {"method": "subscribe", "params": {"channel": "executions", "token": DOC_TOKEN}}
        ws.send(json.dumps(sub))
        ws.send(
            json.dumps(order(order_type="limit", limit_price=1000, order_qty=0.01, cl_ord_id=CL_A))
        )
        arm = {"method": "cancel_all_orders_after", "params": {"timeout": 1, "token": DOC_TOKEN}}
        ws.send(json.dumps(arm))
        async with asyncio.timeout(10):
            while True:
                msg = await _recv_json(ws, channel="executions")
                if any(r.get("exec_type") == "canceled" for r in msg["data"]):
                    break
        assert emu.exchange.engine.open_orders("doc") == []
        await ws.close()
    finally:
        await emu.close()


async def test_server_refuses_other_paths_and_injects_service_unavailable() -> None:
    emu = KrakenEmulator(faults=FaultPlan(unknown_rate=1.0))
    await emu.start()
    try:
        with pytest.raises(InvalidHandshake):
            await connect(emu.url.replace("/v2", "/v1"), deflate=False)
        ws = await connect(emu.url, deflate=False)
        ws.send('{"method":"ping","req_id":5}')
        msg = await _recv_json(ws, method="ping")
        assert msg["success"] is False and msg["error"] == "EService:Unavailable"
        assert msg["req_id"] == 5
        await ws.close()
    finally:
        await emu.close()


# ----------------------------------------------------------------- ccxt as a real client


async def test_ccxt_gets_a_token_places_cancels_and_watches_fills_over_v2() -> None:
    # ccxt's Kraken (ccxt/pro/kraken.py) speaks WebSocket v2 for orders: add_order,
    # cancel_order, cancel_all, executions; its REST signer fetches the token
    ccxtpro = pytest.importorskip("ccxt.pro")
    emu = KrakenEmulator()
    await emu.start()
    keys = emu.open_default_account()
    ex = ccxtpro.kraken({"apiKey": keys.api_key, "secret": keys.secret, "enableRateLimit": False})
    ex.urls["api"]["private"] = emu.rest_url
    ex.urls["api"]["ws"]["privateV2"] = emu.url
    # markets come from public REST (AssetPairs), which the emulator does not serve
    ex.set_markets(
        [
            {
                "id": "XBTUSD",
                "symbol": "BTC/USD",
                "base": "BTC",
                "quote": "USD",
                "baseId": "XXBT",
                "quoteId": "ZUSD",
                "altname": "XBTUSD",
                "wsId": "BTC/USD",
                "type": "spot",
                "spot": True,
                "active": True,
                "precision": {"amount": 1e-8, "price": 0.1},
                "limits": {"amount": {"min": 0.0001, "max": None}},
            }
        ]
    )
    try:
        resting = await ex.create_order_ws(
            "BTC/USD", "limit", "buy", 0.01, 1000, {"clientOrderId": CL_A}
        )
        assert resting["clientOrderId"] == CL_A
        (view,) = emu.exchange.engine.open_orders("default")
        assert emu.exchange.order_id(view.order_id) == resting["id"]
        canceled = await ex.cancel_order_ws(resting["id"])
        assert canceled["success"] is True and canceled["result"]["order_id"] == resting["id"]
        assert emu.exchange.engine.open_orders("default") == []

        watcher = asyncio.ensure_future(ex.watch_my_trades())
        async with asyncio.timeout(10):
            while not any(s.executions_of == "default" for s in emu.exchange.sessions):
                await asyncio.sleep(0.01)
        market = await ex.create_order_ws("BTC/USD", "market", "buy", 0.02)
        trades = await asyncio.wait_for(watcher, 10)
        assert trades and {t["order"] for t in trades} == {market["id"]}
        assert sum(t["amount"] for t in trades) == pytest.approx(0.02)
        assert all(t["takerOrMaker"] == "taker" and t["fee"]["cost"] > 0 for t in trades)

        await ex.create_order_ws("BTC/USD", "limit", "buy", 0.01, 1000)
        answer = await ex.cancel_all_orders_ws()
        assert answer["result"] == {"count": 1}
    finally:
        await ex.close()
        await emu.close()

"""The venues' pure pieces driven by the local exchange (whalewire.emulator, sans-IO).

The emulator is a second, independent reading of Binance's ``web-socket-api.md`` and
``errors.md``: its answers (acks, -2010, -2013, -1021, 5xx "execution status unknown", 429,
``rateLimits``, ``serverTime``) go through ``outcome.py``, ``clock.py`` and ``ratelimit.py``
exactly as a live client would feed them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.venues.support import Clock

from whalewire.emulator.binance.exchange import BinanceExchange, BinanceSession
from whalewire.emulator.faults import FaultKind
from whalewire.venues.clock import ClockState, ClockSync
from whalewire.venues.ids import ClientOrderIds
from whalewire.venues.outcome import (
    BINANCE_TIMESTAMP_REJECTED,
    Confirmed,
    Finding,
    Rejected,
    ResendDecision,
    Unknown,
    UnknownCause,
    binance_outcome,
    binance_reconcile,
    decide_resend,
    resolve,
)
from whalewire.venues.ratelimit import LimitState, RateLimiter
from whalewire.venues.signing import (
    binance_hmac_signature,
    binance_logon_params,
    binance_ws_payload,
)
from whalewire.venues.templates import BinanceOrderTemplate

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
START_MS = 1_660_801_710_000  # on a 10-second boundary
RECV_WINDOW = 500


def venue(usdt: int = 1_000_000) -> tuple[Clock, BinanceExchange, BinanceSession]:
    clock = Clock(START_MS)
    exchange = BinanceExchange(clock)
    exchange.registry.open_account("acct", {"BTC": Decimal(10), "USDT": Decimal(usdt)})
    exchange.registry.add_hmac_key("acct", KEY, SECRET)
    return clock, exchange, exchange.connect()


def answer(session: BinanceSession, text: str | bytes) -> dict[str, Any]:
    raw = text.decode() if isinstance(text, bytes) else text
    result: dict[str, Any] = json.loads(session.handle(raw)[0])
    return result


def outcome_of(response: dict[str, Any]) -> Confirmed | Rejected | Unknown:
    return binance_outcome(response["status"], response.get("error"), response.get("result"))


def signed(method: str, req_id: str, **params: object) -> str:
    full: dict[str, object] = {"apiKey": KEY, **params}
    full["signature"] = binance_hmac_signature(binance_ws_payload(full), SECRET)
    return json.dumps({"id": req_id, "method": method, "params": full})


def order_status(session: BinanceSession, cid: str, now: int) -> dict[str, Any]:
    text = signed(
        "order.status",
        f"q-{cid}",
        symbol="BTCUSDT",
        origClientOrderId=cid,
        timestamp=now,
        recvWindow=RECV_WINDOW,
    )
    return answer(session, text)


def template(order_type: str = "MARKET", side: str = "BUY") -> BinanceOrderTemplate:
    return BinanceOrderTemplate(
        symbol="BTCUSDT",
        side=side,
        order_type=order_type,
        time_in_force="IOC" if order_type == "LIMIT" else None,
        cid_width=ClientOrderIds("t").binance_width,
        recv_window_ms=RECV_WINDOW,
        api_key=KEY,
        secret=SECRET,
    )


def test_template_order_is_confirmed_and_found_by_client_order_id() -> None:
    clock, _, session = venue()
    ids = ClientOrderIds("t")
    cid = ids.binance(ids.take())
    response = answer(session, template().request(clock.now, cid.encode(), b"0.01000000"))
    outcome = outcome_of(response)
    assert isinstance(outcome, Confirmed) and outcome.venue_order_id is not None
    found = binance_reconcile(
        **_reconcile_args(order_status(session, cid, clock.now)),
        order_timestamp_ms=clock.now,
        recv_window_ms=RECV_WINDOW,
        server_time_ms=clock.now,
    )
    assert found.finding is Finding.FOUND
    assert found.venue_order_id == outcome.venue_order_id


def _reconcile_args(response: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": response["status"],
        "error": response.get("error"),
        "result": response.get("result"),
    }


def test_insufficient_balance_is_a_rejection_with_the_venue_code() -> None:
    clock, _, session = venue(usdt=1)
    response = answer(session, template().request(clock.now, b"ww-t-000000000001", b"5.00000000"))
    outcome = outcome_of(response)
    assert isinstance(outcome, Rejected)
    assert outcome.code == -2010
    assert decide_resend(outcome) is ResendDecision.DONE


def test_processed_but_unknown_is_found_on_reconcile_and_never_resent() -> None:
    # FaultKind.UNKNOWN: the venue executes the order, then answers 503 -1007.
    clock, exchange, session = venue()
    text = template().request(clock.now, b"ww-t-000000000002", b"0.01000000").decode()
    session.handle(text)  # processed; its real answer is lost
    outcome = outcome_of(json.loads(exchange.render_fault(FaultKind.UNKNOWN, text)))
    assert outcome == Unknown(
        UnknownCause.SERVER_ERROR,
        -1007,
        "Timeout waiting for response from backend server. "
        "Send status unknown; execution status unknown.",
    )
    assert decide_resend(outcome) is ResendDecision.RECONCILE
    clock.now += 10
    found = binance_reconcile(
        **_reconcile_args(order_status(session, "ww-t-000000000002", clock.now)),
        order_timestamp_ms=clock.now - 10,
        recv_window_ms=RECV_WINDOW,
        server_time_ms=clock.now,
    )
    assert decide_resend(outcome, found) is ResendDecision.DONE
    assert isinstance(resolve(outcome, found), Confirmed)


def test_unprocessed_5xx_is_resent_with_a_fresh_id_only_after_the_window_closed() -> None:
    # FaultKind.SERVER_ERROR: the order never reached the venue, which answers 503 -1008.
    clock, exchange, session = venue()
    ids = ClientOrderIds("t")
    first = ids.binance(ids.take())
    sent_at = clock.now
    text = template().request(sent_at, first.encode(), b"0.01000000").decode()
    outcome = outcome_of(json.loads(exchange.render_fault(FaultKind.SERVER_ERROR, text)))
    assert isinstance(outcome, Unknown)

    def reconcile_now() -> ResendDecision:
        found = binance_reconcile(
            **_reconcile_args(order_status(session, first, clock.now)),
            order_timestamp_ms=sent_at,
            recv_window_ms=RECV_WINDOW,
            server_time_ms=clock.now,
        )
        return decide_resend(outcome, found)

    clock.now = sent_at + 100  # -2013, but the order could still arrive: wait
    assert reconcile_now() is ResendDecision.RECONCILE
    clock.now = sent_at + RECV_WINDOW + 1  # past the window, not yet past our clock margin
    assert reconcile_now() is ResendDecision.RECONCILE
    clock.now = sent_at + RECV_WINDOW + 1001  # now it can never be placed
    assert reconcile_now() is ResendDecision.RESEND_WITH_FRESH_ID
    fresh = ids.binance(ids.take())
    assert fresh != first
    resent = answer(session, template().request(clock.now, fresh.encode(), b"0.01000000"))
    assert isinstance(outcome_of(resent), Confirmed)


def test_clock_learns_the_venue_offset_and_pauses_on_a_timestamp_rejection() -> None:
    venue_clock, _, session = venue()
    local = Clock(0)  # our monotonic clock, in ns
    sync = ClockSync(lambda: local.now, recv_window_ms=RECV_WINDOW, min_samples=3)

    def sample(rtt_ms: int) -> None:
        send = local.now
        local.now += rtt_ms * 1_000_000 // 2
        venue_clock.now += rtt_ms // 2
        server = answer(session, json.dumps({"id": "t", "method": "time"}))["result"]
        local.now += rtt_ms * 1_000_000 // 2
        venue_clock.now += rtt_ms // 2
        assert sync.add_sample(send, local.now, server["serverTime"])

    for _ in range(3):
        sample(2)
    ts = sync.timestamp_ms()
    assert abs(ts - venue_clock.now) <= 1
    assert isinstance(
        outcome_of(answer(session, template().request(ts, b"ww-t-000000000010", b"0.01"))),
        Confirmed,
    )
    # the venue's clock steps 3 s ahead of what we learnt: our next timestamp is stale
    venue_clock.now += 3_000
    stale = sync.timestamp_ms()
    rejected = outcome_of(answer(session, template().request(stale, b"ww-t-000000000011", b"0.01")))
    assert isinstance(rejected, Rejected) and rejected.code == BINANCE_TIMESTAMP_REJECTED
    sync.on_timestamp_rejected()
    assert sync.state is ClockState.PAUSED and not sync.can_send
    for _ in range(3):
        sample(2)
    fresh = sync.timestamp_ms()
    accepted = answer(session, template().request(fresh, b"ww-t-000000000012", b"0.01"))
    assert isinstance(outcome_of(accepted), Confirmed)


def test_limiter_seeded_from_exchange_info_stops_before_the_venue_does() -> None:
    clock, _, session = venue()
    info = answer(session, json.dumps({"id": "i", "method": "exchangeInfo"}))
    limiter = RateLimiter.from_exchange_info(info["result"])
    limiter.update(info["rateLimits"], clock.now)
    orders = next(w for w in limiter.windows if w.key == ("ORDERS", "SECOND", 10))
    ids = ClientOrderIds("t")
    accepted = 0
    while True:
        verdict = limiter.acquire(clock.now, weight=1, orders=1)
        if not verdict.allowed:
            break
        cid = ids.binance(ids.take())
        response = answer(session, template().request(clock.now, cid.encode(), b"0.00100000"))
        assert response["status"] == 200, response  # the venue never had to refuse us
        limiter.update(response["rateLimits"], clock.now)
        accepted += 1
        clock.now += 1
    assert accepted == orders.limit
    assert verdict.reason == "ORDERS 10 SECOND"
    # the venue agrees: one more order past our limiter gets its 429
    cid = ids.binance(ids.take())
    response = answer(session, template().request(clock.now, cid.encode(), b"0.00100000"))
    assert response["status"] == 429
    retry_after = response["error"].get("data", {}).get("retryAfter")
    limiter.on_response(429, clock.now, response.get("rateLimits"), retry_after)
    assert limiter.state is LimitState.BACKING_OFF
    assert verdict.retry_at_ms is not None
    clock.now = max(verdict.retry_at_ms, limiter.resume_at_ms or 0)
    assert limiter.acquire(clock.now, weight=1, orders=1).allowed
    again = answer(session, template().request(clock.now, b"ww-t-0000000000zz", b"0.00100000"))
    assert again["status"] == 200, again


def test_rate_limited_fault_backs_off_until_retry_after() -> None:
    clock, exchange, _ = venue()
    response = json.loads(exchange.render_fault(FaultKind.RATE_LIMITED, '{"id":"x"}'))
    assert response["status"] == 429
    limiter = RateLimiter([])
    limiter.on_response(429, clock.now, None, response["error"]["data"]["retryAfter"])
    retry_after = response["error"]["data"]["retryAfter"]
    assert not limiter.check(retry_after - 1).allowed
    assert limiter.check(retry_after).allowed


def test_ed25519_logon_then_unsigned_session_orders() -> None:
    clock, exchange, session = venue()
    private = Ed25519PrivateKey.generate()
    api_key = exchange.registry.add_ed25519_key("acct", private.public_key()).api_key
    logon = {
        "id": "logon",
        "method": "session.logon",
        "params": binance_logon_params(api_key, private, clock.now, RECV_WINDOW),
    }
    assert answer(session, json.dumps(logon))["status"] == 200
    unsigned = BinanceOrderTemplate(
        symbol="BTCUSDT",
        side="BUY",
        order_type="MARKET",
        cid_width=ClientOrderIds("t").binance_width,
        recv_window_ms=RECV_WINDOW,
    )
    response = answer(session, unsigned.request(clock.now, b"ww-t-000000000100", b"0.01000000"))
    assert isinstance(outcome_of(response), Confirmed)
    # the same unsigned request on a connection that never logged on is refused
    other = exchange.connect()
    refused = answer(other, unsigned.request(clock.now, b"ww-t-000000000101", b"0.01000000"))
    assert isinstance(outcome_of(refused), Rejected)

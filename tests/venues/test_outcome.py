"""Order outcomes (venues/outcome.py): confirmed, rejected, or UNKNOWN until reconciled.

Binance responses below are the documented examples of ``web-socket-api.md`` ("Response
format", "Place new order", "Cancel and replace order", "IP limits") with codes and messages
from ``errors.md``.
"""

from __future__ import annotations

import pytest

from whalewire.venues.outcome import (
    Answered,
    Confirmed,
    Finding,
    InFlight,
    PendingRequests,
    Reconciled,
    Rejected,
    ResendDecision,
    Unknown,
    UnknownCause,
    binance_outcome,
    binance_reconcile,
    coinbase_outcome,
    coinbase_reconcile,
    decide_resend,
    kraken_outcome,
    kraken_reconcile,
    resolve,
    transport_failure,
)

ACK_RESULT = {
    "symbol": "BTCUSDT",
    "orderId": 12569099453,
    "orderListId": -1,
    "clientOrderId": "4d96324ff9d44481926157ec08158a40",
    "transactTime": 1660801715639,
}


def test_binance_ack_is_confirmed_with_the_venue_order_id() -> None:
    assert binance_outcome(200, None, ACK_RESULT) == Confirmed("12569099453")


def test_binance_insufficient_balance_is_rejected_with_code_and_msg() -> None:
    error = {"code": -2010, "msg": "Account has insufficient balance for requested action."}
    assert binance_outcome(400, error, None) == Rejected(
        -2010, "Account has insufficient balance for requested action.", 400
    )


@pytest.mark.parametrize(
    ("code", "msg"),
    [
        (
            -1006,
            "An unexpected response was received from the message bus. Execution status unknown.",
        ),
        (
            -1007,
            "Timeout waiting for response from backend server. "
            "Send status unknown; execution status unknown.",
        ),
        (-1000, "An unknown error occurred while processing the request."),
        (-1001, "Internal error; unable to process your request. Please try again."),
        (
            -1008,
            "Server is currently overloaded with other requests. "
            "Please try again in a few minutes.",
        ),
    ],
)
def test_binance_status_unknown_codes_are_unknown_whatever_the_status(code: int, msg: str) -> None:
    for status in (400, 408, 503):
        outcome = binance_outcome(status, {"code": code, "msg": msg}, None)
        assert isinstance(outcome, Unknown)
        assert outcome.code == code


def test_binance_5xx_is_unknown_even_with_an_ordinary_code() -> None:
    # "If a response contains 5xx status code, it does not necessarily mean that your request
    # has failed. Execution status is unknown" (web-socket-api.md "Status codes")
    outcome = binance_outcome(500, {"code": -2010, "msg": "x"}, None)
    assert outcome == Unknown(UnknownCause.SERVER_ERROR, -2010, "x")


def test_binance_409_partial_is_unknown() -> None:
    error = {"code": -2021, "msg": "Order cancel-replace partially failed."}
    assert binance_outcome(409, error, None) == Unknown(UnknownCause.PARTIAL, -2021, error["msg"])


@pytest.mark.parametrize(
    ("status", "code", "msg"),
    [
        (429, -1015, "Too many new orders; current limit is 50 orders per 10 SECOND."),
        (418, -1003, "Way too much request weight used; IP banned until 1659146400000."),
        (400, -1021, "Timestamp for this request is outside of the recvWindow."),
        (400, -1022, "Signature for this request is not valid."),
    ],
)
def test_binance_rate_limit_timestamp_and_signature_errors_are_rejections(
    status: int, code: int, msg: str
) -> None:
    assert binance_outcome(status, {"code": code, "msg": msg}, None) == Rejected(code, msg, status)


def test_transport_failures_are_unknown() -> None:
    assert transport_failure(UnknownCause.TIMEOUT) == Unknown(UnknownCause.TIMEOUT)
    assert transport_failure(UnknownCause.DISCONNECT, "EOF").detail == "EOF"


NOT_EXIST = {"code": -2013, "msg": "Order does not exist."}


def _reconcile(
    status: int, error: dict[str, object] | None, server_ms: int, margin: int = 0
) -> Reconciled:
    return binance_reconcile(
        status,
        error,
        None if error else {"orderId": 7, "status": "FILLED"},
        order_timestamp_ms=1_000_000,
        recv_window_ms=500,
        server_time_ms=server_ms,
        margin_ms=margin,
    )


def test_reconcile_found_gives_status_and_id() -> None:
    assert _reconcile(200, None, 1_000_100) == Reconciled(Finding.FOUND, "FILLED", "7")


def test_reconcile_not_found_counts_only_after_the_recv_window_closed() -> None:
    assert _reconcile(400, NOT_EXIST, 1_000_500).finding is Finding.STILL_UNKNOWN
    assert _reconcile(400, NOT_EXIST, 1_000_501).finding is Finding.NOT_FOUND


def test_reconcile_not_found_waits_for_the_clock_margin_too() -> None:
    assert _reconcile(400, NOT_EXIST, 1_001_500, margin=1000).finding is Finding.STILL_UNKNOWN
    assert _reconcile(400, NOT_EXIST, 1_001_501, margin=1000).finding is Finding.NOT_FOUND
    default = binance_reconcile(
        400,
        NOT_EXIST,
        None,
        order_timestamp_ms=1_000_000,
        recv_window_ms=500,
        server_time_ms=1_001_000,
    )
    assert default.finding is Finding.STILL_UNKNOWN


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (503, {"code": -1007, "msg": "Timeout waiting for response from backend server."}),
        (500, NOT_EXIST),
        (400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}),
    ],
)
def test_reconcile_failures_stay_unknown(status: int, error: dict[str, object]) -> None:
    assert _reconcile(status, error, 2_000_000).finding is Finding.STILL_UNKNOWN


def test_resend_rule_table() -> None:
    unknown = Unknown(UnknownCause.TIMEOUT)
    found = Reconciled(Finding.FOUND, "NEW", "9")
    assert decide_resend(Confirmed("1")) is ResendDecision.DONE
    assert decide_resend(Rejected(-2010, "x")) is ResendDecision.DONE
    assert decide_resend(unknown) is ResendDecision.RECONCILE
    assert decide_resend(unknown, Reconciled(Finding.STILL_UNKNOWN)) is ResendDecision.RECONCILE
    assert decide_resend(unknown, found) is ResendDecision.DONE
    assert (
        decide_resend(unknown, Reconciled(Finding.NOT_FOUND)) is ResendDecision.RESEND_WITH_FRESH_ID
    )
    # a rejected order is never "resent" because a later query finds nothing
    assert decide_resend(Rejected(-2010, "x"), Reconciled(Finding.NOT_FOUND)) is ResendDecision.DONE


def test_resolve_turns_found_unknown_into_confirmed_only() -> None:
    unknown = Unknown(UnknownCause.TIMEOUT)
    assert resolve(unknown, Reconciled(Finding.FOUND, "NEW", "9")) == Confirmed("9")
    assert resolve(unknown, Reconciled(Finding.NOT_FOUND)) is unknown
    assert resolve(Rejected(1, "x"), Reconciled(Finding.FOUND)) == Rejected(1, "x")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("EOrder:Insufficient funds", Rejected),
        ("EGeneral:Invalid arguments", Rejected),
        ("EService:Market in cancel_only mode", Rejected),
        ("EService:Deadline elapsed", Rejected),
        ("EService:Unavailable", Unknown),
        ("EService:Busy", Unknown),
        ("EGeneral:Internal error", Unknown),
    ],
)
def test_kraken_errors(error: str, kind: type) -> None:
    assert isinstance(kraken_outcome(False, error, None), kind)


def test_kraken_success_and_reconcile() -> None:
    assert kraken_outcome(True, None, {"order_id": "OABC-1"}) == Confirmed("OABC-1")
    assert kraken_outcome(False, "EOrder:Insufficient funds", None) == Rejected(
        "EOrder", "EOrder:Insufficient funds"
    )
    assert kraken_reconcile("EOrder:Unknown order", None).finding is Finding.NOT_FOUND
    assert kraken_reconcile("EService:Unavailable", None).finding is Finding.STILL_UNKNOWN
    assert kraken_reconcile(None, {"order_id": "O1", "order_status": "new"}) == Reconciled(
        Finding.FOUND, "new", "O1"
    )


def test_coinbase_outcome_and_reconcile() -> None:
    assert coinbase_outcome(200, {"id": "d0c5340b", "status": "pending"}) == Confirmed("d0c5340b")
    assert coinbase_outcome(400, {"message": "Insufficient funds"}) == Rejected(
        400, "Insufficient funds", 400
    )
    assert isinstance(coinbase_outcome(502, None), Unknown)
    assert coinbase_reconcile(404, {"message": "NotFound"}).finding is Finding.NOT_FOUND
    assert coinbase_reconcile(503, None).finding is Finding.STILL_UNKNOWN
    assert coinbase_reconcile(200, {"id": "x", "status": "done"}).venue_status == "done"


def test_pending_requests_correlate_by_id_and_record_latency() -> None:
    pending = PendingRequests(timeout_ns=1_000)
    pending.sent("a", "cid-a", now_ns=100)
    pending.sent("b", "cid-b", now_ns=150)
    with pytest.raises(ValueError, match="already in flight"):
        pending.sent("a", "cid-x", now_ns=160)
    answered = pending.answered("b", now_ns=400)
    assert answered == Answered(InFlight("b", "cid-b", 150), 250, late=False)
    assert pending.answered("nope", now_ns=400) is None
    assert len(pending) == 1
    assert pending.latency_percentile(0.5) == 250


def test_silence_past_the_timeout_is_unknown_and_a_late_answer_is_flagged() -> None:
    pending = PendingRequests(timeout_ns=1_000)
    pending.sent("a", "cid-a", now_ns=0)
    pending.sent("b", "cid-b", now_ns=500)
    assert pending.expire(now_ns=999) == []
    expired = pending.expire(now_ns=1_000)
    assert [(r.client_order_id, u.cause) for r, u in expired] == [("cid-a", UnknownCause.TIMEOUT)]
    late = pending.answered("a", now_ns=5_000)
    assert late is not None and late.late and late.latency_ns == 5_000


def test_a_disconnect_makes_everything_in_flight_unknown() -> None:
    pending = PendingRequests(timeout_ns=1_000)
    pending.sent("a", "cid-a", now_ns=0)
    pending.sent("b", "cid-b", now_ns=1)
    lost = pending.disconnected()
    assert {r.client_order_id for r, _ in lost} == {"cid-a", "cid-b"}
    assert all(u.cause is UnknownCause.DISCONNECT for _, u in lost)
    assert len(pending) == 0
    assert pending.latency_percentile(0.99) is None

"""Rate limits (venues/ratelimit.py), with the documented ``exchangeInfo.rateLimits`` and
response ``rateLimits`` of ``web-socket-api.md`` ("Exchange information", "Rate limits",
"IP limits", "Unfilled Order Count").
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from whalewire.venues.ratelimit import (
    BINANCE_CONNECTIONS,
    KRAKEN_CONNECTIONS,
    ConnectionLimiter,
    LimitState,
    RateLimiter,
)

EXCHANGE_INFO = {
    "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000},
        {"rateLimitType": "CONNECTIONS", "interval": "MINUTE", "intervalNum": 5, "limit": 300},
    ]
}
MINUTE = 60_000


def _limiter(**kwargs: float) -> RateLimiter:
    return RateLimiter.from_exchange_info(EXCHANGE_INFO, **kwargs)


def test_orders_per_10_seconds_block_at_the_limit_until_the_aligned_boundary() -> None:
    limiter = _limiter()
    start = 1_660_801_710_000  # divisible by 10 000: a 10 SECOND window starts here
    for i in range(50):
        assert limiter.acquire(start + i, orders=1).allowed
    verdict = limiter.acquire(start + 60, orders=1)
    assert not verdict.allowed
    assert verdict.retry_at_ms == start + 10_000
    assert verdict.reason == "ORDERS 10 SECOND"
    # "10 SECOND interval resets at 00, 10, 20... seconds of each minute"
    assert limiter.acquire(start + 10_000, orders=1).allowed


def test_response_counts_raise_ours_never_lower_them() -> None:
    limiter = _limiter()
    now = 1_660_801_680_000  # a minute boundary
    limiter.acquire(now, weight=10)
    # another process on the same IP used 5990 weight this minute
    limiter.update(
        [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
                "count": 5990,
            }
        ],
        now + 5,
    )
    assert limiter.check(now + 6, weight=10).allowed
    assert not limiter.check(now + 6, weight=11).allowed
    # a stale, lower count does not undo what we counted
    limiter.update(
        [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
                "count": 3,
            }
        ],
        now + 7,
    )
    assert not limiter.check(now + 8, weight=11).allowed
    # next minute: counts reset
    assert limiter.check(now + MINUTE, weight=5000).allowed


def test_response_may_introduce_a_window_and_change_a_limit() -> None:
    limiter = RateLimiter([])
    limiter.update(
        [
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": 2,
                "count": 2,
            }
        ],
        1_000_000,
    )
    assert not limiter.check(1_000_001, orders=1).allowed
    assert limiter.check(1_000_001, orders=0).allowed


def test_429_stops_everything_until_retry_after() -> None:
    limiter = _limiter()
    now = 1_659_142_907_531
    limiter.on_response(429, now, retry_after_ms=now + 2_000)
    assert limiter.state is LimitState.BACKING_OFF
    verdict = limiter.check(now + 1_999, weight=1)
    assert not verdict.allowed and verdict.retry_at_ms == now + 2_000
    assert limiter.check(now + 2_000, weight=1).allowed
    assert limiter.state is LimitState.OPEN


def test_429_without_retry_after_waits_for_the_full_window() -> None:
    limiter = _limiter()
    start = 1_660_801_710_000
    limiter.update(
        [
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": 50,
                "count": 50,
            }
        ],
        start + 100,
    )
    limiter.on_429(start + 100)
    assert limiter.resume_at_ms == start + 10_000


def test_418_ban_from_the_documented_example_halts_until_it_lifts() -> None:
    # web-socket-api.md "IP limits": banned until 1659146400000, serverTime 1659142907531
    limiter = _limiter()
    limiter.on_response(418, 1659142907531, retry_after_ms=1659146400000)
    assert limiter.state is LimitState.BANNED
    assert not limiter.check(1659146399999, weight=0, orders=1).allowed
    # a 429 during a ban does not shorten it
    limiter.on_429(1659142907600, retry_after_ms=1659142908000)
    assert limiter.check(1659142908001).allowed is False
    assert limiter.check(1659146400000).allowed


def test_418_without_end_needs_an_operator() -> None:
    limiter = _limiter()
    limiter.on_418(1_000)
    assert not limiter.check(10**15).allowed
    limiter.clear_ban()
    assert limiter.check(10**15).allowed


def test_connection_attempts_are_limited_and_cost_weight() -> None:
    limiter = _limiter()
    start = 1_660_801_500_000  # divisible by 300 000: a 5 MINUTE window
    for i in range(300):
        assert limiter.connection_attempt(start + i).allowed
    verdict = limiter.connection_attempt(start + 400)
    assert not verdict.allowed and verdict.reason == "CONNECTIONS 5 MINUTE"
    weight = next(w for w in limiter.windows if w.limit_type == "REQUEST_WEIGHT")
    assert weight.count == 600  # 2 weight per connection


def test_headroom_keeps_part_of_the_limit_free() -> None:
    limiter = _limiter(headroom=0.5)
    start = 1_660_801_710_000
    for i in range(25):
        assert limiter.acquire(start + i, orders=1).allowed
    assert not limiter.acquire(start + 30, orders=1).allowed


def test_positional_costs_count_like_keywords() -> None:
    by_keyword, by_position = _limiter(), _limiter()
    start = 1_660_801_710_000
    for i in range(50):
        assert by_keyword.acquire(start + i, weight=1, orders=1).allowed
        assert by_position.acquire(start + i, 1, 1).allowed
    assert not by_position.acquire(start + 60, 1, 1).allowed
    assert [w.count for w in by_keyword.windows] == [w.count for w in by_position.windows]


def test_a_window_added_by_a_response_is_charged_from_then_on() -> None:
    limiter = RateLimiter([])
    assert limiter.acquire(1_000, 1, 1).allowed  # no windows yet: nothing to count in
    limiter.update(
        [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 1}], 1_000
    )
    assert limiter.acquire(1_001, 1, 1).allowed
    assert not limiter.acquire(1_002, 1, 1).allowed


def test_documented_connection_figures() -> None:
    # Binance web-socket-api "Connection limits": 300 connections per attempt every 5 minutes;
    # Kraken spot-ws-intro: approximately 150 attempts per rolling 10 minutes
    assert BINANCE_CONNECTIONS == (300, 5 * MINUTE)
    assert KRAKEN_CONNECTIONS == (150, 10 * MINUTE)


def test_connection_attempts_over_the_limit_wait_for_the_rolling_window() -> None:
    limiter = ConnectionLimiter(3, 10_000)
    for t in (0, 100, 5_000):
        assert limiter.acquire(t).allowed
    refused = limiter.acquire(5_001)
    # rolling, not aligned: the first attempt leaves the window 10 s after it was made
    assert not refused.allowed and refused.retry_at_ms == 10_000
    assert limiter.held_until_ms == 10_000 and limiter.refused == 1
    assert not limiter.acquire(9_999).allowed
    assert limiter.acquire(10_000).allowed and limiter.held_until_ms is None
    # the next slot frees when the attempt at 100 leaves
    assert limiter.acquire(10_001).retry_at_ms == 10_100
    assert limiter.in_window(10_001) == 3


def test_a_burst_at_a_window_boundary_is_still_held_back() -> None:
    # an aligned window would take 3 at 9.9 s and 3 more at 10.0 s; a rolling one does not
    limiter = ConnectionLimiter(3, 10_000)
    allowed = [limiter.acquire(t).allowed for t in (9_900, 9_950, 9_990, 10_000, 10_050)]
    assert allowed == [True, True, True, False, False]


def test_a_stated_connection_limit_only_tightens() -> None:
    limiter = ConnectionLimiter(*BINANCE_CONNECTIONS)
    assert not limiter.tighten(600, 5 * MINUTE)  # looser: the configured one stays
    assert (limiter.limit, limiter.window_ms) == BINANCE_CONNECTIONS
    assert limiter.tighten(100, 5 * MINUTE)
    assert (limiter.limit, limiter.window_ms) == (100, 5 * MINUTE)


# -- the order hot path: order_allowed before the write, order_sent after it -----------

Step = tuple[str, int, int]  # (what, ms since start, amount)
#: small limits, so that a few steps reach them
TIGHT = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 40},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 5},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 30},
]

steps = st.lists(
    st.tuples(
        st.sampled_from(["order", "order", "order", "weight", "count", "limit", "429", "headroom"]),
        st.one_of(st.integers(0, 5), st.integers(0, 4_000)),  # windows roll now and then
        st.integers(1, 8),
    ),
    max_size=300,
)


def _apply(limiter: RateLimiter, what: str, now: int, amount: int, split: bool) -> object:
    if what == "order":
        if not split:
            return limiter.acquire(now, 1, 1)
        verdict = limiter.order_allowed(now)
        if verdict.allowed:
            limiter.order_sent(now)
        return verdict
    if what == "weight":
        return limiter.acquire(now, weight=amount)
    if what == "count":  # a response: another process used the account's orders too
        limiter.update(
            [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 5,
              "count": amount}],
            now,
        )  # fmt: skip
    elif what == "limit":
        limiter.update(
            [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
              "limit": amount}],
            now,
        )  # fmt: skip
    elif what == "429":
        limiter.on_429(now, now + amount * 50)
    else:
        limiter.headroom = 0.5 + amount / 16
    return None


@given(steps)
def test_order_allowed_then_order_sent_is_acquire_of_one_order(plan: list[Step]) -> None:
    # the split keeps every verdict and every count: a fast path that let one order too
    # many through, or refused one, would show here
    whole, split = RateLimiter(TIGHT), RateLimiter(TIGHT)
    now = 1_660_801_710_000
    for what, dt, amount in plan:
        now += dt
        assert _apply(whole, what, now, amount, False) == _apply(split, what, now, amount, True)
        assert [(w.count, w.window_id) for w in whole.windows] == [
            (w.count, w.window_id) for w in split.windows
        ]
        assert (whole.state, whole.resume_at_ms) == (split.state, split.resume_at_ms)


def test_orders_up_to_the_limit_pass_the_fast_path_and_the_next_is_refused() -> None:
    limiter = _limiter()
    start = 1_660_801_710_000
    for i in range(50):
        assert limiter.order_allowed(start + i).allowed
        limiter.order_sent(start + i)
    verdict = limiter.order_allowed(start + 60)
    assert (verdict.allowed, verdict.retry_at_ms, verdict.reason) == (
        False,
        start + 10_000,
        "ORDERS 10 SECOND",
    )
    assert limiter.order_allowed(start + 10_000).allowed  # the next window

"""evidence/backtest.py + simvenue.py: the engine replayed on hand-made recordings.

Every expected figure is worked out by hand in the test: which recorded book an order
meets after its latency, the price it fills at (walking the depth), the venue's fee,
slippage against the mid when the whale was seen, and P&L at the hold horizon and at the
end. Risk's denials and the strategy's cooldown come from the engine itself. A planted
reaction in a synthetic recording pays only an order that arrives before it.
"""

from __future__ import annotations

import asyncio
import statistics
from decimal import Decimal
from pathlib import Path

import pytest

from whalewire.engine.config import ConfigError
from whalewire.evidence.backtest import BacktestResult, parse_backtest_config, run_backtest
from whalewire.evidence.recorder import Recorder
from whalewire.evidence.recording import load
from whalewire.evidence.simvenue import Latency
from whalewire.evidence.synth import Planted, SynthSpec, generate

T = 1_800_000_000 * 1_000_000_000
MS = 1_000_000
S = 1_000_000_000

RISK = """
[risk.symbols.BTCUSDT]
max_order_qty = 10
max_order_notional = 1000000
max_position = 100
max_daily_loss = 1000000
"""


def _config(qty: str, latency_ms: float, *, cooldown: float = 0.0, extra: str = "") -> str:
    return (
        f"[backtest]\nhold_s = 1.0\n[backtest.latency]\nmodel = 'fixed'\nms = {latency_ms}\n"
        f"[strategy]\nmin_value_sats = 100000000\nfixed_qty = {qty}\ncooldown_s = {cooldown}\n"
        + RISK
        + extra
    )


def _book(
    rec: Recorder, ts: int, bids: list[tuple[float, float]], asks: list[tuple[float, float]]
) -> None:
    rec.top(ts, "binance", "BTCUSDT", bids[0][0], bids[0][1], asks[0][0], asks[0][1])
    rec.levels(ts, "binance", "BTCUSDT", bids, asks)


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    """Two books 10 ms apart, a whale at 5 ms, a last top at 2 s (mid 50)."""
    with Recorder(tmp_path) as rec:
        _book(rec, T, [(100.0, 1.0), (99.0, 2.0)], [(101.0, 1.0), (102.0, 2.0)])
        _book(rec, T + 10 * MS, [(90.0, 1.0), (89.0, 5.0)], [(91.0, 1.0), (92.0, 5.0)])
        rec.top(T + 2 * S, "binance", "BTCUSDT", 49.5, 1.0, 50.5, 1.0)
        rec.alert(T + 5 * MS, "aa" * 32, "exA", "deposit", 50 * 100_000_000)
    return tmp_path


def _run(directory: Path, text: str) -> BacktestResult:
    return asyncio.run(run_backtest(load(directory), parse_backtest_config(text)))


def test_order_without_latency_meets_the_book_of_its_whale(recording: Path) -> None:
    result = _run(recording, _config("0.5", 0))
    (order,) = result.orders
    assert (order.side, order.filled, order.price) == ("SELL", 0.5, 100.0)
    # Binance's taker fee, 0.1 %, in the asset received: 0.5 * 100 * 0.001 quote
    assert order.fee_quote == pytest.approx(0.05)
    # sold at 100 against a mid of 100.5 when the whale was seen: (1 - 100/100.5) * 1e4
    assert order.slippage_bps == pytest.approx(49.751, abs=1e-3)
    # marked 1 s later at the 10 ms book's mid (90.5), and at the end at 50
    assert order.pnl_hold == pytest.approx(0.5 * (100 - 90.5) - 0.05)
    assert order.pnl_end == pytest.approx(0.5 * (100 - 50) - 0.05)


def test_order_slower_than_the_book_meets_the_next_book(recording: Path) -> None:
    (order,) = _run(recording, _config("0.5", 10)).orders
    assert order.arrived_ns - order.decided_ns == 10 * MS
    assert order.price == 90.0
    assert order.slippage_bps == pytest.approx((1 - 90 / 100.5) * 1e4)
    assert order.fee_quote == pytest.approx(0.045)


def test_order_larger_than_the_best_level_walks_the_depth(recording: Path) -> None:
    (order,) = _run(recording, _config("1.5", 0)).orders
    # 1 at 100, 0.5 at 99
    assert order.filled == 1.5
    assert order.price == pytest.approx((100 + 0.5 * 99) / 1.5)


def test_buy_side_pays_the_ask(recording: Path) -> None:
    text = _config("0.5", 0) + "[strategy.sides]\ndeposit = 'BUY'\n"
    (order,) = _run(recording, text).orders
    assert (order.side, order.price) == ("BUY", 101.0)
    # Binance charges a buy's fee in base: 0.0005 BTC worth 101 each
    assert order.fee_quote == pytest.approx(0.5 * 0.001 * 101)
    assert order.slippage_bps == pytest.approx((101 / 100.5 - 1) * 1e4)


def test_order_over_risk_limit_is_denied_by_the_engine_and_never_reaches_the_book(
    recording: Path,
) -> None:
    result = _run(recording, _config("20", 0))
    assert result.orders == []
    assert result.denied == {"MAX_ORDER_QTY": 1}


def test_second_whale_within_cooldown_is_ignored_by_the_strategy(tmp_path: Path) -> None:
    with Recorder(tmp_path) as rec:
        _book(rec, T, [(100.0, 10.0)], [(101.0, 10.0)])
        rec.alert(T + 1 * S, "aa" * 32, "exA", "deposit", 50 * 100_000_000)
        rec.alert(T + 2 * S, "bb" * 32, "exA", "deposit", 50 * 100_000_000)
        rec.top(T + 5 * S, "binance", "BTCUSDT", 100.0, 10.0, 101.0, 10.0)
    result = _run(tmp_path, _config("0.1", 0, cooldown=60.0))
    assert len(result.orders) == 1
    assert result.ignored == {"COOLDOWN": 1}


def test_normal_latency_is_seeded_and_never_negative() -> None:
    model = Latency(model="normal", ms=5.0, sd_ms=2.0, seed=3)
    a, b = model.sampler(), model.sampler()
    draws = [a() for _ in range(10_000)]
    assert draws[:50] == [b() for _ in range(50)]
    assert min(draws) >= 0
    assert statistics.fmean(draws) / MS == pytest.approx(5.0, abs=0.1)


def test_unknown_backtest_field_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="backtest"):
        parse_backtest_config("[backtest]\nlatncy = 3\n")


def test_engine_tables_keep_their_checks() -> None:
    with pytest.raises(ConfigError, match="strategy"):
        parse_backtest_config("[strategy]\nmin_value_satz = 1\n")


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("planted")
    # -20 bps half a second after each of 12 whales; 1 bp spread; 0.1 % fee
    generate(
        directory,
        SynthSpec(planted=(Planted("alpha", 12, reaction_bps=-20.0),), spacing_s=120.0),
    )
    return directory


def _pnl_bps(result: BacktestResult) -> float:
    """Mean P&L per order at the hold horizon, in bps of the order's notional."""
    return statistics.fmean(
        o.pnl_hold / (o.filled * o.price) * 1e4  # type: ignore[operator]
        for o in result.orders
    )


@pytest.mark.parametrize(
    ("latency_ms", "expected_bps"),
    [
        # sells 0.5 bp under the mid, the mid drops 20 bp, the fee is 10 bp: +9.5 bp
        (5, 9.5),
        # arrives after the drop: sells 0.5 bp under the new mid, pays 10 bp: -10.5 bp
        (1_000, -10.5),
    ],
)
def test_planted_reaction_pays_only_an_order_that_arrives_before_it(
    planted: Path, latency_ms: float, expected_bps: float
) -> None:
    text = (
        f"[backtest]\nhold_s = 30.0\n[backtest.latency]\nms = {latency_ms}\n"
        "[strategy]\nmin_value_sats = 100000000\ncooldown_s = 0\n"
    )
    result = _run(planted, text)
    assert len(result.filled_orders) == 12
    assert all(o.quantity == Decimal("0.001") for o in result.orders)
    # noise: 0.2 bp per sqrt(s) over 30 s is 1.1 bp an order, 0.3 bp for the mean of 12
    assert _pnl_bps(result) == pytest.approx(expected_bps, abs=1.5)

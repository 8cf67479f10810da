"""The event study: what the mid price and the traded volume did after every whale.

For each alert of a recording, the move of one instrument's mid from the last top at or
before the whale's first-seen stamp to the last top at or before +1 s, +10 s, +1 min,
+5 min and +1 h (in basis points), and the volume traded in between. A horizon past the
recording's last top is missing for that whale, never filled in. Whales are grouped by
entity, by size bucket and by kind (a withdrawal may move the price the other way than a
deposit), and each group's mean move gets a 95 % Student-t confidence
interval, mean ± t(0.975, n-1) · s / √n: it assumes the moves of a group are independent
draws of one distribution (whales far enough apart that their windows do not overlap),
not that they are normal (with n ≳ 30 the mean is close to normal regardless); a group
of one has no interval. Knows the recorded tables; nothing of files, engines or HTML.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

NS = 1_000_000_000
SATS_PER_BTC = 100_000_000

#: the study's horizons, in seconds, and how they are written
HORIZONS_S: tuple[float, ...] = (1.0, 10.0, 60.0, 300.0, 3600.0)
HORIZON_NAMES = {1.0: "+1 s", 10.0: "+10 s", 60.0: "+1 min", 300.0: "+5 min", 3600.0: "+1 h"}

#: lower edges of the size buckets, in BTC
BUCKETS_BTC: tuple[float, ...] = (0.0, 10.0, 100.0, 1000.0)

# Student's t, two-sided 95 % (the 0.975 quantile), by degrees of freedom: the standard
# table (e.g. NIST/SEMATECH e-Handbook §1.3.6.7.2); between rows, linear in 1/df
_T975 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
    9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
    17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064,
    25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000,
    120: 1.980,
}  # fmt: skip
_Z975 = 1.959964


def t975(df: int) -> float:
    """Return the 0.975 quantile of Student's t with ``df`` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, not {df}")
    if df in _T975:
        return _T975[df]
    rows = sorted(_T975)
    if df > rows[-1]:
        lo_df, lo, hi_inv, hi = rows[-1], _T975[rows[-1]], 0.0, _Z975
    else:
        i = bisect_left(rows, df)
        lo_df, lo = rows[i - 1], _T975[rows[i - 1]]
        hi_inv, hi = 1 / rows[i], _T975[rows[i]]
    lo_inv = 1 / lo_df
    return lo + (hi - lo) * (lo_inv - 1 / df) / (lo_inv - hi_inv)


@dataclass(frozen=True)
class Interval:
    """A group's mean with its 95 % t-interval (``low``/``high`` None for n < 2)."""

    n: int
    mean: float
    low: float | None
    high: float | None
    sd: float | None

    @property
    def excludes_zero(self) -> bool:
        """Return whether the interval lies wholly on one side of zero."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    def contains(self, value: float) -> bool:
        """Return whether ``value`` lies within the interval."""
        return self.low is not None and self.high is not None and self.low <= value <= self.high


def interval(values: Sequence[float]) -> Interval | None:
    """Return the mean and its 95 % t-interval, or None for no values."""
    n = len(values)
    if n == 0:
        return None
    mean = statistics.fmean(values)
    if n < 2:
        return Interval(n, mean, None, None, None)
    sd = statistics.stdev(values)
    half = t975(n - 1) * sd / math.sqrt(n)
    return Interval(n, mean, mean - half, mean + half, sd)


@dataclass(frozen=True)
class WhaleOutcome:
    """One whale and what followed it (a horizon past the recording is None)."""

    ts_ns: int
    txid: str
    entity: str
    kind: str
    value_btc: float
    bucket: str
    mid0: float
    moves_bps: tuple[float | None, ...]
    volumes: tuple[float | None, ...]


@dataclass
class GroupResult:
    """One group's intervals at each horizon: moves (bps) and traded volume."""

    dimension: str
    name: str
    whales: int
    moves: list[Interval | None] = field(default_factory=list)
    volumes: list[Interval | None] = field(default_factory=list)


@dataclass
class Study:
    """The event study of one recording on one instrument."""

    venue: str
    symbol: str
    horizons_s: tuple[float, ...]
    outcomes: list[WhaleOutcome]
    groups: list[GroupResult]
    #: alerts left out because no top preceded them
    unpriced: int = 0

    def group(self, dimension: str, name: str) -> GroupResult:
        """Return the group ``name`` of ``dimension`` ("all", "entity", "size", "kind").

        Raises:
            KeyError: no whale of that group.
        """
        for g in self.groups:
            if g.dimension == dimension and g.name == name:
                return g
        raise KeyError(f"no {dimension} group {name!r}")


def bucket_name(value_btc: float, edges: Sequence[float] = BUCKETS_BTC) -> str:
    """Return the size bucket of a whale, e.g. "10-100 BTC" or ">= 1000 BTC"."""
    i = bisect_right(list(edges), value_btc) - 1
    i = max(i, 0)
    if i == len(edges) - 1:
        return f">= {edges[i]:g} BTC"
    return f"{edges[i]:g}-{edges[i + 1]:g} BTC"


def pick_instrument(tops: pa.Table) -> tuple[str, str]:
    """Return the (venue, symbol) with the most tops.

    Raises:
        ValueError: the recording has no tops (no market data was recorded).
    """
    if tops.num_rows == 0:
        raise ValueError("the recording has no tops: record market data (a venue's books)")
    counts = tops.group_by(["venue", "symbol"]).aggregate([("ts_ns", "count")])
    best = max(counts.to_pylist(), key=lambda r: r["ts_ns_count"])
    return str(best["venue"]), str(best["symbol"])


def _instrument(table: pa.Table, venue: str, symbol: str) -> pa.Table:
    mask = pc.and_(pc.equal(table["venue"], venue), pc.equal(table["symbol"], symbol))
    return table.filter(mask)


def run_study(
    tables: dict[str, pa.Table],
    *,
    venue: str | None = None,
    symbol: str | None = None,
    horizons_s: Sequence[float] = HORIZONS_S,
    buckets_btc: Sequence[float] = BUCKETS_BTC,
) -> Study:
    """Measure every whale of ``tables`` (``recording.load``) on one instrument.

    Args:
        tables: the recording's tables.
        venue: the venue whose book prices the whales (default: the most recorded).
        symbol: its symbol (default: the most recorded).
        horizons_s: seconds after each whale to measure at.
        buckets_btc: lower edges of the size buckets.

    Raises:
        ValueError: no tops for the instrument.
    """
    if venue is None or symbol is None:
        venue, symbol = pick_instrument(tables["tops"])
    tops = _instrument(tables["tops"], venue, symbol)
    tops = tops.filter(pc.and_(pc.is_valid(tops["bid"]), pc.is_valid(tops["ask"])))
    if tops.num_rows == 0:
        raise ValueError(f"no two-sided tops for {venue} {symbol} in the recording")
    top_ts: list[int] = tops["ts_ns"].to_pylist()
    mids = [
        (b + a) / 2 for b, a in zip(tops["bid"].to_pylist(), tops["ask"].to_pylist(), strict=True)
    ]
    trades = _instrument(tables["trades"], venue, symbol)
    trade_ts: list[int] = trades["ts_ns"].to_pylist()
    cum = [0.0]
    for q in trades["qty"].to_pylist():
        cum.append(cum[-1] + q)
    last_ts = top_ts[-1]
    horizons = tuple(float(h) for h in horizons_s)
    outcomes: list[WhaleOutcome] = []
    unpriced = 0
    for alert in tables["alerts"].to_pylist():
        t0 = alert["ts_ns"]
        i0 = bisect_right(top_ts, t0) - 1
        if i0 < 0:
            unpriced += 1
            continue
        mid0 = mids[i0]
        moves: list[float | None] = []
        volumes: list[float | None] = []
        for h in horizons:
            th = t0 + int(h * NS)
            if th > last_ts:
                moves.append(None)
                volumes.append(None)
                continue
            moves.append((mids[bisect_right(top_ts, th) - 1] / mid0 - 1) * 1e4)
            # trades in (t0, th]: what was traded after the whale was seen
            volumes.append(cum[bisect_right(trade_ts, th)] - cum[bisect_right(trade_ts, t0)])
        value_btc = alert["value_sats"] / SATS_PER_BTC
        outcomes.append(
            WhaleOutcome(
                ts_ns=t0,
                txid=alert["txid"],
                entity=alert["entity"],
                kind=alert["kind"],
                value_btc=value_btc,
                bucket=bucket_name(value_btc, buckets_btc),
                mid0=mid0,
                moves_bps=tuple(moves),
                volumes=tuple(volumes),
            )
        )
    groups = [_group("all", "all", outcomes, len(horizons))]
    for dimension, key in (("entity", "entity"), ("size", "bucket"), ("kind", "kind")):
        names = sorted({getattr(o, key) for o in outcomes})
        for name in names:
            members = [o for o in outcomes if getattr(o, key) == name]
            groups.append(_group(dimension, name, members, len(horizons)))
    return Study(venue, symbol, horizons, outcomes, groups, unpriced)


def _present(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _group(dimension: str, name: str, members: list[WhaleOutcome], k: int) -> GroupResult:
    g = GroupResult(dimension, name, len(members))
    for i in range(k):
        g.moves.append(interval(_present(o.moves_bps[i] for o in members)))
        g.volumes.append(interval(_present(o.volumes[i] for o in members)))
    return g

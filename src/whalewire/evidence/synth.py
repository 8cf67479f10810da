"""Synthetic recordings with a known answer: planted price reactions the study must find.

A seeded random walk of the mid (``noise_bps`` per square-root second) is recorded as
tops every second, and every ``dense_s`` around each whale, with public trades at a steady
rate. Whales of named entities arrive ``spacing_s`` apart (farther than the longest
horizon, so one whale's reaction never lands in another's window); an entity with a
``reaction_bps`` moves the mid by that much ``delay_s`` after each of its whales (a step
that stays), and one with ``extra_volume`` sees that much more traded within ``delay_s``
to ``delay_s + 5`` s. The truth (per entity and horizon: the planted move in bps and the
extra volume) is written beside the recording in ``truth.json`` and returned, so a test
can score the study against it. Written through ``Recorder``: the files are real.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from whalewire.evidence.recorder import Format, Recorder
from whalewire.evidence.study import Study

NS = 1_000_000_000
SATS_PER_BTC = 100_000_000
TRUTH_FILE = "truth.json"
#: an entity's extra volume comes as this many trades, 0.5 s apart
_PIECES = 10


@dataclass(frozen=True)
class Planted:
    """An entity's whales and what follows each of them."""

    entity: str
    count: int
    #: the step of the mid ``delay_s`` after each whale, in basis points (0: none)
    reaction_bps: float = 0.0
    #: BTC traded on top of the steady flow, in the 5 s after the step
    extra_volume: float = 0.0
    #: each whale's value in BTC (cycled through)
    sizes_btc: tuple[float, ...] = (50.0,)
    kind: str = "deposit"


@dataclass(frozen=True)
class SynthSpec:
    """How a synthetic recording is made."""

    planted: tuple[Planted, ...]
    seed: int = 0
    venue: str = "binance"
    symbol: str = "BTCUSDT"
    mid: float = 50_000.0
    noise_bps: float = 0.2
    delay_s: float = 0.5
    #: the longest horizon studied plus a margin: windows never overlap
    spacing_s: float = 3_700.0
    dense_s: float = 0.1
    #: steady public trades per second, each of ``trade_qty``
    trade_rate: float = 0.5
    trade_qty: float = 0.1
    start_ns: int = 1_800_000_000 * NS
    horizons_s: tuple[float, ...] = (1.0, 10.0, 60.0, 300.0, 3600.0)


@dataclass
class Truth:
    """What was planted: per entity, the move at each horizon (bps) and the extra volume."""

    spec: dict[str, Any]
    moves_bps: dict[str, dict[str, float]] = field(default_factory=dict)
    #: per entity and horizon, the BTC traded on top of the steady flow within it
    extra_volume: dict[str, dict[str, float]] = field(default_factory=dict)
    whales: int = 0


def _times(spec: SynthSpec, whale_s: Sequence[float], end_s: float) -> list[float]:
    """Seconds since the start at which a top is recorded: every second, denser near whales."""
    points = {float(s) for s in range(int(end_s) + 1)}
    steps = round(12.0 / spec.dense_s)
    for w in whale_s:
        points.update(round(w - 1.0 + i * spec.dense_s, 6) for i in range(steps + 1))
    return sorted(p for p in points if 0.0 <= p <= end_s)


def generate(directory: Path, spec: SynthSpec, *, fmt: Format = "arrow") -> Truth:
    """Write a synthetic recording to ``directory``; return (and write) its truth."""
    rng = random.Random(spec.seed)
    schedule: list[tuple[float, Planted, float]] = []
    order = [p for p in spec.planted for _ in range(p.count)]
    rng.shuffle(order)
    for i, planted in enumerate(order):
        size = planted.sizes_btc[i % len(planted.sizes_btc)]
        schedule.append((spec.spacing_s * (i + 0.5) + rng.uniform(0, 1), planted, size))
    end_s = spec.spacing_s * (len(order) + 0.5)
    steps = sorted((w + spec.delay_s, p) for w, p, _ in schedule)
    truth = Truth(spec=asdict(spec), whales=len(order))
    for p in spec.planted:
        truth.moves_bps[p.entity] = {
            f"{h:g}": (p.reaction_bps if h >= spec.delay_s else 0.0) for h in spec.horizons_s
        }
        truth.extra_volume[p.entity] = {
            f"{h:g}": p.extra_volume
            * sum(spec.delay_s + 0.5 * i <= h for i in range(_PIECES))
            / _PIECES
            for h in spec.horizons_s
        }
    with Recorder(Path(directory), fmt=fmt, capacity=1 << 30, poll_s=0.2, pause_s=0.0) as rec:
        log_mid = math.log(spec.mid)
        last = 0.0
        k = 0
        sigma = spec.noise_bps / 1e4
        for t in _times(spec, [w for w, _, _ in schedule], end_s):
            log_mid += rng.gauss(0.0, sigma * math.sqrt(t - last))
            while k < len(steps) and steps[k][0] <= t:
                log_mid += math.log1p(steps[k][1].reaction_bps / 1e4)
                k += 1
            last = t
            mid = math.exp(log_mid)
            half = mid * 0.5e-4  # a 1 bp spread
            ts = spec.start_ns + int(t * NS)
            rec.top(ts, spec.venue, spec.symbol, mid - half, 1.0, mid + half, 1.0)
        _trades(rec, spec, rng, schedule, end_s)
        for w, planted, size in schedule:
            txid = f"{rng.getrandbits(256):064x}"
            value = int(size * SATS_PER_BTC)
            ts = spec.start_ns + int(w * NS)
            rec.alert(ts, txid, planted.entity, planted.kind, value, "")
    (Path(directory) / TRUTH_FILE).write_text(json.dumps(asdict(truth), indent=1) + "\n")
    return truth


def _trades(
    rec: Recorder,
    spec: SynthSpec,
    rng: random.Random,
    schedule: Sequence[tuple[float, Planted, float]],
    end_s: float,
) -> None:
    """Record the steady flow (Poisson arrivals) and each entity's extra volume."""
    t = rng.expovariate(spec.trade_rate)
    while t < end_s:
        rec.trade(spec.start_ns + int(t * NS), spec.venue, spec.symbol, spec.mid, spec.trade_qty)
        t += rng.expovariate(spec.trade_rate)
    for w, planted, _ in schedule:
        if planted.extra_volume <= 0:
            continue
        pieces = _PIECES
        for i in range(pieces):
            ts = spec.start_ns + int((w + spec.delay_s + 0.5 * i) * NS)
            side = "sell" if planted.reaction_bps < 0 else "buy"
            rec.trade(ts, spec.venue, spec.symbol, spec.mid, planted.extra_volume / pieces, side)


@dataclass(frozen=True)
class Verdict:
    """The study's answer for one (entity, horizon) against the truth."""

    entity: str
    horizon: str
    planted_bps: float
    mean_bps: float | None
    #: the interval excludes zero
    found: bool
    #: planted and found with the planted move inside the interval, or absent and not found
    correct: bool


def score(study: Study, truth: Truth) -> list[Verdict]:
    """Hold each entity's intervals against what was planted; one verdict per horizon."""
    verdicts: list[Verdict] = []
    for entity, moves in truth.moves_bps.items():
        group = study.group("entity", entity)
        for h, result in zip(study.horizons_s, group.moves, strict=True):
            planted = moves[f"{h:g}"]
            found = result is not None and result.excludes_zero
            if planted:
                correct = found and result is not None and result.contains(planted)
            else:
                correct = not found
            mean = None if result is None else result.mean
            verdicts.append(Verdict(entity, f"{h:g}", planted, mean, found, correct))
    return verdicts


def load_truth(directory: Path) -> Truth:
    """Read the truth written beside a synthetic recording.

    Raises:
        FileNotFoundError: ``directory`` is not a synthetic recording.
    """
    data = json.loads((Path(directory) / TRUTH_FILE).read_text())
    return Truth(
        spec=data["spec"],
        moves_bps=data["moves_bps"],
        extra_volume=data["extra_volume"],
        whales=data["whales"],
    )

"""Rehearsals of the decision path (``Engine.rehearse``, ``[engine] rehearse_interval_ms``).

The rule under test: a rehearsal runs strategy, risk, the journal row and the venue's
fill/sign on a shadow alert and changes nothing that matters. Two engines get the same
alerts on the same clock, one rehearsing between every step: every order, id, denial,
journal row, risk book and rate window must come out identical. Only the venue client is
a stand-in (it records what it is asked to send); journals are real SQLite files.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest
from tests.engine.factories import CONFIG, NoDetector, RecordingVenue, make_engine

from whalewire.engine.app import Engine, pin_to_cpu
from whalewire.engine.config import ConfigError, parse_config
from whalewire.engine.execution import CHECKPOINT_ROWS
from whalewire.engine.strategy import SHADOW_ID
from whalewire.engine.warmup import ShadowAlert
from whalewire.mempool.whales import AlertKind
from whalewire.model import encode


def deposit(txid: str, entity: str = "Binance", value: int = 50_000_000) -> ShadowAlert:
    return ShadowAlert(entity=entity, value=value, txid=txid, kind=AlertKind.DEPOSIT)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


# one step: (seconds to advance, alert); covers a trade, a duplicate, a cooldown, the rate
# limits per second and per minute, and a withdrawal the default sides do not trade
SCRIPT = [
    (0.0, deposit("aa" * 32)),
    (0.1, deposit("aa" * 32)),  # duplicate
    (0.1, deposit("bb" * 32)),  # same entity within 5 s: cooldown
    (0.1, deposit("cc" * 32, entity="Kraken")),
    (0.1, deposit("dd" * 32, entity="Bitfinex")),  # third in a second: RATE_PER_SECOND
    (2.0, deposit("ee" * 32, entity="OKX")),
    (0.1, deposit("ff" * 32, entity="Coinbase")),  # fourth in a minute: RATE_PER_MINUTE
    (0.1, ShadowAlert(entity="Binance", value=10**9, txid="11" * 32, kind=AlertKind.WITHDRAWAL)),
    (6.0, deposit("22" * 32)),  # the cooldown has passed, the minute has not: denied
    (61.0, deposit("33" * 32)),  # a new minute
]


def snapshot(engine: Engine, venue: RecordingVenue) -> dict[str, Any]:
    risk = engine.risk
    return {
        "placed": [encode(c) for c in venue.placed],
        "journal": [encode(m) for m in engine.journal.messages()],
        "next_seq": engine.journal.next_seq,
        "orders": {k: (o.status, o.command) for k, o in engine.orders.items()},
        "ignored": dict(engine.pipeline.ignored),
        "books": {s: repr(b) for s, b in risk.books.items()},
        "rate_windows": (list(risk._last_second), list(risk._last_minute)),
        "strategy": (
            list(engine.strategy._seen),
            dict(engine.strategy._last_by_entity),
            list(engine.strategy._reactions),
        ),
        "denied": engine.metrics.counters.get("orders_denied", 0),
    }


async def test_rehearsing_between_every_alert_changes_no_order_id_denial_or_journal_row(
    tmp_path: Path,
) -> None:
    plain, plain_venue = make_engine(tmp_path, "plain")
    warm, warm_venue = make_engine(tmp_path, "warm")
    try:
        for seconds, alert in SCRIPT:
            plain_venue.clock.advance(seconds)
            warm_venue.clock.advance(seconds)
            for _ in range(3):
                warm.rehearse()
            plain.on_alert(alert)
            warm.on_alert(alert)
            warm.rehearse()
        assert snapshot(warm, warm_venue) == snapshot(plain, plain_venue)
        # the script reached every branch it names, and the rehearsals really ran
        assert plain.pipeline.ignored == {"DUPLICATE": 1, "COOLDOWN": 1, "KIND_NOT_TRADED": 1}
        assert plain.metrics.counters["orders_denied"] == 3
        assert len(plain_venue.placed) == 4
        assert warm.rehearsals == len(SCRIPT) * 4
        assert len(warm_venue.rehearsed) == warm.rehearsals
        assert {c.client_order_id for c in warm_venue.rehearsed} == {SHADOW_ID}
    finally:
        await plain.close()
        await warm.close()


async def test_rehearsal_sends_nothing_and_leaves_the_journal_file_untouched(
    tmp_path: Path,
) -> None:
    engine, venue = make_engine(tmp_path, "j")
    engine.on_alert(deposit("aa" * 32))
    journal_file = tmp_path / "j.db"
    before = (file_digest(journal_file), file_digest(tmp_path / "j.db-wal"))
    rows = [encode(m) for m in engine.journal.messages()]
    try:
        for _ in range(200):
            engine.rehearse()
        assert (file_digest(journal_file), file_digest(tmp_path / "j.db-wal")) == before
        assert [encode(m) for m in engine.journal.messages()] == rows
        assert len(venue.placed) == 1
        # the rehearsal's rows live in their own scratch file, removed on close
        assert engine.journal.rehearsal_path.exists()
    finally:
        await engine.close()
        engine.journal.close()
    assert not engine.journal.rehearsal_path.exists()


async def test_started_engine_rehearses_on_its_interval_until_closed(tmp_path: Path) -> None:
    engine, venue = make_engine(tmp_path, "timer")
    await engine.start()
    try:
        async with asyncio.timeout(10):
            while engine.rehearsals < 20:
                await asyncio.sleep(0.005)
        assert venue.placed == []
        assert list(engine.journal.messages()) == []
        assert engine.journal.next_seq == 1
    finally:
        await engine.close()
    stopped_at = engine.rehearsals
    await asyncio.sleep(0.01)  # several intervals: a stopped task would not run again
    assert engine.rehearsals == stopped_at


async def test_rehearsal_interval_zero_starts_no_rehearsals(tmp_path: Path) -> None:
    engine, _ = make_engine(tmp_path, "off", CONFIG.replace("rehearse_interval_ms = 0.5", ""))
    assert engine.config.engine.rehearse_interval_ms == 2  # the documented default: 2 ms
    engine, _ = make_engine(
        tmp_path, "off2", CONFIG.replace("rehearse_interval_ms = 0.5", "rehearse_interval_ms = 0")
    )
    await engine.start()
    try:
        await asyncio.sleep(0.01)
        assert engine.rehearsals == 0
    finally:
        await engine.close()


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("rehearse_interval_ms = -1", "rehearse_interval_ms"),
        ("rehearse_interval_ms = 0.01", "rehearse_interval_ms"),
        ("cpu = -1", "cpu"),
    ],
)
def test_bad_rehearsal_or_cpu_setting_is_refused_at_load(line: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        parse_config(f"[engine]\n{line}\n")


def test_pin_to_cpu_runs_the_calling_thread_on_that_cpu_only() -> None:
    cpu = min(os.sched_getaffinity(0))
    seen: list[set[int]] = []

    def pinned() -> None:  # a thread of its own: the test runner's thread stays as it was
        pin_to_cpu(cpu)
        seen.append(os.sched_getaffinity(0))

    thread = threading.Thread(target=pinned)
    thread.start()
    thread.join(timeout=10)
    assert seen == [{cpu}]


def test_pin_to_a_cpu_this_process_may_not_use_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"may only run on CPUs \["):
        pin_to_cpu(max(os.sched_getaffinity(0)) + 64)


async def test_checkpoint_runs_after_a_send_once_enough_rows_wait(tmp_path: Path) -> None:
    engine, venue = make_engine(tmp_path, "ckpt")
    try:
        engine.journal.uncheckpointed = CHECKPOINT_ROWS - 1  # as if that many rows waited
        engine.on_alert(deposit("aa" * 32))  # its OrderInitialized and OrderSubmitted rows
        assert len(venue.placed) == 1
        async with asyncio.timeout(10):
            while engine.journal.uncheckpointed >= CHECKPOINT_ROWS:
                await asyncio.sleep(0.005)
        assert [m.client_order_id for m in engine.journal.messages()] == [
            venue.placed[0].client_order_id
        ] * 2
    finally:
        await engine.close()
        engine.journal.close()


async def test_start_moves_everything_built_so_far_out_of_the_collectors_sight(
    tmp_path: Path,
) -> None:
    import gc

    engine, _ = make_engine(tmp_path, "gc")
    gc.unfreeze()
    try:
        await engine.start()
        # a full collection on a whale would otherwise walk every object of the process
        assert gc.get_freeze_count() > 1000
    finally:
        await engine.close()
        gc.unfreeze()


class RehearsingDetector(NoDetector):
    def __init__(self) -> None:
        self.rehearsals = 0

    def rehearse(self) -> ShadowAlert:
        self.rehearsals += 1
        return deposit("77" * 32, entity="Kraken")


async def test_rehearsal_decides_on_the_detectors_shadow_whale_when_it_has_one(
    tmp_path: Path,
) -> None:
    detector = RehearsingDetector()
    engine, venue = make_engine(tmp_path, "det", detector=detector)
    try:
        engine.rehearse()
        assert detector.rehearsals == 1
        assert [c.reason for c in venue.rehearsed] == [
            f"deposit 50000000 sat to Kraken in {'77' * 32}"
        ]
        assert "77" * 32 not in engine.strategy._seen  # still a shadow: nothing remembered
    finally:
        await engine.close()
        engine.journal.close()


async def test_busy_poll_spins_the_loop_until_closed_and_is_off_by_default(
    tmp_path: Path,
) -> None:
    idle, _ = make_engine(tmp_path, "idle")
    spinning, _ = make_engine(
        tmp_path, "spin", CONFIG.replace("[engine]\n", "[engine]\nbusy_poll = true\n")
    )
    await idle.start()
    await spinning.start()
    try:
        async with asyncio.timeout(10):
            while spinning.spins < 200:
                await asyncio.sleep(0.001)
        assert idle.spins == 0
    finally:
        await idle.close()
        await spinning.close()
    stopped_at = spinning.spins
    await asyncio.sleep(0.01)
    assert spinning.spins == stopped_at


async def test_start_on_a_cpu_this_process_may_not_use_fails_before_connecting(
    tmp_path: Path,
) -> None:
    cpu = max(os.sched_getaffinity(0)) + 64
    engine, _ = make_engine(tmp_path, "cpu")
    # the loader refuses such a CPU too; the affinity may still shrink between load and start
    engine.config = msgspec.structs.replace(
        engine.config, engine=msgspec.structs.replace(engine.config.engine, cpu=cpu)
    )
    started: list[str] = []
    engine.venues["binance"].start = lambda: started.append("venue")  # type: ignore[method-assign]  # records the call
    with pytest.raises(ValueError, match=f"engine.cpu = {cpu}"):
        await engine.start()
    assert started == []
    assert engine.rehearsals == 0
    engine.journal.close()

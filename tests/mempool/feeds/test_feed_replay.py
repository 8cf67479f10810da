"""Replay feed, replay file formats and the private transaction scanner (BIP 144 layout).

Expected txids come from the node's own ``getblock`` listing of mainnet block 951,658, never
from the code under test.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from whalewire.mempool.feeds._txid import TxParseError, coinbase, split_block, txid_of
from whalewire.mempool.feeds.events import EventKind, tx_event
from whalewire.mempool.feeds.replay import (
    DEFAULT_REPLAY,
    MAGIC,
    ReplayError,
    ReplayFeed,
    build_from_block_json,
    load_replay,
    write_replay,
)

from ._vectors import KNOWN_TXIDS, block_doc, write_block_json


def block_txs() -> list[bytes]:
    return split_block(bytes.fromhex(str(block_doc()["block"])))


async def collect(feed: ReplayFeed) -> list[str]:
    return [event.txid async for event in feed]


def test_split_block_txids_match_the_node_listing() -> None:
    txs = block_txs()
    assert [txid_of(raw) for raw in txs] == block_doc()["tx"]


def test_only_the_first_transaction_of_the_block_is_a_coinbase() -> None:
    assert [coinbase(raw) for raw in block_txs()] == [True] + [False] * 373


def test_txid_of_refuses_a_cut_or_padded_transaction() -> None:
    raw = block_txs()[1]
    for bad in (raw[:-1], raw[:40], raw + b"\x00"):
        with pytest.raises(TxParseError):
            txid_of(bad)


def test_tx_event_computes_txid_and_stamps_times() -> None:
    raw = block_txs()[1]
    event = tx_event(raw, "test")
    assert event.txid == block_doc()["tx"][1]
    assert event.kind is EventKind.MEMPOOL
    assert event.recv_ns > 0 and event.recv_wall_ns > 0


def test_tx_event_refuses_a_txid_given_with_bytes_and_keeps_it_without() -> None:
    # the detector takes an event's txid as its bytes' own: with bytes, only the computed one
    raw = block_txs()[1]
    with pytest.raises(ValueError, match="computes the txid"):
        tx_event(raw, "test", txid=block_doc()["tx"][1])
    removed = tx_event(b"", "test", EventKind.REMOVED, txid="11" * 32)
    assert (removed.raw, removed.txid) == (b"", "11" * 32)


def test_embedded_default_holds_block_951658_without_coinbase() -> None:
    records = load_replay(DEFAULT_REPLAY)
    txids = [r.txid for r in records]
    assert len(txids) == 373
    for known in KNOWN_TXIDS:
        assert known in txids
    assert txids == block_doc()["tx"][1:]
    times = [r.t_ns for r in records]
    assert times == sorted(times)


def test_build_is_deterministic_per_seed(tmp_path: Path) -> None:
    src = write_block_json(tmp_path / "block.json")
    a, b, c = tmp_path / "a.bin", tmp_path / "b.bin", tmp_path / "c.bin"
    assert build_from_block_json(src, a, seed=7) == 373
    build_from_block_json(src, b, seed=7)
    build_from_block_json(src, c, seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_build_rejects_a_block_whose_tx_list_disagrees(tmp_path: Path) -> None:
    doc = dict(block_doc())
    doc["tx"] = list(doc["tx"])[::-1]
    src = tmp_path / "block.json"
    src.write_text(json.dumps(doc))
    with pytest.raises(ReplayError, match="tx list"):
        build_from_block_json(src, tmp_path / "out.bin")


@pytest.mark.parametrize("suffix", [".bin", ".jsonl"])
def test_write_then_load_round_trips(tmp_path: Path, suffix: str) -> None:
    txs = block_txs()[1:6]
    path = tmp_path / f"r{suffix}"
    assert write_replay(path, [(i * 1000, raw) for i, raw in enumerate(txs)]) == 5
    records = load_replay(path)
    assert [r.raw for r in records] == txs
    assert [r.t_ns for r in records] == [0, 1000, 2000, 3000, 4000]
    assert [r.txid for r in records] == block_doc()["tx"][1:6]


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (MAGIC + b"\x02", "header"),
        (MAGIC + b"\x01" + b"\x00" * 5, "record 0"),
        (
            MAGIC + b"\x01" + (0).to_bytes(8, "little") + (10).to_bytes(4, "little") + b"\x01",
            "record 0",
        ),
        (b'{"t_ns": 0, "raw": "zz"}\n', "line 1"),
        (b'{"t_ns": 0}\n', "line 1"),
        (b'\n{"t_ns": "0", "raw": "00"}\n', "line 2"),
        (b"\xff\xfe", "header"),
    ],
)
def test_malformed_replay_file_names_the_spot(data: bytes, where: str) -> None:
    with pytest.raises(ReplayError) as info:
        load_replay(data)
    assert info.value.where.startswith(where)


def test_time_going_backwards_is_rejected() -> None:
    raw = block_txs()[1].hex()
    data = f'{{"t_ns": 5, "raw": "{raw}"}}\n{{"t_ns": 4, "raw": "{raw}"}}\n'.encode()
    with pytest.raises(ReplayError, match="back in time"):
        load_replay(data)


def test_feed_as_fast_as_possible_plays_everything_in_order() -> None:
    records = load_replay(DEFAULT_REPLAY)
    got = asyncio.run(collect(ReplayFeed(records, speed=None, loops=2)))
    assert got == [r.txid for r in records] * 2


def test_feed_with_speed_keeps_order_and_monotonic_receive_times() -> None:
    records = load_replay(DEFAULT_REPLAY)[:40]

    async def run() -> list[int]:
        return [e.recv_ns async for e in ReplayFeed(records, speed=10_000.0, name="r")]

    stamps = asyncio.run(run())
    assert len(stamps) == 40
    assert stamps == sorted(stamps)


def test_feed_refuses_non_positive_speed() -> None:
    with pytest.raises(ValueError, match="speed"):
        ReplayFeed([], speed=0)


def test_endless_loop_keeps_playing_and_lets_other_tasks_run() -> None:
    records = load_replay(DEFAULT_REPLAY)[:3]

    async def run() -> tuple[list[str], int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        got: list[str] = []
        async for event in ReplayFeed(records, speed=None, loops=None):
            got.append(event.txid)
            if len(got) == 300:
                break
        task.cancel()
        return got, ticks

    got, ticks = asyncio.run(run())
    assert got == [r.txid for r in records] * 100
    assert ticks > 0


def test_empty_recording_ends_at_once_even_when_looping_forever() -> None:
    assert asyncio.run(collect(ReplayFeed([], speed=None, loops=None))) == []

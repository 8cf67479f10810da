"""The synthetic busy mempool (mempool/feeds/synthetic.py) the soak plays.

Its promise: every emitted transaction is new (fresh txid and wtxid) and is the pool's
transaction with only ``nLockTime`` changed, so every output and input is as it was (BIP 144:
the witness serialisation keeps locktime last; the txid hashes the non-witness form).
"""

from __future__ import annotations

from collections import Counter

import pytest

from whalewire.mempool.feeds.events import EventKind
from whalewire.mempool.feeds.replay import DEFAULT_REPLAY, load_replay
from whalewire.mempool.feeds.synthetic import MAX_LOCKTIME_HEIGHT, SyntheticMempool, with_locktime
from whalewire.mempool.tx import parse_tx

RAWS = [r.raw for r in load_replay(DEFAULT_REPLAY)]


def segwit(raw: bytes) -> bool:
    return raw[4] == 0 and raw[5] == 1  # BIP 144 marker and flag


@pytest.mark.parametrize("kind", ["legacy", "segwit"])
def test_with_locktime_changes_the_ids_and_only_the_locktime(kind: str) -> None:
    raw = next(r for r in RAWS if segwit(r) == (kind == "segwit"))
    before, after = parse_tx(raw), parse_tx(with_locktime(raw, 123_456))
    assert after.locktime == 123_456
    assert after.txid != before.txid
    assert after.wtxid != before.wtxid
    assert after.outputs == before.outputs
    assert after.inputs == before.inputs
    assert with_locktime(raw, 123_456)[:-4] == raw[:-4]


@pytest.mark.parametrize("locktime", [-1, 2**32])
def test_with_locktime_refuses_what_does_not_fit_in_32_bits(locktime: int) -> None:
    with pytest.raises(ValueError):
        with_locktime(RAWS[0], locktime)


def test_every_emitted_transaction_is_new_even_when_the_pool_repeats_one() -> None:
    whales = [RAWS[2], RAWS[2], RAWS[18]]  # one listed twice, to weight it
    feed = SyntheticMempool(RAWS[:50], whales, whale_every=10)
    txids = [parse_tx(feed.variant(n)).txid for n in range(3_000)]
    assert len(set(txids)) == len(txids)


def test_one_transaction_in_whale_every_comes_from_the_whale_pool() -> None:
    whales = [RAWS[2], RAWS[18]]
    feed = SyntheticMempool(RAWS[30:40], whales, whale_every=7)
    from_pool = [(w[:-4] == feed.variant(n)[:-4]) for n in range(70) for w in whales if n % 7 == 6]
    assert Counter(from_pool)[True] == 10
    noise_heads = {r[:-4] for r in RAWS[30:40]}
    assert all(feed.variant(n)[:-4] in noise_heads for n in range(70) if n % 7 != 6)


def test_locktimes_are_block_heights() -> None:
    feed = SyntheticMempool(RAWS[:3], first_locktime=MAX_LOCKTIME_HEIGHT - 2)
    assert parse_tx(feed.variant(1)).locktime == MAX_LOCKTIME_HEIGHT - 1
    with pytest.raises(ValueError, match="ran out"):
        feed.variant(2)


async def test_feed_stops_after_count_with_mempool_events_named_for_it() -> None:
    feed = SyntheticMempool(RAWS[:20], rate=1e6, count=250, name="busy")
    events = [e async for e in feed]
    assert len(events) == feed.emitted == 250
    assert {e.feed for e in events} == {"busy"} and {e.kind for e in events} == {EventKind.MEMPOOL}
    assert all(e.txid == parse_tx(e.raw).txid for e in events)


def test_a_malformed_pool_entry_is_refused_up_front() -> None:
    with pytest.raises(ValueError):
        SyntheticMempool([RAWS[0][:-7]])

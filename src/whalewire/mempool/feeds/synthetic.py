"""A synthetic busy mempool: real transactions re-serialised so that every one is new.

``SyntheticMempool`` plays a pool of real raw transactions at a chosen rate for as long as
asked, and makes each emitted transaction unique by rewriting its ``nLockTime`` (the last
four bytes of every serialisation, legacy and BIP 144 alike). A new locktime gives a new
txid (and wtxid) while every output, script and input stays as it was, so a transaction
that paid an exchange address still does, and deduplication and detection see a stream of
distinct transactions, as in a busy mempool. Locktimes count up from 1, one per emission,
and stay block heights (Bitcoin Core ``script/script.h``: ``LOCKTIME_THRESHOLD`` = 500,000,000;
below it a locktime is a height), so the first ~950,000 variants are final on today's chain.

What it is not: the signatures commit to the locktime, so the variants are not valid for a
node (nothing here checks scripts; the detector does not either). Use it for load and soak
tests, never where a peer validates. The caller decides which transactions are "whales"
(``whales``) and how often one appears (``whale_every``); this module knows nothing of
watch lists, alerts or orders.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

from whalewire.mempool.feeds._txid import txid_of
from whalewire.mempool.feeds.events import EventKind, RawTxEvent

__all__ = ["MAX_LOCKTIME_HEIGHT", "SyntheticMempool", "with_locktime"]

#: the first locktime that is a timestamp, not a height (``LOCKTIME_THRESHOLD``)
MAX_LOCKTIME_HEIGHT = 500_000_000
#: pacing granularity: events due within this much of now are emitted together
_TICK_S = 0.005


def with_locktime(raw: bytes, locktime: int) -> bytes:
    """Return ``raw`` with its ``nLockTime`` (the final 4 bytes, little-endian) replaced.

    Raises:
        ValueError: ``locktime`` does not fit in 32 bits unsigned or ``raw`` is too short.
    """
    if not 0 <= locktime <= 0xFFFFFFFF:
        raise ValueError(f"locktime {locktime} does not fit in 32 bits")
    if len(raw) < 10:  # version, two counts, locktime: nothing shorter is a transaction
        raise ValueError(f"{len(raw)} bytes is not a transaction")
    return raw[:-4] + locktime.to_bytes(4, "little")


class SyntheticMempool:
    """Play ``noise`` and ``whales`` as distinct new transactions (``async for event in feed``).

    Args:
        noise: raw transactions to cycle through (the bulk of the traffic).
        whales: raw transactions to cycle through every ``whale_every``-th event.
        rate: transactions per second.
        whale_every: one whale per this many transactions (0: no whales).
        duration_s: stop after this long; ``None``: run until ``count`` or forever.
        count: stop after this many transactions; ``None``: no limit.
        first_locktime: the first emission's locktime (then +1 per emission).
        name: the feed name stamped on events.

    Raises:
        ValueError: an empty pool, a rate that is not positive, or a malformed transaction.
            Emitting past the height range of locktimes raises it too.
    """

    def __init__(
        self,
        noise: Sequence[bytes],
        whales: Sequence[bytes] = (),
        *,
        rate: float = 100.0,
        whale_every: int = 0,
        duration_s: float | None = None,
        count: int | None = None,
        first_locktime: int = 1,
        name: str = "synthetic",
    ) -> None:
        if not noise:
            raise ValueError("the noise pool is empty")
        if whale_every and not whales:
            raise ValueError("whale_every needs at least one whale transaction")
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        if not 0 <= first_locktime < MAX_LOCKTIME_HEIGHT:
            raise ValueError(f"first_locktime {first_locktime} is not a block height")
        for raw in (*noise, *whales):
            txid_of(raw)  # fail now, not mid-soak, on a malformed pool entry
        self.noise = list(noise)
        self.whales = list(whales)
        self.rate = rate
        self.whale_every = whale_every
        self.duration_s = duration_s
        self.count = count
        self.first_locktime = first_locktime
        self.name = name
        #: transactions emitted so far, and how many of them were whales
        self.emitted = 0
        self.whales_emitted = 0

    def variant(self, n: int) -> bytes:
        """Return the ``n``-th transaction this feed emits (0-based), a pure function of ``n``."""
        every = self.whale_every
        if every and n % every == every - 1:
            k = n // every
            pool = self.whales
        else:
            k = n - (n // every if every else 0)
            pool = self.noise
        # one locktime per emission, never per pool entry or lap: a transaction listed
        # twice (to weight it), or in both pools, still gives distinct transactions
        locktime = self.first_locktime + n
        if locktime >= MAX_LOCKTIME_HEIGHT:
            raise ValueError("ran out of block-height locktimes")
        return with_locktime(pool[k % len(pool)], locktime)

    def __aiter__(self) -> AsyncIterator[RawTxEvent]:
        return self._play()

    async def _play(self) -> AsyncIterator[RawTxEvent]:
        perf, wall = time.perf_counter_ns, time.time_ns
        mempool, name = EventKind.MEMPOOL, self.name
        every = self.whale_every
        start = time.monotonic()
        end = None if self.duration_s is None else start + self.duration_s
        n = 0
        while self.count is None or n < self.count:
            now = time.monotonic()
            if end is not None and now >= end:
                return
            due = int((now - start) * self.rate) + 1
            if self.count is not None:
                due = min(due, self.count)
            while n < due:
                raw = self.variant(n)
                if every and n % every == every - 1:
                    self.whales_emitted += 1
                n += 1
                self.emitted = n
                yield RawTxEvent(raw, txid_of(raw), name, mempool, perf(), wall())
            # the next event's due time; never busy-wait, never sleep past it
            wait = start + n / self.rate - time.monotonic()
            await asyncio.sleep(max(0.0, min(wait, _TICK_S)))

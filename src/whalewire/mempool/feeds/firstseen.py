"""First arrival wins: dedup by txid across sources, and which source won by how much.

Sans-IO: txids, source names and arrival stamps (one monotonic clock) in, admit/drop out.
The first report of a txid is admitted and its source is the winner; every later report of
the same txid (another source's, or a repeat) is dropped, and the time since the winner's
arrival is the winner's *lead* over that source. Measured on one clock, a lead is what the
receiver gained by having that source: no clock sync between machines is assumed. Used by
the P2P peer pool (sources: peers) and the fleet's executor (sources: sensors). Memory is
bounded: the oldest txids are forgotten once ``capacity`` are held.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from typing import Any

#: the most recent leads kept per (winner, loser) pair: percentiles are of these
LEADS_KEPT = 4096


class FirstArrival:
    """Admit each txid once; record each source's wins and leads."""

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        #: txid -> (winning sensor, its arrival ns)
        self._first: OrderedDict[str, tuple[str, int]] = OrderedDict()
        #: per source: reports it delivered first
        self.wins: Counter[str] = Counter()
        #: per source: reports dropped because another (or itself) was first
        self.late: Counter[str] = Counter()
        #: per (winner, loser) pair: the winner's latest leads, in ns, and how many in all
        self._leads: dict[tuple[str, str], deque[int]] = {}
        self._lead_counts: Counter[tuple[str, str]] = Counter()

    def __len__(self) -> int:
        return len(self._first)

    def admit(self, txid: str, sensor: str, arrival_ns: int) -> bool:
        """Return True for the first report of ``txid`` (from ``sensor``, any source)."""
        first = self._first.get(txid)
        if first is None:
            self._first[txid] = (sensor, arrival_ns)
            if len(self._first) > self.capacity:
                self._first.popitem(last=False)
            self.wins[sensor] += 1
            return True
        winner, at = first
        self.late[sensor] += 1
        if sensor != winner:
            pair = (winner, sensor)
            leads = self._leads.get(pair)
            if leads is None:
                leads = self._leads[pair] = deque(maxlen=LEADS_KEPT)
            leads.append(arrival_ns - at)
            self._lead_counts[pair] += 1
        return False

    def winner(self, txid: str) -> str | None:
        """Return the source whose report of ``txid`` came first (None: not remembered)."""
        first = self._first.get(txid)
        return None if first is None else first[0]

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: per source wins and late drops; per ``winner>loser`` lead in ms."""
        leads = {}
        for pair, kept in sorted(self._leads.items()):
            ordered = sorted(kept)
            leads[">".join(pair)] = {
                "count": self._lead_counts[pair],
                "p50_ms": _rank(ordered, 0.50) / 1e6,
                "p99_ms": _rank(ordered, 0.99) / 1e6,
                "max_ms": ordered[-1] / 1e6,
            }
        return {"wins": dict(self.wins), "late": dict(self.late), "leads": leads}


def _rank(ordered: list[int], q: float) -> int:
    # nearest rank: the smallest value with at least q of the values at or below it
    return ordered[max(0, min(len(ordered) - 1, -(-int(q * len(ordered) * 1000) // 1000) - 1))]

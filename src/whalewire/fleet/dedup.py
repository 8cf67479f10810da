"""First arrival wins: the executor's cross-sensor dedup of alerts, and who won by how much.

Sans-IO: txids and arrival stamps (the executor's own monotonic clock) in, admit/drop out.
The first alert for a txid is admitted and its sensor is the winner; every later alert for
the same txid (another sensor's, or a repeat) is dropped, and the time since the winner's
arrival is the winner's *lead* over that sensor. Measured on one clock (the executor's), a
lead is what the executor gained by having that sensor: no clock sync between machines is
assumed. Memory is bounded: the oldest txids are forgotten once ``capacity`` are held.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any

from hdrh.histogram import HdrHistogram

#: leads are kept up to this many ns (an hour) at 3 significant digits
_MAX_LEAD_NS = 3_600_000_000_000


class FirstArrival:
    """Admit each txid once; record each sensor's wins and leads."""

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        #: txid -> (winning sensor, its arrival ns)
        self._first: OrderedDict[str, tuple[str, int]] = OrderedDict()
        #: per sensor: alerts it delivered first
        self.wins: Counter[str] = Counter()
        #: per sensor: alerts dropped because another (or itself) was first
        self.late: Counter[str] = Counter()
        #: per (winner, loser) pair: the winner's leads, in ns
        self._leads: dict[tuple[str, str], HdrHistogram] = {}

    def __len__(self) -> int:
        return len(self._first)

    def admit(self, txid: str, sensor: str, arrival_ns: int) -> bool:
        """Return True for the first alert about ``txid``; record a later one's lag."""
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
            hist = self._leads.get(pair)
            if hist is None:
                hist = self._leads[pair] = HdrHistogram(1, _MAX_LEAD_NS, 3)
            hist.record_value(min(max(arrival_ns - at, 1), _MAX_LEAD_NS))
        return False

    def winner(self, txid: str) -> str | None:
        """Return the sensor whose alert about ``txid`` came first (None: not remembered)."""
        first = self._first.get(txid)
        return None if first is None else first[0]

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: per sensor wins and late drops; per (winner, loser) lead in ms."""
        leads = {}
        for (winner, loser), hist in sorted(self._leads.items()):
            leads[f"{winner}>{loser}"] = {
                "count": hist.get_total_count(),
                "p50_ms": hist.get_value_at_percentile(50) / 1e6,
                "p99_ms": hist.get_value_at_percentile(99) / 1e6,
                "max_ms": hist.get_max_value() / 1e6,
            }
        return {"wins": dict(self.wins), "late": dict(self.late), "leads": leads}

"""Client order ids: derived from journal sequence numbers, one prepared per venue ahead.

An id names the journal row of its order's intent, so it is unique across restarts and
never reused, and replaying the journal after a crash yields the same ids. Formatting one
(the venue's alphabet and width, ``venues.ids``) is done after each send for the next
order, so taking an id costs the hot path a dict pop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from whalewire.engine.journal import Journal
from whalewire.venues.ids import binance_client_order_id


class OrderIds:
    """Hands out client order ids that no earlier order's journal row has."""

    def __init__(
        self,
        journal: Journal,
        formats: Mapping[str, Callable[[str, int], str]],
        namespace: str,
    ) -> None:
        """Build the id source.

        Args:
            journal: the journal whose sequence numbers the ids come from.
            formats: per venue name, its ``client_order_id(namespace, seq)``.
            namespace: the engine's namespace, the ids' prefix.
        """
        self._journal = journal
        self._formats = dict(formats)
        self.namespace = namespace
        #: per venue, an id prepared off the hot path, and its sequence number
        self._spare: dict[str, tuple[int, str]] = {}
        #: ids must come from sequence numbers at or after this (past every order's row)
        self._min_seq = 0

    def next(self, venue: str) -> str:
        """Return the client order id for the next order on ``venue``."""
        spare = self._spare.pop(venue, None)
        if spare is not None and spare[0] >= self._min_seq:
            return spare[1]
        return self._format(venue, self._journal.next_seq)

    def taken(self, seq: int) -> None:
        """Record that journal row ``seq`` holds an order: no id may come from it again."""
        self._min_seq = seq + 1

    def prepare(self, venue: str) -> None:
        """Format ``venue``'s next id now (after a send), so ``next`` need not."""
        seq = self._journal.next_seq
        self._spare[venue] = (seq, self._format(venue, seq))

    def _format(self, venue: str, seq: int) -> str:
        fmt = self._formats.get(venue)
        if fmt is None:
            return binance_client_order_id(self.namespace, seq)
        return fmt(self.namespace, seq)

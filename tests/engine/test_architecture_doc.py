"""docs/topics/architecture.md's order state table is oms.TRANSITIONS, row for row."""

from __future__ import annotations

import re
from pathlib import Path

from whalewire.engine.oms import FILL, FINAL, TRANSITIONS, OrderStatus

DOC = Path(__file__).parents[2] / "docs" / "topics" / "architecture.md"


def test_the_state_table_in_the_architecture_docs_is_the_transition_table() -> None:
    rows = re.findall(r"^\| ([A-Z_]+) \| (Order\w+) \| ([A-Z_ /]+) \|", DOC.read_text(), re.M)
    documented = {(OrderStatus(s), e): to.strip() for s, e, to in rows}
    expected = {}
    for (status, kind), to in TRANSITIONS.items():
        if to == FILL:  # a late fill leaves a closed order closed unless it completes it
            first = status.value if status in FINAL else "PARTIALLY_FILLED"
            expected[(status, kind.__name__)] = f"{first} / FILLED"
        else:
            expected[(status, kind.__name__)] = str(to)
    assert documented == expected

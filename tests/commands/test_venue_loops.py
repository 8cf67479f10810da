"""Each venue's paper configuration starts, trades and stops on uvloop and on asyncio's loop.

``whalewire run`` installs uvloop, whose transports (its SSL one included) are not
``asyncio.Transport`` subclasses: Coinbase's HTTP/1.1 client once asserted that and failed
every start under uvloop. Each venue runs here through the commands' own ``build`` (the
embedded emulator, the real client) on both loops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import uvloop
from tests.commands.support import VENUES, paper_config

from whalewire.commands.embedded import build
from whalewire.engine.config import parse_config
from whalewire.engine.runner import run

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.mark.parametrize("loop", sorted(LOOPS))
@pytest.mark.parametrize("venue", sorted(VENUES))
def test_paper_venue_runs_on_the_loop(venue: str, loop: str, tmp_path: Path) -> None:
    config = parse_config(paper_config(venue, tmp_path))

    async def main() -> dict[str, object]:
        running = await build(config)
        try:
            status = await run(running, seconds=1.0, dashboard=False)
        finally:
            await running.close()
        return status

    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        status = runner.run(main())
    connections = status["connections"]
    assert isinstance(connections, list)
    assert [c["venue"] for c in connections] == [venue]
    assert connections[0]["connected"] is True

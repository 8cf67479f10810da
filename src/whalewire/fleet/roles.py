"""Run a fleet role to the end: build its parts, run until told to stop, close in order.

``executor_role`` builds the engine with ``engine.runner.build`` (no local feeds: alerts
come over NATS), marks prices like ``whalewire run`` does, and runs an ``Executor`` on it;
``sensor_role`` runs a ``Sensor``. Both stop when ``stop`` is set (SIGINT/SIGTERM in the
commands, the demo's clock in ``whalewire fleet demo``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

import msgspec

from whalewire.engine.config import Config
from whalewire.engine.runner import build, mark_prices
from whalewire.fleet.config import FleetSection
from whalewire.fleet.executor import Executor
from whalewire.fleet.sensor import Sensor


def stop_on_signals(stop: asyncio.Event) -> Callable[[], None]:
    """Set ``stop`` on SIGINT/SIGTERM; return a function that removes the handlers."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)

    def remove() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)

    return remove


async def executor_role(
    config: Config,
    fleet: FleetSection,
    stop: asyncio.Event,
    *,
    journal_path: str | None = None,
    started: Callable[[Executor], object] | None = None,
) -> Executor:
    """Build the engine (no feeds), run the executor on it until ``stop``; return it."""
    running = await build(msgspec.structs.replace(config, feeds=[]), journal_path=journal_path)
    executor = Executor(running.engine, running.journal, fleet)
    marking = asyncio.create_task(mark_prices(running.engine))
    try:
        if started is not None:
            started(executor)
        await executor.run(stop)
    finally:
        marking.cancel()
        await asyncio.wait({marking}, timeout=1.0)
        await running.close()
    return executor


async def sensor_role(
    config: Config,
    fleet: FleetSection,
    stop: asyncio.Event,
    *,
    started: Callable[[Sensor], object] | None = None,
) -> Sensor:
    """Run a sensor on ``config``'s feeds until ``stop``; return it."""
    sensor = Sensor(config, fleet)
    if started is not None:
        started(sensor)
    await sensor.run(stop)
    return sensor

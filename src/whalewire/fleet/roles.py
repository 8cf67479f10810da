"""Run a fleet role to the end: build its parts, run until told to stop, close in order.

``executor_role`` builds the engine with ``engine.runner.build`` (no local feeds: alerts
come over NATS), marks prices like ``whalewire run`` does, and runs an ``Executor`` on it;
``sensor_role`` runs a ``Sensor``. Both stop when ``stop`` is set (SIGINT/SIGTERM in the
commands, the demo's clock in ``whalewire fleet demo``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import msgspec
from rich.console import Console

from whalewire.engine.config import Config, ConfigError
from whalewire.engine.journal import JournalError
from whalewire.engine.logs import configure_logging
from whalewire.engine.runner import Running, mark_prices
from whalewire.fleet import config as fleet_config
from whalewire.fleet.config import FleetSection
from whalewire.fleet.executor import Executor
from whalewire.fleet.sensor import Sensor
from whalewire.net.client import install_uvloop
from whalewire.venues.base import VenueError
from whalewire.venues.credentials import CredentialsError


def _build() -> Any:
    # The engine remodel moves the embedded exchanges (endpoint = "emulator") out of the
    # runner into the composition root, whalewire.commands.embedded.build; use it where it
    # exists, else the runner's build, which still starts them itself.
    try:
        module = importlib.import_module("whalewire.commands.embedded")
    except ModuleNotFoundError:
        module = importlib.import_module("whalewire.engine.runner")
    return module.build


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
    running: Running = await _build()(
        msgspec.structs.replace(config, feeds=[]), journal_path=journal_path
    )
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
    go: asyncio.Event | None = None,
) -> Sensor:
    """Run a sensor on ``config``'s feeds (from ``go``, if given) until ``stop``; return it."""
    sensor = Sensor(config, fleet)
    if started is not None:
        started(sensor)
    await sensor.run(stop, go=go)
    return sensor


Role = Callable[[Config, FleetSection, asyncio.Event], Awaitable[object]]


def run_from_file(
    path: Path,
    role: Role,
    console: Console,
    *,
    log_format: Literal["json", "text"] = "text",
    log_file: Path | None = None,
    refuse: Callable[[Config], str | None] | None = None,
) -> int:
    """Load a role's file, run ``role`` until SIGINT/SIGTERM; return the exit status."""
    try:
        fleet, config = fleet_config.load(path)
    except ConfigError as exc:
        console.print(f"[red]configuration error[/red]: {exc}")
        return 2
    refusal = refuse(config) if refuse is not None else None
    if refusal is not None:
        console.print(f"[red]refused[/red]: {refusal}")
        return 2
    install_uvloop()
    configure_logging(fmt=log_format, path=log_file)
    console.print(f"{fleet.name}: mode {config.engine.mode}, NATS {', '.join(fleet.nats)}")

    async def main() -> None:
        stop = asyncio.Event()
        remove = stop_on_signals(stop)
        try:
            await role(config, fleet, stop)
        finally:
            remove()

    try:
        asyncio.run(main())
    except (ConfigError, JournalError, VenueError, CredentialsError, OSError) as exc:
        console.print(f"[red]cannot start[/red]: {exc}")
        return 1
    return 0

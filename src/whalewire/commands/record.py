"""``whalewire record --config FILE --out DIR``: run the engine and record what it saw.

The engine runs as ``whalewire run --no-dashboard`` would (paper or dry-run: live trading
is ``run --live --record DIR``'s, which asks for its confirmation), and a recorder writes its feeds'
transactions, its whales and its venues' market data to DIR (docs/how-to/evidence.md).
``add_record_option`` and ``start_recording`` give ``run`` and ``demo`` the same
``--record DIR``; ``emulator_books`` samples the embedded exchanges' books, the market
data a run against emulators has.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from rich.console import Console

from whalewire.engine.runner import Running
from whalewire.evidence.recorder import SUFFIX, Format, Recorder
from whalewire.evidence.tap import BookSample, BookSource, attach
from whalewire.evidence.writer import ProcessRecorder

#: levels per side in each sampled book
DEPTH = 20


def add_record_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--record DIR`` (and the recording's format) to a command that runs the engine."""
    parser.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="DIR",
        help="record transactions, whales and market data to DIR (whalewire study/backtest)",
    )
    parser.add_argument(
        "--record-format", choices=sorted(SUFFIX), default="arrow", help="file format"
    )
    parser.add_argument(
        "--record-max-mb", type=float, default=256.0, help="start a new file past this size"
    )
    parser.add_argument(
        "--record-max-minutes", type=float, default=60.0, help="start a new file past this age"
    )
    parser.add_argument(
        "--record-writer",
        choices=("process", "thread"),
        default="process",
        help="process: a child writes (no GIL shared with the engine, ~3 µs a row on the "
        "engine's thread); thread: a thread writes (~0.3 µs a row, millisecond tails)",
    )
    parser.add_argument(
        "--record-book-interval",
        type=float,
        default=1.0,
        help="seconds between two samples of every book's levels",
    )


def emulator_books(running: Running, depth: int = DEPTH) -> BookSource:
    """Sample the books of the embedded exchanges ``running`` started (venue: its kind)."""

    def sample() -> Iterable[BookSample]:
        for started in running.emulators:
            # embedded.build pairs the emulated Binance with its stream host
            emulator = getattr(started, "emulator", started)
            venue = type(emulator).__name__.lower().removesuffix("emulator")
            engine = emulator.exchange.engine  # type: ignore[union-attr]
            for symbol in engine.specs:
                bids, asks = engine.depth(symbol)
                yield (
                    venue,
                    symbol,
                    [(float(p), float(q)) for p, q in bids[:depth]],
                    [(float(p), float(q)) for p, q in asks[:depth]],
                )

    return sample


async def start_recording(
    running: Running, args: argparse.Namespace, console: Console | None = None
) -> Callable[[], Awaitable[None]]:
    """Start recording ``running`` when ``args.record`` names a folder; return the stop.

    The stop closes the tap and the recorder and prints what was written; without
    ``--record`` it does nothing.
    """
    directory: Path | None = getattr(args, "record", None)
    if directory is None:

        async def nothing() -> None:
            return None

        return nothing
    fmt: Format = args.record_format
    # the writer thread would inherit the hot path's CPU (``[engine] cpu`` pins the thread
    # that starts it): it runs on the others (docs/benchmarks.md, recording off the hot path)
    engine_cpu = running.engine.config.engine.cpu
    others = set(range(os.cpu_count() or 1)) - {engine_cpu} if engine_cpu is not None else None
    options: dict[str, Any] = {
        "fmt": fmt,
        "max_bytes": int(args.record_max_mb * (1 << 20)),
        "max_seconds": args.record_max_minutes * 60.0,
    }
    recorder: Recorder | ProcessRecorder
    if args.record_writer == "process":
        recorder = ProcessRecorder(directory, cpus=others or None, **options)
    else:
        recorder = Recorder(directory, cpus=others or None, **options)
    recorder.start()
    tap = attach(
        running,
        recorder,
        books=[emulator_books(running)] if running.emulators else [],
        levels_interval_s=args.record_book_interval,
    )

    async def stop() -> None:
        await tap.close()
        stats = recorder.close()
        if console is not None:
            rows = ", ".join(f"{n} {c}" for n, c in stats.rows.items())
            console.print(f"recorded to {directory}: {rows}; dropped {stats.dropped}", markup=False)

    return stop


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``record``'s options."""
    parser.add_argument("--config", required=True, type=Path, help="TOML configuration file")
    parser.add_argument(
        "--out", required=True, type=Path, help="the recording's folder (created if needed)"
    )
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    parser.add_argument("--log-file", type=Path, default=None, help="log file (default: stderr)")
    add_record_option(parser)


def run(args: argparse.Namespace) -> int:
    """Run the configured engine as ``run`` does, recording into ``--out``; return the status.

    Live mode is refused (``run``'s check, with no ``--live`` here).
    """
    from whalewire.commands import run as run_command  # noqa: PLC0415 - run imports this module

    args.record = args.out
    args.live = args.confirm_live = False
    args.no_dashboard = True
    args.report = None
    args.log_format = "json"
    return run_command.run(args)

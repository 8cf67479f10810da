"""``whalewire demo``: the whole pipeline on embedded defaults, safe to run anywhere.

Starts the emulated Binance on loopback, replays the real transactions of mainnet block
951,658 as if they were arriving in the mempool, and trades on the whales it finds (a
demo address book maps some of the block's real outputs to fictional ``demo-*``
exchanges) in paper mode: no account, no network, no real money. A live dashboard shows
what happens; a latency report (terminal, and HTML with histograms) closes the run.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from rich.console import Console

from whalewire.commands.embedded import build
from whalewire.commands.record import add_record_option, start_recording
from whalewire.commands.run import add_output_options, log_path, run_as_asked
from whalewire.engine.config import parse_config
from whalewire.engine.logs import configure_logging
from whalewire.net.client import install_uvloop

#: The demo's configuration: the defaults plus a lower threshold, so the one replayed
#: block shows several whales (and a cooldown and a withdrawal being ignored).
DEMO_CONFIG = """
[engine]
mode = "paper"
namespace = "demo"

[control]
port = 0
kill_file = ""

[strategy]
min_value_sats = 25_000_000
cooldown_s = 5.0

[[feeds]]
type = "replay"
speed = {speed}
"""


#: where the demo logs while the dashboard has the terminal
DEMO_LOG = Path("whalewire-demo.log")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options."""
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="replay speed (1.0: the recorded 36 s; 0: as fast as possible)",
    )
    parser.add_argument("--seconds", type=float, default=90.0, help="stop after this long")
    add_output_options(parser, DEMO_LOG)
    parser.add_argument(
        "--report",
        type=Path,
        default=Path("whalewire-demo-report.html"),
        help="where to write the HTML latency report",
    )
    add_record_option(parser)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print its summary."""
    loop_name = "uvloop" if install_uvloop() else "asyncio"
    console = Console()
    log_file = log_path(args, DEMO_LOG)
    configure_logging(fmt=args.log_format, path=log_file)
    console.print(
        f"[bold]whalewire demo[/bold]: emulated Binance on loopback, replay of mainnet block "
        f"951,658, paper trading ({loop_name} event loop). Ctrl-C stops early."
    )
    return asyncio.run(_demo(args, console))


async def _demo(args: argparse.Namespace, console: Console) -> int:
    config = parse_config(DEMO_CONFIG.format(speed=args.speed), source="demo")
    with tempfile.TemporaryDirectory(prefix="whalewire-demo-") as tmp:
        running = await build(config, journal_path=str(Path(tmp) / "journal.db"))
        stop_recording = await start_recording(running, args, console)
        try:
            control = running.control
            console.print(
                f"control endpoint: {control.url} (try: whalewire status --url {control.url})",
                markup=False,
            )
            console.print(f"control token: {control.token} (for kill and resume)", markup=False)
            status = await run_as_asked(running, args, console)
        finally:
            await stop_recording()
            await running.close()
    orders = status["orders"]
    console.print(
        f"whales seen {status['whales']['seen']}, orders sent {orders['sent']}, "
        f"filled {orders['filled']}, rejected {orders['rejected']}, denied {orders['denied']}, "
        f"unknown {orders['unknown']}; trading {status['trading_state']}"
    )
    for symbol, pos in status["positions"].items():
        console.print(
            f"{symbol}: position {pos['position']}, realized P&L {pos['realized_pnl']}, "
            f"unrealized {pos['unrealized_pnl']} at {pos['last_price']}"
        )
    for key, b in status.get("books", {}).items():  # the embedded venue's live book
        console.print(
            f"book {key}: {b['bid']} / {b['ask']}, {b['updates']} updates, synced {b['synced']}"
        )
    return 0

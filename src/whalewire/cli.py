"""The ``whalewire`` command: a thin dispatcher over ``whalewire.commands``.

Each subcommand lives in its own module under ``whalewire.commands`` exposing
``configure(parser)`` and ``run(args) -> int``; modules are imported only when their
command runs, so ``whalewire --help`` stays fast and one broken optional piece cannot
take the others down.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from whalewire import __version__

#: subcommand -> (module under whalewire.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "ws": ("ws", "WebSocket tools: echo server and Autobahn client for conformance runs"),
    "demo": ("demo", "run the whole pipeline on embedded defaults (safe: paper trading)"),
    "run": ("run", "run the engine from a configuration file (paper, dry-run or --live)"),
    "selfcheck": ("selfcheck", "WebSocket echo self-check over loopback (our client and server)"),
    "status": ("status", "show a running engine's state (trading, orders, P&L, latency)"),
    "kill": ("kill", "kill switch: halt a running engine and cancel all its open orders"),
    "resume": ("resume", "let a HALTED engine trade again (typed confirmation or --yes)"),
    "init": ("init", "write a commented paper-trading configuration that runs as is"),
    "config": ("config", "check a configuration file; print the effective configuration"),
    "history": ("history", "orders, fills and P&L from a journal (table, csv or json)"),
    "report": ("report", "the HTML report of a past run, from its journal"),
    "record": ("record", "run the engine and record feeds, whales and books (Arrow IPC)"),
    "backtest": ("backtest", "replay a recording through the engine: fills, slippage, P&L, sweep"),
    "study": ("study", "event study of a recording: price moves after whales, by entity/size"),
    "emulator": ("emulator", "run the local exchange emulator (Binance WebSocket API) standalone"),
    "sensor": ("sensor", "fleet role: mempool feeds + whale detection, alerts published over NATS"),
    "executor": ("executor", "fleet role: an engine beside its venues, trading on NATS alerts"),
    "fleet": ("fleet", "the fleet over NATS: status, kill, resume, control heartbeat, demo"),
    "addresses": ("addresses", "learn exchange deposit addresses from a chain; show, export"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the argument parser; configure every subcommand, or only the one named."""
    parser = argparse.ArgumentParser(prog="whalewire", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"whalewire {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            mod = importlib.import_module(f"whalewire.commands.{module}")
            mod.configure(sp)
            sp.set_defaults(_module=mod)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``whalewire`` command line and return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    # import only the chosen command's module: a broken optional piece stays contained
    parser = build_parser(only=chosen if chosen in COMMANDS else "")
    args = parser.parse_args(argv)
    # after parsing: --help and usage errors need none of the engine's modules
    from whalewire.commands.errors import USER_ERRORS, fail  # noqa: PLC0415

    try:
        return int(args._module.run(args))
    except USER_ERRORS as exc:
        return fail(str(exc))
    except BrokenPipeError:  # `whalewire history ... | head`: the reader has what it wanted
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

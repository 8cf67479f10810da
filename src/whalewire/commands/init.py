"""``whalewire init``: write a commented paper-trading configuration that runs as is.

The file spells out the defaults an empty file would get, each with a comment saying what
it does, so the operator's first edit starts from something that works: ``whalewire run
--config whalewire.toml`` trades on the embedded emulator at once.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from whalewire.commands.errors import UserError
from whalewire.engine.config import parse_config

TEMPLATE = """\
# whalewire configuration (paper trading on the embedded emulator: no account, no money).
# Run it:        whalewire run --config {name}
# Check an edit: whalewire config check {name}
# Every table and field: docs/reference/configuration.md

[engine]
# "paper": the embedded emulator; "dry-run": connect to a real venue, sign, never send;
# "live": real orders (also needs --live on the command line and a typed confirmation)
mode = "paper"
# names this deployment in every client order id (1-8 of a-z, 0-9)
namespace = "ww"
# the order journal (SQLite); the control token is written next to it (.token, mode 0600)
journal = "whalewire-journal.db"
# an order with no answer after this long is UNKNOWN and gets reconciled
ack_timeout_s = 5.0
# cpu = 1          # pin the event loop to one CPU (give it a core of its own)

[control]
# /status, /kill, /resume and /metrics on loopback only (0: pick a free port)
host = "127.0.0.1"
port = 8787
# creating this file halts trading; while it exists, `whalewire resume` is refused
kill_file = "whalewire.kill"

[strategy]
# the smallest exchange deposit that triggers a reaction, in satoshis (1 BTC)
min_value_sats = 100000000
# the side taken per alert kind: sell into a deposit to an exchange
sides = {{ deposit = "SELL" }}
size_mode = "fixed"
fixed_qty = 0.001
# no second reaction to the same entity within this many seconds
cooldown_s = 5.0
# at most max_reactions in any window_s seconds
max_reactions = 10
window_s = 60.0

[strategy.default_route]
venue = "binance"
symbol = "BTCUSDT"

[risk]
max_orders_per_second = 5
max_orders_per_minute = 60

# hard limits per traded symbol: an order beyond any of them is denied (with its reason)
[risk.symbols.BTCUSDT]
max_order_qty = 0.01
max_order_notional = 2000
max_position = 0.05
max_daily_loss = 500

# the replay of a recorded mainnet block shipped with whalewire (speed 1.0: as recorded)
[[feeds]]
type = "replay"
speed = 1.0

# "emulator": the embedded exchange; real venues: docs/reference/venues.md, docs/how-to/go-live.md
[venues.binance]
endpoint = "emulator"
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``init``'s options."""
    parser.add_argument(
        "path", nargs="?", type=Path, default=Path("whalewire.toml"), help="file to write"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def run(args: argparse.Namespace) -> int:
    """Write the template (checked by the real parser first); say how to run it."""
    path: Path = args.path
    text = TEMPLATE.format(name=path)
    parse_config(text, source="the template")  # a template that does not load is a bug
    if path.exists() and not args.force:
        raise UserError(f"{path} exists: choose another path, or --force to overwrite it")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
    print(f"wrote {path} (paper trading). Next: whalewire run --config {path}")
    return 0

"""Soak as long as you like: ``python bench/soak.py --seconds 900 --rate 400``.

The same harness as ``tests/soak`` (an engine process trading a synthetic busy mempool
against an emulator process with changing faults), without the test's assertions: it
prints the figures ``docs/benchmarks.md`` reports (orders, statuses, faults hit, UNKNOWNs
and how they ended, resident memory after warm-up) and the verdicts, as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from tests.soak.harness import START_BTC, SoakResult, SoakSpec, run_soak  # noqa: E402
from tests.soak.test_soak import phases  # noqa: E402


def verdicts(result: SoakResult) -> dict[str, bool]:
    """Return each of the soak's checks as true or false (the test asserts them)."""
    orders = result.orders
    venue = {v["client_order_id"]: Decimal(v["executed_qty"]) for v in result.venue_orders}
    absent = {"NOT_FOUND", "REJECTED", "DENIED"}
    at_venue = {c: o.filled_qty for c, o in orders.items() if o.status.value not in absent}
    return {
        "all_final": all(o.is_final for o in orders.values()),
        "no_id_twice_in_journal": max(result.initialized.values(), default=1) == 1,
        "no_id_twice_at_venue": len(venue) == len(result.venue_orders),
        "venue_orders_match_journal": venue == at_venue,
        "absent_confirmed_by_venue": set(result.absent_checked.values()) <= {-2013},
        "balance_matches_fills": START_BTC - result.venue_btc == result.filled(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="feed duration")
    parser.add_argument("--rate", type=float, default=400.0, help="transactions per second")
    parser.add_argument("--whale-every", type=int, default=100)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before RSS counts")
    args = parser.parse_args()
    spec = SoakSpec(
        seconds=args.seconds,
        phases=phases(args.seconds),
        warmup_s=args.warmup,
        rate=args.rate,
        whale_every=args.whale_every,
        settle_s=40.0,
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = run_soak(spec, Path(tmp))
    out = {**result.numbers(), "verdicts": verdicts(result)}
    print(json.dumps(out, indent=1))
    return 0 if all(out["verdicts"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())

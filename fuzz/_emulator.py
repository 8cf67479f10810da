"""What the emulator harnesses share: hostile values, one field made hostile, a CPU budget.

A structure-aware input takes a valid request of the venue's documentation and replaces
one field (or adds one) with a value a hostile client would send: numbers out of every
range, NaN spellings, non-ASCII digits, thousands of digits, wrong JSON types, or the
fuzzer's own text. The venue must answer each with its documented error envelope, never
raise, and never spend more than ``CPU_BUDGET_S`` of CPU on one request (one request must
not stall every other client of the server).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from fuzz._fuzz import Data, text

_T = TypeVar("_T")

#: the most CPU time one request may take (generous: a loaded CI machine, a sanitizer build)
CPU_BUDGET_S = 1.0

HOSTILE: tuple[object, ...] = (
    None, True, False, [], {}, [1], {"a": 1}, 0, -1, 1, 2**63, 2**64, -(2**63) - 1, 0.5, -0.0,
    1e308, "", " ", "0", "-0", "-1", "1", "0.0", "00001", "1e3", "1E-3", "1e1000", "-1e1000",
    "NaN", "nan", "sNaN", "-sNaN", "Infinity", "-Infinity", "inf", "1_000", "0x10", "²", "١",
    "１", "1²", "9" * 30, "9" * 5000, "0." + "0" * 40 + "1", "1" + "0" * 40, "null", "true",
    "BTCUSDT", "BTC/USD", "BTC-USD", "BUY", "buy", "SELL", "LIMIT", "limit", "MARKET", "GTC",
    "\x00", "\ud800", "é" * 40, "x" * 300, "1e999999", "-1e999999",
)  # fmt: skip


def hostile(d: Data) -> object:
    """Return a hostile JSON value: from the palette, or built from the fuzzer's bytes."""
    choice = d.byte() % 4
    if choice < 2:
        return d.pick(HOSTILE)
    if choice == 2:
        return text(d.sized())
    return int.from_bytes(d.take(d.byte() % 12), "big", signed=True)


def make_hostile(params: dict[str, Any], d: Data, extra_keys: tuple[str, ...] = ()) -> str:
    """Replace (or add) one field of ``params`` with a hostile value; return its key."""
    keys = [*params, *extra_keys]
    key = d.pick(keys) if keys and d.byte() % 8 else text(d.sized())
    params[key] = hostile(d)
    return key


def within_budget(call: Callable[[], _T]) -> _T:
    """Return ``call()``, asserting it took at most ``CPU_BUDGET_S`` of CPU."""
    start = time.process_time()
    result = call()
    spent = time.process_time() - start
    assert spent <= CPU_BUDGET_S, f"one request took {spent:.2f} s of CPU"
    return result

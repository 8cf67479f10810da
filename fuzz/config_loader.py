#!/usr/bin/env python3
"""Fuzz the configuration loader (engine/config.py): raw TOML and one field made hostile.

Input: one byte choosing the mode. Raw: the rest is the file. Structured: a valid file
(every table present) with one field, picked by the fuzzer, set to a hostile value (NaN,
infinities, signs, huge and tiny numbers, wrong types, or the fuzzer's own text).
``parse_config`` raises only ``ConfigError``; a configuration it accepts must build a
strategy without an arithmetic error (the class behind ``qty_step = 0``).
"""

from __future__ import annotations

from fuzz._fuzz import Data, main, text
from whalewire.engine.config import ConfigError, parse_config
from whalewire.engine.strategy import WhaleStrategy

VALID = """\
[engine]
mode = "paper"
namespace = "ww"
ack_timeout_s = 5.0
rehearse_interval_ms = 2.0
cpu = 0
[control]
port = 8787
[strategy]
min_value_sats = 100000000
entity_min_value_sats = { binance = 50000000 }
size_mode = "fraction"
fixed_qty = "0.001"
fraction = "0.001"
qty_step = "0.00001"
cooldown_s = 5.0
max_reactions = 10
window_s = 60.0
[risk]
max_orders_per_second = 5
max_orders_per_minute = 60
[risk.symbols.BTCUSDT]
max_order_qty = "0.01"
max_order_notional = 2000
max_position = 0.05
max_daily_loss = 500
price_band = "0.05"
[[feeds]]
type = "replay"
speed = 1.0
[[feeds]]
type = "p2p"
port = 8333
[venues.binance]
endpoint = "emulator"
recv_window_ms = 1000
pong_interval_ms = 150
"""

#: every "key = value" line of VALID, by index: the field a structured input replaces
LINES = [i for i, line in enumerate(VALID.splitlines()) if " = " in line]
HOSTILE = (
    "nan", "+nan", "-nan", "inf", "-inf", "'NaN'", "'sNaN'", "'-sNaN'", "'Infinity'",
    "'-Infinity'", "'inf'", "0", "-0", "'-0'", "-1", "'-1'", "1e308", "-1e308", "5e-324",
    "'1e999999'", "'1e-999999'", "'1E+1000000000'", "9223372036854775807",
    "-9223372036854775808", "99999", "65536", "'0x10'", "'１'", "'²'", "''", "true", "[]",
    "{}", "[1, 2]", "'0.1'", "0.1", "1_000", "'1_000'", "1979-05-27T07:32:00Z",
)  # fmt: skip


def _hostile_file(d: Data) -> str:
    lines = VALID.splitlines()
    at = d.pick(LINES)
    key = lines[at].split(" = ", 1)[0]
    value = d.pick(HOSTILE) if d.flag() else text(d.rest()).replace("\n", " ")
    lines[at] = f"{key} = {value}"
    return "\n".join(lines) + "\n"


def test_one_input(data: bytes) -> None:
    """Load the file; refused only with ConfigError, and accepted only if it can run."""
    d = Data(data)
    source: str | bytes = _hostile_file(d) if d.flag() else d.rest()
    try:
        config = parse_config(source, source="fuzz.toml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml: "), exc
        return
    strategy = WhaleStrategy(
        config.strategy, monotonic_ns=lambda: 0, next_client_order_id=lambda _: "ww-1"
    )
    assert strategy.config is config.strategy


def seeds() -> dict[str, bytes]:
    """The empty file, the full valid one, the docs' example, and one seed per hostile value."""
    out = {
        "empty": b"\x00",
        "valid": b"\x00" + VALID.encode(),
        "docs-example": b"\x00"
        + b'[engine]\nmode = "dry-run"\n[strategy]\nmin_value_sats = 500_000_000\n'
        b'[[feeds]]\ntype = "zmq"\nrawtx = "tcp://127.0.0.1:28332"\n',
    }
    for i, line in enumerate(LINES):
        key = VALID.splitlines()[line].split(" = ", 1)[0]
        # structured (1), this line (two bytes, big-endian when over 256 choices), a palette pick
        out[f"hostile-{key}-{i}"] = bytes([1, i, 1, i % len(HOSTILE)])
    return out


if __name__ == "__main__":
    main(test_one_input)

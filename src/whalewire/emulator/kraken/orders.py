"""Kraken Spot WebSocket v2 order parameters that need more than a type check: the
conditional order types, trigger prices, trailing distances, ``deadline`` and client order
ids (docs.kraken.com, ``add_order``). Pure functions raising ``KrakenError``; know no
session or exchange.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from whalewire.emulator import numbers
from whalewire.emulator.kraken.errors import INVALID_ARGUMENTS, KrakenError
from whalewire.emulator.kraken.render import parse_rfc3339
from whalewire.emulator.matching import OrderType, Side

#: v2 ``add_order`` / ``batch_add`` ``deadline``: "Range of valid offsets (from current
#: time) is 500 milliseconds to 60 seconds"
DEADLINE_RANGE_MS = (500, 60_000)

#: v2 ``add_order`` conditional types: what each runs as when triggered and, per side,
#: whether it triggers on a rise to the trigger price ("stop-loss: ... when the market
#: price reaches the trigger price"; a sell stop-loss protects against a fall, a buy one
#: against a rise; take-profit the other way)
CONDITIONAL: dict[str, tuple[OrderType, dict[Side, bool]]] = {
    "stop-loss": (OrderType.MARKET, {Side.BUY: True, Side.SELL: False}),
    "stop-loss-limit": (OrderType.LIMIT, {Side.BUY: True, Side.SELL: False}),
    "take-profit": (OrderType.MARKET, {Side.BUY: False, Side.SELL: True}),
    "take-profit-limit": (OrderType.LIMIT, {Side.BUY: False, Side.SELL: True}),
}


def trigger_price(params: Mapping[str, object]) -> Decimal:
    """``triggers.price`` of a stop-loss / take-profit order: a static price on the last
    trade (``reference: index`` is refused; trailing distances are ``trail_distance``'s)."""
    triggers = params.get("triggers")
    if not isinstance(triggers, dict):
        raise KrakenError(INVALID_ARGUMENTS + ":triggers")
    if triggers.get("reference", "last") != "last" or triggers.get("price_type", "static") != (
        "static"
    ):
        raise KrakenError(INVALID_ARGUMENTS + ":triggers")
    price = decimal_param(triggers.get("price"), "triggers.price")
    if price <= 0:
        raise KrakenError(INVALID_ARGUMENTS + ":triggers.price")
    return price


def check_deadline(value: object, now: int) -> None:
    """Refuse a ``deadline`` that is not RFC 3339 or, when the request is handled, lies
    outside 500 ms to 60 s ahead (a request delayed past its deadline is refused so, and
    never matches: "The engine will prevent this order from matching after this time")."""
    when = parse_rfc3339(value) if isinstance(value, str) else None
    if when is None or not DEADLINE_RANGE_MS[0] <= when - now <= DEADLINE_RANGE_MS[1]:
        raise KrakenError(INVALID_ARGUMENTS + ":deadline")


def trail_distance(params: Mapping[str, object], tick: Decimal) -> tuple[Decimal, bool]:
    """A ``trailing-stop``'s distance from the peak: ``triggers.price`` with ``price_type``
    ``pct`` (percent, returned as a fraction) or ``quote`` (in quote, on the price tick);
    a static trigger price cannot trail, and only ``reference: last`` is modelled."""
    triggers = params.get("triggers")
    if not isinstance(triggers, dict) or triggers.get("reference", "last") != "last":
        raise KrakenError(INVALID_ARGUMENTS + ":triggers")
    kind = triggers.get("price_type")
    if kind not in ("pct", "quote"):
        raise KrakenError(INVALID_ARGUMENTS + ":triggers.price_type")
    distance = decimal_param(triggers.get("price"), "triggers.price")
    if (
        distance <= 0
        or (kind == "pct" and distance >= 100)
        or (kind == "quote" and distance % tick)
    ):
        raise KrakenError(INVALID_ARGUMENTS + ":triggers.price")
    return (distance / 100, True) if kind == "pct" else (distance, False)


def decimal_param(value: object, name: str) -> Decimal:
    """A number parameter (``numbers.decimal_of``), else ``Invalid arguments:<name>``."""
    out = numbers.decimal_of(value)
    if out is None:
        raise KrakenError(f"{INVALID_ARGUMENTS}:{name}")
    return out


def valid_cl_ord_id(value: str) -> bool:
    """Whether ``value`` is a client order id Kraken accepts."""
    # Kraken "Client Order Identifiers": a long UUID (36), a short UUID (32 hex) or free
    # text of at most 18 characters
    if len(value) == 36:
        parts = value.split("-")
        return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(
            c in "0123456789abcdefABCDEF" for p in parts for c in p
        )
    if len(value) == 32:
        return all(c in "0123456789abcdefABCDEF" for c in value)
    return 0 < len(value) <= 18 and value.isprintable()

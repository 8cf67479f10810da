"""Kraken's message bodies, rendered from the emulator's state: pure functions, no I/O.

Each function names the Kraken documentation page whose shape it follows ("Spot WebSocket
v2" ``executions``, ``ticker``, ``instrument``, ``status``; "Spot REST API" order info).
Kraken v2 carries quantities and prices as JSON numbers and times as RFC 3339 with
microseconds. Knows nothing of sessions, tokens or sockets; ``exchange.py`` decides what
to send and to whom, and is seen here only through :class:`ExchangeView`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from whalewire.emulator import numbers
from whalewire.emulator.matching import (
    CommandRejected,
    Event,
    MatchingEngine,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderStatus,
    OrderTraded,
    OrderType,
    OrderView,
)


class ExchangeView(Protocol):
    """What rendering reads of the exchange (``exchange.KrakenExchange`` provides it)."""

    engine: MatchingEngine
    #: the client's cl_ord_id and order_userref per engine order id
    cl_ord_ids: dict[int, str]
    userrefs: dict[int, int]
    #: seeds the order and execution ids
    id_salt: bytes

    def order_id(self, engine_id: int) -> str:
        """Return the Kraken-style id of an engine order."""
        ...


#: the alphabet of Kraken-style order and execution ids ("OQCLML-BW3P3-BUCMWZ")
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def rfc3339(ms: int) -> str:
    """Format a millisecond epoch time as Kraken v2 does (``2022-12-25T09:30:59.123456Z``)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> int | None:
    """Return the millisecond epoch time of an RFC 3339 timestamp with its offset
    (``2022-12-25T09:30:59.123Z``), or None when it is not one."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None or not 20 <= len(text) <= 40:
        return None
    return int(when.timestamp() * 1000)


def _num(value: Decimal) -> int | float:
    # Kraken v2 carries quantities and prices as JSON numbers
    return int(value) if value == value.to_integral_value() else float(value)


def dumps(obj: object) -> str:
    """Serialise compactly, ``Decimal`` as a JSON number."""
    return json.dumps(obj, separators=(",", ":"), default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return _num(value)
    return numbers.json_default(value)


def failure(method: object, req_id: object, error: str, t_in: int, t_out: int) -> dict[str, object]:
    """Return the failed-response envelope: ``method``, ``success: false``, ``error``, times."""
    out: dict[str, object] = {"method": method, "success": False, "error": error}
    if req_id is not None:
        out["req_id"] = req_id
    out["time_in"] = rfc3339(t_in)
    out["time_out"] = rfc3339(t_out)
    return out


def _places(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def order_info(ex: ExchangeView, view: OrderView) -> dict[str, object]:
    """Render an order as REST ``OpenOrders``/``ClosedOrders`` list one ("Order Info")."""
    spec = ex.engine.specs[view.symbol]
    fee = sum((t.commission for t in ex.engine.trades_of(view.order_id)), Decimal(0))
    status = {
        OrderStatus.NEW: "open",
        OrderStatus.PARTIALLY_FILLED: "open",
        OrderStatus.FILLED: "closed",
        OrderStatus.CANCELED: "canceled",
        OrderStatus.EXPIRED: "expired",
    }[view.status]
    avg = view.cum_quote_qty / view.executed_qty if view.executed_qty else Decimal(0)
    side = view.side.value.lower()
    otype = view.label or view.order_type.value.lower()
    info: dict[str, object] = {
        "refid": None,
        "userref": ex.userrefs.get(view.order_id, 0),
        "status": status,
        "opentm": view.time / 1000,
        "starttm": 0,
        "expiretm": 0,
        "descr": {
            "pair": spec.base + spec.quote,
            "type": side,
            "ordertype": otype,
            "price": str(view.price),
            "price2": "0",
            "leverage": "none",
            "order": f"{side} {view.orig_qty} {spec.base}{spec.quote} @ {otype} {view.price}",
            "close": "",
        },
        "vol": str(view.orig_qty),
        "vol_exec": str(view.executed_qty),
        "cost": str(view.cum_quote_qty),
        "fee": str(fee),
        "price": str(avg),
        "stopprice": str(view.stop_price),
        "limitprice": "0",
        "misc": "",
        "oflags": "fciq",
    }
    cl = ex.cl_ord_ids.get(view.order_id)
    if cl is not None:
        info["cl_ord_id"] = cl
    if not view.is_open:
        info["closetm"] = view.update_time / 1000
        info["reason"] = None if status == "closed" else "User requested"
    return info


def execution_rows(
    ex: ExchangeView, event: Event, reason: str = "User requested"
) -> list[dict[str, object]]:
    """Render one engine event as ``executions`` rows (Spot WebSocket v2 "Executions").

    ``pending_new`` carries the whole order, ``new`` only the transition ("a validated
    order before it becomes live, followed by new when it is live"); a trade carries
    ``exec_id``, ``trade_id``, ``last_qty``, ``last_price``, ``cost``, ``liquidity_ind``
    and ``fees`` (``[{"asset", "qty"}]``); a trade that completes the order is followed
    by ``exec_type: filled``.
    """
    assert not isinstance(event, CommandRejected)
    view = event.order
    ts = rfc3339(event.ts)
    base = _ids(ex, view)
    if isinstance(event, OrderAccepted):
        full = {
            **base,
            "exec_type": "pending_new",
            "order_status": "pending_new",
            "symbol": view.symbol,
            "side": view.side.value.lower(),
            "order_type": view.label or view.order_type.value.lower(),
            "order_qty": view.orig_qty,
            "time_in_force": view.time_in_force.value,
            "cum_qty": 0,
            "cum_cost": 0,
            "stop_price": view.stop_price,
            "fee_usd_equiv": 0,
            "fee_ccy_pref": "fciq",
            "timestamp": ts,
        }
        if view.order_type is OrderType.LIMIT:
            full["limit_price"] = view.price
            full["limit_price_type"] = "static"
        return [full, {**base, "exec_type": "new", "order_status": "new", "timestamp": ts}]
    if isinstance(event, OrderTraded):
        trade = event.trade
        done = view.status is OrderStatus.FILLED
        cumulative = {
            "cum_qty": view.executed_qty,
            "cum_cost": view.cum_quote_qty,
            "avg_price": view.cum_quote_qty / view.executed_qty,
        }
        row = {
            **base,
            "exec_type": "trade",
            "order_status": "filled" if done else "partially_filled",
            "exec_id": exec_id(ex, trade.trade_id, trade.is_maker),
            "trade_id": trade.trade_id,
            "symbol": view.symbol,
            "side": view.side.value.lower(),
            "order_type": view.label or view.order_type.value.lower(),
            "order_qty": view.orig_qty,
            "last_qty": trade.qty,
            "last_price": trade.price,
            "cost": trade.quote_qty,
            "liquidity_ind": "m" if trade.is_maker else "t",
            "fees": [{"asset": trade.commission_asset, "qty": trade.commission}],
            "fee_usd_equiv": trade.commission,
            **cumulative,
            "timestamp": ts,
        }
        if not done:
            return [row]
        filled = {**base, "exec_type": "filled", "order_status": "filled", **cumulative}
        return [row, {**filled, "timestamp": ts}]
    if isinstance(event, OrderCanceled):
        return [
            {
                **base,
                "exec_type": "canceled",
                "order_status": "canceled",
                **_totals(ex, view),
                "cancel_reason": reason,
                "reason": reason,
                "timestamp": ts,
            }
        ]
    assert isinstance(event, OrderExpired)
    return [
        {
            **base,
            "exec_type": "expired",
            "order_status": "expired",
            **_totals(ex, view),
            "timestamp": ts,
        }
    ]


def _totals(ex: ExchangeView, view: OrderView) -> dict[str, object]:
    fee = sum((t.commission for t in ex.engine.trades_of(view.order_id)), Decimal(0))
    avg = view.cum_quote_qty / view.executed_qty if view.executed_qty else Decimal(0)
    return {
        "cum_qty": view.executed_qty,
        "cum_cost": view.cum_quote_qty,
        "fee_usd_equiv": fee,
        "avg_price": avg,
    }


def _ids(ex: ExchangeView, view: OrderView) -> dict[str, object]:
    ids: dict[str, object] = {"order_id": ex.order_id(view.order_id)}
    cl = ex.cl_ord_ids.get(view.order_id)
    if cl is not None:
        ids["cl_ord_id"] = cl
    ids["order_userref"] = ex.userrefs.get(view.order_id, 0)
    return ids


def exec_id(ex: ExchangeView, trade_id: int, maker: bool) -> str:
    digest = hashlib.sha256(ex.id_salt + b"t%d%d" % (trade_id, maker)).digest()
    chars = "".join(B32[b % 32] for b in digest[:16])
    return f"T{chars[:5]}-{chars[5:10]}-{chars[10:16]}"


def ledger_rows(
    ex: ExchangeView, event: OrderTraded, seen: dict[str, Decimal]
) -> list[dict[str, object]]:
    """Render one fill as ``balances`` updates (Spot WebSocket v2 "Balances"): a ledger
    entry per asset moved, ``amount`` gross, ``fee`` in that asset, ``balance`` after.

    ``seen`` holds the balances last reported to the subscriber and is moved on, so that
    every update's ``balance`` is the previous one plus ``amount`` minus ``fee``.
    """
    view, trade = event.order, event.trade
    spec = ex.engine.specs[view.symbol]
    sign = 1 if view.side.value == "BUY" else -1
    rows: list[dict[str, object]] = []
    for index, (asset, amount) in enumerate(
        ((spec.base, sign * trade.qty), (spec.quote, -sign * trade.quote_qty))
    ):
        fee = trade.commission if trade.commission_asset == asset else Decimal(0)
        balance = seen.get(asset, Decimal(0)) + amount - fee
        seen[asset] = balance
        rows.append(
            {
                "ledger_id": exec_id(ex, trade.trade_id * 2 + index, trade.is_maker),
                "ref_id": exec_id(ex, trade.trade_id, trade.is_maker),
                "timestamp": rfc3339(event.ts),
                "type": "trade",
                "asset": asset,
                "asset_class": "currency",
                "category": "trade",
                "wallet_type": "spot",
                "wallet_id": "main",
                "amount": amount,
                "fee": fee,
                "balance": balance,
            }
        )
    return rows


def ticker_row(ex: ExchangeView, symbol: str) -> dict[str, object]:
    """Render the ``ticker`` row of a symbol (Spot WebSocket v2 "Ticker")."""
    bids, asks = ex.engine.depth(symbol)
    bid, bid_qty = bids[0] if bids else (Decimal(0), Decimal(0))
    ask, ask_qty = asks[0] if asks else (Decimal(0), Decimal(0))
    last = ex.engine.reference_price(symbol)
    return {
        "symbol": symbol,
        "bid": bid,
        "bid_qty": bid_qty,
        "ask": ask,
        "ask_qty": ask_qty,
        "last": last,
        "volume": 0,
        "vwap": last,
        "low": last,
        "high": last,
        "change": 0,
        "change_pct": 0,
    }


def instrument_pairs(ex: ExchangeView) -> list[dict[str, object]]:
    """Render the ``instrument`` channel's ``pairs`` (Spot WebSocket v2 "Instrument")."""
    out: list[dict[str, object]] = []
    for spec in ex.engine.specs.values():
        out.append(
            {
                "symbol": spec.symbol,
                "base": spec.base,
                "quote": spec.quote,
                "status": "online",
                "qty_precision": _places(spec.step_size),
                "qty_increment": spec.step_size,
                "qty_min": spec.min_qty,
                "price_precision": _places(spec.tick_size),
                "price_increment": spec.tick_size,
                "cost_min": spec.min_notional,
                "marginable": False,
                "has_index": True,
            }
        )
    return out


def status_message(connection_id: int, system: str = "online") -> str:
    """Render the ``status`` update sent on connect (Spot WebSocket v2 "Status")."""
    row = {
        "version": "2.0.0",
        "system": system,
        "api_version": "v2",
        "connection_id": connection_id,
    }
    return dumps({"channel": "status", "type": "update", "data": [row]})


def snapshot_row(ex: ExchangeView, view: OrderView) -> dict[str, object]:
    row = {
        **_ids(ex, view),
        "exec_type": "new",
        "order_status": "new" if view.executed_qty == 0 else "partially_filled",
        "symbol": view.symbol,
        "side": view.side.value.lower(),
        "order_type": view.label or view.order_type.value.lower(),
        "order_qty": view.orig_qty,
        "limit_price": view.price,
        "time_in_force": view.time_in_force.value,
        "cum_qty": view.executed_qty,
        "cum_cost": view.cum_quote_qty,
        "timestamp": rfc3339(view.time),
    }
    return row

"""Binance WebSocket API response and event bodies rendered from matching-engine data.

Field names and order follow ``web-socket-api.md`` (order.place ACK/RESULT/FULL,
order.status, order.cancel) and ``user-data-stream.md`` (``executionReport``). Pure
functions over ``OrderView``/events; knows nothing of sessions, limits or signatures.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from whalewire.emulator.binance.rules import BIPS, fmt
from whalewire.emulator.matching import (
    CommandRejected,
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderTraded,
    OrderView,
    Side,
    Trade,
)


def _order_base(view: OrderView) -> dict[str, object]:
    return {
        "symbol": view.symbol,
        "orderId": view.order_id,
        "orderListId": view.group,
        "clientOrderId": view.client_order_id,
    }


def order_result(
    view: OrderView, resp_type: str, fills: list[Trade], now: int
) -> dict[str, object]:
    """Render an ``order.place`` result as ACK, RESULT or FULL (``web-socket-api.md``)."""
    result = _order_base(view)
    result["transactTime"] = now
    if resp_type == "ACK":
        return result
    result.update(
        {
            "price": fmt(view.price),
            "origQty": fmt(view.orig_qty),
            "executedQty": fmt(view.executed_qty),
            "origQuoteOrderQty": fmt(view.orig_quote_qty),
            "cummulativeQuoteQty": fmt(view.cum_quote_qty),
            "status": view.status.value,
            "timeInForce": view.time_in_force.value,
            "type": view.label or view.order_type.value,
            "side": view.side.value,
            "workingTime": view.working_time,
            "selfTradePreventionMode": "NONE",
        }
    )
    if view.stop_price:
        result["stopPrice"] = fmt(view.stop_price)
    result.update(trailing_fields(view))
    if resp_type == "FULL":
        result["fills"] = [
            {
                "price": fmt(t.price),
                "qty": fmt(t.qty),
                "commission": fmt(t.commission),
                "commissionAsset": t.commission_asset,
                "tradeId": t.trade_id,
            }
            for t in fills
        ]
    return result


def order_status(view: OrderView) -> dict[str, object]:
    """Render an ``order.status`` / ``openOrders.status`` entry."""
    result = _order_base(view)
    result.update(
        {
            "price": fmt(view.price),
            "origQty": fmt(view.orig_qty),
            "executedQty": fmt(view.executed_qty),
            "cummulativeQuoteQty": fmt(view.cum_quote_qty),
            "status": view.status.value,
            "timeInForce": view.time_in_force.value,
            "type": view.label or view.order_type.value,
            "side": view.side.value,
            "stopPrice": fmt(view.stop_price),
            "icebergQty": fmt(Decimal(0)),
            "time": view.time,
            "updateTime": view.update_time,
            "isWorking": view.is_open and not view.parked,
            "workingTime": view.working_time,
            "origQuoteOrderQty": fmt(view.orig_quote_qty),
            "selfTradePreventionMode": "NONE",
            **trailing_fields(view),
        }
    )
    return result


def trailing_fields(view: OrderView) -> dict[str, object]:
    """``trailingDelta`` (BIPS) and ``trailingTime`` (-1 until it trails), which order
    answers carry for trailing orders only ("Conditional fields in Order Responses")."""
    if not view.trail:
        return {}
    return {"trailingDelta": int(view.trail * BIPS), "trailingTime": view.trail_time}


def cancel_result(view: OrderView, now: int) -> dict[str, object]:
    """Render an ``order.cancel`` / ``openOrders.cancelAll`` entry."""
    return {
        "symbol": view.symbol,
        "origClientOrderId": view.orig_client_order_id,
        "orderId": view.order_id,
        "orderListId": view.group,
        "clientOrderId": view.client_order_id,
        "transactTime": now,
        "price": fmt(view.price),
        "origQty": fmt(view.orig_qty),
        "executedQty": fmt(view.executed_qty),
        "origQuoteOrderQty": fmt(view.orig_quote_qty),
        "cummulativeQuoteQty": fmt(view.cum_quote_qty),
        "status": view.status.value,
        "timeInForce": view.time_in_force.value,
        "type": view.label or view.order_type.value,
        "side": view.side.value,
        "selfTradePreventionMode": "NONE",
    }


def order_list(
    list_id: int, client_id: str, symbol: str, time: int, views: list[OrderView]
) -> dict[str, object]:
    """Render an OCO order list ("Query Order list"): ``ALL_DONE`` once its contingency
    has played out (an order executed, triggered or was canceled, the other ended)."""
    done = not all(v.is_open for v in views)
    return {
        "orderListId": list_id,
        "contingencyType": "OCO",
        "listStatusType": "ALL_DONE" if done else "EXEC_STARTED",
        "listOrderStatus": "ALL_DONE" if done else "EXECUTING",
        "listClientOrderId": client_id,
        "transactionTime": time,
        "symbol": symbol,
        "orders": [
            {"symbol": v.symbol, "orderId": v.order_id, "clientOrderId": v.client_order_id}
            for v in views
        ],
    }


def list_status(body: Mapping[str, object], now: int) -> dict[str, object]:
    """Render ``order_list``'s body as the user stream's ``listStatus`` event
    (``user-data-stream.md``, "Order Update")."""
    orders = body["orders"]
    assert isinstance(orders, list)
    return {
        "e": "listStatus",
        "E": now,
        "s": body["symbol"],
        "g": body["orderListId"],
        "c": body["contingencyType"],
        "l": body["listStatusType"],
        "L": body["listOrderStatus"],
        "r": "NONE",
        "C": body["listClientOrderId"],
        "T": now,
        "O": [{"s": o["symbol"], "i": o["orderId"], "c": o["clientOrderId"]} for o in orders],
    }


def account_trade(fill: OrderTraded) -> dict[str, object]:
    """Render a ``myTrades`` entry ("Account trade history") from the owner's fill."""
    view, trade = fill.order, fill.trade
    return {
        "symbol": view.symbol,
        "id": trade.trade_id,
        "orderId": view.order_id,
        "orderListId": view.group,
        "price": fmt(trade.price),
        "qty": fmt(trade.qty),
        "quoteQty": fmt(trade.quote_qty),
        "commission": fmt(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": fill.ts,
        "isBuyer": view.side is Side.BUY,
        "isMaker": trade.is_maker,
        # every example in the docs says true; the emulator has one book per symbol
        "isBestMatch": True,
    }


_EXECUTION_TYPE = {
    OrderAccepted: "NEW",
    OrderTraded: "TRADE",
    OrderCanceled: "CANCELED",
    OrderExpired: "EXPIRED",
}


def execution_report(event: Event, now: int) -> dict[str, object]:
    """Render an engine event as an ``executionReport`` (``user-data-stream.md``)."""
    assert not isinstance(event, CommandRejected)
    view = event.order
    trade = event.trade if isinstance(event, OrderTraded) else None
    return {
        "e": "executionReport",
        "E": now,
        "s": view.symbol,
        "c": view.client_order_id,
        "S": view.side.value,
        "o": view.label or view.order_type.value,
        "f": view.time_in_force.value,
        "q": fmt(view.orig_qty),
        "p": fmt(view.price),
        "P": fmt(view.stop_price),
        "F": fmt(Decimal(0)),
        "g": view.group,
        "C": view.orig_client_order_id,
        "x": _EXECUTION_TYPE[type(event)],
        "X": view.status.value,
        "r": "NONE",
        "i": view.order_id,
        "l": fmt(trade.qty if trade else Decimal(0)),
        "z": fmt(view.executed_qty),
        "L": fmt(trade.price if trade else Decimal(0)),
        "n": fmt(trade.commission) if trade else "0",
        "N": trade.commission_asset if trade else None,
        "T": event.ts,
        "t": trade.trade_id if trade else -1,
        "I": view.order_id,
        "w": view.is_open,
        "m": trade.is_maker if trade else False,
        "M": False,
        "O": view.time,
        "Z": fmt(view.cum_quote_qty),
        "Y": fmt(trade.quote_qty if trade else Decimal(0)),
        "Q": fmt(view.orig_quote_qty),
        "W": view.working_time,
        "V": "NONE",
        # "d" trailing delta, "D" trailing time: "Appears only for trailing stop orders"
        **({"d": int(view.trail * BIPS), "D": view.trail_time} if view.trail else {}),
    }

"""Binance order lists: ``orderList.place.oco``, ``orderList.status``, ``orderList.cancel``
and ``openOrderLists.status`` (``web-socket-api.md``, "Place new Order list - OCO",
"Query Order list", "Cancel Order list", "Current open Order lists").

An OCO is two orders in one of the engine's one-cancels-the-other groups (its id is the
``orderListId``): once either trades or its stop triggers, or one is canceled, the other is
canceled. Each leg is checked as ``order.place`` checks an order of its type. Registers its
methods with the sessions when imported (by the package). Knows no transport.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import replace

from whalewire.emulator.binance import rules
from whalewire.emulator.binance.exchange import (
    METHODS,
    WEIGHTS,
    BinanceSession,
    Handler,
    OrderList,
)
from whalewire.emulator.binance.methods import REJECT_MESSAGES, parse_order, symbol_spec
from whalewire.emulator.binance.render import cancel_result, order_list, order_result
from whalewire.emulator.matching import (
    CancelOrder,
    CommandRejected,
    Event,
    OrderView,
    PlaceOrder,
    Side,
)

#: "aboveType" / "belowType" by side: an OCO SELL sells above the market with LIMIT_MAKER
#: or a take-profit and below it with a stop-loss; an OCO BUY the other way round
_LEGS: dict[Side, tuple[frozenset[str], frozenset[str]]] = {
    Side.SELL: (
        frozenset({"LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}),
        frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT"}),
    ),
    Side.BUY: (
        frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT"}),
        frozenset({"LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}),
    ),
}
#: what each leg's parameters are called in ``order.place`` terms
_LEG_PARAMS = {
    "Type": "type",
    "Price": "price",
    "StopPrice": "stopPrice",
    "TrailingDelta": "trailingDelta",
    "TimeInForce": "timeInForce",
    "ClientOrderId": "newClientOrderId",
}


def _leg(
    session: BinanceSession, params: Mapping[str, object], account_id: str, where: str
) -> PlaceOrder:
    leg: dict[str, object] = {
        name: params[name] for name in ("symbol", "side", "quantity") if name in params
    }
    if params.get(f"{where}IcebergQty") is not None:  # as order.place refuses icebergQty
        raise rules.not_required(f"{where}IcebergQty")
    for suffix, name in _LEG_PARAMS.items():
        if f"{where}{suffix}" in params:
            leg[name] = params[f"{where}{suffix}"]
    cmd, _ = parse_order(session, leg, account_id)
    return cmd


def _list_body(lst: OrderList, views: list[OrderView]) -> dict[str, object]:
    return order_list(lst.list_id, lst.client_id, lst.symbol, lst.time, views)


def _views(session: BinanceSession, lst: OrderList) -> list[OrderView]:
    engine = session.exchange.engine
    found = (engine.get_order(lst.account_id, lst.symbol, oid) for oid in lst.order_ids)
    return [v for v in found if v is not None]


def _place_oco(session: BinanceSession, params: dict[str, object], now: int) -> object:
    key = session.authorize(params, now)
    usage = session.charge_order(key.account_id, now)
    spec = symbol_spec(session, params)
    side_text = rules.get_str(params, "side", required=True)
    if side_text not in ("BUY", "SELL"):
        raise rules.invalid_side()
    for name in ("quantity", "aboveType", "belowType"):
        if params.get(name) is None:
            raise rules.mandatory(name)
    above_ok, below_ok = _LEGS[Side(side_text)]
    if params["aboveType"] not in above_ok or params["belowType"] not in below_ok:
        raise rules.invalid_order_type()
    resp_type = rules.get_str(params, "newOrderRespType") or "FULL"
    if resp_type not in ("ACK", "RESULT", "FULL"):
        raise rules.invalid_parameter("newOrderRespType")
    ex = session.exchange
    list_id = max(ex.order_lists, default=0) + 1
    below = replace(_leg(session, params, key.account_id, "below"), group=list_id)
    above = replace(_leg(session, params, key.account_id, "above"), group=list_id)
    # the leg that rests (LIMIT_MAKER) goes in first and holds the funds; a stop leg locks
    # afresh when it triggers (matching.PlaceOrder.group)
    legs = sorted((below, above), key=lambda c: c.stop_price is not None or c.trail is not None)
    events: list[Event] = []
    placed: list[int] = []
    for cmd in legs:
        got = ex.engine.place(cmd)
        if isinstance(got[0], CommandRejected):
            for order_id in placed:  # none of the list stands, nor is reported
                ex.engine.cancel(CancelOrder(key.account_id, spec.symbol, order_id))
                ex.engine.forget(order_id)
            raise rules.new_order_rejected(REJECT_MESSAGES[got[0].reason])
        placed.append(got[0].order.order_id)
        events += got
    order_ids = tuple(placed if legs[0] is below else reversed(placed))  # below, above
    client_id = rules.get_str(params, "listClientOrderId") or secrets.token_hex(11)
    lst = OrderList(list_id, client_id, key.account_id, spec.symbol, order_ids, now)
    ex.order_lists[list_id] = lst  # before publishing: the stream reports the list too
    ex.publish(events, origin=session)
    usage.add(now, 2)
    views = _views(session, lst)
    body = _list_body(lst, views)
    if resp_type != "ACK":
        body["orderReports"] = [order_result(v, "RESULT", [], now) for v in views]
    return body


def _find(session: BinanceSession, params: Mapping[str, object], account_id: str) -> OrderList:
    list_id = rules.get_int(params, "orderListId")
    client_id = rules.get_str(params, "origClientOrderId") or rules.get_str(
        params, "listClientOrderId"
    )
    if list_id is None and not client_id:
        raise rules.one_of("orderListId", "listClientOrderId")
    for lst in session.exchange.order_lists.values():
        if lst.account_id == account_id and (
            lst.list_id == list_id if list_id is not None else lst.client_id == client_id
        ):
            return lst
    raise rules.no_such_order()


def _status(session: BinanceSession, params: dict[str, object], now: int) -> object:
    key = session.authorize(params, now)
    lst = _find(session, params, key.account_id)
    return _list_body(lst, _views(session, lst))


def _cancel(session: BinanceSession, params: dict[str, object], now: int) -> object:
    key = session.authorize(params, now)
    spec = symbol_spec(session, params)
    lst = _find(session, params, key.account_id)
    if lst.symbol != spec.symbol:
        raise rules.no_such_order()
    open_ = [v for v in _views(session, lst) if v.is_open]
    if not open_:
        raise rules.cancel_rejected()
    ex = session.exchange
    events = ex.engine.cancel(CancelOrder(key.account_id, spec.symbol, open_[0].order_id))
    ex.publish(events, origin=session)
    body = _list_body(lst, _views(session, lst))
    body["orderReports"] = [cancel_result(v, now) for v in _views(session, lst)]
    return body


def _open_lists(session: BinanceSession, params: dict[str, object], now: int) -> object:
    key = session.authorize(params, now)
    mine = [
        lst for lst in session.exchange.order_lists.values() if lst.account_id == key.account_id
    ]
    bodies = [_list_body(lst, _views(session, lst)) for lst in mine]
    return [body for body in bodies if body["listOrderStatus"] != "ALL_DONE"]


_HANDLERS: dict[str, Handler] = {
    "orderList.place.oco": _place_oco,
    "orderList.status": _status,
    "orderList.cancel": _cancel,
    "openOrderLists.status": _open_lists,
}
METHODS.update(_HANDLERS)
#: "Weight: 1" (place, cancel), 4 (status), 6 (open order lists)
WEIGHTS.update(
    {
        "orderList.place.oco": 1,
        "orderList.status": 4,
        "orderList.cancel": 1,
        "openOrderLists.status": 6,
    }
)

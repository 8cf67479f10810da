"""Kraken Spot WebSocket v2 order methods beyond single orders: ``batch_add``,
``batch_cancel``, ``amend_order`` and ``edit_order``.

Each is built on what ``exchange.py`` already does for one order (``place_order``,
``cancel_one``) or on the engine's in-place ``amend``; the shapes follow the v2 reference
pages of the same names (docs.kraken.com, ``api/docs/websocket-v2/<method>``). Registers
its methods with the sessions when imported (by the package). Knows no transport.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from whalewire.emulator import numbers
from whalewire.emulator.kraken.errors import (
    INVALID_ARGUMENTS,
    POST_ONLY_REJECTED,
    UNKNOWN_ORDER,
    KrakenError,
)
from whalewire.emulator.kraken.exchange import METHODS, KrakenExchange, KrakenSession
from whalewire.emulator.kraken.orders import check_deadline
from whalewire.emulator.kraken.render import rfc3339
from whalewire.emulator.matching import OrderType, OrderView, RejectReason

#: "batch_add": "orders: ... minimum of 2 and maximum of 15"
BATCH_ADD_SIZE = (2, 15)
#: "batch_cancel": "orders: ... minimum of 2 and maximum of 50"
BATCH_CANCEL_SIZE = (2, 50)


def _orders(params: Mapping[str, object], bounds: tuple[int, int]) -> list[object]:
    orders = params.get("orders")
    if not isinstance(orders, list) or not bounds[0] <= len(orders) <= bounds[1]:
        raise KrakenError(INVALID_ARGUMENTS + ":orders")
    return orders


def batch_add(session: KrakenSession, params: Mapping[str, object], now: int) -> Sequence[object]:
    """``batch_add``: 2 to 15 orders on one ``symbol``, validated together first; the
    result is the list of ``add_order`` results. Should a later order fail when placed
    (funds), the batch's earlier orders are canceled so that none of it stands."""
    ex = session.exchange
    account_id = ex.account_of(params.get("token"))
    symbol = params.get("symbol")
    orders = _orders(params, BATCH_ADD_SIZE)
    if not all(isinstance(o, dict) for o in orders):
        raise KrakenError(INVALID_ARGUMENTS + ":orders")
    if "deadline" in params:  # the batch's: "Range of valid offsets ... 500 ms to 60 s"
        check_deadline(params["deadline"], now)
    checked = [{**o, "validate": True} for o in orders if isinstance(o, dict)]
    for order in checked:
        ex.place_order(account_id, symbol, order, session)
    if params.get("validate") is True:
        return [[{} for _ in orders]]
    results: list[dict[str, object]] = []
    try:
        for order in checked:
            order["validate"] = False
            results.append(ex.place_order(account_id, symbol, order, session))
    except KrakenError:
        _cancel_ids(ex, session, account_id, [str(r["order_id"]) for r in results])
        raise
    return [results]


def _cancel_ids(
    ex: KrakenExchange, session: KrakenSession, account_id: str, ids: list[str]
) -> None:
    for kid in ids:
        view = ex.view(account_id, ex.engine_id(kid))
        if view is not None and view.is_open:
            ex.publish(ex.cancel_one(account_id, view), session)


def _find(ex: KrakenExchange, account_id: str, ident: object) -> OrderView:
    """An open order of the account by Kraken order id or cl_ord_id."""
    if not isinstance(ident, str):
        raise KrakenError(INVALID_ARGUMENTS)
    view = ex.view(account_id, ex.engine_id(ident)) or ex.open_by_cl_ord_id(account_id, ident)
    if view is None or not view.is_open:
        raise KrakenError(UNKNOWN_ORDER)
    return view


def batch_cancel(
    session: KrakenSession, params: Mapping[str, object], now: int
) -> Sequence[object]:
    """``batch_cancel``: 2 to 50 orders by ``order_id`` (``orders``) or ``cl_ord_id``;
    ``result.count`` is how many were canceled. Unknown ids refuse the whole batch."""
    ex = session.exchange
    account_id = ex.account_of(params.get("token"))
    wanted: list[object] = []
    if params.get("orders") is not None:
        wanted += _orders(params, BATCH_CANCEL_SIZE)
    by_cl = params.get("cl_ord_id")
    if by_cl is not None:
        if not isinstance(by_cl, list):
            raise KrakenError(INVALID_ARGUMENTS + ":cl_ord_id")
        wanted += by_cl
    if not BATCH_CANCEL_SIZE[0] <= len(wanted) <= BATCH_CANCEL_SIZE[1]:
        raise KrakenError(INVALID_ARGUMENTS + ":orders")
    views = {v.order_id: v for v in (_find(ex, account_id, ident) for ident in wanted)}
    for view in views.values():
        ex.publish(ex.cancel_one(account_id, view), session)
    return [{"count": len(views)}]


def _number(params: Mapping[str, object], name: str) -> Decimal | None:
    if params.get(name) is None:
        return None
    value = numbers.decimal_of(params.get(name))
    if value is None or value <= 0:
        raise KrakenError(f"{INVALID_ARGUMENTS}:{name}")
    return value


def amend_order(session: KrakenSession, params: Mapping[str, object], now: int) -> Sequence[object]:
    """``amend_order``: new ``order_qty`` and/or ``limit_price`` for a resting limit order,
    in place: "The order identifiers assigned by Kraken and/or client will stay the
    same"; the result carries an ``amend_id`` and the identifier used, and the
    ``executions`` channel reports ``exec_type: amended``."""
    ex = session.exchange
    account_id = ex.account_of(params.get("token"))
    if (params.get("order_id") is None) == (params.get("cl_ord_id") is None):
        raise KrakenError(INVALID_ARGUMENTS + ":order_id or cl_ord_id")
    view = _find(ex, account_id, params.get("order_id") or params.get("cl_ord_id"))
    if view.order_type is not OrderType.LIMIT:
        raise KrakenError(INVALID_ARGUMENTS + ":order_type")
    spec = ex.engine.specs[view.symbol]
    qty, price = _number(params, "order_qty"), _number(params, "limit_price")
    if qty is None and price is None:
        raise KrakenError(INVALID_ARGUMENTS + ":order_qty or limit_price")
    if (qty is not None and qty % spec.step_size) or (price is not None and price % spec.tick_size):
        raise KrakenError(INVALID_ARGUMENTS)
    amended = ex.engine.amend(account_id, view.symbol, view.order_id, qty, price)
    if amended is RejectReason.WOULD_TAKE:
        raise KrakenError(POST_ONLY_REJECTED)
    if amended is RejectReason.INSUFFICIENT_BALANCE:
        raise KrakenError("EOrder:Insufficient funds")
    if not isinstance(amended, OrderView):
        raise KrakenError(INVALID_ARGUMENTS + ":order_qty")
    ex.amends += 1
    amend_id = f"{ex.order_id(view.order_id)[:-1]}A{ex.amends}"
    row: dict[str, object] = {
        "order_id": ex.order_id(amended.order_id),
        "exec_type": "amended",
        "order_status": "new" if amended.executed_qty == 0 else "partially_filled",
        "amended": True,
        "order_qty": amended.orig_qty,
        "limit_price": amended.price,
        "reason": "User requested",
        "timestamp": rfc3339(now),
    }
    cl = ex.cl_ord_ids.get(amended.order_id)
    if cl is not None:
        row["cl_ord_id"] = cl
    for other in ex.sessions:
        if other.executions_of == account_id:
            other.queue_executions([row])
            if other is not session and ex.on_push is not None:
                ex.on_push(other)
    result: dict[str, object] = {"amend_id": amend_id}
    if params.get("order_id") is not None:
        result["order_id"] = params["order_id"]
    else:
        result["cl_ord_id"] = params["cl_ord_id"]
    return [result]


def edit_order(session: KrakenSession, params: Mapping[str, object], now: int) -> Sequence[object]:
    """``edit_order``: cancel an order and place its replacement (a new ``order_id``);
    the result is ``{"order_id": new, "original_order_id": old}``. Fields not given are
    the original's (side, type, quantity, price, time in force)."""
    ex = session.exchange
    account_id = ex.account_of(params.get("token"))
    view = _find(ex, account_id, params.get("order_id"))
    if params.get("symbol") not in (None, view.symbol):
        raise KrakenError(INVALID_ARGUMENTS + ":symbol")
    replacement: dict[str, object] = {
        "order_type": view.order_type.value.lower(),
        "side": view.side.value.lower(),
        "order_qty": params.get("order_qty", view.orig_qty - view.executed_qty),
        "time_in_force": view.time_in_force.value.lower(),
    }
    if view.order_type is OrderType.LIMIT:
        replacement["limit_price"] = params.get("limit_price", view.price)
    for name in ("order_userref", "post_only"):
        if name in params:
            replacement[name] = params[name]
    # validate before anything changes: a refused edit leaves the original standing
    ex.place_order(account_id, view.symbol, {**replacement, "validate": True}, session)
    original = ex.order_id(view.order_id)
    canceled = ex.cancel_one(account_id, view)
    ex.publish(canceled, session)
    placed = ex.place_order(account_id, view.symbol, replacement, session)
    return [{"order_id": placed["order_id"], "original_order_id": original}]


METHODS.update(
    {
        "batch_add": batch_add,
        "batch_cancel": batch_cancel,
        "amend_order": amend_order,
        "edit_order": edit_order,
    }
)

"""The Binance WebSocket API methods: one function per ``method``, registered by name.

Each handler takes the session, the request ``params`` and the server time and returns
the ``result`` body or raises ``ApiError``; parameters and results follow the method's
section of ``web-socket-api.md``. The session dispatches through ``exchange.METHODS``,
which this module fills when the package is imported: the import goes one way, from the
methods to the session they serve. Knows the session's public face only (no transport).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TypeVar

from whalewire.emulator.accounts import KeyType
from whalewire.emulator.binance import rules
from whalewire.emulator.binance.exchange import METHODS, BinanceSession, Handler
from whalewire.emulator.binance.render import (
    account_trade,
    cancel_result,
    order_result,
    order_status,
)
from whalewire.emulator.binance.rules import fmt
from whalewire.emulator.matching import (
    CancelOrder,
    CommandRejected,
    OrderCanceled,
    OrderTraded,
    OrderType,
    PlaceOrder,
    RejectReason,
    Side,
    SymbolSpec,
    TimeInForce,
    Trade,
)

REJECT_MESSAGES = {
    RejectReason.INSUFFICIENT_BALANCE: rules.INSUFFICIENT_BALANCE,
    RejectReason.DUPLICATE_ORDER: rules.DUPLICATE_ORDER,
    RejectReason.WOULD_TAKE: rules.WOULD_TAKE,
    RejectReason.WOULD_TRIGGER: rules.WOULD_TRIGGER,
}
#: the order types beyond LIMIT and MARKET ("order.place", "Mandatory parameters based on
#: type"): what each runs as once triggered, and whether it triggers when the last price
#: rises to stopPrice (by side). STOP_LOSS: "SELL ... price <= stopPrice; BUY ... price >=
#: stopPrice"; TAKE_PROFIT the other way round.
_CONDITIONAL: dict[str, tuple[OrderType, dict[Side, bool]]] = {
    "STOP_LOSS": (OrderType.MARKET, {Side.BUY: True, Side.SELL: False}),
    "STOP_LOSS_LIMIT": (OrderType.LIMIT, {Side.BUY: True, Side.SELL: False}),
    "TAKE_PROFIT": (OrderType.MARKET, {Side.BUY: False, Side.SELL: True}),
    "TAKE_PROFIT_LIMIT": (OrderType.LIMIT, {Side.BUY: False, Side.SELL: True}),
}


def _ping(session: BinanceSession, params: dict[str, object], now: int) -> object:
    return {}


def _time(session: BinanceSession, params: dict[str, object], now: int) -> object:
    return {"serverTime": now}


def _exchange_info(session: BinanceSession, params: dict[str, object], now: int) -> object:
    specs = session.exchange.engine.specs
    names: list[str] = list(specs)
    symbol = rules.get_str(params, "symbol")
    symbols = params.get("symbols")
    if symbol is not None:
        names = [symbol]
    elif isinstance(symbols, list):
        names = [str(s) for s in symbols]
    if any(name not in specs for name in names):
        raise rules.invalid_symbol()
    config = session.exchange.config
    limits = [config.request_weight, *config.orders, config.connections]
    return {
        "timezone": "UTC",
        "serverTime": now,
        "rateLimits": [
            {
                "rateLimitType": lim.limit_type,
                "interval": lim.interval.value,
                "intervalNum": lim.interval_num,
                "limit": lim.limit,
            }
            for lim in limits
        ],
        "exchangeFilters": [],
        "symbols": [rules.symbol_info(specs[name]) for name in names],
    }


def _depth(session: BinanceSession, params: dict[str, object], now: int) -> object:
    spec = symbol_spec(session, params)
    limit = rules.get_int(params, "limit") or 100
    # the id the Diff. Depth Stream continues from (streams.py, market.py)
    last_update_id, bids, asks = session.exchange.tape.snapshot(spec.symbol)
    return {
        "lastUpdateId": last_update_id,
        "bids": [[fmt(p), fmt(q)] for p, q in bids[:limit]],
        "asks": [[fmt(p), fmt(q)] for p, q in asks[:limit]],
    }


def _logon(session: BinanceSession, params: dict[str, object], now: int) -> object:
    key = session.authorize(params, now)
    # "Only Ed25519 keys are supported for this feature." ("Session Authentication")
    if key.key_type is not KeyType.ED25519:
        raise rules.rejected_api_key()
    session.key = key
    session.authorized_since = now
    return session.session_status(now)


def _session_status(session: BinanceSession, params: dict[str, object], now: int) -> object:
    return session.session_status(now)


def _logout(session: BinanceSession, params: dict[str, object], now: int) -> object:
    session.key = session.authorized_since = None
    return session.session_status(now)


def symbol_spec(session: BinanceSession, params: Mapping[str, object]) -> SymbolSpec:
    """Return the rules of the required ``symbol`` parameter (-1102 missing, -1121 unknown)."""
    name = rules.get_str(params, "symbol", required=True)
    spec = session.exchange.engine.specs.get(name or "")
    if spec is None:
        raise rules.invalid_symbol()
    return spec


def parse_order(
    session: BinanceSession, params: Mapping[str, object], account_id: str
) -> tuple[PlaceOrder, str]:
    """Validate ``order.place`` params (presence, enums, filters) into a command."""
    spec = symbol_spec(session, params)
    side_text = rules.get_str(params, "side", required=True)
    type_text = rules.get_str(params, "type", required=True)
    if side_text not in ("BUY", "SELL"):
        raise rules.invalid_side()
    if type_text not in ("LIMIT", "MARKET", "LIMIT_MAKER", *_CONDITIONAL):
        raise rules.invalid_order_type()
    assert type_text is not None
    side = Side(side_text)
    conditional = _CONDITIONAL.get(type_text)
    stop_price = rules.get_decimal(params, "stopPrice")
    # "Trailing Stop FAQ": trailingDelta (BIPS) makes a conditional order trail; with a
    # stopPrice too, it starts trailing once the stopPrice condition is met
    trailing = rules.get_int(params, "trailingDelta")
    if params.get("icebergQty") is not None:
        # exchangeInfo says "icebergAllowed": false: a hidden size is not modelled, and an
        # order must not be placed as if it were visible in full
        raise rules.not_required("icebergQty")
    if conditional is not None:
        order_type = conditional[0]
        if stop_price is None and trailing is None:
            raise rules.one_of("stopPrice", "trailingDelta")
        if stop_price is not None:
            rules.check_price_filter(spec, stop_price)
        if trailing is not None:
            rules.check_trailing_delta(trailing)
        if order_type is OrderType.MARKET and rules.get_decimal(params, "quoteOrderQty"):
            raise rules.not_required("quoteOrderQty")
    elif stop_price is not None:
        raise rules.not_required("stopPrice")
    elif trailing is not None:
        raise rules.not_required("trailingDelta")
    else:
        order_type = OrderType.MARKET if type_text == "MARKET" else OrderType.LIMIT
    quantity = rules.get_decimal(params, "quantity")
    quote_qty = rules.get_decimal(params, "quoteOrderQty")
    price = rules.get_decimal(params, "price")
    tif_text = rules.get_str(params, "timeInForce")
    client_id = params.get("newClientOrderId")
    if client_id == "":
        raise rules.empty_client_order_id()
    resp_type = rules.get_str(params, "newOrderRespType") or "FULL"
    if resp_type not in ("ACK", "RESULT", "FULL"):
        raise rules.invalid_parameter("newOrderRespType")
    engine = session.exchange.engine
    if type_text == "LIMIT_MAKER":
        # "LIMIT_MAKER: quantity, price"; it never takes, so it has no timeInForce
        if tif_text is not None:
            raise rules.not_required("timeInForce")
        tif_text = "GTC"
    if order_type is OrderType.LIMIT:
        # "LIMIT: timeInForce, price, quantity" are mandatory
        if tif_text is None:
            raise rules.mandatory("timeInForce")
        if price is None:
            raise rules.mandatory("price")
        if quantity is None:
            raise rules.mandatory("quantity")
        if quote_qty is not None:
            raise rules.not_required("quoteOrderQty")
        if tif_text not in ("GTC", "IOC", "FOK"):
            raise rules.invalid_tif()
        rules.check_price_filter(spec, price)
        rules.check_lot_size(spec, quantity)
        rules.check_notional(spec, price * quantity, is_market=False)
        tif = TimeInForce(tif_text)
    else:
        # "MARKET: quantity or quoteOrderQty"
        if quantity is None and quote_qty is None:
            raise rules.one_of("quantity", "quoteOrderQty")
        if quantity is not None and quote_qty is not None:
            raise rules.not_required("quoteOrderQty")
        if tif_text is not None:
            raise rules.not_required("timeInForce")
        if price is not None:
            raise rules.not_required("price")
        if quantity is not None:
            rules.check_lot_size(spec, quantity)
            notional = quantity * engine.reference_price(spec.symbol)
        else:
            assert quote_qty is not None
            notional = quote_qty
        rules.check_notional(spec, notional, is_market=True)
        tif = TimeInForce.GTC
    cmd = PlaceOrder(
        account_id,
        spec.symbol,
        side,
        order_type,
        quantity=quantity,
        quote_quantity=quote_qty,
        price=price,
        time_in_force=tif,
        client_order_id=str(client_id) if client_id is not None else "",
        post_only=type_text == "LIMIT_MAKER",
        stop_price=stop_price,
        trigger_above=conditional[1][side] if conditional is not None else False,
        refuse_triggered=True,
        label=type_text if type_text not in ("LIMIT", "MARKET") else "",
        trail=Decimal(trailing) / rules.BIPS if trailing is not None else None,
        trail_relative=True,
    )
    return cmd, resp_type


def _order_place(session: BinanceSession, params: dict[str, object], now: int) -> object:
    key = session.authorize(params, now)
    # the ORDERS limits are checked (and reported in rateLimits) for every order request
    usage = session.charge_order(key.account_id, now)
    cmd, resp_type = parse_order(session, params, key.account_id)
    result = _place(session, cmd, resp_type, now)
    usage.add(now, 1)
    return result


def _place(session: BinanceSession, cmd: PlaceOrder, resp_type: str, now: int) -> object:
    """Run a validated order through the engine; return the order.place body or raise."""
    engine = session.exchange.engine
    if cmd.quote_quantity is not None:
        spec = engine.specs[cmd.symbol]
        if engine.executable_qty(cmd.symbol, cmd.side, cmd.quote_quantity) < spec.min_qty:
            raise rules.new_order_rejected(rules.NO_LIQUIDITY)
    events = engine.place(cmd)
    first = events[0]
    if isinstance(first, CommandRejected):
        raise rules.new_order_rejected(REJECT_MESSAGES[first.reason])
    order_id = first.order.order_id
    final = first.order
    fills: list[Trade] = []
    for event in events:
        if isinstance(event, CommandRejected) or event.order.order_id != order_id:
            continue
        final = event.order
        if isinstance(event, OrderTraded):
            fills.append(event.trade)
    session.exchange.publish(events, origin=session)
    return order_result(final, resp_type, fills, now)


#: "Available cancelReplaceMode options" (order.cancelReplace)
_CANCEL_REPLACE_MODES = ("STOP_ON_FAILURE", "ALLOW_FAILURE")


def _cancel_replace(session: BinanceSession, params: dict[str, object], now: int) -> object:
    # "Cancel and replace order (TRADE)": not transactional; filters and order count
    # limits are checked before either step, and the order count grows even when the new
    # order is not attempted
    key = session.authorize(params, now)
    usage = session.charge_order(key.account_id, now)
    spec = symbol_spec(session, params)
    mode = rules.get_str(params, "cancelReplaceMode", required=True)
    if mode not in _CANCEL_REPLACE_MODES:
        raise rules.invalid_parameter("cancelReplaceMode")
    cancel_id = rules.get_int(params, "cancelOrderId")
    cancel_client_id = rules.get_str(params, "cancelOrigClientOrderId") or ""
    if cancel_id is None and not cancel_client_id:
        raise rules.one_of("cancelOrderId", "cancelOrigClientOrderId")
    cmd, resp_type = parse_order(session, params, key.account_id)
    usage.add(now, 1)
    new_id = rules.get_str(params, "cancelNewClientOrderId") or ""
    engine = session.exchange.engine
    events = engine.cancel(
        CancelOrder(key.account_id, spec.symbol, cancel_id, cancel_client_id, new_id)
    )
    canceled = events[0]
    cancel_body: object
    if isinstance(canceled, OrderCanceled):
        session.exchange.publish(events, origin=session)
        cancel_ok, cancel_body = True, cancel_result(canceled.order, now)
    else:
        failure = rules.cancel_rejected()
        cancel_ok, cancel_body = False, {"code": failure.code, "msg": failure.msg}
    new_body: object = None
    new_result = "NOT_ATTEMPTED"
    if cancel_ok or mode == "ALLOW_FAILURE":
        try:
            new_body, new_result = _place(session, cmd, resp_type, now), "SUCCESS"
        except rules.ApiError as exc:
            new_body, new_result = {"code": exc.code, "msg": exc.msg}, "FAILURE"
    outcome = {
        "cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
        "newOrderResult": new_result,
        "cancelResponse": cancel_body,
        "newOrderResponse": new_body,
    }
    if cancel_ok and new_result == "SUCCESS":
        return outcome
    if cancel_ok or new_result == "SUCCESS":
        raise rules.ApiError(409, -2021, "Order cancel-replace partially failed.", outcome)
    raise rules.ApiError(400, -2022, "Order cancel-replace failed.", outcome)


def _order_test(session: BinanceSession, params: dict[str, object], now: int) -> object:
    key = session.authorize(params, now)
    parse_order(session, params, key.account_id)
    return {}


def _order_lookup(params: Mapping[str, object]) -> tuple[int | None, str]:
    order_id = rules.get_int(params, "orderId")
    client_id = rules.get_str(params, "origClientOrderId") or ""
    if order_id is None and not client_id:
        raise rules.one_of("orderId", "origClientOrderId")
    return order_id, client_id


def _order_status(session: BinanceSession, params: dict[str, object], now: int) -> object:
    key = session.authorize(params, now)
    spec = symbol_spec(session, params)
    order_id, client_id = _order_lookup(params)
    view = session.exchange.engine.get_order(key.account_id, spec.symbol, order_id, client_id)
    if view is None:
        raise rules.no_such_order()
    return order_status(view)


def _order_cancel(session: BinanceSession, params: dict[str, object], now: int) -> object:
    key = session.authorize(params, now)
    spec = symbol_spec(session, params)
    order_id, client_id = _order_lookup(params)
    new_id = rules.get_str(params, "newClientOrderId") or ""
    cmd = CancelOrder(key.account_id, spec.symbol, order_id, client_id, new_id)
    events = session.exchange.engine.cancel(cmd)
    event = events[0]
    if not isinstance(event, OrderCanceled):
        raise rules.cancel_rejected()
    session.exchange.publish(events, origin=session)
    return cancel_result(event.order, now)


def _open_orders(session: BinanceSession, params: dict[str, object], now: int) -> object:
    key = session.authorize(params, now)
    symbol = symbol_spec(session, params).symbol if params.get("symbol") is not None else None
    return [order_status(v) for v in session.exchange.engine.open_orders(key.account_id, symbol)]


_T = TypeVar("_T")

#: "Default: 500; Maximum: 1000" and "can't be longer than 24 hours" (``allOrders``)
_HISTORY_LIMIT = (500, 1000)
_HISTORY_SPAN_MS = 24 * 3_600_000


def _history_range(params: Mapping[str, object]) -> tuple[int | None, int | None]:
    start = rules.get_int(params, "startTime")
    end = rules.get_int(params, "endTime")
    if start is not None and end is not None and end - start > _HISTORY_SPAN_MS:
        raise rules.interval_too_big(24)
    return start, end


def _all_orders(session: BinanceSession, params: dict[str, object], now: int) -> object:
    # "Account order history (USER_DATA)": every order of the account on the symbol,
    # open or not, oldest first (lists are chronological)
    key = session.authorize(params, now)
    spec = symbol_spec(session, params)
    start, end = _history_range(params)
    from_id = rules.get_int(params, "orderId")
    limit = rules.get_limit(params, *_HISTORY_LIMIT)
    engine = session.exchange.engine
    found = (
        engine.get_order(key.account_id, spec.symbol, oid) for oid in range(1, engine.next_order_id)
    )
    orders = [view for view in found if view is not None]
    # "If startTime and/or endTime are specified, orderId is ignored. Orders are
    # filtered by time of the last execution status update."
    window = (start, end, now)
    picked = _page(orders, window, from_id, limit, lambda v: (v.update_time, v.order_id))
    return [order_status(v) for v in picked]


def _page(
    items: list[_T],
    window: tuple[int | None, int | None, int],
    from_id: int | None,
    limit: int,
    time_and_id: Callable[[_T], tuple[int, int]],
) -> list[_T]:
    """Page a chronological history as ``allOrders`` and ``myTrades`` do: the first
    ``limit`` inside ``startTime``..``endTime`` (either given), else from ``fromId`` on,
    else "the most recent" ``limit``."""
    start, end, now = window
    if start is not None or end is not None:
        lo, hi = start if start is not None else 0, end if end is not None else now
        return [x for x in items if lo <= time_and_id(x)[0] <= hi][:limit]
    if from_id is not None:
        return [x for x in items if time_and_id(x)[1] >= from_id][:limit]
    return items[-limit:]


def _my_trades(session: BinanceSession, params: dict[str, object], now: int) -> object:
    # "Account trade history (USER_DATA)": the account's fills on the symbol, oldest first
    key = session.authorize(params, now)
    spec = symbol_spec(session, params)
    start, end = _history_range(params)
    order_id = rules.get_int(params, "orderId")
    from_id = rules.get_int(params, "fromId")
    limit = rules.get_limit(params, *_HISTORY_LIMIT)
    timed = start is not None or end is not None
    # "fromId cannot be used together with startTime and endTime"; "startTime and
    # endTime cannot be used together with orderId"
    if timed and (from_id is not None or order_id is not None):
        raise rules.bad_combination()
    fills = [
        f
        for f in session.exchange.fills
        if f.order.account_id == key.account_id
        and f.order.symbol == spec.symbol
        and (order_id is None or f.order.order_id == order_id)
    ]
    # "trades are filtered by execution time (time)"
    picked = _page(fills, (start, end, now), from_id, limit, lambda f: (f.ts, f.trade.trade_id))
    return [account_trade(f) for f in picked]


def _cancel_all(session: BinanceSession, params: dict[str, object], now: int) -> object:
    key = session.authorize(params, now)
    spec = symbol_spec(session, params)
    events = session.exchange.engine.cancel_all(key.account_id, spec.symbol)
    if not events:
        raise rules.cancel_rejected()
    session.exchange.publish(events, origin=session)
    return [cancel_result(e.order, now) for e in events if isinstance(e, OrderCanceled)]


def _bips(rate: Decimal) -> int:
    return int(rate * 10_000)


def _account_status(session: BinanceSession, params: dict[str, object], now: int) -> object:
    key = session.authorize(params, now)
    account = session.exchange.registry.accounts[key.account_id]
    fees = session.exchange.config.fees
    omit_zero = rules.get_bool(params, "omitZeroBalances") or False
    balances = [
        {"asset": asset, "free": fmt(bal.free), "locked": fmt(bal.locked)}
        for asset, bal in sorted(account.balances.items())
        if not (omit_zero and bal.free == 0 and bal.locked == 0)
    ]
    return {
        "makerCommission": _bips(fees.maker),
        "takerCommission": _bips(fees.taker),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "commissionRates": {
            "maker": fmt(fees.maker),
            "taker": fmt(fees.taker),
            "buyer": fmt(Decimal(0)),
            "seller": fmt(Decimal(0)),
        },
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": account.update_time,
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": account.uid,
    }


def _uds_subscribe(session: BinanceSession, params: dict[str, object], now: int) -> object:
    # "This method requires an authenticated WebSocket connection" (session.logon)
    if session.key is None:
        raise rules.unauthorized()
    return {"subscriptionId": session.subscribe(session.key.account_id)}


def _uds_subscribe_signature(
    session: BinanceSession, params: dict[str, object], now: int
) -> object:
    if rules.get_str(params, "apiKey") is None:
        raise rules.mandatory("apiKey")
    key = session.authorize(params, now)
    return {"subscriptionId": session.subscribe(key.account_id)}


def _uds_unsubscribe(session: BinanceSession, params: dict[str, object], now: int) -> object:
    sub_id = rules.get_int(params, "subscriptionId")
    if sub_id is None:
        session.subscriptions.clear()
    else:
        session.subscriptions.pop(sub_id, None)
    return {}


def _session_subscriptions(session: BinanceSession, params: dict[str, object], now: int) -> object:
    return [{"subscriptionId": sub_id} for sub_id in session.subscriptions]


_HANDLERS: dict[str, Handler] = {
    "ping": _ping,
    "time": _time,
    "exchangeInfo": _exchange_info,
    "depth": _depth,
    "session.logon": _logon,
    "session.status": _session_status,
    "session.logout": _logout,
    "session.subscriptions": _session_subscriptions,
    "order.place": _order_place,
    "order.test": _order_test,
    "order.status": _order_status,
    "order.cancel": _order_cancel,
    "order.cancelReplace": _cancel_replace,
    "openOrders.status": _open_orders,
    "openOrders.cancelAll": _cancel_all,
    "allOrders": _all_orders,
    "myTrades": _my_trades,
    "account.status": _account_status,
    "userDataStream.subscribe": _uds_subscribe,
    "userDataStream.subscribe.signature": _uds_subscribe_signature,
    "userDataStream.unsubscribe": _uds_unsubscribe,
}
METHODS.update(_HANDLERS)

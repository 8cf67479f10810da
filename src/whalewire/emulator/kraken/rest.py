"""Kraken's private REST calls for trading and account data: ``Balance``, ``QueryOrders``,
``TradesHistory``, ``AddOrder`` and ``CancelOrder``.

Form-encoded POSTs under ``/0/private/``, authenticated by ``exchange.KrakenExchange.rest``
(``API-Key``, ``API-Sign``, nonce) like ``OpenOrders``; each call here gets the account and
the decoded form and returns the ``result`` ("Spot REST API" reference pages of the same
names; ``BalanceEx`` too, which ccxt reads). Orders go through the same ``place_order``
and ``cancel_one`` as WebSocket v2, so both APIs see one order book and one set of
balances. Registers itself when imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from whalewire.emulator.kraken.errors import (
    INVALID_ARGUMENTS,
    UNKNOWN_ORDER,
    UNKNOWN_PAIR,
    KrakenError,
)
from whalewire.emulator.kraken.exchange import REST_HANDLERS, KrakenExchange
from whalewire.emulator.kraken.render import exec_id, order_info

#: Kraken's REST asset codes ("Get Asset Info": XXBT, XETH, ZUSD); others are as named
REST_ASSETS = {"BTC": "XXBT", "ETH": "XETH", "USD": "ZUSD", "EUR": "ZEUR"}
#: "QueryOrders" with a txid the account does not have
INVALID_ORDER = "EOrder:Invalid order"
#: "QueryOrders": "txid: Comma delimited list of transaction IDs to query info about
#: (50 maximum)"
QUERY_MAX = 50


def _balance(ex: KrakenExchange, account_id: str, params: Mapping[str, str]) -> object:
    """``Balance``: every asset's total (free plus held by orders), as a decimal string."""
    account = ex.registry.accounts[account_id]
    return {
        REST_ASSETS.get(asset, asset): f"{bal.free + bal.locked:.{4 if asset == 'USD' else 10}f}"
        for asset, bal in sorted(account.balances.items())
    }


def _balance_ex(ex: KrakenExchange, account_id: str, params: Mapping[str, str]) -> object:
    """``BalanceEx`` ("Get Extended Balance"): per asset ``balance`` (total) and
    ``hold_trade`` (held by open orders); no credit lines."""
    account = ex.registry.accounts[account_id]
    out: dict[str, object] = {}
    for asset, bal in sorted(account.balances.items()):
        places = 4 if asset == "USD" else 10
        out[REST_ASSETS.get(asset, asset)] = {
            "balance": f"{bal.free + bal.locked:.{places}f}",
            "hold_trade": f"{bal.locked:.{places}f}",
        }
    return out


def _query_orders(ex: KrakenExchange, account_id: str, params: Mapping[str, str]) -> object:
    """``QueryOrders``: the named orders (open or closed) by txid."""
    ids = [t for t in params.get("txid", "").split(",") if t]
    if not ids or len(ids) > QUERY_MAX:
        raise KrakenError(INVALID_ARGUMENTS + ":txid")
    out: dict[str, object] = {}
    for txid in ids:
        view = ex.view(account_id, ex.engine_id(txid))
        if view is None:
            raise KrakenError(INVALID_ORDER)
        info = order_info(ex, view)
        if params.get("trades") == "true":
            info["trades"] = [
                exec_id(ex, t.trade_id, t.is_maker) for t in ex.engine.trades_of(view.order_id)
            ]
        out[txid] = info
    return out


def _trades_history(ex: KrakenExchange, account_id: str, params: Mapping[str, str]) -> object:
    """``TradesHistory``: the account's fills, newest first, keyed by trade (exec) id."""
    rows: list[tuple[int, str, dict[str, object]]] = []
    for view in ex.placed_orders(account_id):
        spec = ex.engine.specs[view.symbol]
        for trade in ex.engine.trades_of(view.order_id):
            rows.append(
                (
                    trade.trade_id,
                    exec_id(ex, trade.trade_id, trade.is_maker),
                    {
                        "ordertxid": ex.order_id(view.order_id),
                        "postxid": exec_id(ex, trade.trade_id, not trade.is_maker),
                        "pair": spec.base + spec.quote,
                        "time": view.update_time / 1000,
                        "type": view.side.value.lower(),
                        "ordertype": view.order_type.value.lower(),
                        "price": str(trade.price),
                        "cost": str(trade.quote_qty),
                        "fee": str(trade.commission),
                        "vol": str(trade.qty),
                        "margin": "0.00000",
                        "leverage": "0",
                        "misc": "",
                        "trade_id": trade.trade_id,
                        "maker": trade.is_maker,
                    },
                )
            )
    rows.sort(key=lambda r: r[0], reverse=True)
    offset = int(params.get("ofs", "0") or 0) if params.get("ofs", "0").isdigit() else 0
    # "Results returned in reverse chronological order, 50 results at a time"
    page = rows[offset : offset + 50]
    return {"trades": {key: body for _, key, body in page}, "count": len(rows)}


def _symbol(ex: KrakenExchange, pair: str) -> str:
    """The v2 symbol of a REST ``pair``: "BTC/USD", "XBTUSD" or "XXBTZUSD" all name it."""
    for spec in ex.engine.specs.values():
        base = REST_ASSETS.get(spec.base, spec.base)
        quote = REST_ASSETS.get(spec.quote, spec.quote)
        names = {
            spec.symbol,
            spec.base + spec.quote,
            base[1:] + quote[1:] if len(base) == 4 else "",
            base + quote,
        }
        if pair in names:
            return spec.symbol
    raise KrakenError(UNKNOWN_PAIR)


def _add_order(ex: KrakenExchange, account_id: str, params: Mapping[str, str]) -> object:
    """``AddOrder``: ``ordertype`` (market, limit), ``type``, ``volume``, ``pair``,
    ``price``, ``oflags`` (``post``), ``timeinforce`` (GTC, IOC), ``cl_ord_id``,
    ``userref``, ``validate``; the answer is ``descr.order`` and ``txid``."""
    symbol = _symbol(ex, params.get("pair", ""))
    flags = {f for f in params.get("oflags", "").split(",") if f}
    order: dict[str, object] = {
        "order_type": params.get("ordertype"),
        "side": params.get("type"),
        "order_qty": params.get("volume"),
        "time_in_force": params.get("timeinforce", "GTC").lower(),
        "post_only": "post" in flags,
        "validate": params.get("validate") == "true",
    }
    if "price" in params:
        order["limit_price"] = params["price"]
    if "cl_ord_id" in params:
        order["cl_ord_id"] = params["cl_ord_id"]
    if "userref" in params:
        if not params["userref"].lstrip("-").isdigit():
            raise KrakenError(INVALID_ARGUMENTS + ":userref")
        order["order_userref"] = int(params["userref"])
    placed = ex.place_order(account_id, symbol, order, None)
    spec = ex.engine.specs[symbol]
    text = f"{params.get('type')} {Decimal(str(order['order_qty'])):.8f} {spec.base}{spec.quote}"
    text += f" @ limit {params['price']}" if "price" in params else " @ market"
    answer: dict[str, object] = {"descr": {"order": text}}
    if placed:
        answer["txid"] = [placed["order_id"]]
    return answer


def _cancel_order(ex: KrakenExchange, account_id: str, params: Mapping[str, str]) -> object:
    """``CancelOrder``: by ``txid`` (an order id or a ``cl_ord_id``) or ``cl_ord_id``;
    ``{"count": 1}``, or ``EOrder:Unknown order``."""
    ident = params.get("txid") or params.get("cl_ord_id") or ""
    view = ex.view(account_id, ex.engine_id(ident)) or ex.open_by_cl_ord_id(account_id, ident)
    if view is None or not view.is_open:
        raise KrakenError(UNKNOWN_ORDER)
    ex.publish(ex.cancel_one(account_id, view), None)
    return {"count": 1}


REST_HANDLERS.update(
    {
        "/0/private/Balance": _balance,
        "/0/private/BalanceEx": _balance_ex,
        "/0/private/QueryOrders": _query_orders,
        "/0/private/TradesHistory": _trades_history,
        "/0/private/AddOrder": _add_order,
        "/0/private/CancelOrder": _cancel_order,
    }
)

"""Binance WebSocket API market-data and account-limit methods, over the emulator's trade tape.

``ticker.price``, ``ticker.book``, ``avgPrice``, ``klines``, ``uiKlines``, ``trades.recent``,
``trades.historical``, ``trades.aggregate``, ``ticker.24hr``, ``ticker.tradingDay`` and
``ticker`` ("Market data requests" in ``web-socket-api.md``), and ``account.commission`` /
``account.rateLimits.orders`` ("Account requests"). Statistics are computed on demand from
the fills the exchange keeps (``BinanceExchange.fills``, the taker's side of each trade):
the emulator has no history before it started, so a kline or ticker covers only what traded
since. Registers its handlers and its symbol-dependent weights when imported (by
``methods``). Knows no transport.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from whalewire.emulator.binance import rules
from whalewire.emulator.binance.exchange import (
    METHODS,
    WEIGHT_RULES,
    WEIGHTS,
    BinanceSession,
    render_counters,
)
from whalewire.emulator.binance.methods import symbol_spec
from whalewire.emulator.binance.rules import fmt
from whalewire.emulator.matching import OrderTraded, Side, SymbolSpec

ZERO = Decimal(0)
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
#: "avgPrice": the average is taken over this many minutes ("mins" in the answer)
AVG_PRICE_MINS = 5
#: kline intervals ("klines", "Supported kline intervals"); 1M is calendar months
INTERVALS_MS: dict[str, int] = {
    "1s": 1000,
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
    "1M": 31 * DAY_MS,  # bucketed by calendar month, not by this length
}
#: weeks open on Monday: 1970-01-05, four days after the epoch
_WEEK_OFFSET_MS = 4 * DAY_MS


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """One trade as the market sees it: the taker's fill."""

    trade_id: int
    price: Decimal
    qty: Decimal
    time: int
    #: the taker sold, so the buyer was the maker
    buyer_maker: bool
    #: the taker order's id: trades of one taker at one price and time aggregate
    taker_order: int


def tape(session: BinanceSession, symbol: str) -> list[PublicTrade]:
    """Return the symbol's trades, oldest first, from the exchange's kept fills."""
    return [
        PublicTrade(
            e.trade.trade_id,
            e.trade.price,
            e.trade.qty,
            e.ts,
            e.order.side is Side.SELL,
            e.order.order_id,
        )
        for e in session.exchange.fills
        if isinstance(e, OrderTraded) and not e.trade.is_maker and e.order.symbol == symbol
    ]


# ------------------------------------------------------------------ parameters


def _symbols(
    session: BinanceSession, params: Mapping[str, object], *, required: bool = False
) -> tuple[list[SymbolSpec], bool]:
    """Return the specs ``symbol`` / ``symbols`` name (all when neither) and whether one
    ``symbol`` was named. "``symbol`` and ``symbols`` cannot be used together." (-1128)"""
    specs = session.exchange.engine.specs
    one, many = params.get("symbol"), params.get("symbols")
    if one is not None and many is not None:
        raise rules.bad_combination()
    # "symbolStatus: Filters for symbols that have this tradingStatus. For a single symbol,
    # a status mismatch returns error -1220 SYMBOL_DOES_NOT_MATCH_STATUS. For multiple or
    # all symbols, non-matching ones are simply excluded." Every emulated symbol TRADES.
    status = params.get("symbolStatus")
    if status is not None and status not in ("TRADING", "HALT", "BREAK"):
        raise rules.invalid_parameter("symbolStatus")
    if status not in (None, "TRADING"):
        if one is not None:
            symbol_spec(session, params)  # an unknown symbol is -1121 first
            raise rules.ApiError(
                400, -1220, "The symbol's status does not match the requested symbolStatus."
            )
        return [], False
    if one is not None:
        return [symbol_spec(session, params)], True
    if many is None:
        if required:
            raise rules.one_of("symbol", "symbols")
        return list(specs.values()), False
    if not isinstance(many, list) or not many or not all(isinstance(s, str) for s in many):
        raise rules.mandatory("symbols")
    if len(many) > 100:
        raise rules.too_large("symbols", "100")
    if any(name not in specs for name in many):
        raise rules.invalid_symbol()
    return [specs[str(name)] for name in many], False


def _count(params: Mapping[str, object]) -> int | None:
    """The number of symbols a request names (None: all), for its weight."""
    if params.get("symbol") is not None:
        return 1
    many = params.get("symbols")
    return len(many) if isinstance(many, list) else None


def _time_zone(params: Mapping[str, object]) -> int:
    """Return ``timeZone`` as an offset in ms: "Hours and minutes (e.g. -1:00, 05:45)" or
    "Only hours (e.g. 0, 8, 4)"; "Accepted range is strictly [-12:00 to +14:00]"."""
    raw = params.get("timeZone")
    if raw is None or raw == "":
        return 0
    text = str(raw)
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    hours, _, minutes = body.partition(":")
    if not hours.isdigit() or (minutes and not (minutes.isdigit() and len(minutes) == 2)):
        raise rules.invalid_parameter("timeZone")
    offset = sign * (int(hours) * HOUR_MS + int(minutes or 0) * MINUTE_MS)
    if not -12 * HOUR_MS <= offset <= 14 * HOUR_MS or (minutes and int(minutes) >= 60):
        raise rules.invalid_parameter("timeZone")
    return offset


def _ticker_type(params: Mapping[str, object]) -> bool:
    """Return whether ``type`` asks for MINI ("Supported values: FULL (default) or MINI")."""
    kind = params.get("type", "FULL")
    if kind not in ("FULL", "MINI"):
        raise rules.invalid_parameter("type")
    return kind == "MINI"


def _window(params: Mapping[str, object]) -> int:
    """``windowSize`` of ``ticker``: 1m..59m, 1h..23h, 1d..7d (default 1d)."""
    text = str(params.get("windowSize", "1d"))
    units = {"m": (MINUTE_MS, 59), "h": (HOUR_MS, 23), "d": (DAY_MS, 7)}
    unit = units.get(text[-1:])
    if unit is None or not text[:-1].isdigit() or not 1 <= int(text[:-1]) <= unit[1]:
        raise rules.invalid_parameter("windowSize")
    return int(text[:-1]) * unit[0]


# ------------------------------------------------------------------ statistics


def _stats(
    trades: list[PublicTrade], spec: SymbolSpec, open_ms: int, close_ms: int, *, mini: bool
) -> dict[str, object]:
    """One symbol's price change statistics over [open_ms, close_ms] (FULL or MINI).

    With no trade in the window the prices are zero and ``firstId``/``lastId`` are -1, as
    Binance answers for a quiet symbol.
    """
    inside = [t for t in trades if open_ms <= t.time <= close_ms]
    volume = sum((t.qty for t in inside), ZERO)
    quote = sum((t.qty * t.price for t in inside), ZERO)
    first = inside[0].price if inside else ZERO
    last = inside[-1].price if inside else ZERO
    out: dict[str, object] = {"symbol": spec.symbol}
    if not mini:
        change = last - first
        out["priceChange"] = fmt(change)
        out["priceChangePercent"] = f"{(change * 100 / first if first else ZERO):.3f}"
        out["weightedAvgPrice"] = fmt(quote / volume if volume else ZERO)
    out.update(
        openPrice=fmt(first),
        highPrice=fmt(max((t.price for t in inside), default=ZERO)),
        lowPrice=fmt(min((t.price for t in inside), default=ZERO)),
        lastPrice=fmt(last),
        volume=fmt(volume),
        quoteVolume=fmt(quote),
        openTime=open_ms,
        closeTime=close_ms,
        firstId=inside[0].trade_id if inside else -1,
        lastId=inside[-1].trade_id if inside else -1,
        count=len(inside),
    )
    return out


def _one_or_list(items: list[dict[str, object]], single: bool) -> object:
    # "If more than one symbol is requested, response returns an array"
    return items[0] if single else items


# ------------------------------------------------------------------ handlers


def _ticker_price(session: BinanceSession, params: dict[str, object], now: int) -> object:
    specs, single = _symbols(session, params)
    engine = session.exchange.engine
    items: list[dict[str, object]] = []
    for spec in specs:
        trades = tape(session, spec.symbol)
        price = trades[-1].price if trades else engine.reference_price(spec.symbol)
        items.append({"symbol": spec.symbol, "price": fmt(price)})
    return _one_or_list(items, single)


def _ticker_book(session: BinanceSession, params: dict[str, object], now: int) -> object:
    specs, single = _symbols(session, params)
    items: list[dict[str, object]] = []
    for spec in specs:
        bids, asks = session.exchange.engine.depth(spec.symbol)
        bid = bids[0] if bids else (ZERO, ZERO)
        ask = asks[0] if asks else (ZERO, ZERO)
        items.append(
            {
                "symbol": spec.symbol,
                "bidPrice": fmt(bid[0]),
                "bidQty": fmt(bid[1]),
                "askPrice": fmt(ask[0]),
                "askQty": fmt(ask[1]),
            }
        )
    return _one_or_list(items, single)


def _avg_price(session: BinanceSession, params: dict[str, object], now: int) -> object:
    spec = symbol_spec(session, params)
    trades = tape(session, spec.symbol)
    recent = [t for t in trades if t.time >= now - AVG_PRICE_MINS * MINUTE_MS]
    qty = sum((t.qty for t in recent), ZERO)
    if qty:
        price = sum((t.qty * t.price for t in recent), ZERO) / qty
    else:  # nothing traded lately: the last trade, else the book's mid
        price = trades[-1].price if trades else session.exchange.engine.reference_price(spec.symbol)
    return {
        "mins": AVG_PRICE_MINS,
        "price": fmt(price),
        "closeTime": trades[-1].time if trades else now,
    }


@dataclass(slots=True)
class _Candle:
    """One kline being summed up from its trades."""

    open_ms: int
    close_ms: int
    open: Decimal
    high: Decimal = ZERO
    low: Decimal = ZERO
    close: Decimal = ZERO
    volume: Decimal = ZERO
    quote: Decimal = ZERO
    count: int = 0
    taker_buy: Decimal = ZERO
    taker_buy_quote: Decimal = ZERO

    def add(self, trade: PublicTrade) -> None:
        quote = trade.qty * trade.price
        self.high = max(self.high, trade.price) if self.count else trade.price
        self.low = min(self.low, trade.price) if self.count else trade.price
        self.close = trade.price
        self.volume += trade.qty
        self.quote += quote
        self.count += 1
        if not trade.buyer_maker:  # the taker bought
            self.taker_buy += trade.qty
            self.taker_buy_quote += quote

    def row(self) -> list[object]:
        # "klines" response: open time, OHLC, volume, close time, quote volume, trades,
        # taker buy base and quote volume, and an unused "0"
        return [
            self.open_ms, fmt(self.open), fmt(self.high), fmt(self.low), fmt(self.close),
            fmt(self.volume), self.close_ms, fmt(self.quote), self.count,
            fmt(self.taker_buy), fmt(self.taker_buy_quote), "0",
        ]  # fmt: skip


def _bucket(time_ms: int, interval: str, offset: int) -> tuple[int, int]:
    """Return [open, close] of the kline ``time_ms`` falls in, in UTC ms."""
    local = time_ms + offset
    if interval == "1M":
        moment = datetime.fromtimestamp(local / 1000, UTC)
        first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        after = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
        return int(first.timestamp() * 1000) - offset, int(after.timestamp() * 1000) - offset - 1
    size = INTERVALS_MS[interval]
    shift = _WEEK_OFFSET_MS if interval == "1w" else 0
    start = (local - shift) // size * size + shift - offset
    return start, start + size - 1


def _klines(session: BinanceSession, params: dict[str, object], now: int) -> object:
    """``klines`` / ``uiKlines``: candles over the kept trades; "If startTime and endTime
    are not sent, the most recent klines are returned." Intervals without a trade are
    left out (there is no earlier history to carry a close price from)."""
    spec = symbol_spec(session, params)
    interval = rules.get_str(params, "interval", required=True)
    if interval not in INTERVALS_MS:
        raise rules.invalid_parameter("interval")
    start = rules.get_int(params, "startTime")
    end = rules.get_int(params, "endTime")
    offset = _time_zone(params)
    limit = rules.get_limit(params, 500, 1000)
    candles: dict[int, _Candle] = {}
    for trade in tape(session, spec.symbol):
        if (start is not None and trade.time < start) or (end is not None and trade.time > end):
            continue
        open_ms, close_ms = _bucket(trade.time, interval, offset)
        candle = candles.get(open_ms)
        if candle is None:
            candle = candles[open_ms] = _Candle(open_ms, close_ms, trade.price)
        candle.add(trade)
    rows = [candles[k].row() for k in sorted(candles)]
    return rows[:limit] if start is not None else rows[-limit:]


def _trade_body(trade: PublicTrade) -> dict[str, object]:
    # "trades.recent" / "trades.historical" response fields
    return {
        "id": trade.trade_id,
        "price": fmt(trade.price),
        "qty": fmt(trade.qty),
        "quoteQty": fmt(trade.qty * trade.price),
        "time": trade.time,
        "isBuyerMaker": trade.buyer_maker,
        "isBestMatch": True,
    }


def _trades_recent(session: BinanceSession, params: dict[str, object], now: int) -> object:
    spec = symbol_spec(session, params)
    limit = rules.get_limit(params, 500, 1000)
    return [_trade_body(t) for t in tape(session, spec.symbol)[-limit:]]


def _trades_historical(session: BinanceSession, params: dict[str, object], now: int) -> object:
    spec = symbol_spec(session, params)
    limit = rules.get_limit(params, 500, 1000)
    from_id = rules.get_int(params, "fromId")
    trades = tape(session, spec.symbol)
    if from_id is None:  # "If fromId is not specified, the most recent trades are returned."
        return [_trade_body(t) for t in trades[-limit:]]
    return [_trade_body(t) for t in trades if t.trade_id >= from_id][:limit]


def aggregate(trades: Iterable[PublicTrade]) -> list[list[PublicTrade]]:
    """Group trades as "trades.aggregate" defines an aggregate trade: "Trades that fill at
    the same time, from the same taker order, with the same price"."""
    groups: list[list[PublicTrade]] = []
    for trade in trades:
        last = groups[-1][-1] if groups else None
        if (
            last is not None
            and last.time == trade.time
            and last.taker_order == trade.taker_order
            and last.price == trade.price
        ):
            groups[-1].append(trade)
        else:
            groups.append([trade])
    return groups


def _trades_aggregate(session: BinanceSession, params: dict[str, object], now: int) -> object:
    """Aggregate trade ids are the id of their first trade: unique, increasing and stable
    while the emulator runs (Binance numbers them separately; clients only page by them)."""
    spec = symbol_spec(session, params)
    limit = rules.get_limit(params, 500, 1000)
    from_id = rules.get_int(params, "fromId")
    start = rules.get_int(params, "startTime")
    end = rules.get_int(params, "endTime")
    # "fromId cannot be used together with startTime and endTime."
    if from_id is not None and (start is not None or end is not None):
        raise rules.bad_combination()
    groups = aggregate(tape(session, spec.symbol))
    if from_id is not None:
        groups = [g for g in groups if g[0].trade_id >= from_id][:limit]
    elif start is not None or end is not None:
        groups = [
            g
            for g in groups
            if (start is None or g[0].time >= start) and (end is None or g[0].time <= end)
        ][:limit]
    else:
        groups = groups[-limit:]
    return [
        {
            "a": g[0].trade_id,
            "p": fmt(g[0].price),
            "q": fmt(sum((t.qty for t in g), ZERO)),
            "f": g[0].trade_id,
            "l": g[-1].trade_id,
            "T": g[0].time,
            "m": g[0].buyer_maker,
            "M": True,
        }
        for g in groups
    ]


def _ticker_24hr(session: BinanceSession, params: dict[str, object], now: int) -> object:
    specs, single = _symbols(session, params)
    mini = _ticker_type(params)
    engine = session.exchange.engine
    items: list[dict[str, object]] = []
    for spec in specs:
        trades = tape(session, spec.symbol)
        stats = _stats(trades, spec, now - DAY_MS, now, mini=mini)
        if not mini:
            # "ticker.24hr" FULL adds the previous close, last quantity and the book's top
            before = [t for t in trades if t.time < now - DAY_MS]
            bids, asks = engine.depth(spec.symbol)
            last_qty = trades[-1].qty if trades and int(str(stats["count"])) else ZERO
            full = {
                "symbol": stats.pop("symbol"),
                "priceChange": stats.pop("priceChange"),
                "priceChangePercent": stats.pop("priceChangePercent"),
                "weightedAvgPrice": stats.pop("weightedAvgPrice"),
                "prevClosePrice": fmt(before[-1].price if before else ZERO),
                "lastPrice": stats.pop("lastPrice"),
                "lastQty": fmt(last_qty),
                "bidPrice": fmt(bids[0][0] if bids else ZERO),
                "bidQty": fmt(bids[0][1] if bids else ZERO),
                "askPrice": fmt(asks[0][0] if asks else ZERO),
                "askQty": fmt(asks[0][1] if asks else ZERO),
            }
            stats = {**full, **stats}
        items.append(stats)
    return _one_or_list(items, single)


def _ticker_rolling(session: BinanceSession, params: dict[str, object], now: int) -> object:
    """``ticker``: "openTime always start on a minute boundary"; closeTime is now."""
    specs, single = _symbols(session, params, required=True)
    window = _window(params)
    mini = _ticker_type(params)
    open_ms = (now - window) // MINUTE_MS * MINUTE_MS
    items = [_stats(tape(session, s.symbol), s, open_ms, now, mini=mini) for s in specs]
    return _one_or_list(items, single)


def _ticker_trading_day(session: BinanceSession, params: dict[str, object], now: int) -> object:
    """``ticker.tradingDay``: the current day in ``timeZone``, closing at its last ms."""
    specs, single = _symbols(session, params, required=True)
    offset = _time_zone(params)
    mini = _ticker_type(params)
    open_ms, close_ms = _bucket(now, "1d", offset)
    items = [_stats(tape(session, s.symbol), s, open_ms, close_ms, mini=mini) for s in specs]
    return _one_or_list(items, single)


# ------------------------------------------------------------------ account


def _account_commission(session: BinanceSession, params: dict[str, object], now: int) -> object:
    """``account.commission``: the rates ``matching`` charges. BNB discounts are not
    modelled, so ``discount.enabledForAccount`` is false."""
    session.authorize(params, now)
    spec = symbol_spec(session, params)
    fees = session.exchange.config.fees
    zero = fmt(ZERO)
    return {
        "symbol": spec.symbol,
        "standardCommission": {
            "maker": fmt(fees.maker),
            "taker": fmt(fees.taker),
            "buyer": zero,
            "seller": zero,
        },
        "specialCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "taxCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "discount": {
            "enabledForAccount": False,
            "enabledForSymbol": False,
            "discountAsset": "BNB",
            "discount": fmt(Decimal("0.25")),
        },
    }


def _account_order_limits(session: BinanceSession, params: dict[str, object], now: int) -> object:
    """``account.rateLimits.orders``: the account's ORDERS counters, as ``rateLimits``
    shows them (this request adds nothing to them)."""
    key = session.authorize(params, now)
    usage = session.exchange.order_usage(key.account_id)
    return render_counters(usage.counters, now)


# ------------------------------------------------------------------ weights


def _by_symbols(one: int, omitted: int, tiers: tuple[tuple[int, int], ...]) -> Callable[..., int]:
    """A weight from the number of symbols: ``one`` for ``symbol``, ``omitted`` for none,
    else the first tier (up to n symbols, weight) that covers ``symbols``."""

    def weight(params: Mapping[str, object]) -> int:
        if params.get("symbol") is not None:
            return one
        count = _count(params)
        if count is None:
            return omitted
        return next((w for n, w in tiers if count <= n), tiers[-1][1])

    return weight


def _per_symbol(params: Mapping[str, object]) -> int:
    # "4 for each requested symbol ... will cap at 200 once the number of symbols in the
    # request is more than 50" (``ticker``, ``ticker.tradingDay``)
    count = _count(params) or 1
    return 200 if count > 50 else 4 * count


_HANDLERS = {
    "ticker.price": _ticker_price,
    "ticker.book": _ticker_book,
    "avgPrice": _avg_price,
    "klines": _klines,
    "uiKlines": _klines,
    "trades.recent": _trades_recent,
    "trades.historical": _trades_historical,
    "trades.aggregate": _trades_aggregate,
    "ticker.24hr": _ticker_24hr,
    "ticker": _ticker_rolling,
    "ticker.tradingDay": _ticker_trading_day,
    "account.commission": _account_commission,
    "account.rateLimits.orders": _account_order_limits,
}
#: fixed weights ("Weight:" of each method)
_WEIGHTS = {
    "avgPrice": 2,
    "klines": 2,
    "uiKlines": 2,
    "trades.recent": 25,
    "trades.historical": 25,
    "trades.aggregate": 4,
    "account.commission": 20,
    "account.rateLimits.orders": 40,
}
#: weights that depend on the symbols requested ("Weight: Adjusted based on the number of
#: requested symbols" tables of ticker.price, ticker.book, ticker.24hr, ticker and
#: ticker.tradingDay)
_WEIGHT_RULES: dict[str, Callable[[Mapping[str, object]], int]] = {
    "ticker.price": _by_symbols(2, 4, ((10**9, 4),)),
    "ticker.book": _by_symbols(2, 4, ((10**9, 4),)),
    "ticker.24hr": _by_symbols(2, 80, ((20, 2), (100, 40), (10**9, 80))),
    "ticker": _per_symbol,
    "ticker.tradingDay": _per_symbol,
}
METHODS.update(_HANDLERS)
WEIGHTS.update(_WEIGHTS)
WEIGHT_RULES.update(_WEIGHT_RULES)

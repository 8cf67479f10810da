"""Binance Spot's request rules: error codes and messages, parameter parsing, symbol filters.

Every code and message here is copied from Binance ``errors.md`` (section named next to
it); filters follow ``filters.md``; order parameters follow ``web-socket-api.md``
("Place new order (TRADE)"). Pure functions over request params and symbol specs; knows
nothing of sessions, signatures or the transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from whalewire.emulator import numbers
from whalewire.emulator.matching import SymbolSpec
from whalewire.emulator.skeleton import market

#: the format Binance accepts for DECIMAL params (``numbers``' bounds); quoted in its -1100
_DECIMAL_RANGE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
#: baseAssetPrecision / quoteAssetPrecision of every emulated symbol
PRECISION = 8


class ApiError(Exception):
    """A request failure: HTTP-like ``status``, Binance ``code`` and ``msg``, optional data."""

    def __init__(
        self, status: int, code: int, msg: str, data: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(status, code, msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.data = data

    def __str__(self) -> str:
        return f"{self.status} {self.code} {self.msg}"


# --- errors.md, "10xx - General Server or Network issues" --------------------------------


def unsupported_operation() -> ApiError:
    """-1020 UNSUPPORTED_OPERATION (our answer to an unknown method)."""
    return ApiError(400, -1020, "This operation is not supported.")


def timestamp_ahead() -> ApiError:
    """-1021 INVALID_TIMESTAMP, first step of the timing check."""
    return ApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def timestamp_outside_window() -> ApiError:
    """-1021 INVALID_TIMESTAMP, second step of the timing check."""
    return ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")


def invalid_signature() -> ApiError:
    """-1022 INVALID_SIGNATURE."""
    return ApiError(400, -1022, "Signature for this request is not valid.")


def unauthorized() -> ApiError:
    """-1002 UNAUTHORIZED (a session method that needs ``session.logon`` first)."""
    return ApiError(401, -1002, "You are not authorized to execute this request.")


# --- errors.md, "11xx - Request issues" ---------------------------------------------------


def mandatory(name: str) -> ApiError:
    """-1102 MANDATORY_PARAM_EMPTY_OR_MALFORMED for one missing parameter."""
    return ApiError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def one_of(first: str, second: str) -> ApiError:
    """-1102 when neither of two alternative parameters was sent."""
    return ApiError(
        400, -1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!"
    )


def too_large(name: str, limit: str) -> ApiError:
    """-1102 for a value over its maximum (e.g. ``recvWindow`` over 60000)."""
    return ApiError(
        400, -1102, f"'{name}' contains unexpected value. Cannot be greater than '{limit}'."
    )


def illegal_chars(name: str) -> ApiError:
    """-1100 ILLEGAL_CHARS for a malformed DECIMAL parameter."""
    return ApiError(
        400,
        -1100,
        f"Illegal characters found in parameter '{name}'; legal range is '{_DECIMAL_RANGE}'.",
    )


def not_required(name: str) -> ApiError:
    """-1106 PARAM_NOT_REQUIRED."""
    return ApiError(400, -1106, f"Parameter '{name}' sent when not required.")


def too_much_precision(name: str) -> ApiError:
    """-1111 BAD_PRECISION."""
    return ApiError(400, -1111, f"Parameter '{name}' has too much precision.")


def invalid_tif() -> ApiError:
    """-1115 INVALID_TIF."""
    return ApiError(400, -1115, "Invalid timeInForce.")


def invalid_order_type() -> ApiError:
    """-1116 INVALID_ORDER_TYPE (also for types the emulator does not match)."""
    return ApiError(400, -1116, "Invalid orderType.")


def invalid_side() -> ApiError:
    """-1117 INVALID_SIDE."""
    return ApiError(400, -1117, "Invalid side.")


def empty_client_order_id() -> ApiError:
    """-1118 EMPTY_NEW_CL_ORD_ID."""
    return ApiError(400, -1118, "New client order ID was empty.")


def invalid_symbol() -> ApiError:
    """-1121 BAD_SYMBOL."""
    return ApiError(400, -1121, "Invalid symbol.")


def interval_too_big(hours: int) -> ApiError:
    """-1127 INVALID_INTERVAL for a ``startTime``..``endTime`` span over the maximum."""
    return ApiError(400, -1127, f"More than {hours} hours between startTime and endTime.")


def bad_combination() -> ApiError:
    """-1128 OPTIONAL_PARAMS_BAD_COMBO."""
    return ApiError(400, -1128, "Combination of optional parameters invalid.")


def invalid_parameter(name: str) -> ApiError:
    """-1130 INVALID_PARAMETER."""
    return ApiError(400, -1130, f"Data sent for parameter '{name}' is not valid.")


def invalid_json() -> ApiError:
    """-1135 INVALID_JSON."""
    return ApiError(400, -1135, "Invalid JSON Request")


# --- errors.md, "Messages for -1010, -2010 and -2011" and 20xx ----------------------------


def new_order_rejected(msg: str) -> ApiError:
    """-2010 NEW_ORDER_REJECTED with the matching engine's message."""
    return ApiError(400, -2010, msg)


INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
DUPLICATE_ORDER = "Duplicate order sent."
NO_LIQUIDITY = "Order book liquidity is less than LOT_SIZE filter minimum quantity."
#: errors.md, "Messages for -1010, -2010 and -2011": LIMIT_MAKER that would trade, and a
#: stop whose stopPrice the last price has already reached
WOULD_TAKE = "Order would immediately match and take."
WOULD_TRIGGER = "Order would trigger immediately."


def cancel_rejected() -> ApiError:
    """-2011 CANCEL_REJECTED: "Unknown order sent."."""
    return ApiError(400, -2011, "Unknown order sent.")


def no_such_order() -> ApiError:
    """-2013 NO_SUCH_ORDER."""
    return ApiError(400, -2013, "Order does not exist.")


def rejected_api_key() -> ApiError:
    """-2015 REJECTED_MBX_KEY, status 401 (``web-socket-api.md``, "API key revocation")."""
    return ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")


class SessionRevoked(ApiError):
    """-2015 for a logged-on session whose key went away; answered with ``"id": null``."""


def session_revoked() -> SessionRevoked:
    """The revocation notice of ``web-socket-api.md`` ("Regarding API key revocation")."""
    return SessionRevoked(401, -2015, "Invalid API-key, IP, or permissions for action.")


def filter_failure(name: str) -> ApiError:
    """-1013 with the ``errors.md`` "Filter failures" message."""
    return ApiError(400, -1013, f"Filter failure: {name}")


# --- parameters ----------------------------------------------------------------------------


def get_str(params: Mapping[str, object], name: str, *, required: bool = False) -> str | None:
    """Return a string parameter or ``None``; raise -1102 when required or not a string."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise mandatory(name)
        return None
    if not isinstance(value, str):
        raise mandatory(name)
    return value


def get_int(params: Mapping[str, object], name: str, *, required: bool = False) -> int | None:
    """Return an integer parameter (JSON number or digit string); raise -1102 when malformed.

    Bounded by ``numbers`` before any conversion: a 1e300000 or 5,000-digit ``limit`` or
    a "²" is refused in microseconds, never converted.
    """
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise mandatory(name)
        return None
    number = numbers.int_of(value)
    if number is None:
        raise mandatory(name)
    return number


def get_decimal(params: Mapping[str, object], name: str) -> Decimal | None:
    """Return a DECIMAL parameter; raise -1100 when malformed, -1111 past 8 decimals."""
    value = params.get(name)
    if value is None or value == "":
        return None
    number = numbers.decimal_of(value, exponent=False)
    if number is None or number.is_signed():
        raise illegal_chars(name)
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > PRECISION:
        raise too_much_precision(name)
    return number


def get_limit(params: Mapping[str, object], default: int, maximum: int) -> int:
    """``limit`` ("Default: <default>; Maximum: <maximum>"): -1102 over the maximum,
    -1100-style invalid parameter below 1."""
    limit = get_int(params, "limit")
    if limit is None:
        return default
    if limit > maximum:
        raise too_large("limit", str(maximum))
    if limit < 1:
        raise invalid_parameter("limit")
    return limit


def get_bool(params: Mapping[str, object], name: str) -> bool | None:
    """Return a BOOLEAN parameter (JSON true/false or the strings "true"/"false")."""
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise invalid_parameter(name)


# --- filters.md ----------------------------------------------------------------------------


def _off_step(value: Decimal, base: Decimal, step: Decimal) -> bool:
    return step != 0 and (value - base) % step != 0


def check_price_filter(spec: SymbolSpec, price: Decimal) -> None:
    """PRICE_FILTER: minPrice <= price <= maxPrice and (price - minPrice) % tickSize == 0."""
    if (
        price < spec.min_price
        or price > spec.max_price
        or _off_step(price, spec.min_price, spec.tick_size)
    ):
        raise filter_failure("PRICE_FILTER")


def check_lot_size(spec: SymbolSpec, qty: Decimal) -> None:
    """LOT_SIZE: minQty <= quantity <= maxQty and (quantity - minQty) % stepSize == 0."""
    if qty < spec.min_qty or qty > spec.max_qty or _off_step(qty, spec.min_qty, spec.step_size):
        raise filter_failure("LOT_SIZE")


#: "Trailing Stop FAQ": trailingDelta is in BIPS, 1 BIPS = 0.01 %
BIPS = Decimal(10_000)
#: filters.md "TRAILING_DELTA": the bounds this venue lists, above and below alike (BIPS)
TRAILING_DELTA = (10, 2000)


def check_trailing_delta(delta: int) -> None:
    """TRAILING_DELTA: a trailing order's ``trailingDelta`` within the symbol's bounds."""
    if not TRAILING_DELTA[0] <= delta <= TRAILING_DELTA[1]:
        raise filter_failure("TRAILING_DELTA")


def check_notional(spec: SymbolSpec, notional: Decimal, *, is_market: bool) -> None:
    """NOTIONAL: minNotional applies to all orders here (applyMinToMarket true),
    maxNotional only to non-MARKET orders (applyMaxToMarket false)."""
    if notional < spec.min_notional or (not is_market and notional > spec.max_notional):
        raise filter_failure("NOTIONAL")


#: the order types ``order.place`` takes (``exchangeInfo`` ``orderTypes``)
ORDER_TYPES = (
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
)


def fmt(value: Decimal) -> str:
    """Format an amount the way Binance renders it: 8 decimals."""
    return f"{value:.8f}"


def symbol_filters(spec: SymbolSpec) -> list[dict[str, object]]:
    """Return the ``filters`` array of one ``exchangeInfo`` symbol."""
    return [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": fmt(spec.min_price),
            "maxPrice": fmt(spec.max_price),
            "tickSize": fmt(spec.tick_size),
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": fmt(spec.min_qty),
            "maxQty": fmt(spec.max_qty),
            "stepSize": fmt(spec.step_size),
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": fmt(spec.min_notional),
            "applyMinToMarket": True,
            "maxNotional": fmt(spec.max_notional),
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        },
        {
            "filterType": "TRAILING_DELTA",
            "minTrailingAboveDelta": TRAILING_DELTA[0],
            "maxTrailingAboveDelta": TRAILING_DELTA[1],
            "minTrailingBelowDelta": TRAILING_DELTA[0],
            "maxTrailingBelowDelta": TRAILING_DELTA[1],
        },
    ]


def symbol_info(spec: SymbolSpec) -> dict[str, object]:
    """Return one ``exchangeInfo`` symbol entry (fields as in ``web-socket-api.md``)."""
    return {
        "symbol": spec.symbol,
        "status": "TRADING",
        "baseAsset": spec.base,
        "baseAssetPrecision": PRECISION,
        "quoteAsset": spec.quote,
        "quotePrecision": PRECISION,
        "quoteAssetPrecision": PRECISION,
        "baseCommissionPrecision": PRECISION,
        "quoteCommissionPrecision": PRECISION,
        "orderTypes": list(ORDER_TYPES),
        "icebergAllowed": False,
        "ocoAllowed": True,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "allowAmend": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": symbol_filters(spec),
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


def _spec(
    symbol: str, assets: tuple[str, str], tick: str, step: str, min_notional: str
) -> SymbolSpec:
    base, quote = assets
    return market(
        symbol, base, quote, tick=tick, step=step, min_qty=step, min_notional=min_notional,
        max_price=1_000_000, max_qty=9_000, max_notional=9_000_000,
    )  # fmt: skip


#: the emulated symbols, with mid prices for their synthetic books
DEFAULT_SYMBOLS: dict[str, tuple[SymbolSpec, Decimal]] = {
    "BTCUSDT": (_spec("BTCUSDT", ("BTC", "USDT"), "0.01", "0.00001", "5"), Decimal(60_000)),
    "ETHUSDT": (_spec("ETHUSDT", ("ETH", "USDT"), "0.01", "0.0001", "5"), Decimal(3_000)),
    "BNBBTC": (_spec("BNBBTC", ("BNB", "BTC"), "0.000001", "0.001", "0.0001"), Decimal("0.0138")),
    "ETHBTC": (_spec("ETHBTC", ("ETH", "BTC"), "0.00001", "0.0001", "0.0001"), Decimal("0.05")),
}

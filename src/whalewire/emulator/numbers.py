"""The one number parser for every emulated venue's requests: bounded, ASCII, plain notation.

Every number a peer sends (a JSON number, a query or form field, a header) is checked here
*before* it is converted, because converting is where a request can hurt the whole server:
``int()`` of a 1e300000-sized value costs seconds of CPU on the one event loop, ``int()`` of a
string of "²" raises, ``Decimal("NaN")`` poisons every comparison and a 26-digit
``Decimal`` overflows the default context in ``%`` or ``quantize``. What passes is a plain
decimal in ASCII digits within the bounds below; what does not comes back as ``None`` (or, from
the JSON decoder ``decoding.loads``, as a :class:`RejectedNumber`), and each venue answers its
own documented error. Knows no venue.

Bounds (Binance's own legal ranges, ``errors.md`` -1100: ``^[0-9]{1,20}$`` for integers and
``^([0-9]{1,20})(\\.[0-9]{1,20})?$`` for decimals, which also hold Kraken's unsigned 64-bit
nonce): an integer has at most :data:`MAX_INT_DIGITS` digits, a decimal at most
:data:`MAX_WHOLE_DIGITS` before its point and :data:`MAX_FRACTION_DIGITS` after. With steps
no finer than 1e-8, ``value % step`` then has an integer quotient below 10**28, inside the
default 28-digit ``Decimal`` context, so no later arithmetic can raise.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

#: most digits in an integer (20: 2**64 - 1 has 20 digits)
MAX_INT_DIGITS: Final = 20
#: most digits before a decimal point
MAX_WHOLE_DIGITS: Final = 20
#: most digits after a decimal point
MAX_FRACTION_DIGITS: Final = 20

# [0-9], not \d: \d also matches "²" and the other Unicode digits; \Z, not $: $ allows a "\n"
_INT = re.compile(rf"-?[0-9]{{1,{MAX_INT_DIGITS}}}\Z")
_PLAIN = rf"-?[0-9]{{1,{MAX_WHOLE_DIGITS}}}(?:\.[0-9]{{1,{MAX_FRACTION_DIGITS}}})?"
_DECIMAL = re.compile(_PLAIN + r"\Z")
# Python's json.dumps writes 0.00001 as 1e-05: a two-digit exponent is allowed, and the value
# it spells must then still fit the bounds (decimal_of)
_SCIENTIFIC = re.compile(_PLAIN + r"(?:[eE][-+]?[0-9]{1,2})?\Z")


class RejectedNumber:
    """A JSON number kept as its text because it is out of bounds (or NaN, or a big exponent).

    It is no ``int``, ``Decimal`` or ``str``, so every parameter getter refuses it with its
    venue's error; ``str()`` gives back the text as sent.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 24 else self.text[:20] + "..."
        return f"RejectedNumber({shown!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RejectedNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def parse_int(text: str) -> int | None:
    """Return the integer spelled by ``text`` (optional ``-``, ASCII digits), else ``None``."""
    return int(text) if _INT.match(text) else None


def parse_decimal(text: str, *, exponent: bool = False) -> Decimal | None:
    """Return the decimal spelled by ``text`` in plain notation, else ``None``.

    No sign but ``-``, no spaces, no NaN or infinity, ASCII digits only; with ``exponent``
    a two-digit exponent is allowed too (``1e-05``) if the value stays within the bounds.
    """
    if not exponent:
        return Decimal(text) if _DECIMAL.match(text) else None
    return _bounded(Decimal(text)) if _SCIENTIFIC.match(text) else None


def int_of(value: object) -> int | None:
    """Return ``value`` as an integer: a bounded ``int``, digit string or integral ``Decimal``.

    ``None`` for anything else (``bool``, out of bounds, fractional, NaN, other types).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -(10**MAX_INT_DIGITS) < value < 10**MAX_INT_DIGITS else None
    if isinstance(value, str):
        return parse_int(value)
    if isinstance(value, Decimal):
        number = decimal_of(value)
        return int(number) if number is not None and number == number.to_integral_value() else None
    return None


def decimal_of(value: object, *, exponent: bool = True) -> Decimal | None:
    """Return ``value`` as a bounded finite ``Decimal`` (from ``int``, ``Decimal`` or text).

    ``None`` for anything else; a ``float`` is refused (its text is no longer the peer's).
    ``exponent=False`` refuses ``1e-05`` in text (Binance's DECIMAL range is plain digits).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return parse_decimal(value, exponent=exponent)
    if isinstance(value, int):
        return Decimal(value) if -(10**MAX_WHOLE_DIGITS) < value < 10**MAX_WHOLE_DIGITS else None
    if isinstance(value, Decimal):
        return _bounded(value) if value.is_finite() else None
    return None


def _bounded(value: Decimal) -> Decimal | None:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if value.adjusted() >= MAX_WHOLE_DIGITS or -exponent > MAX_FRACTION_DIGITS:
        return None
    return value


def json_int(text: str) -> int | RejectedNumber:
    """``json.loads``'s ``parse_int``: a bounded integer, else :class:`RejectedNumber`.

    The match stops after ``MAX_INT_DIGITS`` + 1 characters, however long the text: the scan
    is linear and only bounded text is ever converted (``decoding.loads`` uses it).
    """
    return int(text) if _INT.match(text) else RejectedNumber(text)


def json_float(text: str) -> Decimal | RejectedNumber:
    """``json.loads``'s ``parse_float``: a bounded ``Decimal`` (a two-digit exponent allowed
    when the value stays in bounds), else :class:`RejectedNumber` (``1e300000``)."""
    number = parse_decimal(text, exponent=True)
    return RejectedNumber(text) if number is None else number


def json_default(value: object) -> object:
    """Serialise a :class:`RejectedNumber` echoed back (a request id) as its text."""
    if isinstance(value, RejectedNumber):
        return value.text
    raise TypeError(type(value).__name__)

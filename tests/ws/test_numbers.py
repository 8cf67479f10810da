"""``ws.numbers.parse_decimal``: the one parser for numbers a peer sends (RFC 9110 §5.6.1 DIGIT).

``str.isdigit`` accepts digits ``int`` cannot read and ``int`` refuses over 4,300 digits; the
parser must say None to both, never raise.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whalewire.ws.numbers import MAX_DIGITS, parse_decimal

VECTORS = [
    ("0", 0),
    ("7", 7),
    ("0042", 42),
    ("9" * 18, 10**18 - 1),
    ("", None),
    ("\xb2", None),  # SUPERSCRIPT TWO: isdigit() is True, int() raises
    ("1\xb2", None),
    ("\u0661\u0662", None),  # ARABIC-INDIC 12: int() would read it
    ("\uff11", None),  # FULLWIDTH 1
    ("+1", None),
    ("-1", None),
    (" 1", None),
    ("1 ", None),
    ("1_000", None),
    ("1.0", None),
    ("0x10", None),
    ("9" * 19, None),
    ("1" * 5000, None),  # int() raises past 4,300 digits
]


@pytest.mark.parametrize(("text", "expected"), VECTORS)
def test_parse_decimal_vectors(text: str, expected: int | None) -> None:
    assert parse_decimal(text) == expected


def test_max_digits_bounds_the_length() -> None:
    assert parse_decimal("15", 2) == 15
    assert parse_decimal("015", 2) is None
    assert parse_decimal("1" * MAX_DIGITS) is not None


@given(st.text(max_size=40))
def test_parse_decimal_never_raises_and_agrees_with_ascii_int(text: str) -> None:
    value = parse_decimal(text)
    ascii_digits = text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS
    assert value == (int(text) if ascii_digits else None)

"""Decimal numbers in text a peer sent (HTTP fields, extension parameters), parsed safely.

``str.isdigit`` is true for digits Python's ``int`` cannot read ("²") and ``int`` refuses
strings over 4,300 digits (CPython's ``sys.int_info.str_digits_check_threshold``), so an
``isdigit`` check before ``int`` lets a peer raise ``ValueError`` where a protocol error is
due. Every number whalewire reads from a peer goes through ``parse_decimal``: ASCII digits
only (RFC 9110 §5.6.1's ``DIGIT``), a bounded count of them, and None for anything else so
the caller raises the error its protocol names. Knows no protocol.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_DIGITS", "parse_decimal"]

#: digits accepted by default: every value below 10**18 fits a signed 64-bit integer
MAX_DIGITS: Final = 18
_DIGITS: Final = frozenset("0123456789")


def parse_decimal(text: str, max_digits: int = MAX_DIGITS) -> int | None:
    """Return the non-negative integer ``text`` spells in ASCII digits, or None.

    None for an empty string, any character other than 0-9 (signs, spaces, underscores,
    non-ASCII digits included) or more than ``max_digits`` digits.
    """
    if not 0 < len(text) <= max_digits or not _DIGITS.issuperset(text):
        return None
    return int(text)

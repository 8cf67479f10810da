"""The one JSON decoder for every emulated venue's requests: bounded nesting, bounded numbers.

A peer's JSON is checked here before and while it is decoded, because decoding is where one
request could hurt the whole server: ``json.loads`` recurses once per ``[`` or ``{``, so a
frame of 5,000 brackets raises ``RecursionError`` (no ``ValueError``, so no venue answered it),
and a nesting the decoder survives could still recurse through every later ``json.dumps`` of
an echoed field. Numbers are left to :mod:`whalewire.emulator.numbers`. Whatever is refused
raises ``ValueError``, which each venue already answers with its documented malformed-request
error (Binance -1102/"Malformed request", Kraken ``EGeneral:Invalid arguments``, Coinbase
"Malformed JSON" / "Invalid JSON body"). Knows no venue.

Limit: :data:`MAX_DEPTH` nested arrays and objects. The deepest documented request is a
Coinbase ``subscribe`` or a Kraken ``batch_add`` (four levels); no venue documents a limit.
"""

from __future__ import annotations

import json
import re
from typing import Final

from whalewire.emulator import numbers

#: most arrays and objects nested in one request (the documented ones use at most four)
MAX_DEPTH: Final = 32

# a JSON string, escapes included; one left open runs to the end (so each character is
# scanned once, whatever the quotes and backslashes)
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class TooDeep(ValueError):
    """A request nests arrays and objects deeper than :data:`MAX_DEPTH` (or unbalanced)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit

    def __str__(self) -> str:
        return f"JSON nested deeper than {self.limit} levels"


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`TooDeep` if ``text`` nests more than ``limit`` arrays and objects.

    Linear in C: strings are cut out, then all but the brackets, then each pass removes the
    innermost ``[]`` and ``{}`` pairs; what is left after ``limit`` passes is nested deeper
    (or is no balanced JSON, which the decoder would refuse anyway).
    """
    if text.count("[") + text.count("{") <= limit:  # every real request: no scan at all
        return
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(limit):
        if not brackets:
            return
        brackets = brackets.replace("[]", "").replace("{}", "")
    if brackets:
        raise TooDeep(limit)


def loads(data: str | bytes) -> object:
    """Decode one request: nesting within :data:`MAX_DEPTH`, numbers as ``numbers`` bounds them.

    Integers within bounds become ``int``, fractions ``Decimal``; out-of-bounds numbers and
    ``NaN``/``Infinity`` become :class:`~whalewire.emulator.numbers.RejectedNumber`.

    Raises:
        ValueError: not JSON (``json.JSONDecodeError``, ``UnicodeDecodeError``) or nested
            too deep (:class:`TooDeep`).
    """
    # bytes as json.loads reads them (UTF-8, -16 or -32 by the first bytes)
    text = (
        data.decode(json.detect_encoding(data), "surrogatepass")
        if isinstance(data, bytes)
        else data
    )
    check_depth(text)
    return json.loads(
        text,
        parse_int=numbers.json_int,
        parse_float=numbers.json_float,
        parse_constant=numbers.RejectedNumber,
    )

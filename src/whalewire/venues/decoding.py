"""Typed decoding of what venues send: msgspec types in, one error that says where it broke.

Each venue folder's ``decode.py`` declares the messages that venue sends as msgspec Structs
and decodes them through :func:`decode` / :func:`convert`. A message that does not fit raises
:class:`VenueDecodeError`, which names the venue, the message and the field path (msgspec's
``$.event.L``), so a log line says what to look at. Amounts pass :func:`check_amounts` in the
Structs' ``__post_init__``: a venue's ``"NaN"`` or ``"1e999999"`` is a malformed message, not
a fill that poisons every later sum. Sans-IO: no sockets, no events, no logging.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from whalewire.venues.base import VenueError

T = TypeVar("T")

#: the largest amount a venue may report, in digits before the point (no real quantity,
#: price or fee comes near; beyond it Decimal arithmetic could overflow its context)
MAX_AMOUNT_DIGITS = 24
_MAX_AMOUNT = Decimal(10) ** MAX_AMOUNT_DIGITS


#: one decoder per declared type: building one costs more than most messages' decoding
_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


class VenueDecodeError(VenueError):
    """A venue message did not fit its declared type.

    Attributes:
        venue: the client's name (``binance``, ``kraken``, ``coinbase``, or a configured one).
        message: which message it was (``executionReport``, ``add_order response``, ...).
        path: where in it, as msgspec writes it (``$`` for the whole message).
        detail: what was wrong there.
    """

    def __init__(self, venue: str, message: str, path: str, detail: str) -> None:
        super().__init__(venue, message, path, detail)
        self.venue = venue
        self.message = message
        self.path = path
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.venue}: malformed {self.message}: {self.detail} - at `{self.path}`"


def _error(venue: str, message: str, exc: msgspec.MsgspecError, at: str) -> VenueDecodeError:
    detail, sep, where = str(exc).rpartition(" - at `")
    if not sep:
        detail, where = str(exc), "$"
    path = at + where.rstrip("`")[1:]
    if detail.startswith("[") and "] " in detail:  # check_amounts names its field
        field, detail = detail[1:].split("] ", 1)
        path = f"{path}.{field}"
    return VenueDecodeError(venue, message, path, detail)


def decode(venue: str, message: str, data: bytes | str, type_: type[T], *, at: str = "$") -> T:
    """Decode JSON ``data`` as ``type_``; ``at`` is where ``data`` sits in its frame.

    Raises:
        VenueDecodeError: not JSON, or not the declared shape (with the field path).
    """
    decoder = _DECODERS.get(type_)
    if decoder is None:
        decoder = _DECODERS[type_] = msgspec.json.Decoder(type_)
    try:
        return decoder.decode(data)  # type: ignore[no-any-return]
    except msgspec.MsgspecError as exc:
        raise _error(venue, message, exc, at) from None


def convert(venue: str, message: str, obj: Any, type_: type[T], *, at: str = "$") -> T:
    """Convert already-decoded JSON ``obj`` (a dict, a list) into ``type_``.

    Raises:
        VenueDecodeError: not the declared shape (with the field path).
    """
    try:
        return msgspec.convert(obj, type=type_, strict=False)
    except msgspec.MsgspecError as exc:
        raise _error(venue, message, exc, at) from None


def check_amounts(**amounts: Decimal | None) -> None:
    """Refuse a non-finite or absurdly large amount (call from ``__post_init__``).

    Raises:
        ValueError: msgspec reports it at the Struct's path; the field's name leads the
            message in brackets, which :class:`VenueDecodeError` moves into the path.
    """
    for name, value in amounts.items():
        if value is None:
            continue
        if not value.is_finite():
            raise ValueError(f"[{name}] amount {value} is not finite")
        if not -_MAX_AMOUNT < value < _MAX_AMOUNT:
            raise ValueError(f"[{name}] amount {value} is out of range")

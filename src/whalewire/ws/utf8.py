"""Incremental UTF-8 validation for text messages and close reasons (RFC 6455 §8.1, RFC 3629).

Holds ``Utf8Validator``, fed fragment by fragment, which raises ``InvalidUTF8`` on the first
chunk that makes the stream invalid (so a connection fails on the frame that breaks the
message, not at its end), and ``validate_utf8`` for a whole buffer. Overlong forms,
surrogates (U+D800..DFFF) and code points above U+10FFFF are invalid. The C accelerator
is used when built and ``whalewire.speedups`` says so; the pure-Python path is CPython's
strict incremental UTF-8 decoder.
This module knows nothing of frames or connections.
"""

from __future__ import annotations

import codecs
from types import ModuleType
from typing import Protocol

from whalewire import speedups
from whalewire.ws.exceptions import InvalidUTF8

__all__ = [
    "SPEEDUPS",
    "Utf8Validator",
    "new_validator",
    "validate_utf8",
]

BytesLike = bytes | bytearray | memoryview

# None when not built (no compiler at install time): the pure-Python path below is complete
_speedups: ModuleType | None = speedups.load("whalewire.ws._speedups")
_HAVE_C = _speedups is not None


class Utf8Validator(Protocol):
    """An incremental validator of one UTF-8 stream (one message)."""

    def feed(self, data: BytesLike) -> None:
        """Check the next chunk; raise ``InvalidUTF8`` as soon as the stream cannot be valid."""

    def finish(self) -> None:
        """End the stream; raise ``InvalidUTF8`` if it stops inside a code point."""


class PyUtf8Validator:
    """``Utf8Validator`` over CPython's strict incremental decoder (pure-Python path)."""

    __slots__ = ("_decoder", "_pending")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._pending = False

    def feed(self, data: BytesLike) -> None:
        """Check the next chunk; raise ``InvalidUTF8`` as soon as the stream cannot be valid."""
        if not self._pending and isinstance(data, bytes) and data.isascii():
            return
        try:
            self._decoder.decode(data, False)
        except UnicodeDecodeError:
            raise InvalidUTF8() from None
        tail = self._decoder.getstate()[0]
        # CPython checks the second byte of a pending sequence for overlongs and for
        # > U+10FFFF at once, but leaves ED A0..BF (a surrogate) until the third byte.
        if len(tail) >= 2 and tail[0] == 0xED and tail[1] >= 0xA0:
            raise InvalidUTF8()
        self._pending = bool(tail)

    def finish(self) -> None:
        """End the stream; raise ``InvalidUTF8`` if it stops inside a code point."""
        try:
            self._decoder.decode(b"", True)
        except UnicodeDecodeError:
            raise InvalidUTF8() from None
        finally:
            self._decoder.reset()
            self._pending = False


class CUtf8Validator:
    """``Utf8Validator`` over the C accelerator's DFA (state carried in one int)."""

    __slots__ = ("_state", "_step")

    def __init__(self) -> None:
        assert _speedups is not None  # chosen by _switch only when built
        self._step = _speedups.utf8_step
        self._state = 0

    def feed(self, data: BytesLike) -> None:
        """Check the next chunk; raise ``InvalidUTF8`` as soon as the stream cannot be valid."""
        state = self._step(data, self._state)
        if state < 0:
            raise InvalidUTF8()
        self._state = state

    def finish(self) -> None:
        """End the stream; raise ``InvalidUTF8`` if it stops inside a code point."""
        state, self._state = self._state, 0
        if state:
            raise InvalidUTF8()


def _py_validate(data: BytesLike) -> bool:
    if isinstance(data, bytes) and data.isascii():
        return True
    try:
        codecs.utf_8_decode(data, "strict", True)
    except UnicodeDecodeError:
        return False
    return True


def _c_validate(data: BytesLike) -> bool:
    assert _speedups is not None  # chosen by _switch only when built
    return bool(_speedups.utf8_step(data, 0) == 0)


new_validator: type[PyUtf8Validator] | type[CUtf8Validator] = PyUtf8Validator
_validate = _py_validate
#: True when the C accelerator (``whalewire.ws._speedups``) does the validation
SPEEDUPS = False


def validate_utf8(data: BytesLike) -> bool:
    """Return whether ``data`` is one complete, valid UTF-8 string."""
    return _validate(data)


def _switch(enabled: bool) -> bool:
    # whalewire.speedups calls this
    global new_validator, _validate, SPEEDUPS
    if enabled and _HAVE_C:
        new_validator, _validate, SPEEDUPS = CUtf8Validator, _c_validate, True
    else:
        new_validator, _validate, SPEEDUPS = PyUtf8Validator, _py_validate, False
    return SPEEDUPS


speedups.register(__name__, _switch)

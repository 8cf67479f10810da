"""The buffer one message is assembled in as its pieces arrive (issue 21: no stall at the end).

A message of many megabytes reaches the reader in pieces: fragments, a large frame's
successive reads, a compressed frame's inflate steps. Keeping the pieces and joining them
when the message completes costs one copy of the whole message (and the page faults of a
fresh allocation) in a single turn of the event loop, which delays every other connection
on that loop (0.1-0.3 s for 60 MiB on a loaded machine). ``MessageBuffer`` copies each
piece into the message's own storage as it arrives, in the turn it arrived in, so
completing the message copies nothing: with the C accelerator, ``take()`` hands over the
very ``bytes`` object the pieces were written into. The pure-Python reference assembles in
a ``bytearray`` and makes one copy in ``take()`` (``bytes`` cannot be built in place from
Python). Text is decoded in steps: ``append_text`` also counts, as the bytes arrive, the
code points and the widest character, so that the C buffer sizes the ``str`` once and
``decode_step`` fills it a budget's worth at a time over later turns (the reader validated
the UTF-8 piece by piece already). The pure-Python reference decodes in its first step.

This module knows nothing of frames or connections.
"""

from __future__ import annotations

from types import ModuleType
from typing import Protocol

from whalewire import speedups

__all__ = ["SPEEDUPS", "MessageBuffer", "PyMessageBuffer", "new_buffer"]

BytesLike = bytes | bytearray | memoryview

# None when not built: the pure-Python buffer below does the same with one final copy
_speedups: ModuleType | None = speedups.load("whalewire.ws._speedups")


class MessageBuffer(Protocol):
    """One message's payload, appended piece by piece, taken whole once it is complete."""

    def __len__(self) -> int:
        """Return the bytes appended since the last take."""

    def append(self, data: BytesLike, /) -> None:
        """Copy ``data`` to the end of the message."""

    def take(self) -> bytes:
        """Return the message as ``bytes``; the buffer starts empty again."""

    def take_text(self) -> str:
        """Return the message decoded from UTF-8 (strict); the buffer starts empty again."""

    def append_text(self, data: BytesLike, /) -> None:
        """Copy valid UTF-8 to the end of the message (a piece may end inside a code point)."""

    def decode_step(self, budget: int, /) -> str | None:
        """Decode about ``budget`` more bytes of the text; return the str once it is whole.

        Raises:
            ValueError: the bytes are not valid UTF-8 (validate them first).
        """


class PyMessageBuffer:
    """``MessageBuffer`` in pure Python: a ``bytearray``, copied once by ``take``."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data = bytearray()

    def __len__(self) -> int:
        return len(self._data)

    def append(self, data: BytesLike, /) -> None:
        """Copy ``data`` to the end of the message."""
        self._data += data

    def take(self) -> bytes:
        """Return the message as ``bytes`` (one copy); the buffer starts empty again."""
        data, self._data = self._data, bytearray()
        return bytes(data)

    def take_text(self) -> str:
        """Return the message decoded from UTF-8 (strict); the buffer starts empty again."""
        data, self._data = self._data, bytearray()
        return data.decode("utf-8")

    def append_text(self, data: BytesLike, /) -> None:
        """Copy valid UTF-8 to the end of the message."""
        self._data += data

    def decode_step(self, budget: int, /) -> str | None:
        """Decode the whole text at once (the reference has no str to fill in steps)."""
        try:
            return self.take_text()
        except UnicodeDecodeError:
            raise ValueError("decode_step: the text is not valid UTF-8") from None


#: a new, empty ``MessageBuffer`` (the C one when ``whalewire.speedups`` allows it)
new_buffer: type[MessageBuffer] = PyMessageBuffer
#: True when ``new_buffer`` makes the C buffer, whose ``take`` copies nothing
SPEEDUPS = False


def _switch(enabled: bool) -> bool:
    # whalewire.speedups calls this
    global new_buffer, SPEEDUPS
    SPEEDUPS = enabled and _speedups is not None
    new_buffer = _speedups.MessageBuffer if SPEEDUPS and _speedups else PyMessageBuffer
    return SPEEDUPS


speedups.register(__name__, _switch)

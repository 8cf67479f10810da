"""What every harness shares: a reader of the fuzzer's bytes, and the atheris entry point.

``Data`` turns the input into choices the same way with or without atheris (atheris's own
``FuzzedDataProvider`` is C and absent in a plain test run), so a committed corpus file
means the same thing to the fuzzer and to the replay test.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import sys
import types
from collections.abc import Callable, Sequence
from typing import TypeVar

_T = TypeVar("_T")

#: the packages whose Python code the fuzzer measures coverage of
INSTRUMENTED = ("whalewire.", "fuzz.")


class Data:
    """Consume the fuzzer's input front to back; past the end, every read gives zeros."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def byte(self) -> int:
        """Return the next byte (0 past the end)."""
        if self._pos >= len(self._data):
            return 0
        self._pos += 1
        return self._data[self._pos - 1]

    def flag(self) -> bool:
        """Return a yes/no choice."""
        return bool(self.byte() & 1)

    def below(self, n: int) -> int:
        """Return a choice in 0..n-1 (n <= 65536)."""
        return (self.byte() << 8 | self.byte()) % n if n > 256 else self.byte() % n

    def pick(self, choices: Sequence[_T]) -> _T:
        """Return one of ``choices``."""
        return choices[self.below(len(choices))]

    def take(self, n: int) -> bytes:
        """Return up to ``n`` next bytes."""
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out

    def sized(self) -> bytes:
        """Return a length-prefixed (one byte) run of bytes."""
        return self.take(self.byte())

    def rest(self) -> bytes:
        """Return every byte not consumed yet."""
        out = self._data[self._pos :]
        self._pos = len(self._data)
        return out

    def cuts(self, length: int, most: int = 4) -> list[tuple[int, int]]:
        """Return (start, end) chunks of ``length`` bytes cut at fuzzer-chosen points.

        Reads a count, then one byte per point (its position in 255ths of the length), so
        the cuts stay where they are when the fuzzer grows or shrinks what is cut.
        """
        points = {self.byte() * length // 255 for _ in range(self.byte() % (most + 1))}
        bounds = sorted({0, length, *points})
        return list(itertools.pairwise(bounds)) or [(0, 0)]


def text(raw: bytes) -> str:
    """Decode the fuzzer's bytes as a peer's text would arrive (invalid UTF-8 kept as U+FFFD)."""
    return raw.decode("utf-8", "replace")


def main(test_one_input: Callable[[bytes], None]) -> None:
    """Fuzz ``test_one_input`` with atheris, libFuzzer's flags from the command line."""
    import atheris  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415 - the fuzzer's alone

    # coverage of our own code only: instrument_all() spends a minute on the standard
    # library and the dependencies, whose branches are not what we are after
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and (obj.__module__ or "").startswith(INSTRUMENTED):
            with contextlib.suppress(Exception):  # a function atheris cannot patch stays as is
                atheris.instrument_func(obj)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()

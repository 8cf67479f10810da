"""Types of ws' optional C accelerator: masking, UTF-8, frames, message assembly (no I/O)."""

from collections.abc import Callable
from typing import Any

def apply_mask(data: bytes | bytearray | memoryview, key: bytes | bytearray | memoryview) -> bytes:
    """Return ``data`` XORed with the 4-byte ``key`` repeated."""

def apply_mask_inplace(buf: bytearray | memoryview, key: bytes | bytearray | memoryview) -> None:
    """XOR the writable ``buf`` with the 4-byte ``key`` repeated, in place."""

def utf8_step(data: bytes | bytearray | memoryview, state: int) -> int:
    """Run the UTF-8 DFA over ``data`` from ``state``; return the new state, -1 if invalid.

    State 0 means "between code points"; any other non-negative value is mid-sequence.
    """

def scan_frames(
    view: memoryview,
    pos: int,
    want_mask: bool,
    limit: int,
    check_utf8: bool,
    on_frame: Callable[[int, memoryview, bool], object],
    /,
) -> int | tuple[int, BaseException]:
    """Hand the plain data frames at ``view[pos:]`` to ``on_frame``; return where it stopped.

    Plain: complete, FIN, no RSV bit, TEXT or BINARY, the expected mask bit, a 7- or
    minimal 16-bit length of at most ``limit``, and valid UTF-8 for text when
    ``check_utf8``. Anything else stops the scan untouched for the Python reader. If
    ``on_frame`` raises, return ``(resume_pos, exception)`` instead of raising.
    """

def build_frame(
    b0: int,
    payload: bytes | bytearray | memoryview,
    mask_key: bytes | bytearray | memoryview | None,
    /,
) -> bytes:
    """Return one frame with first header byte ``b0``, minimal length, payload masked if keyed."""

def frame_in_place(
    buf: bytearray | memoryview,
    offset: int,
    length: int,
    b0: int,
    mask_key: bytes | bytearray | memoryview | None,
    /,
) -> int:
    """Write a header in front of ``buf[offset:offset + length]``, mask it; return the start."""

def scan_messages(
    view: memoryview,
    pos: int,
    want_mask: bool,
    limit: int,
    unused: bool,
    events: list[Any],
    text_cls: Callable[[str], object],
    binary_cls: Callable[[bytes], object],
    /,
) -> int:
    """Append ``text_cls(str)``/``binary_cls(bytes)`` to ``events`` for each plain frame.

    Plain as for ``scan_frames``; ``view`` is not modified. Text that is not valid UTF-8
    stops the scan at its frame. Return where the scan stopped.
    """

class MessageBuffer:
    """One message's payload, appended as it arrives, handed over without a copy."""

    def __len__(self) -> int: ...
    def append(self, data: bytes | bytearray | memoryview, /) -> None:
        """Copy ``data`` (any bytes-like object) to the end of the message."""

    def take(self) -> bytes:
        """Return the message as ``bytes`` without copying it; the buffer starts empty again."""

    def take_text(self) -> str:
        """Return the message decoded from UTF-8 (strict); the buffer starts empty again."""

    def append_text(self, data: bytes | bytearray | memoryview, /) -> None:
        """Append valid UTF-8, counting code points and the largest byte for ``decode_step``."""

    def decode_step(self, budget: int, /) -> str | None:
        """Decode about ``budget`` more bytes into the pre-sized str; return it once whole."""

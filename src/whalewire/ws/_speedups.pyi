"""Types of the optional C accelerator for masking and UTF-8 validation."""

def apply_mask(data: bytes | bytearray | memoryview, key: bytes | bytearray | memoryview) -> bytes:
    """Return ``data`` XORed with the 4-byte ``key`` repeated."""

def apply_mask_inplace(buf: bytearray | memoryview, key: bytes | bytearray | memoryview) -> None:
    """XOR the writable ``buf`` with the 4-byte ``key`` repeated, in place."""

def utf8_step(data: bytes | bytearray | memoryview, state: int) -> int:
    """Run the UTF-8 DFA over ``data`` from ``state``; return the new state, -1 if invalid.

    State 0 means "between code points"; any other non-negative value is mid-sequence.
    """

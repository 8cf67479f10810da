"""Types of the optional C level loop of a book side (``venues/books.py``)."""

from collections.abc import Iterable

def set_many(
    quantities: dict[float, float],
    keys: list[float],
    sign: float,
    levels: Iterable[tuple[float, float]],
) -> None:
    """Apply (price, qty) levels to one side: qty > 0 sets (inserting ``price * sign`` into
    the ascending ``keys`` when new), anything else removes the level and its key."""

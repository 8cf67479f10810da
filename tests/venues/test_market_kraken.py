"""venues/kraken/market.py checksum: the steps of "Book checksum (WebSocket v2)" by hand."""

from __future__ import annotations

import zlib

from whalewire.venues.books import Book
from whalewire.venues.kraken.market import checksum


def test_checksum_is_asks_low_to_high_then_bids_high_to_low_dots_and_leading_zeros_gone() -> None:
    book = Book("BTC/USD")
    book.replace([(45283.5, 0.1), (45283.4, 1.5)], [(45285.2, 0.001), (45286.4, 2.0)])
    # the guide's example step: "45285.2" -> "452852", "0.00100000" -> "100000"
    text = "45285210000045286420000000045283510000000452834150000000"
    assert checksum(book, 1, 8) == zlib.crc32(text.encode())


def test_checksum_covers_ten_levels_a_side_only() -> None:
    book = Book("X")
    book.replace(
        [(float(100 - i), 1.0) for i in range(12)], [(float(200 + i), 1.0) for i in range(12)]
    )
    # qty 1.0 at one decimal: "1.0" -> "10"
    asks = "".join(f"{200 + i}10" for i in range(10))
    bids = "".join(f"{100 - i}10" for i in range(10))
    assert checksum(book, 0, 1) == zlib.crc32((asks + bids).encode())

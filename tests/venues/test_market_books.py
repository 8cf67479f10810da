"""venues/books.py: the local book's levels, top, depth sweep and crossed detection.

Every test runs twice: on the C level loop (``whalewire.venues._books``) and on the Python
one it must equal (the reference)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from whalewire import speedups
from whalewire.venues import books
from whalewire.venues.books import Book, BookSide, Sweep, Top, status_row


@pytest.fixture(autouse=True, params=["c", "python"])
def impl(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with the C level loop, then with pure Python."""
    name: str = request.param
    if name == "c" and books._books is None:
        pytest.skip("whalewire.venues._books is not built")
    old = speedups.use(name == "c")
    try:
        assert books.SPEEDUPS is (name == "c")
        yield name
    finally:
        speedups.use(old)


def test_levels_are_kept_best_first_on_both_sides() -> None:
    book = Book("BTCUSDT")
    book.replace([(100.0, 1.0), (102.0, 2.0), (101.0, 3.0)], [(105.0, 1.0), (103.0, 4.0)])
    assert book.levels(BookSide.BID) == [(102.0, 2.0), (101.0, 3.0), (100.0, 1.0)]
    assert book.levels(BookSide.ASK) == [(103.0, 4.0), (105.0, 1.0)]
    assert book.top() == Top(102.0, 2.0, 103.0, 4.0)
    assert book.top().spread == 1.0 and book.top().mid == 102.5
    assert book.health().synced


def test_zero_quantity_removes_a_level_and_removing_an_absent_level_is_fine() -> None:
    book = Book("X")
    book.replace([(100.0, 1.0)], [(101.0, 1.0)])
    book.apply([(100.0, 0.0), (99.0, 0.0)], [(101.0, 2.5)])
    assert book.levels(BookSide.BID) == []
    assert book.top() == Top(None, 0.0, 101.0, 2.5)
    assert book.top().spread is None


def test_a_bid_at_or_above_the_best_ask_is_a_crossed_book() -> None:
    book = Book("X")
    book.replace([(100.0, 1.0)], [(101.0, 1.0)])
    assert not book.crossed()
    book.apply([(101.0, 1.0)], [])
    assert book.crossed()


def test_depth_sweeps_levels_best_first() -> None:
    book = Book("X")
    book.replace([(99.0, 1.0)], [(101.0, 1.0), (102.0, 2.0), (110.0, 5.0)])
    # 1 @ 101 + 1.5 @ 102 = 254 for 2.5
    assert book.depth(BookSide.ASK, 2.5) == Sweep(2.5, 2.5, 254.0 / 2.5, 102.0)
    assert book.depth(BookSide.ASK, 100.0).filled == 8.0
    assert book.depth(BookSide.BID, 3.0) == Sweep(3.0, 1.0, 99.0, 99.0)
    assert Book("Y").depth(BookSide.BID, 1.0) == Sweep(1.0, 0.0, None, None)


def test_max_depth_truncates_after_each_update() -> None:
    book = Book("X", max_depth=2)
    book.replace([(1.0, 1.0), (2.0, 1.0), (3.0, 1.0)], [(4.0, 1.0), (5.0, 1.0), (6.0, 1.0)])
    assert book.levels(BookSide.BID) == [(3.0, 1.0), (2.0, 1.0)]
    assert book.levels(BookSide.ASK) == [(4.0, 1.0), (5.0, 1.0)]
    assert book.levels(BookSide.ASK, 1) == [(4.0, 1.0)]


def test_nan_or_negative_prices_never_enter_the_book() -> None:
    book = Book("X")
    book.apply([(float("nan"), 1.0), (-1.0, 1.0)], [(2.0, float("nan"))])
    assert len(book) == 0


def test_random_diffs_match_a_plain_dict_sorted_on_read() -> None:
    rng = random.Random(7)
    book = Book("X")
    ref: dict[BookSide, dict[float, float]] = {BookSide.BID: {}, BookSide.ASK: {}}
    for _ in range(5000):
        side = rng.choice([BookSide.BID, BookSide.ASK])
        price = float(rng.randrange(1, 400))
        qty = 0.0 if rng.random() < 0.3 else float(rng.randrange(1, 9))
        book.set(side, price, qty)
        if qty:
            ref[side][price] = qty
        else:
            ref[side].pop(price, None)
    assert book.levels(BookSide.BID) == sorted(ref[BookSide.BID].items(), reverse=True)
    assert book.levels(BookSide.ASK) == sorted(ref[BookSide.ASK].items())


def test_status_row_shows_the_top_and_the_health() -> None:
    book = Book("X")
    book.replace([(99.0, 2.0)], [(101.0, 3.0)], event_ms=1)
    book.health().gaps = 1
    row = status_row(book)
    assert (row["bid"], row["ask"], row["spread"], row["synced"]) == (99.0, 101.0, 2.0, True)
    assert (row["gaps"], row["resyncs"], row["updates"]) == (1, 0, 1)
    assert isinstance(row["lag_ms"], float) and row["lag_ms"] > 0


def test_random_messages_of_many_levels_match_a_plain_dict_sorted_on_read() -> None:
    # a message applies a list of levels in one call (the path the C loop takes); a level
    # may repeat within a message and a removal may name an absent level
    rng = random.Random(11)
    book = Book("X")
    ref: tuple[dict[float, float], dict[float, float]] = ({}, {})
    for _ in range(2000):
        sides: list[list[tuple[float, float]]] = [[], []]
        for side, levels in enumerate(sides):
            for _ in range(rng.randrange(0, 12)):
                price = rng.randrange(1, 3000) / 100
                qty = 0.0 if rng.random() < 0.25 else rng.randrange(1, 500) / 1000
                levels.append((price, qty))
                if qty:
                    ref[side][price] = qty
                else:
                    ref[side].pop(price, None)
        book.apply(sides[0], sides[1])
    assert book.levels(BookSide.BID) == sorted(ref[0].items(), reverse=True)
    assert book.levels(BookSide.ASK) == sorted(ref[1].items())


def test_levels_from_a_generator_apply_as_from_a_list() -> None:
    book = Book("X")
    book.apply(((float(p), 1.0) for p in (3, 1, 2)), iter([(5.0, 2.0), (4.0, 0.0)]))
    assert book.levels(BookSide.BID) == [(3.0, 1.0), (2.0, 1.0), (1.0, 1.0)]
    assert book.levels(BookSide.ASK) == [(5.0, 2.0)]


def test_a_level_that_is_not_a_pair_is_refused() -> None:
    book = Book("X")
    with pytest.raises(ValueError):
        book.apply([(1.0, 2.0, 3.0)], [])  # type: ignore[list-item]

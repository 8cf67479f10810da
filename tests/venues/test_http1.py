"""The minimal HTTP/1.1 response parser (venues/http1.py), per RFC 9112.

Each response is fed whole, one byte at a time, and pipelined behind another: framing bugs
live at boundaries. Malformed framing must raise ``Http1Error``, never return a response.
The chunked example is RFC 9112 §7.1's shape (hex sizes, optional extensions, trailers).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whalewire.venues.http1 import Http1Error, Response, ResponseParser

LENGTH = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"id":"abc1"}'
)
CHUNKED = (
    b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'4\r\n{"me\r\n'
    b'a;ext=1\r\nssage":"x"\r\n'
    b"1\r\n}\r\n"
    b"0\r\nX-Trailer: dropped\r\n\r\n"
)


def feed_split(data: bytes, cuts: list[int]) -> list[Response]:
    parser = ResponseParser()
    out: list[Response] = []
    last = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        out += parser.feed(data[last:cut])
        last = cut
    return out


@pytest.mark.parametrize(
    ("raw", "status", "body"),
    [
        (LENGTH, 200, b'{"id":"abc1"}'),
        (CHUNKED, 400, b'{"message":"x"}'),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b""),
        (b"HTTP/1.0 404 Not Found\r\ncontent-length: 0\r\n\r\n", 404, b""),
    ],
)
def test_response_parses_whole_bytewise_and_pipelined(raw: bytes, status: int, body: bytes) -> None:
    (whole,) = ResponseParser().feed(raw)
    assert (whole.status, whole.body) == (status, body)
    assert feed_split(raw, list(range(len(raw)))) == [whole]
    assert feed_split(raw + LENGTH, []) == [whole, *ResponseParser().feed(LENGTH)]


@given(st.lists(st.integers(0, len(LENGTH + CHUNKED)), max_size=12))
def test_any_split_of_two_pipelined_responses_gives_both(cuts: list[int]) -> None:
    got = feed_split(LENGTH + CHUNKED, cuts)
    assert [(r.status, r.body) for r in got] == [(200, b'{"id":"abc1"}'), (400, b'{"message":"x"}')]


def test_header_names_are_lower_case_and_connection_close_is_seen() -> None:
    (response,) = ResponseParser().feed(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    )
    assert response.headers["content-length"] == "2"
    assert response.closes


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",  # not HTTP/1.x
        b"HTTP/1.1 200 OK\r\n\r\n",  # no framing: would read until close (RFC 9112 §6.3)
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n",  # obs-fold
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",  # no CRLF after data
        b"HTTP/1.1 100 Continue\r\n\r\n",
    ],
)
def test_malformed_framing_raises(raw: bytes) -> None:
    with pytest.raises(Http1Error):
        ResponseParser().feed(raw)


def test_incomplete_response_waits_for_more() -> None:
    parser = ResponseParser()
    assert parser.feed(LENGTH[:-1]) == []
    assert [r.body for r in parser.feed(LENGTH[-1:])] == [b'{"id":"abc1"}']

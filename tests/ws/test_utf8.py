"""ws.utf8: incremental UTF-8 validation (RFC 3629 §4, Unicode Table 3-7) on both paths.

The table follows Markus Kuhn's UTF-8 decoder stress test and Autobahn's 6.x cases. Each
invalid vector gives ``fail_at``: the index of the first byte after which no continuation
can make the stream valid. A fail-fast validator must accept ``data[:fail_at]`` and reject
as soon as byte ``fail_at`` arrives, however the stream is chunked.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whalewire.ws import utf8
from whalewire.ws.exceptions import InvalidUTF8

pytestmark = pytest.mark.usefixtures("impl")

VALID = [
    b"",
    b"Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",  # Autobahn 6.2
    "κόσμε".encode(),  # Kuhn 1
    b"\x00",  # Kuhn 2.1.1: U+0000
    b"\xc2\x80",  # Kuhn 2.1.2: U+0080
    b"\xe0\xa0\x80",  # Kuhn 2.1.3: U+0800
    b"\xf0\x90\x80\x80",  # Kuhn 2.1.4: U+10000
    b"\x7f",  # Kuhn 2.2.1: U+007F
    b"\xdf\xbf",  # Kuhn 2.2.2: U+07FF
    b"\xef\xbf\xbf",  # Kuhn 2.2.3: U+FFFF (a noncharacter, still valid UTF-8)
    b"\xf4\x8f\xbf\xbf",  # Kuhn 2.3.5: U+10FFFF
    b"\xed\x9f\xbf",  # Kuhn 2.3.1: U+D7FF
    b"\xee\x80\x80",  # Kuhn 2.3.2: U+E000
    b"\xef\xbf\xbd",  # Kuhn 2.3.3: U+FFFD
    "a€𝄞".encode() * 100,
    bytes(range(128)) * 3,  # long ASCII runs exercise the word-at-a-time path
]

#: (data, fail_at)
INVALID = [
    (b"\x80", 0),  # Kuhn 3.1.1: lone first continuation byte
    (b"a\xbf", 1),  # Kuhn 3.1.2: lone last continuation byte
    (b"\xc0\xaf", 0),  # Kuhn 4.1.2: overlong "/" (C0 is never valid)
    (b"\xc1\xbf", 0),  # Kuhn 4.2.1: overlong U+007F
    (b"\xe0\x80\xaf", 1),  # Kuhn 4.1.3: overlong "/" in 3 bytes
    (b"\xe0\x9f\xbf", 1),  # Kuhn 4.2.3: overlong U+07FF
    (b"\xf0\x80\x80\xaf", 1),  # Kuhn 4.1.4: overlong "/" in 4 bytes
    (b"\xf0\x8f\xbf\xbf", 1),  # Kuhn 4.2.4: overlong U+FFFF
    (b"\xf8\x88\x80\x80\x80", 0),  # Kuhn 4.1.5: 5-byte form
    (b"\xfc\x84\x80\x80\x80\x80", 0),  # Kuhn 4.1.5: 6-byte form
    (b"\xfe", 0),  # Kuhn 3.5.1
    (b"\xff", 0),  # Kuhn 3.5.2
    (b"\xed\xa0\x80", 1),  # Kuhn 5.1.1: U+D800 (surrogate)
    (b"\xed\xbf\xbf", 1),  # Kuhn 5.1.7: U+DFFF
    (b"\xed\xa0\x80\xed\xb0\x80", 1),  # Kuhn 5.2.1: surrogate pair
    (b"\xf4\x90\x80\x80", 1),  # U+110000, above the last code point
    (b"\xf5\x80\x80\x80", 0),  # F5 never starts a valid sequence
    (b"\xc2a", 1),  # Kuhn 3.3.1 style: sequence cut by ASCII
    (b"\xe2\x82a", 2),
    (b"\xf0\x9f\x98a", 3),
    (b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited", 12),  # Autobahn 6.4.1
    (b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", 12),  # Autobahn 6.4.2
    (b"abcdefgh" * 4 + b"\xff" + b"abcdefgh", 32),  # invalid byte after the ASCII fast path
]

#: valid prefixes that end inside a code point: fine until the stream is finished
TRUNCATED = [b"\xc2", b"\xe2\x82", b"\xf0\x9f\x98", b"ok\xf4\x8f\xbf"]


@pytest.mark.parametrize("data", VALID)
def test_valid_utf8_is_accepted_whole_and_byte_by_byte(data: bytes) -> None:
    assert utf8.validate_utf8(data)
    v = utf8.new_validator()
    v.feed(data)
    v.finish()
    v = utf8.new_validator()
    for i in range(len(data)):
        v.feed(data[i : i + 1])
    v.finish()


@pytest.mark.parametrize("data", VALID)
def test_valid_utf8_is_accepted_at_every_split(data: bytes) -> None:
    for i in range(0, len(data), max(1, len(data) // 50)):
        v = utf8.new_validator()
        v.feed(memoryview(data)[:i])
        v.feed(bytearray(data[i:]))
        v.finish()


@pytest.mark.parametrize(("data", "fail_at"), INVALID)
def test_invalid_utf8_is_rejected_whole(data: bytes, fail_at: int) -> None:
    assert not utf8.validate_utf8(data)
    with pytest.raises(InvalidUTF8):
        v = utf8.new_validator()
        v.feed(data)
        v.finish()


@pytest.mark.parametrize(("data", "fail_at"), INVALID)
def test_invalid_utf8_fails_on_the_first_impossible_byte(data: bytes, fail_at: int) -> None:
    for split in range(fail_at + 1):
        v = utf8.new_validator()
        v.feed(data[:split])
        v.feed(data[split:fail_at])  # still a valid prefix
        with pytest.raises(InvalidUTF8):
            v.feed(data[fail_at : fail_at + 1])


@pytest.mark.parametrize("data", TRUNCATED)
def test_stream_ending_inside_a_code_point_fails_on_finish(data: bytes) -> None:
    assert not utf8.validate_utf8(data)
    v = utf8.new_validator()
    v.feed(data)
    with pytest.raises(InvalidUTF8):
        v.finish()


def test_validator_is_reusable_after_finish() -> None:
    v = utf8.new_validator()
    v.feed(b"\xe2\x82")
    with pytest.raises(InvalidUTF8):
        v.finish()
    v.feed(b"\xe2\x82\xac")
    v.finish()


def test_speedups_flag_says_which_path_is_live(impl: str) -> None:
    assert utf8.SPEEDUPS is (impl == "c")


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=64) | st.text(max_size=64).map(str.encode),
    cuts=st.lists(st.integers(0, 64), max_size=4),
)
def test_validator_agrees_with_pythons_strict_decoder(data: bytes, cuts: list[int]) -> None:
    try:
        data.decode("utf-8")
        expected = True
    except UnicodeDecodeError:
        expected = False
    assert utf8.validate_utf8(data) is expected
    v = utf8.new_validator()
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    try:
        for a, b in itertools.pairwise(bounds):
            v.feed(data[a:b])
        v.finish()
        incremental = True
    except InvalidUTF8:
        incremental = False
    assert incremental is expected

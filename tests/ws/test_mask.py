"""ws.mask: RFC 6455 §5.3 masking on both paths, and the key pool.

The expected values come from RFC 6455 §5.7's example and from a per-byte XOR written
here (``reference``), never from the code under test.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.ws.support import assert_fork_draws_fresh_keys

from whalewire.ws import mask
from whalewire.ws.mask import MaskKeyPool

pytestmark = pytest.mark.usefixtures("impl")


def reference(data: bytes, key: bytes) -> bytes:
    # RFC 6455 §5.3: transformed-octet-i = original-octet-i XOR masking-key-octet-(i MOD 4)
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


#: (key, data, masked) – RFC 6455 §5.7 "Hello" plus edge lengths around the 4/8-byte steps
VECTORS = [
    (bytes.fromhex("37fa213d"), b"Hello", bytes.fromhex("7f9f4d5158")),
    (b"\x00\x00\x00\x00", b"abc", b"abc"),
    (b"\xff\xff\xff\xff", b"\x00\x0f\xf0", b"\xff\xf0\x0f"),
] + [
    (key, data, reference(data, key))
    for key in (b"\x01\x02\x03\x04", b"\xa5\x5a\xff\x00")
    for n in (0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 125, 126, 1024, 65536 + 3)
    for data in [bytes((i * 31 + 7) & 0xFF for i in range(n))]
]


@pytest.mark.parametrize(("key", "data", "masked"), VECTORS)
def test_apply_mask_matches_the_vector(key: bytes, data: bytes, masked: bytes) -> None:
    assert mask.apply_mask(data, key) == masked
    assert mask.apply_mask(masked, key) == data


@pytest.mark.parametrize(("key", "data", "masked"), VECTORS[:3])
def test_apply_mask_accepts_any_buffer_type(key: bytes, data: bytes, masked: bytes) -> None:
    for d in (data, bytearray(data), memoryview(data)):
        for k in (key, bytearray(key), memoryview(key)):
            assert mask.apply_mask(d, k) == masked


@pytest.mark.parametrize("offset", range(9))
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 63, 200])
def test_apply_mask_inplace_at_unaligned_offsets(offset: int, n: int) -> None:
    key = b"\x13\x37\xc0\xde"
    data = os.urandom(offset + n + 5)
    buf = bytearray(data)
    mask.apply_mask_inplace(memoryview(buf)[offset : offset + n], key)
    assert buf[:offset] == data[:offset]
    assert buf[offset : offset + n] == reference(data[offset : offset + n], key)
    assert buf[offset + n :] == data[offset + n :]


def test_apply_mask_inplace_on_a_bytearray() -> None:
    buf = bytearray(b"Hello")
    mask.apply_mask_inplace(buf, bytes.fromhex("37fa213d"))
    assert buf == bytes.fromhex("7f9f4d5158")


def test_apply_mask_inplace_with_a_key_inside_the_same_buffer() -> None:
    # the frame path unmasks a payload with the key that precedes it in the buffer
    buf = bytearray(bytes.fromhex("37fa213d7f9f4d5158"))
    view = memoryview(buf)
    mask.apply_mask_inplace(view[4:], view[:4])
    assert buf[4:] == b"Hello"


@pytest.mark.parametrize("key", [b"", b"abc", b"abcde"])
def test_key_of_the_wrong_length_is_refused(key: bytes) -> None:
    with pytest.raises(ValueError):
        mask.apply_mask(b"data", key)
    with pytest.raises(ValueError):
        mask.apply_mask_inplace(bytearray(b"data"), key)


def test_inplace_refuses_a_read_only_buffer() -> None:
    with pytest.raises(TypeError):
        mask.apply_mask_inplace(memoryview(b"data"), b"abcd")


def test_pool_hands_out_distinct_4_byte_keys_across_refills() -> None:
    pool = MaskKeyPool(chunk_size=16)
    keys = [pool.next_key() for _ in range(40)]  # ten refills
    assert all(type(k) is bytes and len(k) == 4 for k in keys)
    # 40 keys out of 2**32: a repeat means the pool reused bytes
    assert len(set(keys)) == 40


def test_pool_refuses_a_chunk_size_not_a_multiple_of_4() -> None:
    with pytest.raises(ValueError):
        MaskKeyPool(chunk_size=10)


def test_discard_makes_the_pool_draw_fresh_bytes() -> None:
    pool = MaskKeyPool(chunk_size=4096)
    first = pool.next_key()
    pool.discard()
    assert pool.next_key() != first


def test_forked_child_does_not_reuse_the_parents_keys() -> None:
    assert_fork_draws_fresh_keys(mask.default_key_pool().next_key)


def test_speedups_flag_says_which_path_is_live(impl: str) -> None:
    assert mask.SPEEDUPS is (impl == "c")


def test_extension_is_built_when_required() -> None:
    # CI sets WHALEWIRE_REQUIRE_SPEEDUPS=1: a silently missing C build must fail there
    if os.environ.get("WHALEWIRE_REQUIRE_SPEEDUPS") != "1":
        pytest.skip("WHALEWIRE_REQUIRE_SPEEDUPS is not set")
    from whalewire.ws import _speedups

    assert _speedups.apply_mask(b"Hello", bytes.fromhex("37fa213d")) == bytes.fromhex("7f9f4d5158")


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000), key=st.binary(min_size=4, max_size=4), cut=st.integers(0, 9))
def test_mask_equals_the_per_byte_reference(data: bytes, key: bytes, cut: int) -> None:
    assert mask.apply_mask(data, key) == reference(data, key)
    buf = bytearray(data)
    mask.apply_mask_inplace(memoryview(buf)[cut:], key)
    assert buf == data[:cut] + reference(data[cut:], key)

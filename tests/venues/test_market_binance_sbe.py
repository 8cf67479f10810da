"""venues/binance/sbe.py against frames packed by hand from ``sbe/schemas/stream_1_0.xml``
(schema id 1, version 0, little-endian), independently of the module's encoders."""

from __future__ import annotations

import struct

import pytest

from whalewire.venues.binance.sbe import DepthSnapshot, SbeError, decode, encode_depth_snapshot
from whalewire.venues.binance.stream_decode import BookTicker, DepthUpdate, Trade


def symbol(name: str) -> bytes:
    return bytes([len(name)]) + name.encode()


def depth_diff_frame() -> bytes:
    # root: eventTime, firstBookUpdateId, lastBookUpdateId (int64), price/qty exponents (int8)
    root = struct.pack("<qqqbb", 1_700_000_000_123_456, 157, 160, -2, -8)
    head = struct.pack("<HHHH", len(root), 10003, 1, 0)
    bids = struct.pack("<HH", 16, 1) + struct.pack("<qq", 6_000_001, 150_000_000)
    asks = struct.pack("<HH", 16, 2) + struct.pack("<qq", 6_000_100, 0)
    asks += struct.pack("<qq", 6_000_200, 1)
    return head + root + bids + asks + symbol("BTCUSDT")


def test_depth_diff_decodes_to_the_json_paths_type_with_exact_float_keys() -> None:
    event = decode(depth_diff_frame())
    assert event == DepthUpdate(
        E=1_700_000_000_123,
        s="BTCUSDT",
        U=157,
        u=160,
        b=[(float("60000.01"), 1.5)],
        a=[(float("60001.00"), 0.0), (float("60002.00"), float("0.00000001"))],
    )


def test_best_bid_ask_and_trades() -> None:
    root = struct.pack("<qqbbqqqq", 5_000_000, 42, -1, -3, 600_001, 2_500, 600_003, 1)
    frame = struct.pack("<HHHH", len(root), 10001, 1, 0) + root + symbol("ETHBTC")
    assert decode(frame) == BookTicker(u=42, s="ETHBTC", b=60000.1, B=2.5, a=60000.3, A=0.001)
    root = struct.pack("<qqbb", 7_000_000, 7_001_000, 0, 0)
    group = struct.pack("<HI", 25, 2) + struct.pack("<qqqB", 11, 5, 2, 1)
    group += struct.pack("<qqqB", 12, 6, 3, 0)
    frame = struct.pack("<HHHH", len(root), 10000, 1, 0) + root + group + symbol("X")
    trades = decode(frame)
    assert trades == [
        Trade(e="trade", E=7001, s="X", p=5.0, q=2.0, T=7001, m=True, t=11),
        Trade(e="trade", E=7001, s="X", p=6.0, q=3.0, T=7001, m=False, t=12),
    ]


def test_a_longer_root_block_from_a_later_schema_version_is_skipped() -> None:
    frame = depth_diff_frame()
    root_len = struct.unpack_from("<H", frame)[0]
    longer = struct.pack("<HHHH", root_len + 4, 10003, 1, 1) + frame[8 : 8 + root_len] + b"\0" * 4
    assert decode(longer + frame[8 + root_len :]) == decode(frame)


@pytest.mark.parametrize("cut", [0, 7, 20, 40, 60, -1])
def test_a_cut_frame_is_an_sbe_error(cut: int) -> None:
    with pytest.raises(SbeError):
        decode(depth_diff_frame()[:cut])


def test_another_schema_or_template_is_an_sbe_error() -> None:
    frame = depth_diff_frame()
    with pytest.raises(SbeError, match="schema"):
        decode(frame[:4] + struct.pack("<H", 2) + frame[6:])
    with pytest.raises(SbeError, match="template"):
        decode(struct.pack("<HHHH", 0, 10004, 1, 0))


def depth_snapshot_frame() -> bytes:
    # DepthSnapshotStreamEvent: eventTime, bookUpdateId (int64), price/qty exponents (int8)
    root = struct.pack("<qqbb", 1_700_000_000_987_654, 4242, -2, -5)
    head = struct.pack("<HHHH", len(root), 10002, 1, 0)
    bids = struct.pack("<HH", 16, 2) + struct.pack("<qq", 6_000_001, 150_000)
    bids += struct.pack("<qq", 5_999_999, 1)
    asks = struct.pack("<HH", 16, 1) + struct.pack("<qq", 6_000_100, 20_000)
    return head + root + bids + asks + symbol("BTCUSDT")


def test_depth_snapshot_decodes_its_levels_best_first_and_its_update_id() -> None:
    assert decode(depth_snapshot_frame()) == DepthSnapshot(
        E=1_700_000_000_987,
        s="BTCUSDT",
        u=4242,
        bids=[(float("60000.01"), 1.5), (float("59999.99"), float("0.00001"))],
        asks=[(float("60001.00"), 0.2)],
    )


def test_depth_snapshot_encoder_writes_the_hand_packed_frame() -> None:
    frame = encode_depth_snapshot(
        "BTCUSDT",
        time_us=1_700_000_000_987_654,
        update_id=4242,
        exponents=(-2, -5),
        bids=[(6_000_001, 150_000), (5_999_999, 1)],
        asks=[(6_000_100, 20_000)],
    )
    assert frame == depth_snapshot_frame()


@pytest.mark.parametrize("cut", [0, 7, 20, 30, 50, -1])
def test_a_cut_depth_snapshot_is_an_sbe_error(cut: int) -> None:
    with pytest.raises(SbeError):
        decode(depth_snapshot_frame()[:cut])

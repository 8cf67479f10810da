"""The C order framers of ``whalewire.venues._hotpath``, called directly.

``test_templates.py`` holds the framers equal to the pure-Python templates on what a template
passes them; these tests call ``BinanceFramer`` and ``KrakenFramer`` themselves, with short
hand-made segments, and assert the exact frame: the RFC 6455 §5.2 header of a masked text
frame (short bodies under 126 bytes included, which no real template reaches), the payload
unmasked with the frame's own key (§5.3), the HMAC-SHA256 hex signature (RFC 2104, computed
here with ``hmac``), and every refusal: the slots' alphabets (Binance's newClientOrderId
``^[\\.A-Z\\:/a-z0-9_-]{1,36}$``, decimals with one inner dot), the argument count and types,
the timestamp's range, and what ``refuse`` receives and raises. Issue 23:
``python -m mutation hotpath_c``.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from collections.abc import Callable
from typing import Any

import pytest

from whalewire.venues import templates

if templates._hotpath is None:
    pytest.skip("whalewire.venues._hotpath is not built", allow_module_level=True)

from whalewire.venues import _hotpath

#: pay: c0 CID c1 PRICE c2 QTY c3 TS c4 -- js: j0 CID j1 CID j2 PRICE j3 QTY j4 TS j5 SIG j6
PAY = (b"k=v&id=", b"&p=", b"&q=", b"&t=", b"")
JS = (b'{"i":"', b'","c":"', b'","p":', b',"q":', b',"t":', b',"s":"', b'"}')
SECRET = b"secret-key"


class Refused(Exception):
    """What the test's ``refuse`` raises: the framer must let it through unchanged."""


def refuse_recording(calls: list[tuple[bytes, bytes, bytes]]) -> Callable[..., None]:
    def refuse(cid: bytes, qty: bytes, price: bytes) -> None:
        calls.append((cid, qty, price))
        raise Refused

    return refuse


def unframe(frame: bytes) -> tuple[bytes, bytes]:
    """(header without the key, payload unmasked with the frame's key): RFC 6455 §5.2-5.3."""
    assert frame[0] == 0x81  # FIN + text
    assert frame[1] & 0x80  # masked
    short = frame[1] & 0x7F
    pos = 2 if short < 126 else 4 if short == 126 else 10
    key = frame[pos : pos + 4]
    body = frame[pos + 4 :]
    return frame[:pos], bytes(b ^ key[i % 4] for i, b in enumerate(body))


def header(n: int) -> bytes:
    if n < 126:
        return bytes([0x81, 0x80 | n])
    if n < 65536:
        return bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    return bytes([0x81, 0x80 | 127]) + n.to_bytes(8, "big")


def binance(
    *, secret: bytes | None = SECRET, has_price: bool = True, width: int = 4
) -> tuple[_hotpath.BinanceFramer, list[tuple[bytes, bytes, bytes]]]:
    calls: list[tuple[bytes, bytes, bytes]] = []
    framer = _hotpath.BinanceFramer(
        pay=PAY,
        js=JS,
        secret=secret,
        cid_width=width,
        has_price=has_price,
        refuse=refuse_recording(calls),
    )
    return framer, calls


def binance_payload(ts: bytes, cid: bytes, qty: bytes, price: bytes, secret: bytes | None) -> bytes:
    signed = PAY[0] + cid + PAY[1] + price + PAY[2] + qty + PAY[3] + ts + PAY[4]
    sig = b"" if secret is None else hmac.new(secret, signed, hashlib.sha256).hexdigest().encode()
    return (
        JS[0] + cid + JS[1] + cid + JS[2] + price + JS[3] + qty + JS[4] + ts + JS[5] + sig + JS[6]
    )


# --- Binance: the frame ---------------------------------------------------------------------


@pytest.mark.parametrize("secret", [SECRET, b"k" * 100, None], ids=["key", "long-key", "unsigned"])
def test_binance_frame_carries_the_signed_payload(secret: bytes | None) -> None:
    framer, _ = binance(secret=secret)
    frame = framer.frame(1_700_000_000_123, b"ab:1", b"0.5", b"100.25")
    want = binance_payload(b"1700000000123", b"ab:1", b"0.5", b"100.25", secret)
    assert unframe(frame) == (header(len(want)), want)


def test_binance_market_frame_has_an_empty_price_slot() -> None:
    framer, _ = binance(has_price=False, secret=None)
    frame = framer.frame(7, b"ab:1", b"2")
    want = binance_payload(b"7", b"ab:1", b"2", b"", None)
    assert len(want) < 126  # the 7-bit length
    assert unframe(frame) == (header(len(want)), want)


@pytest.mark.parametrize(
    ("ts", "text"),
    [(0, b"0"), (9, b"9"), (10, b"10"), (2**63 - 1, b"9223372036854775807")],
)
def test_binance_timestamp_is_written_in_decimal(ts: int, text: bytes) -> None:
    framer, _ = binance()
    frame = framer.frame(ts, b"ab:1", b"1", b"1")
    assert unframe(frame)[1] == binance_payload(text, b"ab:1", b"1", b"1", SECRET)


def test_binance_timestamp_refusals() -> None:
    framer, _ = binance()
    loose: Any = framer  # called as a caller that breaks the types would
    with pytest.raises(ValueError, match="negative"):
        framer.frame(-1, b"ab:1", b"1", b"1")
    with pytest.raises(OverflowError):
        framer.frame(2**63, b"ab:1", b"1", b"1")
    with pytest.raises(TypeError, match="timestamp_ms"):
        loose.frame(1.0, b"ab:1", b"1", b"1")


def test_binance_argument_count_and_types() -> None:
    framer, calls = binance()
    loose: Any = framer
    for args in [(1, b"ab:1"), (1, b"ab:1", b"1", b"1", b"1")]:
        with pytest.raises(TypeError, match="frame"):
            loose.frame(*args)
    wrong: list[tuple[object, ...]] = [
        (1, "ab:1", b"1", b"1"),
        (1, b"ab:1", 1, b"1"),
        (1, b"ab:1", b"1", "1"),
    ]
    for bad in wrong:
        with pytest.raises(TypeError, match="must be bytes"):
            loose.frame(*bad)
    assert calls == []


def test_an_uninitialised_binance_framer_refuses() -> None:
    framer = _hotpath.BinanceFramer.__new__(_hotpath.BinanceFramer)
    with pytest.raises(RuntimeError, match="not initialised"):
        framer.frame(1, b"ab:1", b"1", b"1")


# --- the slots' alphabets --------------------------------------------------------------------


@pytest.mark.parametrize(
    "cid",
    [b"0189", b"AZaz", b"-._:", b"/z/Z", b"9999", b"ZZZZ", b"zzzz"],
)
def test_every_character_of_binances_id_alphabet_is_accepted(cid: bytes) -> None:
    framer, calls = binance()
    assert unframe(framer.frame(1, cid, b"1", b"1"))[1] == binance_payload(
        b"1", cid, b"1", b"1", SECRET
    )
    assert calls == []


@pytest.mark.parametrize("cid", [b"@bcd", b"abc ", b"ab+1", b"ab[1", b"ab`1", b"ab{1", b"abc"])
def test_a_client_order_id_outside_the_alphabet_or_width_is_refused(cid: bytes) -> None:
    framer, calls = binance()
    with pytest.raises(Refused):
        framer.frame(1, cid, b"1", b"1")
    assert calls == [(cid, b"1", b"1")]


@pytest.mark.parametrize("number", [b"0", b"9", b"5", b"10", b"1.5", b"0.25", b"90.09"])
def test_decimals_with_at_most_one_inner_dot_are_accepted(number: bytes) -> None:
    framer, _ = binance()
    frame = framer.frame(1, b"ab:1", number, number)
    assert unframe(frame)[1] == binance_payload(b"1", b"ab:1", number, number, SECRET)


@pytest.mark.parametrize(
    "number",
    [b"", b".", b".5", b"5.", b"1..2", b"1.2.3", b"/", b":", b"1/", b"1:", b"x1", b"1a", b"-1"],
)
def test_anything_else_is_not_a_decimal(number: bytes) -> None:
    framer, calls = binance()
    with pytest.raises(Refused):
        framer.frame(1, b"ab:1", number, b"1")
    with pytest.raises(Refused):
        framer.frame(1, b"ab:1", b"1", number)
    assert calls == [(b"ab:1", number, b"1"), (b"ab:1", b"1", number)]


def test_a_market_framer_refuses_a_price_and_hands_refuse_an_empty_one() -> None:
    framer, calls = binance(has_price=False)
    with pytest.raises(Refused):
        framer.frame(1, b"ab:1", b"1", b"1")
    with pytest.raises(Refused):
        framer.frame(1, b"ab:1", b"x")
    assert calls == [(b"ab:1", b"1", b"1"), (b"ab:1", b"x", b"")]
    assert unframe(framer.frame(1, b"ab:1", b"1", b""))[1] == binance_payload(
        b"1", b"ab:1", b"1", b"", SECRET
    )


def test_a_refuse_that_returns_is_an_assertion_error() -> None:
    framer = _hotpath.BinanceFramer(
        pay=PAY, js=JS, secret=None, cid_width=4, has_price=True, refuse=lambda *a: None
    )
    with pytest.raises(AssertionError, match="refuse returned"):
        framer.frame(1, b"ab:1", b"1x", b"1")


def raise_refused(*_: bytes) -> None:
    raise Refused


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="immortal objects keep no count")
def test_a_refusal_keeps_every_reference_count() -> None:
    # the price is borrowed from the caller; the empty price of a market refusal is the
    # framer's own, released after refuse: neither count may drift
    framer = _hotpath.BinanceFramer(
        pay=PAY, js=JS, secret=None, cid_width=4, has_price=True, refuse=raise_refused
    )
    market = _hotpath.BinanceFramer(
        pay=PAY, js=JS, secret=None, cid_width=4, has_price=False, refuse=raise_refused
    )
    price = b"1" + b"x" * 3  # a new object no one else holds
    before = (sys.getrefcount(price), sys.getrefcount(b""))
    refused = 0
    for _ in range(50):
        try:
            framer.frame(1, b"ab:1", b"1", price)
        except Refused:
            refused += 1
        try:
            market.frame(1, b"ab:1", b"y")
        except Refused:
            refused += 1
    assert refused == 100
    assert (sys.getrefcount(price), sys.getrefcount(b"")) == before


# --- Kraken ----------------------------------------------------------------------------------

SEG = (b'{"o":"', b'","q":', b',"p":', b'},"r":', b"}")


def kraken(*, has_price: bool = True) -> tuple[_hotpath.KrakenFramer, list[tuple[bytes, ...]]]:
    calls: list[tuple[bytes, bytes, bytes]] = []
    framer = _hotpath.KrakenFramer(
        segments=SEG, cid_width=3, has_price=has_price, refuse=refuse_recording(calls)
    )
    return framer, calls  # type: ignore[return-value]


def kraken_payload(req: bytes, cid: bytes, qty: bytes, price: bytes) -> bytes:
    return SEG[0] + cid + SEG[1] + qty + SEG[2] + price + SEG[3] + req + SEG[4]


@pytest.mark.parametrize(
    ("req", "text"),
    [
        (0, b"0"),
        (7, b"7"),
        (-5, b"-5"),
        (-(2**63), b"-9223372036854775808"),
        (2**63 - 1, b"9223372036854775807"),
    ],
)
def test_kraken_frame_carries_the_request_id_in_decimal(req: int, text: bytes) -> None:
    framer, _ = kraken()
    want = kraken_payload(text, b"a:1", b"0.5", b"100.25")
    assert unframe(framer.frame(req, b"a:1", b"0.5", b"100.25")) == (header(len(want)), want)


def test_kraken_market_frame_and_its_refusals() -> None:
    framer, calls = kraken(has_price=False)
    want = kraken_payload(b"1", b"a:1", b"2", b"")
    assert unframe(framer.frame(1, b"a:1", b"2")) == (header(len(want)), want)
    with pytest.raises(Refused):
        framer.frame(1, b"a:1", b"2", b"3")
    with pytest.raises(Refused):
        framer.frame(1, b"a:1", b"2.")
    with pytest.raises(Refused):
        framer.frame(1, b"a:12", b"2")
    assert calls == [(b"a:1", b"2", b"3"), (b"a:1", b"2.", b""), (b"a:12", b"2", b"")]


def test_kraken_argument_refusals() -> None:
    framer, calls = kraken()
    loose: Any = framer
    for args in [(1, b"a:1"), (1, b"a:1", b"1", b"1", b"1")]:
        with pytest.raises(TypeError, match="frame"):
            loose.frame(*args)
    with pytest.raises(TypeError, match="must be bytes"):
        loose.frame(1, b"a:1", b"1", 1)
    with pytest.raises(TypeError, match="req_id"):
        loose.frame("1", b"a:1", b"1", b"1")
    with pytest.raises(OverflowError):
        framer.frame(2**64, b"a:1", b"1", b"1")
    with pytest.raises(Refused):
        framer.frame(1, b"a:1", b"1", b".1")
    assert calls == [(b"a:1", b"1", b".1")]
    uninitialised = _hotpath.KrakenFramer.__new__(_hotpath.KrakenFramer)
    with pytest.raises(RuntimeError, match="not initialised"):
        uninitialised.frame(1, b"a:1", b"1", b"1")


def test_kraken_refuse_that_returns_is_an_assertion_error() -> None:
    framer = _hotpath.KrakenFramer(
        segments=SEG, cid_width=3, has_price=True, refuse=lambda *a: None
    )
    with pytest.raises(AssertionError, match="refuse returned"):
        framer.frame(1, b"a:1", b"1", b"")


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="immortal objects keep no count")
def test_a_kraken_refusal_keeps_every_reference_count() -> None:
    framer = _hotpath.KrakenFramer(segments=SEG, cid_width=3, has_price=True, refuse=raise_refused)
    market = _hotpath.KrakenFramer(segments=SEG, cid_width=3, has_price=False, refuse=raise_refused)
    price = b"1" + b"x" * 3
    before = (sys.getrefcount(price), sys.getrefcount(b""))
    refused = 0
    for _ in range(50):
        try:
            framer.frame(1, b"a:1", b"1", price)
        except Refused:
            refused += 1
        try:
            market.frame(1, b"a:1", b"y")
        except Refused:
            refused += 1
    assert refused == 100
    assert (sys.getrefcount(price), sys.getrefcount(b"")) == before

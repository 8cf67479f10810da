"""Venue clients over wss:// with the configuration's CA file and SPKI pins (real TLS)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from tests.venues.support import binance_tls_client

from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.net.errors import PinMismatch, TLSFailure
from whalewire.net.tls import spki_pin
from whalewire.venues.base import TlsSettings


@pytest.fixture
async def tls_emulator(tmp_path: Path) -> AsyncIterator[tuple[BinanceEmulator, Path, str]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    pin = spki_pin(ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode()))
    emulator = BinanceEmulator()
    await emulator.start(ssl=server_ctx)
    yield emulator, ca_file, pin
    await emulator.close()


client = binance_tls_client


async def test_client_with_the_ca_file_and_the_right_pin_warms_up_over_wss(
    tls_emulator: tuple[BinanceEmulator, Path, str],
) -> None:
    emulator, ca_file, pin = tls_emulator
    assert emulator.url.startswith("wss://")
    c = client(emulator, TlsSettings(ca_file=str(ca_file), pins=(pin,)))
    await c.start()
    assert c.status()["connected"] is True
    await c.close()


async def test_client_with_a_wrong_pin_refuses_the_venue_before_sending_anything(
    tls_emulator: tuple[BinanceEmulator, Path, str],
) -> None:
    emulator, ca_file, _ = tls_emulator
    wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    c = client(emulator, TlsSettings(ca_file=str(ca_file), pins=(wrong,)))
    with pytest.raises(PinMismatch):
        await c.start()


async def test_client_without_the_ca_refuses_the_self_signed_venue(
    tls_emulator: tuple[BinanceEmulator, Path, str],
) -> None:
    emulator, _, _ = tls_emulator
    c = client(emulator, TlsSettings())
    with pytest.raises(TLSFailure):
        await c.start()

"""TLS for ``whalewire.net``: client and server ``ssl.SSLContext``s and SPKI pinning.

Contexts come from the standard ``ssl`` module with verification on, TLS 1.2 at least
(1.3 preferred, as OpenSSL negotiates the highest both sides speak) and ALPN ``http/1.1``
(RFC 7301; a WebSocket upgrade is an HTTP/1.1 request, RFC 6455 §4.1). A pin is the base64
SHA-256 of the server certificate's DER ``SubjectPublicKeyInfo`` (the ``pin-sha256`` form of
RFC 7469 §2.4): ``check_pins`` compares it on the live connection, right after the TLS
handshake and before the upgrade request is written. Python 3.11 exposes only the leaf
certificate of a verified chain, so pins name the server's own key. Nothing here knows
WebSocket framing or HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
from collections.abc import Iterable

from whalewire.net.errors import PinMismatch, TLSFailure

__all__ = [
    "check_pins",
    "client_context",
    "normalize_pins",
    "server_context",
    "spki_of_certificate",
    "spki_pin",
]

#: RFC 7301 protocol id for HTTP/1.1, which carries the WebSocket upgrade
ALPN = ["http/1.1"]


def client_context(
    *, cafile: str | None = None, cadata: str | bytes | None = None
) -> ssl.SSLContext:
    """Return a client context: verification and host-name check on, TLS >= 1.2, ALPN.

    Args:
        cafile: a PEM file of trusted CAs (or of one self-signed certificate to trust);
            the system's trust store when neither this nor ``cadata`` is given.
        cadata: the same as PEM text or DER bytes.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile, cadata=cadata)
    prepare_client_context(context)
    return context


def prepare_client_context(context: ssl.SSLContext) -> None:
    """Raise a caller's context to TLS 1.2 at least and offer ALPN ``http/1.1``.

    Verification settings are the caller's: a context built with ``CERT_NONE`` stays so.
    """
    context.minimum_version = max(context.minimum_version, ssl.TLSVersion.TLSv1_2)
    context.set_alpn_protocols(ALPN)


def server_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """Return a server context for ``serve(ssl=...)``: TLS >= 1.2, ALPN ``http/1.1``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(ALPN)
    return context


def _tlv(der: bytes, offset: int) -> tuple[int, int, int]:
    """Return (tag, value start, value end) of the DER element at ``offset`` (X.690 §8.1)."""
    if offset + 2 > len(der):
        raise ValueError("truncated DER")
    tag, first = der[offset], der[offset + 1]
    start = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(der):
            raise ValueError("unsupported DER length")
        length = int.from_bytes(der[start : start + count], "big")
        start += count
    end = start + length
    if end > len(der):
        raise ValueError("truncated DER")
    return tag, start, end


def spki_of_certificate(der: bytes) -> bytes:
    """Return the DER ``SubjectPublicKeyInfo`` inside a DER X.509 certificate.

    RFC 5280 §4.1: Certificate = SEQUENCE { tbsCertificate, ... } and TBSCertificate =
    SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity, subject,
    subjectPublicKeyInfo, ... }.

    Raises:
        ValueError: the bytes are not a certificate of that shape.
    """
    tag, start, _ = _tlv(der, 0)
    if tag != 0x30:
        raise ValueError("a certificate is a DER SEQUENCE")
    tag, offset, tbs_end = _tlv(der, start)
    if tag != 0x30:
        raise ValueError("tbsCertificate is a DER SEQUENCE")
    if der[offset] == 0xA0:  # [0] EXPLICIT version
        offset = _tlv(der, offset)[2]
    for _ in range(5):  # serialNumber, signature, issuer, validity, subject
        offset = _tlv(der, offset)[2]
    tag, _, end = _tlv(der, offset)
    if tag != 0x30 or end > tbs_end:
        raise ValueError("subjectPublicKeyInfo is a DER SEQUENCE inside tbsCertificate")
    return der[offset:end]


def spki_pin(der_certificate: bytes) -> str:
    """Return a certificate's pin: base64 of SHA-256 over its DER SubjectPublicKeyInfo."""
    digest = hashlib.sha256(spki_of_certificate(der_certificate)).digest()
    return base64.b64encode(digest).decode("ascii")


def normalize_pins(pins: Iterable[str]) -> frozenset[str]:
    """Return the pins as a set, accepting an optional ``sha256/`` prefix (curl's form).

    Raises:
        ValueError: a pin is not base64 of 32 bytes, or the set is empty.
    """
    result = set()
    for pin in pins:
        text = pin.removeprefix("sha256/").strip()
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:
            raise ValueError(f"a pin is base64 of a SHA-256 digest: {pin!r}") from None
        if len(raw) != 32:
            raise ValueError(f"a pin is base64 of a SHA-256 digest (32 bytes): {pin!r}")
        result.add(text)
    if not result:
        raise ValueError("an empty pin set would refuse every server")
    return frozenset(result)


def check_pins(
    ssl_object: ssl.SSLObject | ssl.SSLSocket | None, pins: frozenset[str], host: str, port: int
) -> str:
    """Check the live connection's server key against ``pins``; return the pin seen.

    Raises:
        PinMismatch: the key is not pinned (names the expected pins and the one seen).
        TLSFailure: there is no TLS connection or no peer certificate to check.
    """
    if ssl_object is None:
        raise TLSFailure(host, port, "pins given but the connection is not TLS")
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        raise TLSFailure(host, port, "the server sent no certificate to check the pins against")
    seen = spki_pin(der)
    if seen not in pins:
        raise PinMismatch(host, port, pins, seen)
    return seen

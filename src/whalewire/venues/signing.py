"""Request signing for Binance, Kraken and Coinbase: pure functions over strings and keys.

Holds the exact byte rules each venue signs (which parameters, in which order, encoded how)
and the signature algorithms (HMAC-SHA256/512, Ed25519, RSA PKCS#1 v1.5, ES256 JWT).
Knows nothing of sockets, clocks or where secrets come from: callers pass timestamps,
nonces and key material in. Every rule cites the venue document it comes from; the
published examples are the tests (``tests/venues/test_signing.py``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

__all__ = [
    "PrivateKey",
    "binance_ed25519_signature",
    "binance_hmac_signature",
    "binance_logon_params",
    "binance_param",
    "binance_rest_payload",
    "binance_rest_query",
    "binance_rsa_signature",
    "binance_signature",
    "binance_signed_params",
    "binance_ws_payload",
    "coinbase_exchange_headers",
    "coinbase_exchange_signature",
    "coinbase_jwt",
    "coinbase_jwt_uri",
    "kraken_postdata",
    "kraken_private_request",
    "kraken_signature",
    "load_private_key",
]

PrivateKey = Ed25519PrivateKey | RSAPrivateKey | ec.EllipticCurvePrivateKey

# RFC 3986 unreserved characters stay literal; Binance's own encoder in the REST docs
# ("rawurlencode": [-_.~a-zA-Z0-9] kept, all else %XX) does the same.
_UNRESERVED = "-_.~"


# --------------------------------------------------------------------------- Binance


def binance_param(value: object) -> str:
    """Format one parameter value the way Binance reads it.

    ``True``/``False`` become ``true``/``false`` (the JSON spelling the WebSocket API
    receives), ``Decimal`` is written in plain notation without exponent and with its
    trailing zeros kept (``Decimal("0.01000000")`` stays ``0.01000000``), ``float`` goes
    through its shortest round-trip repr (never exponent notation), ``int``/``str`` as is.

    Raises:
        TypeError: for ``None``, containers and other types, which have no agreed spelling.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"non-finite Decimal {value!r} cannot be sent to Binance")
        return format(value, "f")
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, Enum):
        return binance_param(value.value)
    raise TypeError(f"unsupported Binance parameter type {type(value).__name__}")


def binance_ws_payload(params: Mapping[str, object]) -> str:
    """Build the WebSocket API signature payload from request params.

    Rule (Binance ``web-socket-api.md``, "SIGNED request example (HMAC)", step 1): take
    every param except ``signature``, sort by name, join ``name=value`` pairs with ``&``.
    Values are raw UTF-8: no percent-encoding.
    """
    return "&".join(
        f"{name}={binance_param(params[name])}" for name in sorted(params) if name != "signature"
    )


def binance_rest_query(params: Mapping[str, object] | Iterable[tuple[str, object]]) -> str:
    """Build a REST query string or form body, percent-encoded exactly as it is sent.

    Order is kept as given (REST does not sort). Names and values are UTF-8 and
    percent-encoded except RFC 3986 unreserved characters (Binance ``rest-api.md``,
    "SIGNED Endpoint Examples": ``symbol=１２３４５６`` is signed as
    ``symbol=%EF%BC%91%EF%BC%92...``).
    """
    items = params.items() if isinstance(params, Mapping) else params
    return "&".join(
        f"{quote(name, safe=_UNRESERVED)}={quote(binance_param(value), safe=_UNRESERVED)}"
        for name, value in items
    )


def binance_rest_payload(query_string: str, body: str = "") -> str:
    """Join the REST query string and body into the signature payload.

    Binance ``rest-api.md``, "SIGNED Endpoint Examples", example 3: the query string is
    concatenated to the body *without* a separator (``...timeInForce=GTCquantity=1...``).
    Both parts must already be percent-encoded as sent.
    """
    return query_string + body


def binance_hmac_signature(payload: str, secret: str) -> str:
    """Sign a Binance payload with HMAC-SHA256 and return lower-case hex."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def binance_ed25519_signature(payload: str, private_key: Ed25519PrivateKey) -> str:
    """Sign a Binance payload with an Ed25519 key and return standard base64."""
    return base64.b64encode(private_key.sign(payload.encode())).decode("ascii")


def binance_rsa_signature(payload: str, private_key: RSAPrivateKey) -> str:
    """Sign a Binance payload with RSASSA-PKCS1-v1_5 over SHA-256; return standard base64."""
    raw = private_key.sign(payload.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def binance_signature(payload: str, key: str | Ed25519PrivateKey | RSAPrivateKey) -> str:
    """Sign a Binance payload with whatever key type the account uses.

    A ``str`` key is an HMAC secret (hex result); Ed25519 and RSA keys give base64.
    Base64 signatures must be percent-encoded when placed in a REST query string
    (``binance_rest_query`` does that); the WebSocket API takes them raw in JSON.
    """
    if isinstance(key, str):
        return binance_hmac_signature(payload, key)
    if isinstance(key, Ed25519PrivateKey):
        return binance_ed25519_signature(payload, key)
    return binance_rsa_signature(payload, key)


def binance_signed_params(
    params: Mapping[str, object], *, api_key: str, key: str | Ed25519PrivateKey | RSAPrivateKey
) -> dict[str, object]:
    """Return WebSocket API params with ``apiKey`` added and ``signature`` over all of them.

    For any SIGNED request (``order.status``, ``order.cancel``, ``openOrders.cancelAll``...);
    the hot path's ``order.place`` uses ``templates.BinanceOrderTemplate`` instead.
    """
    signed: dict[str, object] = {**params, "apiKey": api_key}
    signed.pop("signature", None)
    signed["signature"] = binance_signature(binance_ws_payload(signed), key)
    return signed


def binance_logon_params(
    api_key: str,
    private_key: Ed25519PrivateKey,
    timestamp_ms: int,
    recv_window_ms: int | None = None,
) -> dict[str, object]:
    """Return signed ``session.logon`` params (``web-socket-api.md``: Ed25519 keys only)."""
    params: dict[str, object] = {"timestamp": timestamp_ms}
    if recv_window_ms is not None:
        params["recvWindow"] = recv_window_ms
    return binance_signed_params(params, api_key=api_key, key=private_key)


def load_private_key(pem: bytes, password: bytes | None = None) -> PrivateKey:
    """Load a PEM private key (PKCS#8 or traditional) of a type the venues accept.

    Raises:
        ValueError: when the key cannot be parsed or is of an unsupported type. The
            message never contains key material.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"cannot load private key: {type(exc).__name__}") from None
    if isinstance(key, Ed25519PrivateKey | RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key
    raise ValueError(f"unsupported private key type {type(key).__name__}")


# --------------------------------------------------------------------------- Kraken


def kraken_postdata(params: Mapping[str, object] | Iterable[tuple[str, object]]) -> str:
    """Form-encode Kraken REST POST data in the given order (``nonce`` first by convention)."""
    items = params.items() if isinstance(params, Mapping) else params
    return "&".join(
        f"{quote(name, safe=_UNRESERVED)}={quote(binance_param(value), safe=_UNRESERVED)}"
        for name, value in items
    )


def kraken_private_request(
    uri_path: str,
    params: Mapping[str, object] | Iterable[tuple[str, object]],
    *,
    nonce: str,
    api_key: str,
    secret_b64: str,
) -> tuple[str, dict[str, str]]:
    """Return the body and headers of a Kraken private REST call (e.g. GetWebSocketsToken).

    The body is form-encoded with ``nonce`` first; headers are ``API-Key``, ``API-Sign`` and
    the form content type.
    """
    items = list(params.items() if isinstance(params, Mapping) else params)
    body = kraken_postdata([("nonce", nonce), *[(k, v) for k, v in items if k != "nonce"]])
    headers = {
        "API-Key": api_key,
        "API-Sign": kraken_signature(uri_path, nonce, body, secret_b64),
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    }
    return body, headers


def kraken_signature(uri_path: str, nonce: str, postdata: str, secret_b64: str) -> str:
    """Compute Kraken's ``API-Sign`` header.

    base64(HMAC-SHA512(key=base64decode(secret), msg=uri_path + SHA256(nonce + postdata)))
    (Kraken "Spot REST Authentication" guide). ``postdata`` is the exact body sent,
    form-encoded or JSON; it must contain the same nonce.
    """
    digest = hashlib.sha256((nonce + postdata).encode()).digest()
    mac = hmac.new(base64.b64decode(secret_b64), uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode("ascii")


# --------------------------------------------------------------------------- Coinbase


def coinbase_exchange_signature(
    timestamp: str, method: str, request_path: str, body: str, secret_b64: str
) -> str:
    """Compute Coinbase Exchange's ``CB-ACCESS-SIGN`` header.

    base64(HMAC-SHA256(key=base64decode(secret), msg=timestamp + METHOD + request_path +
    body)) with the method upper-case, the path including its query string, and ``body``
    empty for requests without one (Coinbase Exchange REST "Authentication" page).
    """
    message = (timestamp + method.upper() + request_path + body).encode()
    mac = hmac.new(base64.b64decode(secret_b64), message, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def coinbase_exchange_headers(
    api_key: str,
    secret_b64: str,
    passphrase: str,
    *,
    timestamp: str,
    method: str,
    request_path: str,
    body: str = "",
) -> dict[str, str]:
    """Return the four ``CB-ACCESS-*`` headers for one Coinbase Exchange request."""
    return {
        "CB-ACCESS-KEY": api_key,
        "CB-ACCESS-SIGN": coinbase_exchange_signature(
            timestamp, method, request_path, body, secret_b64
        ),
        "CB-ACCESS-TIMESTAMP": timestamp,
        "CB-ACCESS-PASSPHRASE": passphrase,
    }


def coinbase_jwt_uri(method: str, host: str, path: str) -> str:
    """Format the JWT ``uri`` claim: ``"POST api.coinbase.com/api/v3/brokerage/orders"``."""
    return f"{method.upper()} {host}{path}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def coinbase_jwt(
    key_name: str,
    private_key: ec.EllipticCurvePrivateKey | Ed25519PrivateKey,
    *,
    now: int,
    nonce: str,
    uri: str | None = None,
    lifetime: int = 120,
) -> str:
    """Build a Coinbase Advanced Trade (CDP) JWT signed with ES256 or EdDSA.

    Header: ``alg``, ``kid`` (the key name), ``nonce`` (caller-supplied, random per token),
    ``typ``. Claims: ``iss="cdp"``, ``sub`` (the key name), ``nbf=now``,
    ``exp=now+lifetime`` (Coinbase allows two minutes), and ``uri`` for REST calls only
    (omit it for the WebSocket user channel). ES256 signatures are the raw 64-byte r||s
    of RFC 7518 §3.4, not DER.

    Args:
        now: current Unix time in seconds (injected; this module reads no clock).
    """
    if isinstance(private_key, Ed25519PrivateKey):
        alg = "EdDSA"
    elif isinstance(private_key.curve, ec.SECP256R1):
        alg = "ES256"
    else:
        raise ValueError(f"ES256 needs a P-256 key, not {private_key.curve.name}")
    header = {"alg": alg, "kid": key_name, "nonce": nonce, "typ": "JWT"}
    claims: dict[str, object] = {"iss": "cdp", "sub": key_name, "nbf": now, "exp": now + lifetime}
    if uri is not None:
        claims["uri"] = uri
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    ).encode("ascii")
    if isinstance(private_key, Ed25519PrivateKey):
        signature = private_key.sign(signing_input)
    else:
        der = private_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return signing_input.decode("ascii") + "." + _b64url(signature)

"""API credentials: where they are loaded from, and a value type that never shows itself.

Holds ``Secret`` (a string whose ``repr``/``str``/``format`` is redacted and which refuses
to be pickled), ``Credentials`` (one venue's key set) and the two loaders: environment
variables and a TOML file that must be private to its owner (mode 0600 or stricter).
Knows nothing of signing or venues' wire formats; the only way to read a value is
``Secret.reveal()``, called at the point of signing.

Named ``credentials`` rather than ``secrets`` so it cannot shadow the stdlib module.
"""

from __future__ import annotations

import hmac
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

__all__ = ["REDACTED", "Credentials", "CredentialsError", "Secret", "from_env", "from_file"]

REDACTED = "<redacted>"

_FIELDS = ("api_key", "api_secret", "passphrase", "private_key_pem")


class Secret:
    """A secret string that stays out of logs, reprs, exceptions, pickles and f-strings."""

    __slots__ = ("__value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise CredentialsError("a secret must be a non-empty string")
        self.__value = value

    def reveal(self) -> str:
        """Return the plain value; call it only where the value is signed or sent."""
        return self.__value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return format(REDACTED, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # constant time, so equality checks do not leak the value through timing
        return hmac.compare_digest(self.__value.encode(), other.__value.encode())

    def __hash__(self) -> int:
        return hash((Secret, len(self.__value)))

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: object) -> Secret:
        return self

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("Secret values cannot be pickled")


class CredentialsError(Exception):
    """Credentials are missing, malformed or stored insecurely; the message names no secret."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """One venue's key set; every field that can unlock the account is a ``Secret``.

    Attributes:
        venue: ``"binance"``, ``"kraken"``, ``"coinbase"`` (free text, lower case).
        api_key: the public half; still kept redacted so logs do not tie orders to keys.
        api_secret: HMAC secret (Binance hex/ascii, Kraken and Coinbase base64).
        passphrase: Coinbase Exchange passphrase.
        private_key_pem: PEM text of an Ed25519/RSA/EC key (Binance Ed25519, Coinbase CDP).
    """

    venue: str
    api_key: Secret
    api_secret: Secret | None = None
    passphrase: Secret | None = None
    private_key_pem: Secret | None = None

    def __repr__(self) -> str:
        present = [name for name in _FIELDS if getattr(self, name) is not None]
        return f"Credentials(venue={self.venue!r}, present={present}, values={REDACTED!r})"

    __str__ = __repr__


def _build(venue: str, values: Mapping[str, object], origin: str) -> Credentials:
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise CredentialsError(f"{origin}: unknown field(s) {unknown}; allowed {list(_FIELDS)}")
    if "api_key" not in values:
        raise CredentialsError(f"{origin}: missing api_key for venue {venue!r}")
    secrets: dict[str, Secret] = {}
    for name, value in values.items():
        if not isinstance(value, str) or not value:
            raise CredentialsError(f"{origin}: field {name!r} must be a non-empty string")
        secrets[name] = Secret(value)
    return Credentials(venue=venue, **secrets)


def from_env(venue: str, environ: Mapping[str, str] | None = None) -> Credentials:
    """Load credentials from ``WHALEWIRE_<VENUE>_<FIELD>`` environment variables.

    Fields: ``API_KEY`` (required), ``API_SECRET``, ``PASSPHRASE``, ``PRIVATE_KEY_PEM``;
    ``PRIVATE_KEY_FILE`` names a PEM file instead, checked like ``from_file`` checks its file.

    Raises:
        CredentialsError: when ``API_KEY`` is missing or a key file is not private.
    """
    env = os.environ if environ is None else environ
    prefix = f"WHALEWIRE_{venue.upper()}_"
    values: dict[str, object] = {}
    for name in _FIELDS:
        value = env.get(prefix + name.upper())
        if value:
            values[name] = value
    key_file = env.get(prefix + "PRIVATE_KEY_FILE")
    if key_file and "private_key_pem" not in values:
        values["private_key_pem"] = _read_private(Path(key_file))
    return _build(venue, values, f"environment {prefix}*")


def from_file(path: str | os.PathLike[str], venue: str) -> Credentials:
    """Load one venue's credentials from a TOML file readable only by its owner.

    The file holds one table per venue (``[binance]`` with ``api_key = "..."`` etc.).

    Raises:
        CredentialsError: when the file's mode grants group or other any access (it must be
            0600 or stricter), it is not owned by this user, it is not valid TOML, or the
            venue's table is missing or malformed. Messages name the file and its mode,
            never its content.
    """
    file = Path(path)
    text = _read_private(file)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        # the parser's message may quote the offending line, which may hold a secret
        raise CredentialsError(f"{file}: not valid TOML") from None
    table = document.get(venue)
    if not isinstance(table, dict):
        raise CredentialsError(f"{file}: no [{venue}] table")
    return _build(venue, table, f"{file} [{venue}]")


def _read_private(file: Path) -> str:
    try:
        info = file.stat()
    except OSError as exc:
        raise CredentialsError(f"{file}: cannot read ({exc.strerror})") from None
    mode = stat.S_IMODE(info.st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        _refuse(file, f"mode {mode:04o} lets group/other read it; chmod 600 {file}")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        _refuse(file, f"owned by uid {info.st_uid}, not by this user (uid {os.getuid()})")
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"{file}: cannot read ({type(exc).__name__})") from None


def _refuse(file: Path, why: str) -> NoReturn:
    raise CredentialsError(f"refusing credentials file {file}: {why}")

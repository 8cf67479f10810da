"""Credentials (venues/credentials.py): loading from env and private files, and redaction.

The rule under test (issue 6): keys and secrets come from environment variables or a 0600
file and never appear in logs, reprs, exceptions, pickles or f-strings.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import pickle
import traceback
from pathlib import Path

import pytest

from whalewire.venues.credentials import (
    REDACTED,
    Credentials,
    CredentialsError,
    Secret,
    from_env,
    from_file,
)

KEY = "KEY-SENTINEL-4f9a1c"
SECRET = "SECRET-SENTINEL-b7e2d0"
PASS = "PASS-SENTINEL-77aa01"


def _write(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / "credentials.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def _assert_clean(text: str) -> None:
    for sentinel in (KEY, SECRET, PASS):
        assert sentinel not in text


TOML = f'[coinbase]\napi_key = "{KEY}"\napi_secret = "{SECRET}"\npassphrase = "{PASS}"\n'


def test_file_with_mode_0600_loads(tmp_path: Path) -> None:
    creds = from_file(_write(tmp_path, TOML, 0o600), "coinbase")
    assert creds.api_key.reveal() == KEY
    assert creds.api_secret is not None and creds.api_secret.reveal() == SECRET
    assert creds.passphrase is not None and creds.passphrase.reveal() == PASS
    assert creds.private_key_pem is None


def test_file_with_mode_0400_loads(tmp_path: Path) -> None:
    assert from_file(_write(tmp_path, TOML, 0o400), "coinbase").api_key.reveal() == KEY


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o601])
def test_file_readable_by_others_is_refused_naming_file_and_mode(tmp_path: Path, mode: int) -> None:
    path = _write(tmp_path, TOML, mode)
    with pytest.raises(CredentialsError) as info:
        from_file(path, "coinbase")
    message = str(info.value)
    assert str(path) in message
    assert f"{mode:04o}" in message
    _assert_clean(message)


def test_invalid_toml_error_does_not_quote_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, f'[binance]\napi_key = "{KEY}\n', 0o600)
    with pytest.raises(CredentialsError, match="not valid TOML") as info:
        from_file(path, "binance")
    _assert_clean("".join(traceback.format_exception(info.value)))


def test_missing_venue_table_and_unknown_field_are_named(tmp_path: Path) -> None:
    path = _write(tmp_path, TOML, 0o600)
    with pytest.raises(CredentialsError, match=r"no \[kraken\] table"):
        from_file(path, "kraken")
    path = _write(tmp_path, f'[kraken]\napi_key = "{KEY}"\napi_secert = "{SECRET}"\n', 0o600)
    with pytest.raises(CredentialsError, match="api_secert") as info:
        from_file(path, "kraken")
    _assert_clean(str(info.value))


def test_env_loads_fields_and_a_private_key_file(tmp_path: Path) -> None:
    pem = tmp_path / "ed25519.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\nPEM-SENTINEL\n-----END PRIVATE KEY-----\n")
    pem.chmod(0o600)
    env = {
        "WHALEWIRE_BINANCE_API_KEY": KEY,
        "WHALEWIRE_BINANCE_API_SECRET": SECRET,
        "WHALEWIRE_BINANCE_PRIVATE_KEY_FILE": str(pem),
        "WHALEWIRE_KRAKEN_API_KEY": "other",
    }
    creds = from_env("binance", env)
    assert creds.api_key.reveal() == KEY
    assert creds.private_key_pem is not None
    assert "PEM-SENTINEL" in creds.private_key_pem.reveal()
    assert creds.passphrase is None


def test_env_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text("x")
    pem.chmod(0o644)
    env = {"WHALEWIRE_BINANCE_API_KEY": KEY, "WHALEWIRE_BINANCE_PRIVATE_KEY_FILE": str(pem)}
    with pytest.raises(CredentialsError, match="0644"):
        from_env("binance", env)


def test_env_without_api_key_is_refused() -> None:
    with pytest.raises(CredentialsError, match="missing api_key"):
        from_env("binance", {"WHALEWIRE_BINANCE_API_SECRET": SECRET})


def _creds() -> Credentials:
    return Credentials(
        venue="coinbase", api_key=Secret(KEY), api_secret=Secret(SECRET), passphrase=Secret(PASS)
    )


def test_repr_str_and_fstrings_are_redacted() -> None:
    creds = _creds()
    secret = creds.api_secret
    rendered = [
        repr(creds),
        str(creds),
        f"{creds}",
        f"{creds!r}",
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>40}",
        "%s %r" % (secret, secret),  # noqa: UP031 - %-formatting is what logging does
        "{} {!r}".format(secret, creds),  # noqa: UP032 - str.format is a separate path
        repr([creds, {"k": secret}]),
    ]
    for text in rendered:
        _assert_clean(text)
    assert REDACTED in str(secret)
    assert "api_secret" in repr(creds)  # which fields are present is useful, values are not


def test_pickling_and_json_are_refused() -> None:
    creds = _creds()
    with pytest.raises(TypeError):
        pickle.dumps(creds.api_secret)
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    with pytest.raises(TypeError):
        json.dumps({"secret": creds.api_secret})


def test_copies_keep_the_value_and_stay_redacted() -> None:
    creds = _creds()
    clone = copy.deepcopy(creds)
    assert clone == creds
    assert clone.api_key.reveal() == KEY
    _assert_clean(repr(clone))


def test_equality_compares_values() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")


def test_log_records_and_exc_info_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(args)s"))
    logger = logging.getLogger("whalewire.test.credentials")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    creds = _creds()
    try:
        logger.info("loaded %s with secret %r", creds, creds.api_secret)
        logger.debug("dict %s", {"creds": creds, "pass": creds.passphrase})
        try:
            raise RuntimeError(f"signing failed for {creds} using {creds.api_secret}")
        except RuntimeError:
            logger.exception("order path error, key=%s", creds.api_key)
        logger.warning("stack", stack_info=True)
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "signing failed" in output and "Traceback" in output
    _assert_clean(output)


def test_exception_text_and_traceback_are_redacted() -> None:
    creds = _creds()
    try:
        raise ValueError(creds, creds.api_secret)
    except ValueError as exc:
        text = "".join(traceback.format_exception(exc)) + str(exc) + repr(exc)
    _assert_clean(text)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(CredentialsError):
        Secret("")


def test_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("changing a file's owner needs root")
    path = _write(tmp_path, TOML, 0o600)
    os.chown(path, 65534, -1)
    with pytest.raises(CredentialsError, match="owned by uid 65534"):
        from_file(path, "coinbase")

"""``whalewire config check FILE``: validate a configuration; print what the engine would use.

Every mistake of the file is reported at once (``engine.config``), exit status 2. A valid
file is printed back as TOML with every default filled in, so the operator sees what an
omitted field means; values of fields that name secrets are shown as ``<redacted>``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from whalewire.engine.config import load_config

#: parts of a field name that mark its value as secret (the file should hold none)
SECRET_WORDS = ("secret", "password", "passphrase", "token", "api_key", "private_key")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``config``'s subcommands."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="validate FILE and print the effective configuration")
    check.add_argument("file", type=Path, help="TOML configuration file")
    check.add_argument("--quiet", action="store_true", help="print nothing when it is valid")


def run(args: argparse.Namespace) -> int:
    """Validate the file (errors raise ``ConfigError``: exit 2) and print it, redacted."""
    config = load_config(args.file)
    if not args.quiet:
        print(f"# {args.file}: valid; the effective configuration (defaults filled in)")
        print(to_toml(redact(msgspec.to_builtins(config, builtin_types=(Decimal,)))))
    return 0


def redact(value: Any, key: str = "") -> Any:
    """Replace the value of every field whose name marks a secret by ``<redacted>``."""
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if value not in ("", None) and any(word in key.lower() for word in SECRET_WORDS):
        return "<redacted>"
    return value


def to_toml(data: Mapping[str, Any]) -> str:
    """Write ``data`` (tables, arrays of tables, scalars, inline lists) as TOML."""
    lines: list[str] = []
    _table(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _table(data: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in data.items() if not _is_table(v) and not _is_table_list(v)}
    if path and (scalars or not data):
        lines.extend(["", f"[{'.'.join(map(_key, path))}]"])
    lines.extend(
        f"# {_key(k)} is not set" if v is None else f"{_key(k)} = {_value(v)}"
        for k, v in scalars.items()
    )
    for k, v in data.items():
        if _is_table(v):
            _table(v, [*path, str(k)], lines)
        elif _is_table_list(v):
            for item in v:
                lines.extend(["", f"[[{'.'.join(map(_key, [*path, str(k)]))}]]"])
                lines.extend(
                    f"{_key(ik)} = {_value(iv)}" for ik, iv in item.items() if iv is not None
                )


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value))

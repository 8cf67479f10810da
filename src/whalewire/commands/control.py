"""``whalewire status`` and ``whalewire kill``: talk to a running engine's control endpoint.

Both read the endpoint from ``--url`` or from the configuration's ``[control]`` table, so
an operator types the same thing on any machine: ``whalewire kill --config prod.toml``.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from whalewire.commands.errors import UserError
from whalewire.engine.config import load_config
from whalewire.engine.dashboard import render


def add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--url`` / ``--config`` to choose the engine's control endpoint."""
    parser.add_argument("--url", help="control endpoint, e.g. http://127.0.0.1:8787")
    parser.add_argument("--config", help="read the endpoint from this configuration file")


def endpoint(args: argparse.Namespace) -> str:
    """Return the control endpoint's base URL from the arguments.

    Raises:
        UserError: ``--url`` is not an ``http://host:port`` URL (the message suggests one).
    """
    if args.url:
        return control_url(str(args.url))
    if args.config:
        control = load_config(args.config).control
        host = f"[{control.host}]" if ":" in control.host else control.host
        return f"http://{host}:{control.port}"
    return "http://127.0.0.1:8787"


def control_url(url: str) -> str:
    """Check that ``url`` names a control endpoint (``http://HOST:PORT``); return its base.

    Raises:
        UserError: saying what is wrong and what to type instead.
    """
    if "://" not in url:
        raise UserError(f"--url {url!r} has no scheme: did you mean --url http://{url} ?")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UserError(f"--url {url!r}: {exc}; give http://HOST:PORT") from None
    if parts.scheme != "http":
        raise UserError(
            f"--url {url!r}: the control endpoint speaks plain http on loopback; "
            "give http://HOST:PORT"
        )
    if not parts.hostname:
        raise UserError(f"--url {url!r} names no host; give http://HOST:PORT")
    if port == 0:
        raise UserError(f"--url {url!r}: port 0 is not a port to connect to")
    return url.rstrip("/")


def call(method: str, url: str, timeout: float = 30.0) -> dict[str, Any]:
    """Make one request to the control endpoint and return its JSON answer.

    Raises:
        SystemExit: with a message that says what to check when the engine is unreachable.
    """
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result
    except urllib.error.URLError as exc:
        raise SystemExit(
            f"whalewire: no engine answers at {url} ({exc.reason}). Is it running? "
            "Check [control] host/port in its configuration, or pass --url."
        ) from None


def configure_status(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``whalewire status``."""
    add_endpoint_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the raw JSON snapshot")


def run_status(args: argparse.Namespace) -> int:
    """Print a running engine's status."""
    status = call("GET", endpoint(args) + "/status")
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    Console().print(render(status))
    return 0


def configure_kill(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``whalewire kill``."""
    add_endpoint_arguments(parser)


def run_kill(args: argparse.Namespace) -> int:
    """Halt a running engine and cancel all its open orders; print what it did."""
    report = call("POST", endpoint(args) + "/kill?by=cli")
    print(json.dumps(report, indent=2))
    return 0 if report.get("halted") else 1

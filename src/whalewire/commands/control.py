"""``whalewire status``, ``kill`` and ``resume``: talk to a running engine's control endpoint.

All read the endpoint from ``--url`` or from the configuration's ``[control]`` table, so
an operator types the same thing on any machine: ``whalewire kill --config prod.toml``.
``kill`` and ``resume`` carry the engine's control token: ``--token``, else
``$WHALEWIRE_CONTROL_TOKEN``, else the 0600 file the engine wrote next to its journal
(found through ``--config``, or the default journal's in the current directory).
``resume`` asks the operator to type ``resume`` unless ``--yes`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from whalewire.commands.errors import UserError
from whalewire.engine.config import load_config
from whalewire.engine.control import token_path
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


def token(args: argparse.Namespace) -> str:
    """The control token for ``kill``/``resume``: flag, environment, or the engine's file."""
    given = getattr(args, "token", None) or os.environ.get("WHALEWIRE_CONTROL_TOKEN", "")
    if given:
        return str(given)
    journal = load_config(args.config).engine.journal if args.config else "whalewire-journal.db"
    path = token_path(journal)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UserError(
            f"no control token: {path} cannot be read ({exc.strerror}); pass --token (the "
            "engine prints it at start) or --config with the engine's configuration"
        ) from None


def call(method: str, url: str, timeout: float = 30.0, bearer: str = "") -> dict[str, Any]:
    """Make one request to the control endpoint and return its JSON answer.

    Raises:
        SystemExit: with a message that says what to check when the engine is unreachable.
        UserError: the engine refused the token.
    """
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if bearer:
        request.add_header("Authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise UserError(
                f"the engine at {url} refused the control token: pass the one it printed at "
                "start (--token) or --config with its configuration"
            ) from None
        body: dict[str, Any] = json.loads(exc.read() or b"{}")
        return body
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
    parser.add_argument("--token", help="the control token the engine printed at start")


def run_kill(args: argparse.Namespace) -> int:
    """Halt a running engine and cancel all its open orders; print what it did."""
    report = call("POST", endpoint(args) + "/kill?by=cli", bearer=token(args))
    print(json.dumps(report, indent=2))
    return 0 if report.get("halted") else 1


#: what the operator types to resume trading
RESUME_CONFIRMATION = "resume"


def configure_resume(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``whalewire resume``."""
    configure_kill(parser)
    parser.add_argument("--yes", action="store_true", help="skip the typed confirmation")


def confirm_resume(situation: str) -> None:
    """Say ``situation`` and ask the operator to type ``resume`` (shared with the fleet's).

    Raises:
        UserError: anything else was typed.
    """
    print(
        f"{situation}; type {RESUME_CONFIRMATION!r} to trade again: ",
        end="",
        flush=True,
        file=sys.stderr,  # stdout stays the report's JSON
    )
    answer = sys.stdin.readline().strip() if sys.stdin else ""
    if answer != RESUME_CONFIRMATION:
        raise UserError("resume not confirmed (or pass --yes from a script)")


def run_resume(args: argparse.Namespace) -> int:
    """Move a HALTED engine back to ACTIVE after the operator confirms; print the report."""
    url = endpoint(args)
    bearer = token(args)
    if not args.yes:
        status = call("GET", url + "/status")
        confirm_resume(
            f"trading is {status.get('trading_state')} ({status.get('state_reason', '')})"
        )
    report = call("POST", url + "/resume?by=cli", bearer=bearer)
    print(json.dumps(report, indent=2))
    return 0 if report.get("resumed") else 1

"""``whalewire ws``: an echo server and an Autobahn fuzzing-server client for conformance runs."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``ws serve`` and ``ws autobahn-client`` subcommands."""
    sub = parser.add_subparsers(dest="ws_command", required=True, metavar="WS_COMMAND")
    serve = sub.add_parser("serve", help="echo server (text, binary, permessage-deflate)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=9002)
    client = sub.add_parser("autobahn-client", help="drive an Autobahn fuzzing server")
    client.add_argument("--url", default="ws://127.0.0.1:9001")
    client.add_argument("--agent", default="whalewire")


def run(args: argparse.Namespace) -> int:
    """Run the chosen ``ws`` subcommand."""
    raise SystemExit("whalewire ws: the transport is not built yet (issue: asyncio transport)")

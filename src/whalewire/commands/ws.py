"""``whalewire ws``: an echo server and an Autobahn fuzzing-server client for conformance runs."""

from __future__ import annotations

import argparse
import asyncio
import sys
from urllib.parse import quote

from whalewire import __version__
from whalewire.net import Limits
from whalewire.net.client import connect, install_uvloop
from whalewire.net.server import echo_on_message, serve
from whalewire.ws.deflate import DeflateParams
from whalewire.ws.exceptions import WebSocketError

#: Autobahn's 9.x cases send messages up to 16 MiB; allow them with room to spare.
CONFORMANCE_LIMITS = Limits(max_message_size=64 * 1024 * 1024)

#: The Autobahn client offers everything a server may ask of it. Adding
#: client_no_context_takeover (RFC 7692 §7.1.1.2: a hint that we will not keep context)
#: lets the 13.2/13.5/13.6 servers ask for it; without it they report UNIMPLEMENTED.
AUTOBAHN_OFFER = DeflateParams(client_no_context_takeover=True)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``ws serve`` and ``ws autobahn-client`` subcommands."""
    sub = parser.add_subparsers(dest="ws_command", required=True, metavar="WS_COMMAND")
    serve_p = sub.add_parser("serve", help="echo server (text, binary, permessage-deflate)")
    serve_p.add_argument("--host", default="127.0.0.1")
    serve_p.add_argument("--port", type=int, default=9002, help="0 picks a free port")
    serve_p.add_argument("--no-deflate", action="store_true", help="decline compression")
    serve_p.add_argument(
        "--tls-cert", metavar="FILE", help="serve wss:// with this PEM certificate chain"
    )
    serve_p.add_argument(
        "--tls-key", metavar="FILE", help="the PEM private key (default: in --tls-cert)"
    )
    client = sub.add_parser("autobahn-client", help="drive an Autobahn fuzzing server")
    client.add_argument("--url", default="ws://127.0.0.1:9001")
    client.add_argument("--agent", default="whalewire")
    client.add_argument("--no-deflate", action="store_true", help="do not offer compression")
    client.add_argument(
        "--parallel", type=int, default=1, metavar="N", help="run up to N cases at once"
    )
    client.add_argument(
        "--ca-file", metavar="FILE", help="trust this PEM CA (or certificate) for a wss:// URL"
    )


def run(args: argparse.Namespace) -> int:
    """Run the chosen ``ws`` subcommand."""
    install_uvloop()
    if args.ws_command == "serve":
        if args.tls_key is not None and args.tls_cert is None:
            print("whalewire ws serve: --tls-key needs --tls-cert", file=sys.stderr)
            return 2
        return asyncio.run(
            _serve(
                args.host,
                args.port,
                deflate=not args.no_deflate,
                tls_cert=args.tls_cert,
                tls_key=args.tls_key,
            )
        )
    return asyncio.run(
        _autobahn(
            args.url.rstrip("/"),
            args.agent,
            deflate=not args.no_deflate,
            parallel=args.parallel,
            ca_file=args.ca_file,
        )
    )


async def _serve(
    host: str, port: int, *, deflate: bool, tls_cert: str | None = None, tls_key: str | None = None
) -> int:
    # TLS: natively (OpenSSL on each socket, net.nativetls) where built, else asyncio's ssl
    server = await serve(
        None,
        host,
        port,
        on_message=echo_on_message,
        deflate=deflate,
        limits=CONFORMANCE_LIMITS,
        # Autobahn reports name the agent after this header.
        extra_headers=[("Server", f"whalewire/{__version__}")],
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    # The exact line tests and scripts wait for; with --port 0 it carries the real port.
    scheme = "wss" if tls_cert is not None else "ws"
    print(f"whalewire ws serve: listening on {scheme}://{host}:{server.port}", flush=True)
    async with server:
        await server.serve_forever()
    return 0


async def _autobahn(
    url: str, agent: str, *, deflate: bool, parallel: int = 1, ca_file: str | None = None
) -> int:
    ws = await connect(f"{url}/getCaseCount", deflate=False, ca_file=ca_file)
    count = int(await ws.recv())
    await ws.close()
    agent_q = quote(agent, safe="")
    print(f"whalewire ws autobahn-client: {count} cases from {url}", flush=True)
    failures = 0
    slots = asyncio.Semaphore(max(1, parallel))

    async def run_case(case: int) -> None:
        nonlocal failures
        async with slots:
            try:
                ws = await connect(
                    f"{url}/runCase?case={case}&agent={agent_q}",
                    deflate=AUTOBAHN_OFFER if deflate else False,
                    limits=CONFORMANCE_LIMITS,
                    on_message=echo_on_message,
                    ca_file=ca_file,
                )
                await ws.wait_closed()
            except (WebSocketError, OSError, TimeoutError) as exc:
                # The case's verdict is the fuzzing server's to give; drive the rest.
                failures += 1
                print(f"case {case}: {type(exc).__name__}: {exc}", file=sys.stderr)

    await asyncio.gather(*(run_case(case) for case in range(1, count + 1)))
    ws = await connect(f"{url}/updateReports?agent={agent_q}", deflate=False, ca_file=ca_file)
    await ws.close()
    print(f"whalewire ws autobahn-client: ran {count} cases ({failures} did not open)")
    return 0

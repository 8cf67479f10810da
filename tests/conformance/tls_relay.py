"""A byte relay that adds or removes TLS, so the plaintext fuzzer drives whalewire over TLS.

kosoku speaks only ``ws://``. ``--originate CAFILE``: accept plain TCP, open TLS (Python's
``ssl``, not whalewire's) to the target: kosoku as a client reaches ``ws serve --tls-cert``.
``--terminate CERT KEY``: accept TLS, open plain TCP to the target: whalewire's
``autobahn-client`` reaches kosoku's fuzzing server over ``wss://``. Bytes pass unchanged;
an end of stream on one side closes the other (a close is what the fuzzer judges). Prints
``relay listening on PORT`` once ready.

    python tests/conformance/tls_relay.py TARGET_PORT (--originate CAFILE | --terminate CERT KEY)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("target", type=int)
    ap.add_argument("--originate", metavar="CAFILE")
    ap.add_argument("--terminate", nargs=2, metavar=("CERT", "KEY"))
    args = ap.parse_args()
    accept_ctx = connect_ctx = None
    if args.originate:
        connect_ctx = ssl.create_default_context(cafile=args.originate)
    else:
        accept_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        accept_ctx.load_cert_chain(*args.terminate)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", args.target, ssl=connect_ctx
            )
        except (OSError, ssl.SSLError):
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=accept_ctx)
    print(f"relay listening on {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())

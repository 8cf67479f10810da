"""``whalewire emulator``: run the local exchange standalone and print how to reach it."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from whalewire.emulator.accounts import Credentials, Registry
from whalewire.emulator.binance.exchange import BinanceConfig
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.emulator.binance.streams import BinanceStreams
from whalewire.emulator.coinbase.exchange import CoinbaseCredentials
from whalewire.emulator.coinbase.server import CoinbaseEmulator, loopback_tls
from whalewire.emulator.faults import FaultPlan
from whalewire.emulator.kraken.exchange import KrakenConfig
from whalewire.emulator.kraken.server import KrakenEmulator
from whalewire.emulator.stamps import ReadStamps

VENUES = ("binance", "kraken", "coinbase")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options."""
    parser.add_argument("--venue", choices=VENUES, default="binance")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9443)
    parser.add_argument("--seed", type=int, default=0, help="synthetic book and fault seed")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="random extra latency")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="answers never sent")
    parser.add_argument("--unknown-rate", type=float, default=0.0, help="5xx, status unknown")
    parser.add_argument("--clock-skew-ms", type=int, default=0, help="venue clock offset")
    parser.add_argument(
        "--walk-bps",
        type=_non_negative,
        default=0.0,
        help="move the book on a seeded random walk: sigma per step in basis points "
        "(binance, kraken; 0: a static book)",
    )
    parser.add_argument(
        "--walk-interval", type=_positive, default=1.0, help="seconds between two walk steps"
    )
    parser.add_argument(
        "--stream-port",
        type=int,
        default=None,
        help="binance: also serve the market-data WebSocket Streams (/ws/<stream>, "
        "/stream?streams=) on this port (0: a free one; off by default)",
    )
    parser.add_argument(
        "--stamp-reads",
        metavar="PATH",
        default=None,
        help="binance: append '<clientOrderId> <perf_counter_ns>' to PATH as each order "
        "message is read (latency benchmarks; off by default)",
    )


@dataclass(frozen=True, slots=True)
class RsaKey:
    """An RSA key registered for the default account, as the banner prints it."""

    api_key: str
    private_key_pem: str


def add_rsa_key(registry: Registry, account_id: str) -> RsaKey:
    """Register a fresh 2048-bit RSA key for ``account_id`` (Binance accepts 2048 and 4096;
    ``faqs/api_key_types.md``) and return its API key and PKCS#8 private key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    entry = registry.add_rsa_key(account_id, private.public_key())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return RsaKey(entry.api_key, pem)


def banner(url: str, creds: Credentials, rsa_key: RsaKey | None = None) -> str:
    """Return the text telling a user where the emulator is and which keys to use."""
    # PEM blocks unindented so they can be copied into a key file as they are
    private_pem = creds.ed25519_private_key_pem.strip()
    public_pem = creds.ed25519_public_key_pem.strip()
    rsa_text = ""
    if rsa_key is not None:
        rsa_text = f"""
RSA key (sign every TRADE/USER_DATA request: RSASSA-PKCS1-v1_5 SHA-256, base64 signature):
  apiKey          {rsa_key.api_key}
  private key (PKCS#8):
{rsa_key.private_key_pem.strip()}
"""
    return f"""\
whalewire emulator: Binance Spot WebSocket API
  endpoint        {url}
  account         {creds.account_id} (BTC 10, ETH 100, USDT 1,000,000)

HMAC-SHA256 key (sign every TRADE/USER_DATA request, hex signature):
  apiKey          {creds.hmac_api_key}
  secretKey       {creds.hmac_secret}

Ed25519 key (session.logon once, then requests need no apiKey/signature):
  apiKey          {creds.ed25519_api_key}
  private key (PKCS#8):
{private_pem}
  public key:
{public_pem}
{rsa_text}
Point a client at it:
  - whalewire: venue url {url}
  - Binance SDK / ccxt: set the WebSocket API base URL to {url}
  - by hand: send {{"id":1,"method":"time"}} as a text frame
Ctrl-C stops it; balances and orders live in memory only.
"""


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    """Serve the emulated venue until interrupted."""
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    faults = FaultPlan(
        seed=args.seed,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        drop_rate=args.drop_rate,
        unknown_rate=args.unknown_rate,
        clock_skew_ms=args.clock_skew_ms,
    )
    plan = faults if faults != FaultPlan(seed=args.seed) else None
    if args.venue == "coinbase":
        return await _serve_coinbase(args, plan)
    if args.venue == "kraken":
        return await _serve_kraken(args, plan)
    config = BinanceConfig(
        seed=args.seed, walk_bps=args.walk_bps, walk_interval_s=args.walk_interval
    )
    stamps = ReadStamps(args.stamp_reads) if args.stamp_reads else None
    emulator = BinanceEmulator(config, faults=plan, read_stamps=stamps)
    creds = emulator.exchange.open_default_account()
    rsa_key = add_rsa_key(emulator.exchange.registry, creds.account_id)
    server = await emulator.start(args.host, args.port)
    host = args.host if ":" not in args.host else f"[{args.host}]"
    url = f"ws://{host}:{emulator.port}/ws-api/v3"
    print(banner(url, creds, rsa_key), flush=True)
    if args.stream_port is not None:
        streams = BinanceStreams(emulator.exchange)
        await streams.start(args.host, args.stream_port)
        print(f"streams: ws://{host}:{streams.port}/ws/<stream> | /stream?streams=", flush=True)
    await server.serve_forever()
    return 0


def coinbase_banner(rest_url: str, ws_url: str, creds: CoinbaseCredentials, cert_pem: str) -> str:
    """Return where the Coinbase Exchange emulator is, its keys and the certificate to trust."""
    return f"""\
whalewire emulator: Coinbase Exchange (REST and the WebSocket feed over TLS)
  REST endpoint   {rest_url}
  feed endpoint   {ws_url}
  account         {creds.account_id} (BTC 10, ETH 100, USD 1,000,000)

CB-ACCESS-* key (sign every request: base64 HMAC-SHA256 with the base64-decoded secret):
  key             {creds.api_key}
  secret          {creds.secret}
  passphrase      {creds.passphrase}

The certificate (REST and feed) is self-signed for 127.0.0.1 and localhost; trust exactly it:
{cert_pem.strip()}

Point a client at it:
  - whalewire: [venues.coinbase] endpoint = "{rest_url}", feed_endpoint = "{ws_url}"
  - by hand: curl --cacert cert.pem {rest_url}/time
Ctrl-C stops it; balances and orders live in memory only.
"""


async def _serve_coinbase(args: argparse.Namespace, plan: FaultPlan | None) -> int:
    tls = loopback_tls()
    emulator = CoinbaseEmulator(faults=plan)
    creds = emulator.open_default_account()
    # the venue's feed is wss://ws-feed.exchange.coinbase.com: TLS like REST
    await emulator.start(args.host, args.port, ssl=tls.server, feed_ssl=tls.server)
    print(coinbase_banner(emulator.rest_url, emulator.ws_url, creds, tls.cert_pem), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.close()
    return 0


async def _serve_kraken(args: argparse.Namespace, plan: FaultPlan | None) -> int:
    config = KrakenConfig(
        seed=args.seed, walk_bps=args.walk_bps, walk_interval_s=args.walk_interval
    )
    emulator = KrakenEmulator(config, faults=plan)
    creds = emulator.open_default_account()
    await emulator.start(args.host, args.port)
    print(
        f"""\
whalewire emulator: Kraken Spot WebSocket v2 (+ REST for the WebSocket token)
  WebSocket       {emulator.url}
  REST            {emulator.rest_url}
  account         {creds.account_id}

API key (REST: API-Key / API-Sign = base64 HMAC-SHA512 with the base64-decoded secret):
  key             {creds.api_key}
  secret          {creds.secret}

Point a client at it:
  - whalewire: [venues.kraken] endpoint = "{emulator.url}", rest_endpoint = "{emulator.rest_url}"
  - ccxt: kraken with urls.api.private = {emulator.rest_url}
Ctrl-C stops it; balances and orders live in memory only.
""",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.close()
    return 0

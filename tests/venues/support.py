"""What the venue client tests share: a clock moved by hand, the event collector every
client reports into, a Binance order command and a Binance client over TLS."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

from whalewire.emulator.accounts import open_default_account
from whalewire.emulator.binance.server import BinanceEmulator
from whalewire.model import OrderEvent, Side, SubmitOrder
from whalewire.venues.base import TlsSettings
from whalewire.venues.binance import BinanceClient
from whalewire.venues.credentials import Credentials, Secret
from whalewire.venues.ids import BINANCE_ID_WIDTH, binance_client_order_id

#: the client order id namespace of the Binance tests
NS = "t"
_seq = itertools.count(1)


def binance_cid() -> str:
    """The next client order id of namespace ``NS`` (unique within the test process)."""
    return binance_client_order_id(NS, next(_seq))


def binance_order(qty: str = "0.01", side: Side = Side.SELL, **kw: object) -> SubmitOrder:
    """A BTCUSDT order command with the next client order id of namespace ``NS``."""
    return SubmitOrder(
        client_order_id=binance_cid(),
        ts_init=0,
        venue="binance",
        symbol="BTCUSDT",
        side=side,
        quantity=Decimal(qty),
        **kw,  # type: ignore[arg-type]
    )


def binance_tls_client(emulator: BinanceEmulator, tls: TlsSettings) -> BinanceClient:
    """A Binance client of a fresh account on ``emulator``, with ``tls`` settings."""
    keys = open_default_account(emulator.exchange.registry, f"a{id(tls)}")
    creds = Credentials(
        venue="binance", api_key=Secret(keys.hmac_api_key), api_secret=Secret(keys.hmac_secret)
    )
    return BinanceClient(emulator.url, creds, cid_width=BINANCE_ID_WIDTH[2], tls=tls)


class Clock:
    """A clock the test moves by hand (``now``: ns for a monotonic clock, ms for a venue's)."""

    def __init__(self, now: int = 0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class Events:
    """Collects ``on_event`` calls and lets a test wait for one kind."""

    def __init__(self) -> None:
        self.items: list[OrderEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: OrderEvent) -> None:
        self.items.append(event)
        self._changed.set()

    def of(self, kind: type[OrderEvent], coid: str) -> list[OrderEvent]:
        """The events of ``kind`` about ``coid`` so far."""
        return [e for e in self.items if isinstance(e, kind) and e.client_order_id == coid]

    async def wait_for(self, kind: type[OrderEvent], coid: str, count: int = 1) -> list[OrderEvent]:
        """Wait (10 s at most) until ``count`` events of ``kind`` about ``coid`` arrived."""
        async with asyncio.timeout(10):
            while len(self.of(kind, coid)) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.of(kind, coid)

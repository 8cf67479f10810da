"""Coinbase Exchange's WebSocket feed, one connection as a sans-IO session.

``CoinbaseFeedSession.handle(text)`` answers ``subscribe`` / ``unsubscribe`` ("Exchange
WebSocket Overview", "Subscribe"); authenticated channels (``user``, ``full``) need the
fields of a signed ``GET /users/self/verify`` ("Exchange WebSocket Authentication"), which
the exchange checks exactly as it checks REST requests. Order messages reach a session
through its ``outbox``; ``shape`` adds the user fields of an authenticated ``match``
("Exchange WebSocket Channels", "Full channel"). Knows nothing of sockets or matching.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from whalewire.emulator import decoding
from whalewire.emulator.coinbase.render import FeedRenderer, Owners
from whalewire.emulator.coinbase.streams import LEVEL2, PUBLIC, snapshot
from whalewire.emulator.market import MarketTape
from whalewire.emulator.matching import Clock, SymbolSpec

#: the path the feed's ``subscribe`` signs ("Exchange WebSocket Authentication")
VERIFY_PATH = "/users/self/verify"


class _Answer(Protocol):
    def json(self) -> Any: ...


class _Config(Protocol):
    @property
    def products(self) -> Mapping[str, tuple[SymbolSpec, Decimal]]: ...


class FeedVenue(Protocol):
    """What a feed session needs of its exchange (``exchange.CoinbaseExchange`` provides it):
    the products, the renderer of user fields, and REST's authentication."""

    clock: Clock
    render: FeedRenderer
    tape: MarketTape

    @property
    def config(self) -> _Config: ...

    def authenticate(
        self, method: str, request_path: str, headers: Mapping[str, str], body: str, now: int
    ) -> str | _Answer:
        """Return the account id, or the answer that refuses the request."""
        ...


class CoinbaseFeedSession:
    """One feed connection: its subscriptions and outbox ("Exchange WebSocket Overview")."""

    def __init__(self, exchange: FeedVenue) -> None:
        self.exchange = exchange
        self.account_id: str | None = None
        self.channels: dict[str, set[str]] = {}
        self.outbox: list[str] = []

    def wants(self, owners: Owners, product: str, kind: str = "") -> bool:
        """Return whether a ``kind`` message about ``owners``' orders on ``product`` goes here
        (``matches`` takes the full channel's ``match`` messages; ``activate``, marked
        ``private``, goes to the owner's ``full`` or ``user`` subscriptions only)."""
        mine = self.account_id is not None and self.account_id in owners.values()
        if kind == "activate":
            return mine and product in self.channels.get("full", set()) | self.channels.get(
                "user", set()
            )
        if product in self.channels.get("full", ()):
            return True
        if kind == "match" and product in self.channels.get("matches", ()):
            return True
        return mine and product in self.channels.get("user", ())

    def shape(self, message: Mapping[str, Any], owners: Owners) -> str:
        """Serialise ``message``; a match gets the user fields when it is this user's."""
        if message.get("type") == "match" and self.account_id is not None:
            extra = self.exchange.render.user_fields(owners, self.account_id)
            if extra:
                return json.dumps({**message, **extra})
        return json.dumps(message)

    def data_to_send(self) -> list[str]:
        """Return and clear the queued messages."""
        out, self.outbox = self.outbox, []
        return out

    def handle(self, text: str) -> list[str]:
        """Answer one client message: ``subscribe`` / ``unsubscribe``, else an error."""
        try:
            msg = decoding.loads(text)
        except ValueError:
            return [_feed_error("Malformed JSON", "")]
        if not isinstance(msg, dict) or msg.get("type") not in ("subscribe", "unsubscribe"):
            return [_feed_error("Failed to subscribe", "type must be subscribe or unsubscribe")]
        products = _names(msg.get("product_ids"))
        channels = msg.get("channels")
        if products is None:
            return [_feed_error("Failed to subscribe", "product_ids must be a list of strings")]
        if channels is not None and not isinstance(channels, list):
            return [_feed_error("Failed to subscribe", "channels must be a list")]
        wanted: dict[str, list[str]] = {}
        for channel in channels or []:
            # "Subscribe": a channel is a name, or {"name", "product_ids"}
            if isinstance(channel, str):
                wanted[channel] = products
            elif isinstance(channel, dict) and isinstance(channel.get("name"), str):
                own = _names(channel.get("product_ids"))
                if own is None:
                    reason = f"product_ids of channel {channel['name']} must be a list of strings"
                    return [_feed_error("Failed to subscribe", reason)]
                wanted[channel["name"]] = own or products
        unknown = [
            p for ps in wanted.values() for p in ps if p not in self.exchange.config.products
        ]
        if unknown:
            return [_feed_error("Failed to subscribe", f"{unknown[0]} is not a valid product")]
        bad = sorted(set(wanted) - {"user", "full", *PUBLIC})
        if bad:
            return [_feed_error("Failed to subscribe", f"{bad[0]} is not a valid channel")]
        snapshots: list[str] = []
        if msg["type"] == "unsubscribe":
            for name, ps in wanted.items():
                self.channels.get(name, set()).difference_update(ps)
        else:
            if {"user", "full"} & set(wanted):
                reason = self._authenticate(msg)
                if reason:
                    # as the venue answers a bad signature (csko/gdax-python-api#11)
                    return [
                        _feed_error("Sorry, you could not be authenticated: Bad Request", reason)
                    ]
            for name, ps in wanted.items():
                if name in LEVEL2:  # "a message with the type snapshot" first, per product
                    fresh = [p for p in ps if p not in self.channels.get(name, ())]
                    snapshots += [snapshot(self.exchange.tape, p) for p in fresh]
                self.channels.setdefault(name, set()).update(ps)
        listing = [
            {"name": name, "product_ids": sorted(ps)} for name, ps in self.channels.items() if ps
        ]
        return [json.dumps({"type": "subscriptions", "channels": listing}), *snapshots]

    def _authenticate(self, msg: Mapping[str, Any]) -> str:
        """Check the four auth fields as a signed ``GET /users/self/verify`` request."""
        headers = {
            "cb-access-key": str(msg.get("key", "")),
            "cb-access-passphrase": str(msg.get("passphrase", "")),
            "cb-access-timestamp": str(msg.get("timestamp", "")),
            "cb-access-sign": str(msg.get("signature", "")),
        }
        exchange = self.exchange
        auth = exchange.authenticate("GET", VERIFY_PATH, headers, "", exchange.clock())
        if not isinstance(auth, str):
            return str(auth.json()["message"])
        self.account_id = auth
        return ""


def _names(value: object) -> list[str] | None:
    """Return a subscribe's list of product ids (absent or null: none), else ``None``.

    Anything but a list of strings (``true``, one bare string, numbers) is refused, as no
    venue client sends it; iterating it would raise, or spell a product per character.
    """
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def _feed_error(message: str, reason: str) -> str:
    return json.dumps({"type": "error", "message": message, "reason": reason})

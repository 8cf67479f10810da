"""Emulator accounts: balances (free/locked per asset) and the API-key registry.

Holds what an exchange knows about its users: who owns which asset, which API key belongs
to which account and how that key signs (HMAC-SHA256 secret or Ed25519 public key).
Knows nothing of orders, matching or the wire protocol; the matching engine moves
balances through :meth:`Account.lock` / :meth:`Account.settle` and never overdraws.
"""

from __future__ import annotations

import hmac
import secrets
import string
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

ZERO = Decimal(0)

#: Binance issues API keys and HMAC secrets as 64 characters from [A-Za-z0-9]
#: (the documented sample ``vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A``).
KEY_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 64


class InsufficientBalance(Exception):
    """A lock or debit would take an asset's balance below zero."""

    def __init__(self, asset: str, needed: Decimal, available: Decimal) -> None:
        super().__init__(asset, needed, available)
        self.asset = asset
        self.needed = needed
        self.available = available

    def __str__(self) -> str:
        return f"insufficient {self.asset}: need {self.needed}, have {self.available}"


@dataclass(slots=True)
class Balance:
    """One asset's balance: ``free`` can be spent, ``locked`` backs open orders."""

    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass(slots=True)
class Account:
    """A trading account: balances per asset and the time of the last change (ms)."""

    account_id: str
    balances: dict[str, Balance] = field(default_factory=dict)
    uid: int = 0
    update_time: int = 0

    def balance(self, asset: str) -> Balance:
        """Return the balance of ``asset``, creating an empty one on first use."""
        bal = self.balances.get(asset)
        if bal is None:
            bal = self.balances[asset] = Balance()
        return bal

    def free(self, asset: str) -> Decimal:
        """Return the spendable amount of ``asset``."""
        bal = self.balances.get(asset)
        return bal.free if bal is not None else ZERO

    def deposit(self, asset: str, amount: Decimal) -> None:
        """Credit ``amount`` of ``asset`` to the free balance."""
        self.balance(asset).free += amount

    def lock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from free to locked.

        Raises:
            InsufficientBalance: when the free balance is smaller; nothing changes then.
        """
        bal = self.balance(asset)
        if amount > bal.free:
            raise InsufficientBalance(asset, amount, bal.free)
        bal.free -= amount
        bal.locked += amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from locked back to free (an order's unused reservation)."""
        bal = self.balance(asset)
        bal.locked -= amount
        bal.free += amount

    def settle(
        self,
        paid_asset: str,
        paid_from_lock: Decimal,
        refund: Decimal,
        got_asset: str,
        got: Decimal,
    ) -> None:
        """Apply one fill: take ``paid_from_lock`` out of the lock, refund the unspent part.

        ``refund`` is the share of the consumed lock that was not spent (a BUY filled below
        its limit price) and goes back to free; ``got`` (net of commission) is credited.
        """
        paid = self.balance(paid_asset)
        paid.locked -= paid_from_lock
        paid.free += refund
        self.balance(got_asset).free += got


class KeyType(StrEnum):
    """How an API key signs requests (Binance ``faqs/api_key_types.md``)."""

    HMAC = "HMAC"  #: HMAC-SHA256 with a shared secret; signature is hex
    ED25519 = "ED25519"  #: Ed25519; we hold the public key; signature is base64
    RSA = "RSA"  #: RSASSA-PKCS1-v1_5 over SHA-256; we hold the public key; base64


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One registered API key: its owner account and how its signatures are checked."""

    api_key: str
    account_id: str
    key_type: KeyType
    #: HMAC secret (``KeyType.HMAC`` only)
    secret: str = ""
    #: Ed25519 or RSA public key (``KeyType.ED25519`` / ``KeyType.RSA``)
    public_key: Ed25519PublicKey | RSAPublicKey | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    """Key material handed to a user: what ``whalewire emulator`` prints."""

    account_id: str
    hmac_api_key: str
    hmac_secret: str
    ed25519_api_key: str
    ed25519_private_key_pem: str
    ed25519_public_key_pem: str


def generate_key() -> str:
    """Return a fresh 64-character alphanumeric API key or secret (CSPRNG)."""
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


def credential_matches(given: str, expected: str) -> bool:
    """Compare a peer's credential (passphrase, signature) with ours, in constant time.

    As bytes: ``compare_digest`` refuses non-ASCII ``str``, and a peer's text may hold lone
    surrogates (a JSON ``"\\ud800"``, an undecodable header byte) that strict UTF-8 cannot
    encode. ``surrogatepass`` turns them into bytes that no valid text encodes to, so such
    a credential is simply wrong, as at the venue, instead of raising ``UnicodeEncodeError``.
    """
    return hmac.compare_digest(_peer_bytes(given), _peer_bytes(expected))


def _peer_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def public_key_pem(key: Ed25519PublicKey) -> str:
    """Return ``key`` as a PEM SubjectPublicKeyInfo, the form Binance asks users to upload."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def private_key_pem(key: Ed25519PrivateKey) -> str:
    """Return ``key`` as an unencrypted PKCS#8 PEM (for the emulator's printed key pair)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


class Registry:
    """Accounts and API keys of one emulated exchange."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self._keys: dict[str, ApiKey] = {}
        self._next_uid = 354937868

    def open_account(self, account_id: str, balances: dict[str, Decimal] | None = None) -> Account:
        """Create an account holding ``balances`` (asset -> free amount) and return it."""
        if account_id in self.accounts:
            raise ValueError(f"account {account_id!r} exists")
        account = Account(account_id, uid=self._next_uid)
        self._next_uid += 1
        for asset, amount in (balances or {}).items():
            account.deposit(asset, amount)
        self.accounts[account_id] = account
        return account

    def add_hmac_key(self, account_id: str, api_key: str = "", secret: str = "") -> ApiKey:
        """Register an HMAC key for ``account_id``; generate key and secret when not given."""
        entry = ApiKey(
            api_key or generate_key(), account_id, KeyType.HMAC, secret=secret or generate_key()
        )
        return self._add(entry)

    def add_ed25519_key(
        self, account_id: str, public_key: Ed25519PublicKey, api_key: str = ""
    ) -> ApiKey:
        """Register an Ed25519 public key for ``account_id`` under a (generated) API key."""
        entry = ApiKey(
            api_key or generate_key(), account_id, KeyType.ED25519, public_key=public_key
        )
        return self._add(entry)

    def add_rsa_key(self, account_id: str, public_key: RSAPublicKey, api_key: str = "") -> ApiKey:
        """Register an RSA public key (2048 or 4096 bits) for ``account_id``."""
        entry = ApiKey(api_key or generate_key(), account_id, KeyType.RSA, public_key=public_key)
        return self._add(entry)

    def _add(self, entry: ApiKey) -> ApiKey:
        if entry.account_id not in self.accounts:
            raise KeyError(entry.account_id)
        if entry.api_key in self._keys:
            raise ValueError("API key already registered")
        self._keys[entry.api_key] = entry
        return entry

    def lookup(self, api_key: str) -> ApiKey | None:
        """Return the registered key or ``None`` for an unknown one."""
        return self._keys.get(api_key)

    def revoke(self, api_key: str) -> None:
        """Forget ``api_key``; later requests with it fail as an unknown key."""
        self._keys.pop(api_key, None)


#: What the default account holds: enough to trade every emulated symbol.
DEFAULT_BALANCES: dict[str, Decimal] = {
    "BTC": Decimal(10),
    "ETH": Decimal(100),
    "USDT": Decimal(1_000_000),
    "BNB": Decimal(0),
}
#: What the default account of the USD venues (Coinbase, Kraken) holds.
USD_BALANCES: dict[str, Decimal] = {
    "BTC": Decimal(10),
    "ETH": Decimal(100),
    "USD": Decimal(1_000_000),
}


def open_default_account(registry: Registry, account_id: str = "default") -> Credentials:
    """Open the default account with an HMAC key and an Ed25519 key pair; return them."""
    registry.open_account(account_id, dict(DEFAULT_BALANCES))
    hmac_key = registry.add_hmac_key(account_id)
    private = Ed25519PrivateKey.generate()
    ed_key = registry.add_ed25519_key(account_id, private.public_key())
    return Credentials(
        account_id=account_id,
        hmac_api_key=hmac_key.api_key,
        hmac_secret=hmac_key.secret,
        ed25519_api_key=ed_key.api_key,
        ed25519_private_key_pem=private_key_pem(private),
        ed25519_public_key_pem=public_key_pem(private.public_key()),
    )

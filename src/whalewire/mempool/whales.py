"""Whale detection: raw transaction bytes in, ``WhaleAlert``s out.

Holds ``WhaleDetector`` (the rule), ``WhaleAlert``, ``AlertKind`` and ``MatchedOutput``. It
knows the address book and the transaction layout, nothing of feeds, strategies or orders.

The rule, per transaction and per entity of the address book:

- DEPOSIT: the outputs paid to the entity's watched scriptPubKeys add up to at least the
  entity's threshold (default 1 BTC), and no input is recognisably the entity's own. When an
  input is the entity's, those outputs are change or an internal transfer, not a deposit.
- WITHDRAWAL: an input is recognisably the entity's; the value is what leaves it (every
  output not paid back to one of its watched scriptPubKeys), reported when at least the
  threshold.

Raw transactions do not carry the addresses they spend from, so an input is recognised by:

1. its outpoint, when this detector saw that output paid to a watched address (it remembers
   the outpoints of every watched output it sees, up to ``max_tracked_outpoints``); this
   works for every script type, P2TR included, but only for coins received while running;
2. the key or script the input reveals: the public key of a P2PKH or P2WPKH spend
   (HASH160 gives the address), the redeem script of a P2SH spend (HASH160), the witness
   script of a P2WSH spend (SHA256), nested P2SH-P2WPKH/P2WSH alike. A P2TR key-path spend
   reveals nothing usable: such inputs are only known through (1).

By default (2) runs only for transactions that pay a watched address (to tell deposits from
change); ``inspect_all_inputs=True`` runs it on every transaction, which also finds
withdrawals to unwatched addresses from coins received before the detector started, at
about twice the cost per transaction. Limits: an exchange's unlisted addresses are invisible;
a deposit whose inputs mix the entity's coins with others' counts as internal; amounts are
what the transaction says, not what the exchange credits.

Hot path: ``scan_tx`` walks the bytes and looks scriptPubKey and outpoint slices up in two
dicts; nothing is built unless something matched. The txid and address strings are only
computed for transactions that matched.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from whalewire.mempool.address import script_to_address
from whalewire.mempool.tx import Tx, TxIn, parse_tx, scan_tx
from whalewire.mempool.watchlist import AddressBook, AddressEntry

__all__ = [
    "SATS_PER_BTC",
    "AlertKind",
    "MatchedOutput",
    "WhaleAlert",
    "WhaleDetector",
    "hash160",
]

SATS_PER_BTC: Final = 100_000_000
_NO_ALERTS: Final[tuple[WhaleAlert, ...]] = ()
_perf_ns = time.perf_counter_ns
_sha256 = hashlib.sha256


def hash160(data: bytes) -> bytes:
    """Return RIPEMD160(SHA256(data)), the hash in P2PKH, P2WPKH and P2SH scripts."""
    return hashlib.new("ripemd160", _sha256(data).digest()).digest()


class AlertKind(StrEnum):
    """What a whale alert reports."""

    #: coins paid to an entity's watched addresses from inputs that are not its own
    DEPOSIT = "deposit"
    #: coins leaving an entity: inputs recognisably its own, outputs elsewhere
    WITHDRAWAL = "withdrawal"


@dataclass(frozen=True, slots=True)
class MatchedOutput:
    """One output an alert is about: its index in the transaction, value and address."""

    index: int
    #: satoshis
    value: int
    #: None for scripts without an address (OP_RETURN, bare multisig, non-standard)
    address: str | None


@dataclass(frozen=True, slots=True)
class WhaleAlert:
    """A whale move seen in one transaction, for one entity.

    ``recv_ns`` and ``detect_ns`` are ``time.perf_counter_ns()`` when the feed received the
    bytes and when the detector decided: ``detect_ns - recv_ns`` is the detection latency.
    ``recv_wall_ns`` is the wall clock (``time.time_ns()``) at receive, for logs.
    """

    txid: str
    kind: AlertKind
    entity: str
    #: satoshis paid to the entity (DEPOSIT) or leaving it (WITHDRAWAL)
    value: int
    #: DEPOSIT: the outputs paid to the entity; WITHDRAWAL: the outputs leaving it
    outputs: tuple[MatchedOutput, ...]
    feed: str
    recv_ns: int
    recv_wall_ns: int
    detect_ns: int
    #: WITHDRAWAL: the indices of the inputs recognised as the entity's
    inputs: tuple[int, ...] = ()

    @property
    def latency_ns(self) -> int:
        """Return receive-to-decision time in nanoseconds."""
        return self.detect_ns - self.recv_ns


class WhaleDetector:
    """Apply the whale rule (module docstring) to raw transactions from any feed."""

    def __init__(
        self,
        book: AddressBook,
        *,
        threshold_sats: int = SATS_PER_BTC,
        thresholds: Mapping[str, int] | None = None,
        inspect_all_inputs: bool = False,
        max_tracked_outpoints: int = 200_000,
    ) -> None:
        """Build the watch set from ``book`` once.

        Args:
            book: the watched addresses and their entities.
            threshold_sats: the default threshold, in satoshis (1 BTC).
            thresholds: per-entity thresholds overriding the default.
            inspect_all_inputs: recognise inputs by key/script on every transaction, not
                only on those paying a watched address.
            max_tracked_outpoints: how many watched outputs to remember (oldest dropped).

        Raises:
            ValueError: a threshold is not positive or names an entity not in ``book``.
        """
        thresholds = dict(thresholds or {})
        unknown = sorted(set(thresholds) - book.entities)
        if unknown:
            raise ValueError(
                f"thresholds name entities not in the address book: {', '.join(unknown)}"
            )
        bad = sorted(k for k, v in [("default", threshold_sats), *thresholds.items()] if v <= 0)
        if bad:
            raise ValueError(f"thresholds must be positive: {', '.join(bad)}")
        self.book = book
        self.network = book.network
        self.inspect_all_inputs = inspect_all_inputs
        self.max_tracked_outpoints = max_tracked_outpoints
        self._default = threshold_sats
        self._thresholds = thresholds
        self._watch: dict[bytes, AddressEntry] = dict(book.watch)
        self._spent: dict[bytes, AddressEntry] = {}
        # What an input can reveal, mapped back to the watched entry it pays.
        self._by_pkh: dict[bytes, AddressEntry] = {}
        self._by_sh: dict[bytes, AddressEntry] = {}
        self._by_wsh: dict[bytes, AddressEntry] = {}
        for spk, entry in self._watch.items():
            if len(spk) == 25 and spk[:3] == b"\x76\xa9\x14":
                self._by_pkh[spk[3:23]] = entry
            elif len(spk) == 22 and spk[:2] == b"\x00\x14":
                self._by_pkh[spk[2:]] = entry
            elif len(spk) == 23 and spk[:2] == b"\xa9\x14":
                self._by_sh[spk[2:22]] = entry
            elif len(spk) == 34 and spk[:2] == b"\x00\x20":
                self._by_wsh[spk[2:]] = entry

    def threshold(self, entity: str) -> int:
        """Return the threshold in satoshis that applies to ``entity``."""
        return self._thresholds.get(entity, self._default)

    @property
    def tracked_outpoints(self) -> int:
        """Return how many watched outputs are remembered for recognising spends."""
        return len(self._spent)

    def feed(
        self, raw: bytes, *, feed: str, recv_ns: int, recv_wall_ns: int
    ) -> tuple[WhaleAlert, ...]:
        """Apply the rule to one raw transaction; return its alerts (usually none).

        Args:
            raw: the serialised transaction (legacy or BIP 144).
            feed: the feed's name, copied into alerts.
            recv_ns: ``perf_counter_ns()`` when the bytes were received.
            recv_wall_ns: ``time_ns()`` at the same moment.

        Raises:
            TxParseError: ``raw`` is not a well-formed transaction (as far as it was read).
        """
        found, ins = scan_tx(raw, self._watch, self._spent)
        if not found and not ins and not self.inspect_all_inputs:
            return _NO_ALERTS
        return self._decide(raw, found, ins, feed=feed, recv_ns=recv_ns, recv_wall_ns=recv_wall_ns)

    def _decide(
        self,
        raw: bytes,
        found: list[tuple[int, int, AddressEntry]],
        ins: list[tuple[int, AddressEntry]],
        *,
        feed: str,
        recv_ns: int,
        recv_wall_ns: int,
    ) -> tuple[WhaleAlert, ...]:
        tx = parse_tx(raw)
        owners: dict[str, list[int]] = {}
        for i, entry in ins:
            owners.setdefault(entry.entity, []).append(i)
        if found or self.inspect_all_inputs:
            known = {i for i, _ in ins}
            for i, txin in enumerate(tx.inputs):
                if i not in known:
                    owner = self._input_owner(txin)
                    if owner is not None:
                        owners.setdefault(owner.entity, []).append(i)
        if not found and not owners:
            return _NO_ALERTS
        if found:
            self._remember(tx, found)
        paid: dict[str, list[tuple[int, int]]] = {}
        for i, value, entry in found:
            paid.setdefault(entry.entity, []).append((i, value))
        alerts: list[WhaleAlert] = []
        txid = tx.txid
        net = self.network
        for entity, outs in paid.items():
            total = sum(v for _, v in outs)
            if entity in owners or total < self.threshold(entity):
                continue
            matched = tuple(
                MatchedOutput(i, v, script_to_address(tx.outputs[i].script_pubkey, net))
                for i, v in outs
            )
            alerts.append(
                WhaleAlert(
                    txid,
                    AlertKind.DEPOSIT,
                    entity,
                    total,
                    matched,
                    feed,
                    recv_ns,
                    recv_wall_ns,
                    _perf_ns(),
                )
            )
        watch = self._watch
        for entity, inputs in owners.items():
            leaving = []
            for i, out in enumerate(tx.outputs):
                owner = watch.get(out.script_pubkey)
                if owner is None or owner.entity != entity:
                    leaving.append((i, out))
            total = sum(out.value for _, out in leaving)
            if total < self.threshold(entity):
                continue
            matched = tuple(
                MatchedOutput(i, out.value, script_to_address(out.script_pubkey, net))
                for i, out in leaving
            )
            alerts.append(
                WhaleAlert(
                    txid,
                    AlertKind.WITHDRAWAL,
                    entity,
                    total,
                    matched,
                    feed,
                    recv_ns,
                    recv_wall_ns,
                    _perf_ns(),
                    tuple(sorted(inputs)),
                )
            )
        return tuple(alerts)

    def _remember(self, tx: Tx, found: list[tuple[int, int, AddressEntry]]) -> None:
        # Outpoints of watched outputs: a later spend of one is the entity's (any script type).
        spent = self._spent
        txid = tx.txid_bytes
        for i, _, entry in found:
            spent[txid + i.to_bytes(4, "little")] = entry
        excess = len(spent) - self.max_tracked_outpoints
        if excess > 0:
            for key in list(spent)[:excess]:  # dicts keep insertion order: oldest first
                del spent[key]

    def _input_owner(self, txin: TxIn) -> AddressEntry | None:
        """Return the watched entry an input spends from, when its key or script shows it."""
        w = txin.witness
        if w:
            last = w[-1]
            if self._by_pkh and len(w) == 2 and len(last) in (33, 65):
                entry = self._by_pkh.get(hash160(last))
                if entry is not None:
                    return entry
            if self._by_wsh and len(w) >= 2:
                entry = self._by_wsh.get(_sha256(last).digest())
                if entry is not None:
                    return entry
            if not txin.script_sig or not self._by_sh:
                return None
        if not txin.script_sig:
            return None
        pushed = last_push(txin.script_sig)
        if not pushed:
            return None
        h = hash160(pushed)
        return self._by_pkh.get(h) or self._by_sh.get(h)


def last_push(script: bytes) -> bytes | None:
    """Return the data of the last push of a push-only script (a scriptSig), else None.

    Push opcodes per Bitcoin Core ``script.h``: 0x01-0x4b push that many bytes,
    OP_PUSHDATA1/2/4 (0x4c/0x4d/0x4e) carry a 1/2/4-byte length, OP_0 pushes nothing and
    OP_1NEGATE/OP_1..OP_16 push small numbers. Any other opcode makes the script not
    push-only, and a truncated push makes it invalid: both give None.
    """
    pos = 0
    n = len(script)
    last: bytes | None = None
    while pos < n:
        op = script[pos]
        pos += 1
        if op <= 0x4B:
            size = op
        elif op == 0x4C:
            if pos + 1 > n:
                return None
            size = script[pos]
            pos += 1
        elif op == 0x4D:
            if pos + 2 > n:
                return None
            size = int.from_bytes(script[pos : pos + 2], "little")
            pos += 2
        elif op == 0x4E:
            if pos + 4 > n:
                return None
            size = int.from_bytes(script[pos : pos + 4], "little")
            pos += 4
        elif op == 0x4F or 0x51 <= op <= 0x60:
            last = b""
            continue
        else:
            return None
        if pos + size > n:
            return None
        last = script[pos : pos + size]
        pos += size
    return last

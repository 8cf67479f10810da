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

Hot path: ``scan_tx`` walks the bytes and looks scriptPubKey slices up in the watch set (the
compact one of ``mempool.watchset``, probed in place) and outpoints in a dict; nothing is
built unless something matched. For a transaction that matched, the inputs'
revealed keys come from one more walk over its bytes (``_scan.reveal``), and its txid is the
one the caller computed from the same bytes (a feed event's, ``feed(txid=...)``), or that walk
hashes it (``_scan.inspect``); no ``Tx`` is built unless a withdrawal needs its outputs;
address strings are computed only when an alert's ``MatchedOutput.address`` is read; a
whale's watched outpoints are remembered at the start of the detector's next call, after the
whale's order went out. The walks have a C version in ``whalewire.mempool._scan`` (optional,
built by setup.py) and the pure-Python reference here and in ``tx.py``; ``whalewire.speedups``
switches, and the tests run both on the same vectors.
``WhaleDetector.rehearse`` runs the same path on a shadow whale, to keep it in cache.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Final

import msgspec

from whalewire import speedups
from whalewire.mempool.address import script_to_address
from whalewire.mempool.tx import Tx, TxIn, parse_tx, scan_tx, txid_of
from whalewire.mempool.watchlist import AddressBook, AddressEntry
from whalewire.mempool.watchset import WatchSetLike, new_watch_set

__all__ = [
    "SATS_PER_BTC",
    "AlertKind",
    "MatchedOutput",
    "WhaleAlert",
    "WhaleDetector",
    "hash160",
    "last_push",
    "ripemd160_py",
]

# None when not built (no compiler or libcrypto at install time): the Python path is complete
_scan = speedups.load("whalewire.mempool._scan")
_HAVE_C = _scan is not None

SATS_PER_BTC: Final = 100_000_000
_NO_ALERTS: Final[tuple[WhaleAlert, ...]] = ()
# what ``_scan.inspect`` looks keys up in when only the txid is wanted
_NOTHING: Final[dict[bytes, AddressEntry]] = {}
_NO_INPUTS: Final[list[tuple[int, AddressEntry]]] = []
_perf_ns = time.perf_counter_ns
_sha256 = hashlib.sha256


def hash160(data: bytes) -> bytes:
    """Return RIPEMD160(SHA256(data)), the hash in P2PKH, P2WPKH and P2SH scripts."""
    return _ripemd160(_sha256(data).digest())


# --- RIPEMD-160 (Dobbertin, Bosselaers, Preneel 1996), for OpenSSL builds without it ---------
# OpenSSL 3 may leave RIPEMD-160 to its "legacy" provider, and then hashlib.new("ripemd160")
# raises. The pure-Python fallback is ~10x slower and only runs on the alert path.

_R_L: Final = (
    *range(16),
    *(7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8),
    *(3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12),
    *(1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2),
    *(4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13),
)
_R_R: Final = (
    *(5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12),
    *(6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2),
    *(15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13),
    *(8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14),
    *(12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11),
)
_S_L: Final = (
    *(11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8),
    *(7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12),
    *(11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5),
    *(11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12),
    *(9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6),
)
_S_R: Final = (
    *(8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6),
    *(9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11),
    *(9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5),
    *(15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8),
    *(8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11),
)
_K_L: Final = (0x00000000, 0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xA953FD4E)
_K_R: Final = (0x50A28BE6, 0x5C4DD124, 0x6D703EF3, 0x7A6D76E9, 0x00000000)
_M32: Final = 0xFFFFFFFF


def _rmd_f(j: int, x: int, y: int, z: int) -> int:
    if j < 16:
        return x ^ y ^ z
    if j < 32:
        return (x & y) | (~x & z)
    if j < 48:
        return ((x | ~y) ^ z) & _M32
    if j < 64:
        return (x & z) | (y & ~z)
    return (x ^ (y | ~z)) & _M32


def _rol(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & _M32


def ripemd160_py(data: bytes) -> bytes:
    """Return RIPEMD-160 of ``data`` in pure Python (the reference algorithm)."""
    msg = data + b"\x80" + b"\0" * ((55 - len(data)) % 64) + (8 * len(data)).to_bytes(8, "little")
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
    for off in range(0, len(msg), 64):
        x = [int.from_bytes(msg[off + 4 * i : off + 4 * i + 4], "little") for i in range(16)]
        al, bl, cl, dl, el = h
        ar, br, cr, dr, er = h
        for j in range(80):
            t = _rol((al + _rmd_f(j, bl, cl, dl) + x[_R_L[j]] + _K_L[j // 16]) & _M32, _S_L[j]) + el
            al, el, dl, cl, bl = el, dl, _rol(cl, 10), bl, t & _M32
            t = (
                _rol((ar + _rmd_f(79 - j, br, cr, dr) + x[_R_R[j]] + _K_R[j // 16]) & _M32, _S_R[j])
                + er
            )
            ar, er, dr, cr, br = er, dr, _rol(cr, 10), br, t & _M32
        h = [
            (h[1] + cl + dr) & _M32,
            (h[2] + dl + er) & _M32,
            (h[3] + el + ar) & _M32,
            (h[4] + al + br) & _M32,
            (h[0] + bl + cr) & _M32,
        ]
    return b"".join(v.to_bytes(4, "little") for v in h)


def _ripemd160_hashlib(data: bytes) -> bytes:
    # hashlib.new looks the algorithm up in OpenSSL on every call (0.75 µs measured); copying
    # a fresh object made once costs less than half
    h = _RIPEMD160_EMPTY.copy()
    h.update(data)
    return h.digest()


try:
    _RIPEMD160_EMPTY = hashlib.new("ripemd160")
    _ripemd160 = _ripemd160_hashlib
except ValueError:  # pragma: no cover - depends on the OpenSSL build
    _ripemd160 = ripemd160_py


class AlertKind(StrEnum):
    """What a whale alert reports."""

    #: coins paid to an entity's watched addresses from inputs that are not its own
    DEPOSIT = "deposit"
    #: coins leaving an entity: inputs recognisably its own, outputs elsewhere
    WITHDRAWAL = "withdrawal"


_DEPOSIT: Final = AlertKind.DEPOSIT
_WITHDRAWAL: Final = AlertKind.WITHDRAWAL


class MatchedOutput(msgspec.Struct, frozen=True, gc=False):
    """One output an alert is about: its index in the transaction, value and script.

    The address string is computed when asked for, not when the alert is made: encoding
    base58 costs ~10 µs, and an alert is on the hot path until its order's bytes are out.
    A msgspec Struct, like ``Tx``, because it is the cheapest immutable record to build.
    """

    index: int
    #: satoshis
    value: int
    script_pubkey: bytes
    network: str = "mainnet"

    @property
    def address(self) -> str | None:
        """Return the output's address; None for OP_RETURN, bare multisig, non-standard."""
        return script_to_address(self.script_pubkey, self.network)


class WhaleAlert(msgspec.Struct, frozen=True, gc=False):
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
        # the compact set (mempool.watchset): the book's entries first, learned labels later
        self._watch: WatchSetLike[AddressEntry] = new_watch_set(list(book.entries))
        for k, e in enumerate(book.entries):
            self._watch.add(e.script_pubkey, k)
        # Insertion-ordered so the oldest outpoint is dropped first, in O(1).
        self._spent: OrderedDict[bytes, AddressEntry] = OrderedDict()
        # a whale's watched outputs, remembered at the start of the next call rather than
        # before its alert is returned: no later transaction is scanned without them, and
        # the whale's order does not wait for the bookkeeping
        self._unremembered: tuple[str, list[tuple[int, int, AddressEntry]]] | None = None
        # What an input can reveal, mapped back to the watched entry it pays.
        self._by_pkh: dict[bytes, AddressEntry] = {}
        self._by_sh: dict[bytes, AddressEntry] = {}
        self._by_wsh: dict[bytes, AddressEntry] = {}
        for spk, entry in book.watch.items():
            if len(spk) == 25 and spk[:3] == b"\x76\xa9\x14":
                self._by_pkh[spk[3:23]] = entry
            elif len(spk) == 22 and spk[:2] == b"\x00\x14":
                self._by_pkh[spk[2:]] = entry
            elif len(spk) == 23 and spk[:2] == b"\xa9\x14":
                self._by_sh[spk[2:22]] = entry
            elif len(spk) == 34 and spk[:2] == b"\x00\x20":
                self._by_wsh[spk[2:]] = entry
        first = book.entries[0] if book.entries else None
        self._shadow = None if first is None else _shadow_tx(first, self.threshold(first.entity))
        # the shadow's txid, computed once from its bytes, as a feed event's is
        self._shadow_id = None if self._shadow is None else txid_of(self._shadow)

    @property
    def watch_set(self) -> WatchSetLike[AddressEntry]:
        """Return the watch set ``feed`` scans: add learned scripts to it while detecting.

        Append an entry to its ``values`` and ``add(script, index)`` (or ``add_many``); an
        entry shared by many scripts has an empty ``script_pubkey``, and its alerts take each
        output's script from the transaction. A learned entity's threshold is the default.
        """
        return self._watch

    def threshold(self, entity: str) -> int:
        """Return the threshold in satoshis that applies to ``entity``."""
        return self._thresholds.get(entity, self._default)

    @property
    def tracked_outpoints(self) -> int:
        """Return how many watched outputs are remembered for recognising spends."""
        if self._unremembered is not None:
            self._remember_pending()
        return len(self._spent)

    def feed(
        self,
        raw: bytes,
        *,
        feed: str,
        recv_ns: int,
        recv_wall_ns: int,
        txid: str | None = None,
    ) -> tuple[WhaleAlert, ...]:
        """Apply the rule to one raw transaction; return its alerts (usually none).

        Args:
            raw: the serialised transaction (legacy or BIP 144).
            feed: the feed's name, copied into alerts.
            recv_ns: ``perf_counter_ns()`` when the bytes were received.
            recv_wall_ns: ``time_ns()`` at the same moment.
            txid: ``raw``'s display-order txid as computed from ``raw`` itself (a feed
                event's: ``tx_event`` and every feed hash the bytes, none takes a peer's
                word); spares hashing the bytes again. Never pass a txid a peer sent: it
                would name the alert and the remembered outpoints. None: hashed here.

        Raises:
            TxParseError: ``raw`` is not a well-formed transaction (as far as it was read).
        """
        if self._unremembered is not None:
            self._remember_pending()
        scan = _c_scan_tx
        hits = scan(raw, self._watch, self._spent) if scan is not None else None
        if hits is None:
            hits = scan_tx(raw, self._watch, self._spent)
        found, ins = hits
        if not found and not ins and not self.inspect_all_inputs:
            return _NO_ALERTS
        # positional: a keyword call costs more, and this is the alert's hot path
        return self._decide(raw, found, ins, feed, recv_ns, recv_wall_ns, True, txid)

    def rehearse(self) -> WhaleAlert | None:
        """Detect once on a shadow whale so the hot path's code and data stay in cache.

        The shadow transaction pays the book's first watched script its entity's threshold,
        from a P2WPKH-shaped input whose outpoint and key no one has; it takes the same walks,
        lookups, hashes and alert building as a real whale, and nothing is remembered (no
        outpoint, no state). Callers run it between transactions, e.g. every few ms.

        Returns:
            The shadow's alert (feed ``"rehearsal"``); None for an empty address book.
        """
        raw = self._shadow
        if raw is None:
            return None
        if self._unremembered is not None:
            self._remember_pending()
        scan = _c_scan_tx
        hits = scan(raw, self._watch, self._spent) if scan is not None else None
        if hits is None:
            hits = scan_tx(raw, self._watch, self._spent)
        alerts = self._decide(raw, hits[0], hits[1], "rehearsal", 0, 0, False, self._shadow_id)
        return alerts[0] if alerts else None

    def _decide(  # noqa: PLR0917 - positional on purpose: feed's hot path calls it
        self,
        raw: bytes,
        found: list[tuple[int, int, AddressEntry]],
        ins: list[tuple[int, AddressEntry]],
        feed: str,
        recv_ns: int,
        recv_wall_ns: int,
        remember: bool,
        txid: str | None,
    ) -> tuple[WhaleAlert, ...]:
        owners: dict[str, list[int]] = {}
        for i, entry in ins:
            owners.setdefault(entry.entity, []).append(i)
        look = bool(found) or self.inspect_all_inputs
        tx: Tx | None = None
        revealed: list[tuple[int, AddressEntry]] | None = None
        if txid is None:
            walk = _c_inspect
            if walk is not None:
                if look:
                    seen = walk(raw, self._by_pkh, self._by_sh, self._by_wsh)
                else:
                    seen = walk(raw, _NOTHING, _NOTHING, _NOTHING)
                if seen is not None:
                    txid = seen[1]
                    revealed = seen[2]
        elif look:
            reveal = _c_reveal
            if reveal is not None:
                revealed = reveal(raw, self._by_pkh, self._by_sh, self._by_wsh)
        else:
            # the scan's outpoint hits alone decide: the bytes were walked (and hashed) when
            # the caller computed the txid, nothing more to read
            revealed = _NO_INPUTS
        if revealed is not None:
            if revealed:
                known = {i for i, _ in ins}
                for i, entry in revealed:
                    if i not in known:
                        owners.setdefault(entry.entity, []).append(i)
        else:
            # the reference path (and the one that names the fault in malformed bytes)
            tx = parse_tx(raw)
            if txid is None:
                txid = tx.txid
            if look:
                known = {i for i, _ in ins}
                for i, txin in enumerate(tx.inputs):
                    if i not in known:
                        owner = self._input_owner(txin)
                        if owner is not None:
                            owners.setdefault(owner.entity, []).append(i)
        if not found and not owners:
            return _NO_ALERTS
        assert txid is not None
        if found and remember:
            self._unremembered = (txid, found)
        net = self.network
        alerts: list[WhaleAlert] = []
        if len(found) == 1 and not owners:
            # the common whale: one output to one entity, no input of its own
            i, v, e = found[0]
            if v < self._thresholds.get(e.entity, self._default):
                return _NO_ALERTS
            paid_out = MatchedOutput(i, v, e.script_pubkey or _output_script(raw, i), net)
            return (
                WhaleAlert(
                    txid,
                    _DEPOSIT,
                    e.entity,
                    v,
                    (paid_out,),
                    feed,
                    recv_ns,
                    recv_wall_ns,
                    _perf_ns(),
                ),
            )
        if found:
            paid: dict[str, list[tuple[int, int, AddressEntry]]] = {}
            for hit in found:
                paid.setdefault(hit[2].entity, []).append(hit)
            for entity, outs in paid.items():
                if entity in owners:
                    continue
                total = 0
                for _, v, _ in outs:
                    total += v
                if total < self._thresholds.get(entity, self._default):
                    continue
                alerts.append(
                    WhaleAlert(
                        txid,
                        _DEPOSIT,
                        entity,
                        total,
                        tuple(
                            [
                                MatchedOutput(i, v, e.script_pubkey or _output_script(raw, i), net)
                                for i, v, e in outs
                            ]
                        ),
                        feed,
                        recv_ns,
                        recv_wall_ns,
                        _perf_ns(),
                    )
                )
        if owners:
            if tx is None:
                tx = parse_tx(raw)
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
                    MatchedOutput(i, out.value, out.script_pubkey, net) for i, out in leaving
                )
                alerts.append(
                    WhaleAlert(
                        txid,
                        _WITHDRAWAL,
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

    def _remember_pending(self) -> None:
        # Outpoints of watched outputs: a later spend of one is the entity's (any script type).
        pending = self._unremembered
        assert pending is not None
        self._unremembered = None
        txid_hex, found = pending
        txid = bytes.fromhex(txid_hex)[::-1]  # internal byte order, as outpoints carry it
        spent = self._spent
        for i, _, entry in found:
            spent[txid + i.to_bytes(4, "little")] = entry
        while len(spent) > self.max_tracked_outpoints:
            spent.popitem(last=False)

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


def _output_script(raw: bytes, index: int) -> bytes:
    """Return output ``index``'s script: a learned entry is shared and holds none of its own."""
    return parse_tx(raw).outputs[index].script_pubkey


def _shadow_tx(entry: AddressEntry, value: int) -> bytes:
    """Return a segwit transaction paying ``value`` to ``entry``'s script from nowhere.

    One input: outpoint 0x5a * 32 index 0xfffffffe (no transaction has that id), a witness
    shaped like P2WPKH (a 71-byte "signature", a 33-byte "key" 0x02 || 0x5a * 32 that no
    address book entry is the hash of). One output. BIP 144 layout, locktime 0.
    """
    spk = entry.script_pubkey
    n = len(spk)
    size = bytes([n]) if n < 0xFD else b"\xfd" + n.to_bytes(2, "little")
    return b"".join(
        [
            (2).to_bytes(4, "little"),
            b"\x00\x01",  # marker, flag
            b"\x01" + b"\x5a" * 32 + b"\xfe\xff\xff\xff" + b"\x00" + b"\xfd\xff\xff\xff",
            b"\x01" + value.to_bytes(8, "little") + size + spk,
            b"\x02" + b"\x47" + b"\x30" * 71 + b"\x21" + b"\x02" + b"\x5a" * 32,
            bytes(4),
        ]
    )


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


# the watch set is the compact C one whenever these C walks are there (watchset.new_watch_set)
_ScanFn = Callable[
    [bytes, Any, dict[bytes, AddressEntry]],
    tuple[list[tuple[int, int, AddressEntry]], list[tuple[int, AddressEntry]]] | None,
]
_InspectFn = Callable[
    [bytes, dict[bytes, AddressEntry], dict[bytes, AddressEntry], dict[bytes, AddressEntry]],
    tuple[bytes, str, list[tuple[int, AddressEntry]]] | None,
]
_RevealFn = Callable[
    [bytes, dict[bytes, AddressEntry], dict[bytes, AddressEntry], dict[bytes, AddressEntry]],
    list[tuple[int, AddressEntry]] | None,
]
_c_scan_tx: _ScanFn | None = None
_c_inspect: _InspectFn | None = None
_c_reveal: _RevealFn | None = None
#: True when the C walks (``whalewire.mempool._scan``) run detection
SPEEDUPS = False


def _switch(enabled: bool) -> bool:
    # whalewire.speedups calls this; detectors read the choice on every call, so it applies
    # to existing ones too
    global _c_scan_tx, _c_inspect, _c_reveal, SPEEDUPS
    if enabled and _scan is not None:
        _c_scan_tx = _scan.scan_tx
        _c_inspect = _scan.inspect
        _c_reveal = _scan.reveal
        SPEEDUPS = True
    else:
        _c_scan_tx = None
        _c_inspect = None
        _c_reveal = None
        SPEEDUPS = False
    return SPEEDUPS


speedups.register(__name__, _switch)

"""The learner: blocks in, labelled clusters with evidence out, undoable block by block.

``Learner.connect(height, raw)`` applies one block: its own prevout index resolves each
input's script; multi-input clustering (union by size, no path compression so that every
change can be undone) skips CoinJoin shapes and refuses, and reports, a merge of two
differently labelled entities; a transaction paying only an entity's wallets (not its deposit
addresses) from unlabelled addresses labels those addresses: deposit addresses when anyone
else funded them, internal wallets when only the entity did; a transaction between one
entity's wallets is internal and labels nothing. ``disconnect()`` undoes the tip block (a
reorg) from its undo log. State is in memory; ``store.Store`` saves and loads it, and can
attach a ``Spill`` so that unspent outputs and address ids leave memory (bounded memory):
lookups that miss memory ask the spill, and undo logs the store holds are read back from it.
The learner notes what each block changed (array chunks, roots, outputs, new ids) so that a
checkpoint writes only that. Knows transactions and scripts, nothing of files,
RPC or SQL.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from whalewire.addresses import heuristics as heur
from whalewire.addresses.walk import walk_block

__all__ = ["DEPOSIT", "Conflict", "Evidence", "Learner", "ReorgError"]

#: the role of a customer deposit address
DEPOSIT: Final = "deposit"
#: the role of a wallet learned to be the entity's own (hot/cold shuffles)
INTERNAL: Final = "internal wallet"
#: the role of an address joined to a labelled cluster by common-input-ownership
MEMBER: Final = "cluster member"
#: two "no funder" slots, as an array: extending by an array is a memcpy, by a tuple a loop
_NO_FUNDERS: Final = array("q", (-1, -1))
_NEW: Final = ("new",)
#: consolidations remembered for addresses not yet labelled (all of them, and per address)
_MAX_PENDING: Final = 100_000
_MAX_PENDING_EACH: Final = 64
#: how many blocks can be disconnected (Core keeps undo data far longer; reorgs are shallow)
UNDO_DEPTH: Final = 144
#: undo logs kept in memory once the store holds them (the rest are read back to disconnect)
UNDO_MEMORY: Final = 6
#: the union-find and funders arrays are checkpointed in chunks of 2**CHUNK_BITS addresses
CHUNK_BITS: Final = 16


class ReorgError(RuntimeError):
    """A block does not extend the tip, or a disconnect goes deeper than the undo logs."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why an address carries a label: the transaction (or seed source) and the heuristic."""

    addr: int
    txid: str
    heuristic: str
    height: int


@dataclass(frozen=True, slots=True)
class Conflict:
    """A merge refused: it would have joined two differently labelled entities."""

    txid: str
    heuristic: str
    entity_a: str
    entity_b: str
    height: int


class Spill(Protocol):
    """Where unspent outputs and address ids go when they leave memory (``store``)."""

    def take_utxo(self, outpoint: bytes) -> int | None:
        """Remove a spilled unspent output; return the address it paid, or None."""
        ...

    def drop_utxo(self, outpoint: bytes) -> None:
        """Forget a spilled unspent output (its block was disconnected)."""
        ...

    def id_of(self, script: bytes) -> int | None:
        """Return a spilled script's address id, or None."""
        ...

    def script_of(self, a: int) -> bytes | None:
        """Return a spilled address id's script, or None."""
        ...

    def drop_id(self, a: int) -> None:
        """Forget a spilled address (its block was disconnected)."""
        ...

    def put(self, scripts: dict[int, bytes], utxo: dict[bytes, int], spent: list[bytes]) -> None:
        """Hold these addresses and unspent outputs; forget the ``spent`` outputs."""
        ...

    def ids(self) -> Iterator[tuple[bytes, int]]:
        """Yield every spilled ``(script, address id)``."""
        ...

    def undo_log(self, height: int) -> list[tuple[Any, ...]] | None:
        """Return the checkpointed undo log of the block at ``height``, or None."""
        ...


@dataclass
class Learner:
    """The learned state: addresses, clusters, labels, evidence, unspent outputs, undo logs."""

    #: script -> address id, and back (those in memory; the rest in ``spill``)
    ids: dict[bytes, int] = field(default_factory=dict)
    scripts: dict[int, bytes] = field(default_factory=dict)
    #: the union-find, flat int64 arrays indexed by address id (8 bytes each, no objects)
    parent: array[int] = field(default_factory=lambda: array("q"))
    size: array[int] = field(default_factory=lambda: array("q"))
    #: cluster root -> entity
    entity: dict[int, str] = field(default_factory=dict)
    #: address -> (entity, role, height learned)
    role: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    #: address a -> the first two addresses that paid it (the first input of each funding
    #: tx) at ``2a`` and ``2a + 1``, -1 for none: 16 bytes an address, no object
    funders: array[int] = field(default_factory=lambda: array("q"))
    #: address -> how many sweeps spent from it
    swept: dict[int, int] = field(default_factory=dict)
    #: unlabelled address -> consolidations into it not yet understood: (txid, inputs)
    pending: dict[int, list[tuple[str, list[int]]]] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    #: every role change in order (the live loader follows it): (addr, entity, role, active)
    label_log: list[tuple[int, str, str, int, bool]] = field(default_factory=list)
    #: outpoint -> the address it pays (no heuristic reads the value: not kept)
    utxo: dict[bytes, int] = field(default_factory=dict)
    #: (height, block hash internal order) of the connected chain's last blocks
    tip: list[tuple[int, bytes]] = field(default_factory=list)
    undo: list[list[tuple[Any, ...]]] = field(default_factory=list)
    coinjoins_skipped: int = 0
    transactions: int = 0
    #: what changed since the last checkpoint, so that it writes only that (``store``):
    #: chunks of the arrays changed, roots absorbed or split (their labels' cluster moves),
    #: and how much of the arrays, evidence, conflicts and undo logs the store holds
    dirty: set[int] = field(default_factory=set)
    moved: set[int] = field(default_factory=set)
    saved_len: int = 0
    saved_evidence: int = 0
    saved_conflicts: int = 0
    saved_height: int = -1
    #: with a spill: outpoints created (True) or spent (False) since the spill last took
    #: them, and the fewest addresses since (ids from there on are written at a checkpoint)
    utxo_changes: dict[bytes, bool] = field(default_factory=dict)
    ids_floor: int = 0
    #: memory holds every address id and unspent output (nothing evicted yet): a miss in
    #: memory needs no question to the spill
    whole: bool = True
    #: where ids and unspent outputs go past ``cache_entries`` (None: all stay in memory)
    spill: Spill | None = None
    cache_entries: int = 2_000_000

    # --- queries -----------------------------------------------------------------------------

    def find(self, a: int) -> int:
        """Return the root of ``a``'s cluster."""
        parent = self.parent
        while parent[a] != a:
            a = parent[a]
        return a

    def entity_of(self, a: int) -> str | None:
        """Return the entity ``a``'s cluster is labelled with, or None."""
        return self.entity.get(self.find(a))

    def script_of(self, a: int) -> bytes:
        """Return address ``a``'s script (from memory or the spill)."""
        script = self.scripts.get(a)
        if script is None and self.spill is not None:
            script = self.spill.script_of(a)
        if script is None:
            raise KeyError(a)
        return script

    def id_of(self, script: bytes) -> int | None:
        """Return ``script``'s address id, or None when never seen."""
        a = self.ids.get(script)
        if a is None and self.spill is not None:
            a = self.spill.id_of(script)
        return a

    def all_ids(self) -> Iterator[tuple[bytes, int]]:
        """Yield every ``(script, address id)`` seen."""
        yield from self.ids.items()
        if self.spill is not None:
            for script, a in self.spill.ids():
                if script not in self.ids:
                    yield script, a

    def evict(self) -> None:
        """Move the address ids and unspent outputs held in memory to the spill."""
        if self.spill is not None:
            self.sync()
            self.whole = False
            self.ids.clear()
            self.scripts.clear()
            self.utxo.clear()

    def sync(self) -> None:
        """Give the spill what changed since it last synced, keeping memory as it is."""
        if self.spill is None:
            return
        utxo = self.utxo
        scripts = self.scripts
        self.spill.put(
            {a: scripts[a] for a in range(self.ids_floor, len(self.parent)) if a in scripts},
            {op: utxo[op] for op, on in self.utxo_changes.items() if on and op in utxo},
            [op for op, on in self.utxo_changes.items() if not on],
        )
        self.utxo_changes.clear()
        self.ids_floor = len(self.parent)

    @property
    def height(self) -> int:
        """Return the height of the last connected block (-1 before the first)."""
        return self.tip[-1][0] if self.tip else -1

    # --- seeds -------------------------------------------------------------------------------

    def seed(self, script: bytes, entity: str, label: str, source: str) -> Conflict | None:
        """Label ``script`` as ``entity``'s ``label`` from a seed book; refuse a clash."""
        log: list[tuple[Any, ...]] = []
        a = self._id(script, log)
        r = self.role.get(a)
        if r is not None and (r[0], r[1]) == (entity, label or "wallet"):
            return None  # seeded before (a resumed learn given its seeds again)
        root = self.find(a)
        have = self.entity.get(root)
        if have is not None and have != entity:
            c = Conflict(source, heur.SEED, have, entity, self.height)
            self.conflicts.append(c)
            return c
        self._set_entity(root, entity, log)
        self._set_role(a, entity, label or "wallet", self.height, log)
        self.evidence.append(Evidence(a, source, heur.SEED, self.height))
        return None

    # --- blocks ------------------------------------------------------------------------------

    def connect(self, height: int, raw: bytes) -> None:
        """Apply the block ``raw`` at ``height`` (it must extend the tip).

        Raises:
            ReorgError: ``raw`` does not build on the tip or ``height`` is not the next one.
            TxParseError: ``raw`` is not a block.
        """
        block_hash, prev_hash, txs = walk_block(raw)
        if self.tip and (height != self.height + 1 or prev_hash != self.tip[-1][1]):
            raise ReorgError(f"block {block_hash[::-1].hex()} at {height} does not extend the tip")
        log: list[tuple[Any, ...]] = []
        utxo = self.utxo
        get_id = self.ids.get
        funders = self.funders
        spill = None if self.whole else self.spill  # asked on a miss
        unseen = self._unseen
        changes = None if self.spill is None else self.utxo_changes
        for txid_b, prevouts, values, scripts, created in txs:
            ins: list[int] = []
            if prevouts is not None:
                spent_here = []
                for prevout in prevouts:
                    spent = utxo.pop(prevout, None)
                    if spent is None and spill is not None:
                        spent = spill.take_utxo(prevout)
                    if spent is not None:
                        spent_here.append((prevout, spent))
                        if changes is not None:
                            changes[prevout] = False
                        ins.append(spent)
                if spent_here:
                    log.append(("spent", spent_here))
            outs = [a if (a := get_id(s)) is not None else unseen(s, log) for s in scripts]
            if ins:
                self._examine(txid_b[::-1].hex(), values, ins, outs, height, log)
                payer = ins[0]
                for a in outs:
                    k = 2 * a
                    first = funders[k]
                    if first < 0:
                        log.append(("funders", a, first, funders[k + 1]))
                        funders[k] = payer
                    elif first != payer and funders[k + 1] < 0:
                        log.append(("funders", a, first, -1))
                        funders[k + 1] = payer
            utxo.update(zip(created, outs, strict=True))
            if changes is not None:
                changes.update(dict.fromkeys(created, True))
            log.append(("created", txid_b, len(outs)))
        self.transactions += len(txs)
        log.append(("transactions", len(txs)))
        self.tip.append((height, block_hash))
        self.undo.append(log)
        self._fold(log)
        if self.spill is not None and (
            len(utxo) + len(self.ids) > self.cache_entries
            or len(self.utxo_changes) > self.cache_entries
        ):
            self.evict()
        if len(self.tip) > UNDO_DEPTH:
            del self.tip[0]
        if len(self.undo) > len(self.tip):
            del self.undo[0]
        self.trim_undo()

    def trim_undo(self) -> None:
        """Drop from memory the undo logs the store holds, but the last ``UNDO_MEMORY``."""
        undo, tip = self.undo, self.tip
        if self.spill is None:
            return  # nothing to read them back from
        while len(undo) > UNDO_MEMORY and tip[-len(undo)][0] <= self.saved_height:
            del undo[0]

    def _fold(self, log: list[tuple[Any, ...]]) -> None:
        """Note what ``log`` changed (or its undo changes back) for the next checkpoint."""
        add = self.dirty.add
        for op in log:
            kind = op[0]
            if kind == "funders":
                add(op[1] >> CHUNK_BITS)
            elif kind == "union":
                add(op[1] >> CHUNK_BITS)
                add(op[2] >> CHUNK_BITS)
                self.moved.add(op[1])

    def disconnect(self) -> int:
        """Undo the tip block; return its height.

        Raises:
            ReorgError: no undo log is left (deeper than ``UNDO_DEPTH``).
        """
        if not self.tip:
            raise ReorgError("no undo log left to disconnect the tip")
        height = self.tip[-1][0]
        if self.undo:
            log = self.undo.pop()
        else:
            stored = None if self.spill is None else self.spill.undo_log(height)
            if stored is None:
                raise ReorgError("no undo log left to disconnect the tip")
            log = stored
        self.tip.pop()
        self._fold(log)
        self.moved.update(op[2] for op in log if op[0] == "union")  # split: labels move back
        for op in reversed(log):
            self._revert(op, height)
        self.saved_height = min(self.saved_height, height - 1)
        return height

    def _revert(self, op: tuple[Any, ...], height: int) -> None:
        kind = op[0]
        if kind == "spent":
            for prevout, spent in op[1]:
                self.utxo[prevout] = spent
                if self.spill is not None:
                    self.utxo_changes[prevout] = True
        elif kind == "created":
            for i in range(op[2]):
                outpoint = op[1] + i.to_bytes(4, "little")
                if self.spill is not None:
                    if self.utxo.pop(outpoint, None) is None:
                        self.spill.drop_utxo(outpoint)
                    self.utxo_changes[outpoint] = False
                else:
                    self.utxo.pop(outpoint, None)
        elif kind == "new":
            a = len(self.parent) - 1
            script = self.scripts.pop(a, None)
            if script is not None:
                del self.ids[script]
            if self.spill is not None:  # it may have been spilled (and read back) since
                self.spill.drop_id(a)
            self.parent.pop()
            self.ids_floor = min(self.ids_floor, a)
            self.size.pop()
            del self.funders[-2:]
        elif kind == "union":
            _, child, root, old_size = op
            self.parent[child] = child
            self.size[root] = old_size
        elif kind == "entity":
            if op[2] is None:
                self.entity.pop(op[1], None)
            else:
                self.entity[op[1]] = op[2]
        elif kind == "role":
            _, a, old = op
            new = self.role.get(a)
            if old is None:
                self.role.pop(a, None)
            else:
                self.role[a] = old
            if new is not None:
                self.label_log.append((a, new[0], new[1], height, False))
            if old is not None:
                self.label_log.append((a, old[0], old[1], old[2], True))
        elif kind == "funders":
            self.funders[2 * op[1]] = op[2]
            self.funders[2 * op[1] + 1] = op[3]
        elif kind == "swept":
            if op[2] is None:
                self.swept.pop(op[1], None)
            else:
                self.swept[op[1]] = op[2]
        elif kind == "pending":
            if op[2] is None:
                self.pending.pop(op[1], None)
            else:
                self.pending[op[1]] = op[2]
        elif kind == "evidence":
            del self.evidence[op[1] :]
            self.saved_evidence = min(self.saved_evidence, op[1])
        elif kind == "conflicts":
            del self.conflicts[op[1] :]
            self.saved_conflicts = min(self.saved_conflicts, op[1])
        elif kind == "coinjoin":
            self.coinjoins_skipped -= 1
        elif kind == "transactions":
            self.transactions -= op[1]

    # --- heuristics --------------------------------------------------------------------------

    def _examine(  # noqa: PLR0917 - one call site, per transaction
        self,
        txid: str,
        values: list[int],
        ins: list[int],
        outs: list[int],
        height: int,
        log: list[tuple[Any, ...]],
    ) -> None:
        if heur.coinjoin_shape(values, len(ins)) is not None:
            self.coinjoins_skipped += 1
            log.append(("coinjoin",))
            return
        distinct = ins if len(ins) == 1 else list(dict.fromkeys(ins))
        wallet_of = self._wallet_entity(outs)
        if wallet_of is None and len(outs) == 1 and self.entity_of(outs[0]) is None:
            # a consolidation into an address no one has labelled yet: if it turns out to be
            # an entity's wallet (clustered later), this was a sweep
            old = self.pending.get(outs[0])
            log.append(("pending", outs[0], None if old is None else list(old)))
            kept = (old or [])[-_MAX_PENDING_EACH + 1 :]
            self.pending[outs[0]] = [*kept, (txid, distinct)]
            if len(self.pending) > _MAX_PENDING:  # bounded: the oldest is forgotten
                oldest = next(iter(self.pending))
                log.append(("pending", oldest, list(self.pending.pop(oldest))))
        if wallet_of is not None and {self.entity_of(a) for a in distinct} <= {wallet_of, None}:
            self._label_swept(txid, wallet_of, distinct, height, log)
        if len(distinct) >= 2:
            self._union_all(txid, distinct, height, log)

    def _wallet_entity(self, outs: list[int]) -> str | None:
        """The entity when every output pays one labelled entity's wallets (not deposits)."""
        found = None
        for a in outs:
            e = self.entity_of(a)
            if e is None or (found is not None and e != found):
                return None
            r = self.role.get(a)
            if r is not None and r[1] == DEPOSIT:
                return None
            found = e
        return found

    def _label_swept(
        self, txid: str, entity: str, addrs: list[int], height: int, log: list[tuple[Any, ...]]
    ) -> None:
        self._count_sweeps(addrs, log)
        for a in addrs:
            r = self.role.get(a)
            if r is not None and r[1] != MEMBER:
                continue  # already known (a second sweep, or a seeded wallet)
            funders = [f for f in self.funders[2 * a : 2 * a + 2] if f >= 0]
            if not funders:
                continue  # funded by coinbases only: nothing says who paid it
            own = all(self.entity_of(f) == entity for f in funders)
            role, heuristic = (INTERNAL, heur.INTERNAL) if own else (DEPOSIT, heur.SWEEP)
            self._set_role(a, entity, role, height, log)
            self._evidence(a, txid, heuristic, height, log)
            self._set_entity(self.find(a), entity, log)

    def _count_sweeps(self, addrs: list[int], log: list[tuple[Any, ...]]) -> None:
        for a in addrs:
            old = self.swept.get(a)
            log.append(("swept", a, old))
            self.swept[a] = (old or 0) + 1

    def _union_all(
        self, txid: str, addrs: list[int], height: int, log: list[tuple[Any, ...]]
    ) -> None:
        roots = list(dict.fromkeys(self.find(a) for a in addrs))
        labels = {self.entity[r] for r in roots if r in self.entity}
        if len(labels) > 1:
            first, second = sorted(labels)[:2]
            log.append(("conflicts", len(self.conflicts)))
            self.conflicts.append(Conflict(txid, heur.MULTI_INPUT, first, second, height))
            return
        if len(roots) == 1:
            return
        label = next(iter(labels), None)
        root = max(roots, key=lambda r: (self.size[r], -r))
        for r in roots:
            if r == root:
                continue
            log.append(("union", r, root, self.size[root]))
            self.parent[r] = root
            self.size[root] += self.size[r]
        if label is not None:
            self._set_entity(root, label, log)
            for a in addrs:
                if a not in self.role:
                    self._set_role(a, label, MEMBER, height, log)
                    self._evidence(a, txid, heur.MULTI_INPUT, height, log)
                    self._replay_pending(a, label, height, log)

    def _replay_pending(
        self, wallet: int, entity: str, height: int, log: list[tuple[Any, ...]]
    ) -> None:
        """Label what was consolidated into ``wallet`` before it was known to be ``entity``'s."""
        waiting = self.pending.get(wallet)
        if not waiting:
            return
        log.append(("pending", wallet, list(waiting)))
        del self.pending[wallet]
        for txid, inputs in waiting:
            if {self.entity_of(a) for a in inputs} <= {entity, None}:
                self._label_swept(txid, entity, inputs, height, log)

    # --- primitive changes, each logged for undo ---------------------------------------------

    def _id(self, script: bytes, log: list[tuple[Any, ...]]) -> int:
        a = self.ids.get(script)
        if a is not None:
            return a
        return self._unseen(script, log)

    def _unseen(self, script: bytes, log: list[tuple[Any, ...]]) -> int:
        """The id of a script not in memory: the spill's, or a new address's."""
        if self.spill is not None and not self.whole:
            a = self.spill.id_of(script)
            if a is not None:  # seen before, spilled: back into memory (no undo needed)
                self.ids[script] = a
                self.scripts[a] = script
                return a
        a = self.ids[script] = len(self.parent)
        self.scripts[a] = script
        self.parent.append(a)
        self.size.append(1)
        self.funders.extend(_NO_FUNDERS)
        log.append(_NEW)
        return a

    def _set_entity(self, root: int, entity: str, log: list[tuple[Any, ...]]) -> None:
        old = self.entity.get(root)
        if old != entity:
            log.append(("entity", root, old))
            self.entity[root] = entity

    def _set_role(
        self, a: int, entity: str, role: str, height: int, log: list[tuple[Any, ...]]
    ) -> None:
        log.append(("role", a, self.role.get(a)))
        self.role[a] = (entity, role, height)
        self.label_log.append((a, entity, role, height, True))

    def _evidence(
        self, a: int, txid: str, heuristic: str, height: int, log: list[tuple[Any, ...]]
    ) -> None:
        log.append(("evidence", len(self.evidence)))
        self.evidence.append(Evidence(a, txid, heuristic, height))

"""A deterministic synthetic economy: a chain as Bitcoin Core block files, and its truth.

``generate(out, seed=...)`` writes ``blocks/blk00000.dat ...`` (network magic, length, raw
block; blocks shuffled within files so file order is not height order), ``seeds.csv`` (one
hot wallet per labelled entity, in the address-book CSV format) and ``truth.json`` (who owns
every deposit and internal address, every deposit, sweep and CoinJoin). The same seed gives
the same bytes. The economy:

- exchanges: a deposit address per customer, reused for every deposit of that customer;
  sweeps of the funded deposit addresses into a hot wallet every few blocks (batched or one
  address at a time); hot -> cold and cold -> hot shuffles; batched withdrawals to customers
  with change back to a hot wallet (spending two hot addresses at once now and then);
- ordinary users paying each other with change; a payment processor with one invoice
  address per payment, swept into its hot wallet and settled to merchants' exchange deposit
  addresses;
- CoinJoins in the Whirlpool (5 x 5 equal), Wasabi (many inputs, many equal outputs and
  change) and JoinMarket (equal outputs plus change) shapes, some with two exchanges' hot
  wallets among the inputs; and rare non-CoinJoin transactions spending two exchanges' hot
  wallets together (a merge the learner must refuse and report).

Transactions are well formed (``parse_block`` reads them) but not signed: the witnesses hold
placeholder signatures and keys, and scripts pay random hashes. It knows the serialisation,
nothing of the learner.
"""

from __future__ import annotations

import json
import random
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from whalewire.mempool.address import script_to_address
from whalewire.mempool.tx import compact_size, dsha256

__all__ = ["MAGIC", "Economy", "Params", "generate"]

#: Bitcoin mainnet's network magic, as blk files start each record with it
MAGIC: Final = bytes.fromhex("f9beb4d9")
_COIN: Final = 100_000_000
_NAMES: Final = ("alphax", "bravox", "charliex", "deltax", "echox", "foxtrotx")


@dataclass(frozen=True)
class Params:
    """The economy's size; the defaults give ~3,000 transactions (a test chain)."""

    blocks: int = 120
    exchanges: int = 3
    customers: int = 40
    users: int = 60
    deposits_per_block: int = 8
    payments_per_block: int = 6
    sweep_every: int = 6
    coinjoin_every: int = 5
    blocks_per_file: int = 40


@dataclass
class _Coin:
    outpoint: bytes
    value: int
    spk: bytes


@dataclass
class _Exchange:
    name: str
    hot: list[bytes]
    cold: bytes
    deposit: dict[int, bytes] = field(default_factory=dict)  # customer -> deposit script
    batch_sweeps: bool = True


class Economy:
    """The generator's state: coins by script, the truth recorded as blocks are made."""

    def __init__(self, params: Params, seed: int) -> None:
        self.p = params
        self.rng = random.Random(seed)
        self.coins: dict[bytes, list[_Coin]] = {}
        self.blocks: list[bytes] = []
        self.prev = bytes(32)
        self.height = 0
        self.txs: list[bytes] = []
        self.ids: list[bytes] = []  # the block's txids, internal order
        self.truth: dict[str, Any] = {
            "network": "mainnet",
            "entities": {},
            "deposit_addresses": {},
            "internal_addresses": {},
            "deposits": [],
            "sweeps": [],
            "coinjoins": [],
            "conflicts": [],
        }
        self.exchanges = [
            _Exchange(n, [self.spk(), self.spk()], self.spk(), batch_sweeps=i % 2 == 0)
            for i, n in enumerate(_NAMES[: params.exchanges])
        ]
        self.proc_hot = self.spk()
        self.invoices: list[bytes] = []
        self.customers = [[self.spk()] for _ in range(params.customers)]
        self.users = [[self.spk()] for _ in range(params.users)]
        for ex in self.exchanges:
            self.truth["entities"][ex.name] = {
                "kind": "exchange",
                "hot": [addr(s) for s in ex.hot],
                "cold": [addr(ex.cold)],
            }
            for s in [*ex.hot, ex.cold]:
                self.truth["internal_addresses"][addr(s)] = ex.name
        self.truth["entities"]["payprox"] = {"kind": "processor", "hot": [addr(self.proc_hot)]}
        self.truth["internal_addresses"][addr(self.proc_hot)] = "payprox"

    # --- scripts, coins, transactions ---------------------------------------------------------

    def spk(self) -> bytes:
        """Return a new P2WPKH script (a random 20-byte hash)."""
        return b"\x00\x14" + self.rng.randbytes(20)

    def tx(self, ins: list[_Coin], outs: list[tuple[int, bytes]]) -> str:
        """Serialise a segwit transaction spending ``ins``; record its outputs as coins."""
        body = [struct.pack("<I", 2), compact_size(len(ins))]
        for c in ins:
            body += [c.outpoint, b"\x00", b"\xff\xff\xff\xff"]
            self.coins[c.spk].remove(c)
        body.append(compact_size(len(outs)))
        for value, spk in outs:
            body += [struct.pack("<q", value), compact_size(len(spk)), spk]
        stripped = b"".join([*body, bytes(4)])
        # placeholder witness: a 71-byte "signature" and a 33-byte "key" per input
        witness = b"".join(
            b"\x02\x47" + self.rng.randbytes(71) + b"\x21\x02" + self.rng.randbytes(32) for _ in ins
        )
        raw = body[0] + b"\x00\x01" + b"".join(body[1:]) + witness + bytes(4)
        txid = dsha256(stripped)
        self._record(txid, outs)
        self.txs.append(raw)
        self.ids.append(txid)
        return txid[::-1].hex()

    def _record(self, txid: bytes, outs: list[tuple[int, bytes]]) -> None:
        for i, (value, spk) in enumerate(outs):
            coin = _Coin(txid + struct.pack("<I", i), value, spk)
            self.coins.setdefault(spk, []).append(coin)

    def coinbase(self, outs: list[tuple[int, bytes]]) -> None:
        """Start the block with a (legacy) coinbase paying ``outs``."""
        height = _push_int(self.height) + b"\x00"
        body = [struct.pack("<I", 1), b"\x01", bytes(32), b"\xff\xff\xff\xff"]
        body += [compact_size(len(height)), height, b"\xff\xff\xff\xff", compact_size(len(outs))]
        for value, spk in outs:
            body += [struct.pack("<q", value), compact_size(len(spk)), spk]
        raw = b"".join([*body, bytes(4)])
        self._record(dsha256(raw), outs)
        self.txs.append(raw)
        self.ids.append(dsha256(raw))

    def seal(self) -> None:
        """Close the block: header over the transactions, then the next height."""
        header = struct.pack("<I", 0x20000000) + self.prev + _merkle(self.ids)
        header += struct.pack("<III", 1_700_000_000 + 600 * self.height, 0x207FFFFF, 0)
        self.blocks.append(header + compact_size(len(self.txs)) + b"".join(self.txs))
        self.prev = dsha256(header)
        self.txs = []
        self.ids = []
        self.height += 1

    def take(self, spks: list[bytes], amount: int) -> list[_Coin] | None:
        """Pick coins from ``spks`` worth at least ``amount`` (None when they hold too little)."""
        picked: list[_Coin] = []
        total = 0
        for s in spks:
            for c in self.coins.get(s, ()):
                picked.append(c)
                total += c.value
                if total >= amount:
                    return picked
        return None

    def pay(self, wallet: list[bytes], outs: list[tuple[int, bytes]]) -> str | None:
        """Pay ``outs`` from a personal wallet, change to a new address of it."""
        need = sum(v for v, _ in outs) + 1000
        ins = self.take(wallet, need)
        if ins is None:
            return None
        change = sum(c.value for c in ins) - need
        if change > 1000:
            wallet.append(self.spk())
            outs = [*outs, (change, wallet[-1])]
        return self.tx(ins, outs)

    # --- the economy's events -----------------------------------------------------------------

    def fund(self) -> None:
        outs = [(50 * _COIN, w[0]) for w in self.customers + self.users]
        outs += [(2000 * _COIN, ex.hot[0]) for ex in self.exchanges]
        outs += [(500 * _COIN, ex.hot[1]) for ex in self.exchanges]
        self.coinbase(outs)

    def deposit(self) -> None:
        c = self.rng.randrange(len(self.customers))
        ex = self.rng.choice(self.exchanges)
        dep = ex.deposit.get(c)
        if dep is None:
            dep = ex.deposit[c] = self.spk()
            self.truth["deposit_addresses"][addr(dep)] = ex.name
        value = self.rng.randint(1, 300) * _COIN // 100
        txid = self.pay(self.customers[c], [(value, dep)])
        if txid is not None:
            self.truth["deposits"].append([self.height, txid, addr(dep), ex.name])

    def sweep(self, ex: _Exchange) -> None:
        funded = [s for s in ex.deposit.values() if self.coins.get(s)]
        groups = [funded] if ex.batch_sweeps else [[s] for s in funded]
        for group in groups:
            if not group:
                continue
            ins = [c for s in group for c in self.coins[s]]
            to = ex.hot[0] if self.rng.random() < 0.8 else ex.hot[1]
            txid = self.tx(ins, [(sum(c.value for c in ins) - 2000, to)])
            self.truth["sweeps"].append([self.height, txid, ex.name, [addr(s) for s in group]])

    def withdraw(self, ex: _Exchange) -> None:
        outs = []
        for _ in range(self.rng.randint(2, 8)):
            w = self.rng.choice(self.customers)
            w.append(self.spk())
            outs.append((self.rng.randint(1, 200) * _COIN // 100, w[-1]))
        hot = ex.hot if self.rng.random() < 0.3 else ex.hot[:1]
        # spend from both hot addresses together now and then: the learner links them
        ins = [self.coins[s][0] for s in hot if self.coins.get(s)]
        total = sum(c.value for c in ins)
        need = sum(v for v, _ in outs) + 3000
        if not ins or total < need:
            return
        self.tx(ins, [*outs, (total - need, ex.hot[0])])

    def shuffle(self, ex: _Exchange) -> None:
        if self.coins.get(ex.cold) and self.rng.random() < 0.5:
            ins = list(self.coins[ex.cold])
            self.tx(ins, [(sum(c.value for c in ins) - 1500, ex.hot[0])])
            return
        coin = next(iter(self.coins.get(ex.hot[0], ())), None)
        if coin is not None and coin.value > 10 * _COIN:
            part = coin.value // 3
            self.tx([coin], [(part, ex.cold), (coin.value - part - 1500, ex.hot[0])])

    def payment(self) -> None:
        a, b = self.rng.sample(self.users, 2)
        b.append(self.spk())
        self.pay(a, [(self.rng.randint(1, 100) * _COIN // 1000, b[-1])])

    def processor(self) -> None:
        inv = self.spk()
        self.truth["deposit_addresses"][addr(inv)] = "payprox"
        user = self.rng.choice(self.users)
        txid = self.pay(user, [(self.rng.randint(1, 50) * _COIN // 100, inv)])
        if txid is not None:
            self.truth["deposits"].append([self.height, txid, addr(inv), "payprox"])
            self.invoices.append(inv)
        if len(self.invoices) >= 4:
            ins = [c for s in self.invoices for c in self.coins.get(s, ())]
            self.invoices = []
            if ins:
                txid = self.tx(ins, [(sum(c.value for c in ins) - 2000, self.proc_hot)])
                swept = sorted({addr(c.spk) for c in ins})
                self.truth["sweeps"].append([self.height, txid, "payprox", swept])
        # settle a merchant (a customer) into their deposit address at an exchange
        coin = next(iter(self.coins.get(self.proc_hot, ())), None)
        if coin is not None and coin.value > 2 * _COIN and self.rng.random() < 0.3:
            c = self.rng.randrange(len(self.customers))
            ex = self.rng.choice(self.exchanges)
            dep = ex.deposit.get(c)
            if dep is not None:
                txid = self.tx([coin], [(_COIN, dep), (coin.value - _COIN - 1500, self.proc_hot)])
                self.truth["deposits"].append([self.height, txid, addr(dep), ex.name])

    def coinjoin(self) -> None:
        shape = self.rng.choice(("whirlpool", "wasabi", "joinmarket"))
        n = {"whirlpool": 5, "wasabi": 20, "joinmarket": 4}[shape]
        denom = {"whirlpool": _COIN // 20, "wasabi": _COIN // 10, "joinmarket": _COIN // 7}[shape]
        parts = self.rng.sample(self.users, n)
        ins: list[_Coin] = []
        outs: list[tuple[int, bytes]] = []
        # now and then two exchanges' hot wallets take part: no merge may follow from it
        if self.rng.random() < 0.3 and len(self.exchanges) >= 2:
            for ex in self.rng.sample(self.exchanges, 2):
                coin = next(iter(self.coins.get(ex.hot[0], ())), None)
                if coin is not None:
                    ins.append(coin)
                    outs += [(denom, self.spk()), (coin.value - denom - 500, ex.hot[0])]
        for w in parts:
            got = self.take(w, denom + 2000)
            if got is None or any(c in ins for c in got):
                continue
            ins += got
            w.append(self.spk())
            outs.append((denom, w[-1]))
            rest = sum(c.value for c in got) - denom - 1000
            if shape != "whirlpool" and rest > 1000:
                w.append(self.spk())
                outs.append((rest, w[-1]))
        if len(ins) >= 2:
            self.rng.shuffle(outs)
            self.truth["coinjoins"].append(self.tx(ins, outs))

    def conflict(self) -> None:
        """Spend two exchanges' hot wallets in one ordinary transaction (not a CoinJoin)."""
        a, b = self.exchanges[:2]
        ca = next(iter(self.coins.get(a.hot[0], ())), None)
        cb = next(iter(self.coins.get(b.hot[0], ())), None)
        if ca is None or cb is None:
            return
        to = self.spk()
        total = ca.value + cb.value
        self.truth["conflicts"].append(
            self.tx([ca, cb], [(total // 3, to), (total - total // 3 - 900, a.hot[0])])
        )

    def run(self) -> None:
        """Make every block."""
        p = self.p
        for h in range(p.blocks):
            if h == 0:
                self.fund()
            else:
                self.coinbase([(50 * _COIN, self.spk())])
                for _ in range(p.deposits_per_block):
                    self.deposit()
                for _ in range(p.payments_per_block):
                    self.payment()
                self.processor()
                for k, ex in enumerate(self.exchanges):
                    if (h + k) % p.sweep_every == 0:
                        self.sweep(ex)
                    if (h + k) % 3 == 0:
                        self.withdraw(ex)
                    if (h + 2 * k) % 7 == 0:
                        self.shuffle(ex)
                if h % p.coinjoin_every == 0:
                    self.coinjoin()
                if h % 50 == 25:
                    self.conflict()
            self.seal()


def addr(spk: bytes) -> str:
    """Return the mainnet address of a script the economy made."""
    a = script_to_address(spk, "mainnet")
    assert a is not None
    return a


def generate(out: str | Path, *, seed: int = 1, params: Params | None = None) -> dict[str, Any]:
    """Write the economy's block files, seed book and truth under ``out``; return the truth."""
    p = params or Params()
    eco = Economy(p, seed)
    eco.run()
    out = Path(out)
    (out / "blocks").mkdir(parents=True, exist_ok=True)
    order = list(range(len(eco.blocks)))
    rng = random.Random(seed ^ 0x5EED)
    for k in range(0, len(order) - 1, 2):  # Core writes blocks as they arrive: not in height order
        if rng.random() < 0.4:
            order[k], order[k + 1] = order[k + 1], order[k]
    for f, start in enumerate(range(0, len(order), p.blocks_per_file)):
        with (out / "blocks" / f"blk{f:05d}.dat").open("wb") as fh:
            for h in order[start : start + p.blocks_per_file]:
                raw = eco.blocks[h]
                fh.write(MAGIC + struct.pack("<I", len(raw)) + raw)
    lines = ["address,entity,label,source"]
    for ex in eco.exchanges:
        lines.append(f"{addr(ex.hot[0])},{ex.name},hot wallet,synthetic economy seed {seed}")
    lines.append(f"{addr(eco.proc_hot)},payprox,hot wallet,synthetic economy seed {seed}")
    (out / "seeds.csv").write_text("\n".join(lines) + "\n")
    eco.truth["tip"] = eco.prev[::-1].hex()
    eco.truth["blocks"] = len(eco.blocks)
    eco.truth["transactions"] = sum(_count(b) for b in eco.blocks)
    (out / "truth.json").write_text(json.dumps(eco.truth, indent=1))
    return eco.truth


def _count(block: bytes) -> int:
    first = block[80]
    return first if first < 0xFD else int.from_bytes(block[81:83], "little")


def _push_int(n: int) -> bytes:
    data = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "little")
    return bytes([len(data)]) + data


def _merkle(ids: list[bytes]) -> bytes:
    level = ids
    while len(level) > 1:
        if len(level) % 2:
            level = [*level, level[-1]]
        level = [dsha256(level[k] + level[k + 1]) for k in range(0, len(level), 2)]
    return level[0]

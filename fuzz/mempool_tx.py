#!/usr/bin/env python3
"""Fuzz the transaction and block parsers and the address codecs (mempool/), C against Python.

Input: one byte choosing the target, then its bytes:

* 0: one transaction. ``parse_tx`` raises only ``TxParseError``; what it accepts serialises
  back to the same bytes. The C walks (``_scan.txid``, ``scan_tx``, ``inspect``) refuse what
  Python refuses and agree with it on the rest (txid, watched outputs, spent outpoints).
  Every output's address decodes back to its script.
* 1: a block. ``parse_block`` raises only ``TxParseError``.
* 2: an address. ``address_to_script`` raises only ``AddressError``; a script it gives
  encodes to an address that decodes to the same script.
"""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path
from typing import Any

from fuzz._fuzz import Data, main
from whalewire.mempool import whales
from whalewire.mempool.address import AddressError, decode_address, script_to_address
from whalewire.mempool.tx import TxParseError, parse_block, parse_tx, scan_tx, txid_of

_scan: Any
try:
    from whalewire.mempool import _scan
except ImportError:  # not built: Python alone is checked
    _scan = None

BLOCK = Path(__file__).resolve().parents[1] / "tests" / "mempool" / "data" / "block_951658.bin.gz"


def _python_txid(raw: bytes) -> str | None:
    old = whales.use_speedups(False)
    try:
        return txid_of(raw)
    except TxParseError:
        return None
    finally:
        whales.use_speedups(old)


def _transaction(raw: bytes) -> None:
    try:
        tx = parse_tx(raw)
    except TxParseError:
        tx = None
    py_txid = _python_txid(raw)
    assert (tx is None) == (py_txid is None), (tx, py_txid)
    # watch every script and outpoint the bytes could hold, and some they do not
    watch = {raw[i : i + 22]: i for i in range(0, min(len(raw), 200), 7)}
    spent = {raw[i : i + 36]: i for i in range(0, min(len(raw), 200), 5)}
    try:
        py_scan = scan_tx(raw, watch, spent)
    except TxParseError:
        py_scan = None
    if tx is not None:
        assert tx.serialize() == raw
        assert tx.txid == py_txid
        assert py_scan is not None
        for output in tx.outputs:
            address = script_to_address(output.script_pubkey)
            if address is not None:
                assert decode_address(address, "mainnet")[0] == output.script_pubkey
    if _scan is None:
        return
    assert _scan.txid(raw) == py_txid
    c_scan = _scan.scan_tx(raw, watch, spent)
    # C may hand a transaction over to Python (None), never answer differently
    assert c_scan is None or c_scan == py_scan, (c_scan, py_scan)
    seen = _scan.inspect(raw, {}, {}, {})
    assert (None if seen is None else seen[1]) == py_txid
    assert _scan.reveal(raw, {}, {}, {}) == (None if seen is None else [])


def _block(raw: bytes) -> None:
    try:
        block = parse_block(raw)
    except TxParseError:
        return
    assert len(block.hash) == 64
    for tx in block.txs:
        assert parse_tx(tx.serialize()).txid == tx.txid


def _address(raw: bytes) -> None:
    text = raw.decode("latin-1")
    try:
        spk, networks = decode_address(text)
    except AddressError:
        return
    again = script_to_address(spk, networks[0])
    assert again is not None and decode_address(again)[0] == spk, (text, again)


def test_one_input(data: bytes) -> None:
    """Parse the bytes as the first byte says; only documented errors, C equal to Python."""
    d = Data(data)
    target = d.byte() % 3
    (_transaction, _block, _address)[target](d.rest())


@cache
def _block_bytes() -> bytes:
    with gzip.open(BLOCK) as f:
        return f.read()


def seeds() -> dict[str, bytes]:
    """Transactions of mainnet block 951,658, a block of three, and BIP 173/350 addresses."""
    block = parse_block(_block_bytes())
    small = sorted(block.txs, key=lambda t: len(t.serialize()))
    kinds = {
        "coinbase": block.txs[0],
        "smallest": small[0],
        "largest-under-2k": [t for t in small if len(t.serialize()) < 2048][-1],
        "segwit": next(t for t in small if t.is_segwit),
        "legacy": next(t for t in small if not t.is_segwit),
        "most-outputs": max(small[:-5], key=lambda t: len(t.outputs)),
    }
    out = {f"tx-{name}": b"\x00" + tx.serialize() for name, tx in kinds.items()}
    three = [block.txs[0], kinds["segwit"], kinds["legacy"]]
    out["block-of-three"] = (
        b"\x01" + _block_bytes()[:80] + b"\x03" + b"".join(t.serialize() for t in three)
    )
    addresses = {
        "p2pkh": "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
        "p2sh": "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
        "bip173-p2wpkh": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        "bip173-p2wsh-testnet": "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "bip350-p2tr": "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "bip350-v16": "BC1SW50QGDZ25J",
        "regtest": "bcrt1qs758ursh4q9z627kt3pp5yysm78ddny6txaqgw",
    }
    out |= {f"address-{name}": b"\x02" + a.encode() for name, a in addresses.items()}
    return out


if __name__ == "__main__":
    main(test_one_input)

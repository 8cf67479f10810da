"""The replay feed: plays a file of raw transactions with recorded or scaled timing.

Two file formats, told apart by their first bytes:

* binary (``.bin``): the 8-byte magic ``WWREPLAY``, one version byte (1), then records of
  ``t_ns`` (u64 little-endian, nanoseconds since the start of the recording), ``length``
  (u32 little-endian) and ``length`` bytes of serialised transaction;
* JSON lines (``.jsonl``): one object per line, ``{"t_ns": <int>, "raw": "<hex>"}``.

``t_ns`` never decreases. The embedded default (``DEFAULT_REPLAY``) holds the transactions of
mainnet block 951,658 (public data) with seeded exponential inter-arrival times; build one
from any ``getblock``-style JSON with ``python -m whalewire.mempool.feeds.replay build``.
This module knows nothing of other feeds, of watch lists or of orders.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import struct
import sys
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from whalewire.mempool.feeds._txid import coinbase, split_block, txid_of
from whalewire.mempool.feeds.events import EventKind, RawTxEvent

__all__ = [
    "DEFAULT_REPLAY",
    "ReplayError",
    "ReplayFeed",
    "ReplayRecord",
    "build_from_block_json",
    "load_replay",
    "write_replay",
]

MAGIC = b"WWREPLAY"
VERSION = 1
_HEADER = struct.Struct("<QI")
#: no transaction is larger than a block's 4 MWU; bigger lengths mean a corrupt file
MAX_TX_BYTES = 4_000_000
#: in "as fast as possible" mode, let other tasks run after this many events
_YIELD_EVERY = 64

DEFAULT_REPLAY = resources.files("whalewire.mempool.feeds").joinpath("data/block_951658.bin")


class ReplayError(ValueError):
    """A replay file is malformed: ``where`` says which record or line, ``what`` what broke."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(where, what)
        self.where = where
        self.what = what

    def __str__(self) -> str:
        return f"bad replay file at {self.where}: {self.what}"


@dataclass(frozen=True, slots=True)
class ReplayRecord:
    """One recorded transaction: ``t_ns`` after the start of the recording."""

    t_ns: int
    raw: bytes
    txid: str


def _record(t_ns: int, raw: bytes, where: str, last_t: int) -> ReplayRecord:
    if t_ns < last_t:
        raise ReplayError(where, f"t_ns {t_ns} goes back in time (previous {last_t})")
    try:
        txid = txid_of(raw)
    except ValueError as exc:
        raise ReplayError(where, str(exc)) from None
    return ReplayRecord(t_ns, raw, txid)


def _parse_binary(data: bytes) -> list[ReplayRecord]:
    if len(data) < 9 or data[8] != VERSION:
        raise ReplayError("header", f"unsupported version {data[8:9].hex() or 'missing'}")
    out: list[ReplayRecord] = []
    i, last_t = 9, 0
    while i < len(data):
        where = f"record {len(out)} (byte {i})"
        if i + _HEADER.size > len(data):
            raise ReplayError(where, "truncated record header")
        t_ns, length = _HEADER.unpack_from(data, i)
        i += _HEADER.size
        if length > MAX_TX_BYTES or i + length > len(data):
            raise ReplayError(where, f"length {length} exceeds the file or {MAX_TX_BYTES}")
        rec = _record(t_ns, data[i : i + length], where, last_t)
        out.append(rec)
        last_t = rec.t_ns
        i += length
    return out


def _parse_jsonl(text: str) -> list[ReplayRecord]:
    out: list[ReplayRecord] = []
    last_t = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"line {lineno}"
        try:
            obj = json.loads(line)
            t_ns, raw_hex = obj["t_ns"], obj["raw"]
            if not isinstance(t_ns, int) or not isinstance(raw_hex, str):
                raise TypeError("t_ns must be an integer and raw a hex string")
            raw = bytes.fromhex(raw_hex)
        except (ValueError, KeyError, TypeError) as exc:
            raise ReplayError(where, f"{type(exc).__name__}: {exc}") from None
        rec = _record(t_ns, raw, where, last_t)
        out.append(rec)
        last_t = rec.t_ns
    return out


def load_replay(source: Path | str | bytes | resources.abc.Traversable) -> list[ReplayRecord]:
    """Read a replay file (binary or JSON lines) into records, validating every transaction.

    Args:
        source: a path, a ``Traversable`` (e.g. :data:`DEFAULT_REPLAY`) or the file's bytes.

    Raises:
        ReplayError: the file is malformed; the error names the record or line.
    """
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, str | Path):
        data = Path(source).read_bytes()
    else:
        data = source.read_bytes()
    if data.startswith(MAGIC):
        return _parse_binary(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ReplayError("header", "neither WWREPLAY binary nor UTF-8 JSON lines") from None
    return _parse_jsonl(text)


def write_replay(path: Path | str, records: Iterable[tuple[int, bytes]]) -> int:
    """Write ``(t_ns, raw)`` pairs to ``path``; the format follows the suffix (.jsonl or binary).

    Returns:
        The number of records written.
    """
    path = Path(path)
    n = 0
    if path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as f:
            for t_ns, raw in records:
                f.write(json.dumps({"t_ns": t_ns, "raw": raw.hex()}) + "\n")
                n += 1
        return n
    with path.open("wb") as f:
        f.write(MAGIC + bytes([VERSION]))
        for t_ns, raw in records:
            f.write(_HEADER.pack(t_ns, len(raw)) + raw)
            n += 1
    return n


def build_from_block_json(
    block_json: Path | str, out: Path | str, *, seed: int = 951658, mean_interval_ms: float = 100.0
) -> int:
    """Build a replay file from a ``getblock`` JSON carrying the raw block hex under ``block``.

    Every transaction but the coinbase is recorded in block order, with inter-arrival times
    drawn from a seeded exponential distribution of mean ``mean_interval_ms``. Each txid is
    checked against the JSON's ``tx`` list.

    Returns:
        The number of transactions written.

    Raises:
        ReplayError: the block's transactions do not match its ``tx`` list.
    """
    doc = json.loads(Path(block_json).read_text(encoding="utf-8"))
    txs = split_block(bytes.fromhex(doc["block"]))
    listed = [t if isinstance(t, str) else t["txid"] for t in doc["tx"]]
    got = [txid_of(raw) for raw in txs]
    if got != listed:
        raise ReplayError("block", "transactions do not match the block's tx list")
    rng = random.Random(seed)
    t, records = 0, []
    for raw in txs:
        if coinbase(raw):
            continue
        t += round(rng.expovariate(1.0 / mean_interval_ms) * 1_000_000)
        records.append((t, raw))
    return write_replay(out, records)


class ReplayFeed:
    """Play recorded transactions as :class:`RawTxEvent` s (``async for event in feed``).

    Args:
        records: what :func:`load_replay` returned.
        speed: time scale (2.0 plays twice as fast); ``None`` plays as fast as possible.
        name: the feed name stamped on events.
        loops: how many times to play the recording; ``None`` repeats it forever. Each
            repetition carries the same txids, so a deduplicating ``Monitor`` passes only
            the first (what a looping demo wants to know).
    """

    def __init__(
        self,
        records: Sequence[ReplayRecord],
        *,
        speed: float | None = 1.0,
        name: str = "replay",
        loops: int | None = 1,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive or None, not {speed}")
        self.records = records
        self.speed = speed
        self.name = name
        self.loops = loops

    def __aiter__(self) -> AsyncIterator[RawTxEvent]:
        return self._play()

    async def _play(self) -> AsyncIterator[RawTxEvent]:
        name, speed, mempool = self.name, self.speed, EventKind.MEMPOOL
        perf, wall = time.perf_counter_ns, time.time_ns
        if not self.records:
            return
        played = sent = 0
        while self.loops is None or played < self.loops:
            played += 1
            start = perf()
            for rec in self.records:
                if speed is not None:
                    delay = start + rec.t_ns / speed - perf()
                    if delay > 0:
                        await asyncio.sleep(delay / 1e9)
                sent += 1
                if sent % _YIELD_EVERY == 0:
                    # never starve the loop, even when no record needs a pause
                    await asyncio.sleep(0)
                yield RawTxEvent(rec.raw, rec.txid, name, mempool, perf(), wall())


def main(argv: Sequence[str] | None = None) -> int:
    """Build a replay file from a block JSON, or summarise one (``info``)."""
    parser = argparse.ArgumentParser(prog="python -m whalewire.mempool.feeds.replay")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build a replay file from a getblock JSON with raw hex")
    b.add_argument("block_json", type=Path)
    b.add_argument("out", type=Path, help=".bin (binary) or .jsonl")
    b.add_argument("--seed", type=int, default=951658)
    b.add_argument("--mean-ms", type=float, default=100.0)
    i = sub.add_parser("info", help="count records and duration of a replay file")
    i.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    if args.cmd == "build":
        n = build_from_block_json(
            args.block_json, args.out, seed=args.seed, mean_interval_ms=args.mean_ms
        )
        print(f"wrote {n} transactions to {args.out}")
    else:
        recs = load_replay(args.path)
        span = recs[-1].t_ns / 1e9 if recs else 0.0
        print(f"{len(recs)} transactions over {span:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

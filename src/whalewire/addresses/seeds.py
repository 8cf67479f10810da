"""Seed labels for the learner: the CSV address book and GraphSense TagPack YAML.

A seed row is ``(script, entity, label, source)``. CSV books are read by
``mempool.watchlist.AddressBook`` (the format of docs/address-book.md). A TagPack
(GraphSense's format: a header whose fields are defaults for every entry of ``tags``) gives
each tag's ``label`` as the entity and its ``category`` as the label; entries with an
address the network does not accept are reported, all at once, like a bad CSV row.
Knows the two formats, nothing of the learner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whalewire.mempool.address import AddressError, decode_address
from whalewire.mempool.watchlist import AddressBook, AddressBookError, RowError

__all__ = ["Seed", "load_seeds"]


@dataclass(frozen=True, slots=True)
class Seed:
    """One seed label."""

    script: bytes
    entity: str
    label: str
    source: str


def load_seeds(path: str | Path, network: str = "mainnet") -> list[Seed]:
    """Read a seed file: a TagPack when it ends in ``.yaml``/``.yml``, else a CSV book.

    Raises:
        AddressBookError: bad rows or tags, every one listed.
        ImportError: a TagPack without PyYAML installed.
    """
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return _tagpack(path, network)
    book = AddressBook.from_csv(path, network=network)
    return [Seed(e.script_pubkey, e.entity, e.label, e.source) for e in book]


def _tagpack(path: Path, network: str) -> list[Seed]:
    import yaml  # noqa: PLC0415 - optional: only TagPacks need it

    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    header = {k: v for k, v in doc.items() if k != "tags"}
    seeds: list[Seed] = []
    errors: list[RowError] = []
    for k, tag in enumerate(doc.get("tags") or [], 1):
        row = {**header, **tag}
        address, entity = str(row.get("address", "")), str(row.get("label", ""))
        source = str(row.get("source", "")) or f"tagpack {path.name}: {row.get('creator', '?')}"
        if not address or not entity:
            errors.append(RowError(k, "tag without address or label"))
            continue
        try:
            script = decode_address(address, network)[0]
        except AddressError as exc:
            errors.append(RowError(k, f"{address}: {exc.reason}"))
            continue
        seeds.append(Seed(script, entity.lower(), str(row.get("category", "wallet")), source))
    if errors:
        raise AddressBookError(f"{path} (tag numbers)", errors)
    return seeds

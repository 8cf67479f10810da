"""The exchange address book: a validated CSV of labelled addresses, and its watch set.

Holds ``AddressBook`` (load, validate, turn into ``scriptPubKey -> AddressEntry`` once),
``AddressEntry`` and ``AddressBookError``. The CSV format is documented in
``docs/address-book.md``; in short::

    # comments and blank lines are ignored
    address,entity,label,source
    34xp4vRoCGJym3xR7yCVPFHoCNxv4Twseo,binance,cold wallet,https://...

Every bad row is reported with its line number and the reason; all of them at once, in one
``AddressBookError``, and nothing is loaded. It knows nothing of transactions or alerts.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from whalewire.mempool.address import NETWORKS, AddressError, decode_address

__all__ = [
    "COLUMNS",
    "AddressBook",
    "AddressBookError",
    "AddressEntry",
    "RowError",
]

#: the columns a book must have, in any order
COLUMNS: Final = ("address", "entity", "label", "source")
_PACKAGE: Final = "whalewire.mempool"


@dataclass(frozen=True, slots=True)
class AddressEntry:
    """One watched address and who it belongs to."""

    address: str
    #: the owner, e.g. ``"binance"``; alerts group outputs by this
    entity: str
    #: free text, e.g. ``"cold wallet 1"``
    label: str
    #: where the attribution comes from (a URL or a citation)
    source: str
    script_pubkey: bytes
    #: the line of the CSV it came from
    line: int


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem found in a book: the line (1-based) and what is wrong there."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class AddressBookError(ValueError):
    """A book has bad rows; ``errors`` lists every one of them, in line order."""

    def __init__(self, name: str, errors: list[RowError]) -> None:
        super().__init__(name, errors)
        self.name = name
        self.errors = errors

    def __str__(self) -> str:
        listed = "\n".join(f"  {self.name}:{e}" for e in self.errors)
        return f"{len(self.errors)} bad row(s) in address book {self.name}:\n{listed}"


class AddressBook:
    """A validated set of exchange addresses for one network.

    Build it with ``from_csv``, ``from_text``, ``sample()`` or ``demo()``. ``watch`` maps
    each scriptPubKey to its entry: the set ``scan_outputs`` matches against.
    """

    __slots__ = ("entries", "name", "network", "watch")

    def __init__(self, entries: list[AddressEntry], *, name: str, network: str) -> None:
        self.name = name
        self.network = network
        self.entries: tuple[AddressEntry, ...] = tuple(entries)
        self.watch: Mapping[bytes, AddressEntry] = {e.script_pubkey: e for e in entries}

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[AddressEntry]:
        return iter(self.entries)

    @property
    def entities(self) -> frozenset[str]:
        """Return the names of the entities in the book."""
        return frozenset(e.entity for e in self.entries)

    @classmethod
    def from_csv(cls, path: str | Path, *, network: str = "mainnet") -> AddressBook:
        """Load and validate a CSV address book from a file.

        Raises:
            AddressBookError: listing every bad row with its line number.
            OSError: the file cannot be read.
        """
        path = Path(path)
        return cls.from_text(path.read_text(encoding="utf-8"), name=str(path), network=network)

    @classmethod
    def from_text(cls, text: str, *, name: str = "<text>", network: str = "mainnet") -> AddressBook:
        """Parse and validate a CSV address book held in a string.

        Args:
            text: the CSV (UTF-8 text, header required, ``#`` comments allowed).
            name: how errors name the book (a path).
            network: the network every address must belong to.

        Raises:
            AddressBookError: listing every bad row with its line number.
            ValueError: ``network`` is not one of ``NETWORKS``.
        """
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r}: one of {', '.join(NETWORKS)}")
        errors: list[RowError] = []
        entries: list[AddressEntry] = []
        columns: dict[str, int] | None = None
        seen: dict[bytes, int] = {}
        for lineno, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            fields = [f.strip() for f in next(csv.reader([line]))]
            if columns is None:
                columns = _header(fields, lineno, errors)
                if columns is None:
                    break
                continue
            entry = _row(fields, columns, lineno, network, errors)
            if entry is None:
                continue
            first = seen.get(entry.script_pubkey)
            if first is not None:
                errors.append(
                    RowError(lineno, f"address {entry.address} already listed on line {first}")
                )
                continue
            seen[entry.script_pubkey] = lineno
            entries.append(entry)
        if columns is None and not errors:
            errors.append(RowError(1, f"no header: expected the columns {', '.join(COLUMNS)}"))
        if errors:
            raise AddressBookError(name, errors)
        return cls(entries, name=name, network=network)

    @classmethod
    def sample(cls) -> AddressBook:
        """Load the shipped sample of publicly labelled exchange wallets (mainnet)."""
        return cls._packaged("exchanges.csv")

    @classmethod
    def demo(cls) -> AddressBook:
        """Load the demo book: real outputs of block 951,658 under fictional entities.

        Its attributions are made up (``demo-*`` entities) so the demo has whales to see
        in the embedded block; never trade on them.
        """
        return cls._packaged("demo-addressbook.csv")

    @classmethod
    def _packaged(cls, filename: str) -> AddressBook:
        text = resources.files(_PACKAGE).joinpath("data", filename).read_text(encoding="utf-8")
        return cls.from_text(text, name=f"whalewire/mempool/data/{filename}")


def _header(fields: list[str], lineno: int, errors: list[RowError]) -> dict[str, int] | None:
    names = [f.lower() for f in fields]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [f for f in names if f not in COLUMNS]
    dups = sorted({f for f in names if names.count(f) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)}")
    if dups:
        problems.append(f"repeated column(s) {', '.join(dups)}")
    if problems:
        errors.append(RowError(lineno, "bad header: " + "; ".join(problems)))
        return None
    return {name: names.index(name) for name in COLUMNS}


def _row(
    fields: list[str], columns: dict[str, int], lineno: int, network: str, errors: list[RowError]
) -> AddressEntry | None:
    if len(fields) != len(columns):
        errors.append(RowError(lineno, f"expected {len(columns)} fields, got {len(fields)}"))
        return None
    address, entity, label, source = (fields[columns[c]] for c in COLUMNS)
    problems = [
        f"empty {c}"
        for c, v in (("address", address), ("entity", entity), ("source", source))
        if not v
    ]
    spk = b""
    if address:
        try:
            spk = decode_address(address, network)[0]
        except AddressError as exc:
            problems.append(exc.reason)
    if problems:
        errors.append(RowError(lineno, "; ".join(problems)))
        return None
    return AddressEntry(address, entity, label, source, spk, lineno)

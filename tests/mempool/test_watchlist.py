"""Tests for ``whalewire.mempool.watchlist``: the CSV address book format of
``docs/address-book.md`` (header required, ``#`` comments, every bad row reported with its line
number) and the watch set built from it. Expected scriptPubKeys come from Bitcoin Core's
src/test/data/key_io_valid.json.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from whalewire.mempool.watchlist import AddressBook, AddressBookError

# Bitcoin Core key_io_valid.json: (address, scriptPubKey hex)
P2PKH = ("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo", "76a914a31c06bd463e3923bc1aadbde48b16976c08071788ac")
P2SH = ("36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm", "a914373b819a068f32b7a6b38b6b38729647cfde01c287")
P2WPKH = (
    "bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv",
    "00146100fc6343edc8c874496cb2f5bbfec88ea9b77c",
)
P2TR = (
    "bc1p83n3au0rjylefxq2nc2xh2y4jzz4pm6zxj4mw5pagdjjr2a9f36s6jjnnu",
    "51203c671ef1e3913f94980a9e146ba895908550ef4234abb7503d436521aba54c75",
)
TESTNET_P2PKH = "mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ"


def book_text(*rows: str, header: str = "address,entity,label,source") -> str:
    return "\n".join([header, *rows]) + "\n"


def errors_of(text: str, network: str = "mainnet") -> list[tuple[int, str]]:
    with pytest.raises(AddressBookError) as info:
        AddressBook.from_text(text, name="t.csv", network=network)
    return [(e.line, e.message) for e in info.value.errors]


def test_valid_book_builds_watch_set_of_script_pubkeys() -> None:
    text = book_text(
        f"{P2PKH[0]},ex-a,hot,https://example.org/a",
        f"{P2SH[0]},ex-a,cold,https://example.org/b",
        f"{P2WPKH[0]},ex-b,,https://example.org/c",
        f"{P2TR[0]},ex-b,taproot,https://example.org/d",
    )
    book = AddressBook.from_text(text)
    assert {spk.hex(): e.entity for spk, e in book.watch.items()} == {
        P2PKH[1]: "ex-a",
        P2SH[1]: "ex-a",
        P2WPKH[1]: "ex-b",
        P2TR[1]: "ex-b",
    }
    assert book.entities == {"ex-a", "ex-b"} and len(book) == 4
    assert [e.line for e in book] == [2, 3, 4, 5]


def test_comments_blank_lines_quotes_and_column_order_are_accepted() -> None:
    text = (
        "# exchange wallets\n"
        "\n"
        "entity,source,address,label\n"
        "  # indented comment\n"
        f'ex-a,"Explorer label, checked 2026",{P2PKH[0]},"cold, main"\n'
    )
    (entry,) = AddressBook.from_text(text)
    assert (entry.entity, entry.source, entry.label, entry.line) == (
        "ex-a",
        "Explorer label, checked 2026",
        "cold, main",
        5,
    )


def test_every_bad_row_is_reported_with_its_line_number() -> None:
    text = book_text(
        f"{P2PKH[0]},ex-a,hot,src",  # line 2: fine
        "1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mp,ex-a,hot,src",  # 3: checksum typo
        f"{P2SH[0]},,cold,src",  # 4: no entity
        f"{P2WPKH[0]},ex-b,label",  # 5: three fields
        f"{P2PKH[0]},ex-c,again,src",  # 6: duplicate of line 2
        f"{TESTNET_P2PKH},ex-d,test,src",  # 7: testnet address in a mainnet book
        f"{P2TR[0]},ex-b,taproot,",  # 8: no source
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh,ex-e,,src",  # 9: BIP 350 invalid checksum
    )
    errors = errors_of(text)
    assert [line for line, _ in errors] == [3, 4, 5, 6, 7, 8, 9]
    messages = dict(errors)
    assert "checksum" in messages[3]
    assert "empty entity" in messages[4]
    assert "expected 4 fields, got 3" in messages[5]
    assert "already listed on line 2" in messages[6]
    assert "not an address on mainnet" in messages[7]
    assert "empty source" in messages[8]
    assert "bech32m used for witness version 0" in messages[9]


def test_error_message_lists_all_rows() -> None:
    text = book_text("nonsense,ex,l,s", "alsobad,ex,l,s")
    with pytest.raises(AddressBookError) as info:
        AddressBook.from_text(text, name="book.csv")
    assert "2 bad row(s)" in str(info.value)
    assert "book.csv:line 2:" in str(info.value) and "book.csv:line 3:" in str(info.value)


def test_missing_header_is_refused() -> None:
    assert errors_of(f"{P2PKH[0]},ex-a,hot,src\n")[0][0] == 1


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("address,entity,label", "missing column(s) source"),
        ("address,entity,label,source,threshold", "unknown column(s) threshold"),
        ("address,entity,label,source,entity", "repeated column(s) entity"),
    ],
)
def test_bad_header_is_refused(header: str, why: str) -> None:
    [(line, message)] = errors_of(book_text(f"{P2PKH[0]},ex-a,hot,src", header=header))
    assert line == 1 and why in message


def test_empty_book_is_refused() -> None:
    assert errors_of("# nothing\n\n") == [
        (1, "no header: expected the columns address, entity, label, source")
    ]


def test_testnet_book_accepts_testnet_addresses() -> None:
    book = AddressBook.from_text(book_text(f"{TESTNET_P2PKH},ex,hot,src"), network="testnet")
    assert next(iter(book.watch)).hex() == "76a914ce28b26c57472737f5c3561a1761185bd8589a4388ac"


def test_from_csv_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text(book_text(f"{P2PKH[0]},ex-a,hot,src"), encoding="utf-8")
    assert AddressBook.from_csv(path).name == str(path)
    path.write_text(book_text("bad,ex-a,hot,src"), encoding="utf-8")
    with pytest.raises(AddressBookError, match=r"book\.csv:line 2"):
        AddressBook.from_csv(path)


def test_shipped_sample_loads_and_every_row_cites_a_source() -> None:
    book = AddressBook.sample()
    assert {"binance", "bitfinex", "kraken"} <= book.entities
    assert all(e.source.startswith("BitInfoCharts") for e in book)
    assert "34xp4vRoCGJym3xR7yCVPFHoCNxv4Twseo" in {e.address for e in book}


def test_demo_book_is_labelled_fictional() -> None:
    book = AddressBook.demo()
    assert all(e.entity.startswith("demo-") for e in book)
    assert all(e.source == "demo: not a real exchange attribution" for e in book)


def test_unknown_network_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="unknown network 'litecoin'"):
        AddressBook.from_text(book_text(f"{P2PKH[0]},ex,hot,src"), network="litecoin")

"""Tests for ``whalewire.mempool.address`` against the published vectors.

Sources (all texts read from the official repositories, quoted verbatim in the tables):
- BIP 173 §Test vectors (github.com/bitcoin/bips bip-0173.mediawiki): bech32 strings,
  segwit addresses valid and invalid.
- BIP 350 §Test vectors (bip-0350.mediawiki): bech32m strings, v0-v16 segwit addresses
  valid and invalid. BIP 350 supersedes BIP 173's v1+ addresses (now bech32m).
- BIP 341 wallet-test-vectors.json ``scriptPubKey[*].expected`` (scriptPubKey -> address).
- Bitcoin Core src/test/data/base58_encode_decode.json and key_io_valid.json (base58,
  base58check addresses and segwit addresses per chain).
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whalewire.mempool.address import (
    BECH32,
    BECH32M,
    AddressError,
    address_to_script,
    b58check_decode,
    b58decode,
    b58encode,
    bech32_decode,
    decode_address,
    script_to_address,
    segwit_decode,
    segwit_encode,
)

# --- BIP 173: bech32 strings ---------------------------------------------------------------
BIP173_VALID_BECH32 = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
# (string, reason given by the BIP)
BIP173_INVALID_BECH32 = [
    ("\x20" + "1nwldj5", "HRP character out of range"),
    ("\x7f" + "1axkwrx", "HRP character out of range"),
    ("\x80" + "1eym55h", "HRP character out of range"),
    (
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
        "overall max length exceeded",
    ),
    ("pzry9x0s0muk", "No separator character"),
    ("1pzry9x0s0muk", "Empty HRP"),
    ("x1b4n0q5v", "Invalid data character"),
    ("li1dgmt3", "Too short checksum"),
    ("de1lg7wt" + "\xff", "Invalid character in checksum"),
    ("A1G7SGD8", "checksum calculated with uppercase form of HRP"),
    ("10a06t8", "empty HRP"),
    ("1qzzfhee", "empty HRP"),
]

# --- BIP 350: bech32m strings --------------------------------------------------------------
BIP350_VALID_BECH32M = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]
BIP350_INVALID_BECH32M = [
    ("\x20" + "1xj0phk", "HRP character out of range"),
    ("\x7f" + "1g6xzxy", "HRP character out of range"),
    ("\x80" + "1vctc34", "HRP character out of range"),
    (
        "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
        "overall max length exceeded",
    ),
    ("qyrz8wqd2c9m", "No separator character"),
    ("1qyrz8wqd2c9m", "Empty HRP"),
    ("y1b0jsk6g", "Invalid data character"),
    ("lt1igcx5c0", "Invalid data character"),
    ("in1muywd", "Too short checksum"),
    ("mm1crxm3i", "Invalid character in checksum"),
    ("au1s5cgom", "Invalid character in checksum"),
    ("M1VUXWEZ", "checksum calculated with uppercase form of HRP"),
    ("16plkw9", "empty HRP"),
    ("1p2gdwpf", "empty HRP"),
]

# --- segwit addresses: (address, scriptPubKey hex) -----------------------------------------
# BIP 350 list (it replaces BIP 173's v1+ entries, which used bech32 checksums).
VALID_SEGWIT = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
]
# BIP 350 invalid segwit addresses, then BIP 173's (all still invalid under BIP 350).
INVALID_SEGWIT = [
    ("tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", "human-readable part"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "bech32 used"),
    ("tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", "bech32 used"),
    ("BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", "bech32 used"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "bech32m used"),
    ("tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", "bech32m used"),
    ("bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", "invalid data character"),
    ("BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", "witness version"),
    ("bc1pw5dgrnzv", "program length"),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
        "program length",
    ),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "witness version 0"),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", "mixed case"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", "padding"),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", "padding"),
    ("bc1gmk9yu", "empty data section"),
    # BIP 173
    ("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", "human-readable part"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "invalid checksum"),
    ("BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", "witness version"),
    ("bc1rw5uspcuh", "program length"),
    ("bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90", ""),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "witness version 0"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", "mixed case"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", ""),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv", "padding"),
]
# BIP 173's valid v1+ addresses carry bech32 checksums: BIP 350 makes them invalid.
BIP173_V1PLUS_NOW_INVALID = [
    "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
    "BC1SW50QA3JX3S",
    "bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj",
]

# --- BIP 341 wallet-test-vectors.json: scriptPubKey[*].expected -----------------------------
BIP341_SPK_TO_ADDRESS = [
    (
        "512053a1f6e454df1aa2776a2814a721372d6258050de330b3c6d10ee8f4e0dda343",
        "bc1p2wsldez5mud2yam29q22wgfh9439spgduvct83k3pm50fcxa5dps59h4z5",
    ),
    (
        "5120147c9c57132f6e7ecddba9800bb0c4449251c92a1e60371ee77557b6620f3ea3",
        "bc1pz37fc4cn9ah8anwm4xqqhvxygjf9rjf2resrw8h8w4tmvcs0863sa2e586",
    ),
    (
        "5120e4d810fd50586274face62b8a807eb9719cef49c04177cc6b76a9a4251d5450e",
        "bc1punvppl2stp38f7kwv2u2spltjuvuaayuqsthe34hd2dyy5w4g58qqfuag5",
    ),
    (
        "5120712447206d7a5238acc7ff53fbe94a3b64539ad291c7cdbc490b7577e4b17df5",
        "bc1pwyjywgrd0ffr3tx8laflh6228dj98xkjj8rum0zfpd6h0e930h6saqxrrm",
    ),
    (
        "512077e30a5522dd9f894c3f8b8bd4c4b2cf82ca7da8a3ea6a239655c39c050ab220",
        "bc1pwl3s54fzmk0cjnpl3w9af39je7pv5ldg504x5guk2hpecpg2kgsqaqstjq",
    ),
    (
        "512091b64d5324723a985170e4dc5a0f84c041804f2cd12660fa5dec09fc21783605",
        "bc1pjxmy65eywgafs5tsunw95ruycpqcqnev6ynxp7jaasylcgtcxczs6n332e",
    ),
    (
        "512075169f4001aa68f15bbed28b218df1d0a62cbbcf1188c6665110c293c907b831",
        "bc1pw5tf7sqp4f50zka7629jrr036znzew70zxyvvej3zrpf8jg8hqcssyuewe",
    ),
]

# --- Bitcoin Core key_io_valid.json (non-private-key entries): (address, spk, chain) -------
# Core's "testnet4" chain uses the testnet encodings.
CORE_KEY_IO = [
    (
        "1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo",
        "76a914a31c06bd463e3923bc1aadbde48b16976c08071788ac",
        "mainnet",
    ),
    (
        "36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm",
        "a914373b819a068f32b7a6b38b6b38729647cfde01c287",
        "mainnet",
    ),
    (
        "mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ",
        "76a914ce28b26c57472737f5c3561a1761185bd8589a4388ac",
        "testnet",
    ),
    (
        "2NC2hEhe28ULKAJkW5MjZ3jtTMJdvXmByvK",
        "a914ce0bba75891ff9ec60148d4bd4a09ee2dc5c933187",
        "testnet",
    ),
    (
        "mww4LvqtTMKvmeQvizPz2EQv26xTneWrbg",
        "76a914b4110ba93ac54afc14da3bdd19614774a2d55d2988ac",
        "signet",
    ),
    (
        "2N1r7aC69VHeE7yQJPDLi9T1PYq4wnwvjuT",
        "a9145e5a35ab44b3efaea5129ba22b88ba3e2976614587",
        "signet",
    ),
    (
        "n4fajahJrAuKbN7uNsKjLjQkz9Qn5ewJXQ",
        "76a914fdeca3b08e38af53d7c4c60e3ad208ce5066441088ac",
        "regtest",
    ),
    (
        "2MxFajLApXpYk4VodBSZSt7rw8y4ryABkfA",
        "a91436e9f191e0b75036a77f65e2eaa4752443233fbe87",
        "regtest",
    ),
    (
        "bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv",
        "00146100fc6343edc8c874496cb2f5bbfec88ea9b77c",
        "mainnet",
    ),
    (
        "bc1qyucykdlhp62tezs0hagqury402qwhk589q80tqs5myh3rxq34nwqhkdhv7",
        "002027304b37f70e94bc8a0fbf500e0c957a80ebda87280ef58214d92f119811acdc",
        "mainnet",
    ),
    (
        "bc1p83n3au0rjylefxq2nc2xh2y4jzz4pm6zxj4mw5pagdjjr2a9f36s6jjnnu",
        "51203c671ef1e3913f94980a9e146ba895908550ef4234abb7503d436521aba54c75",
        "mainnet",
    ),
    ("bc1z2rksukkjr8", "520250ed", "mainnet"),
    (
        "tb1qcrh3yqn4nlleplcez2yndq2ry8h9ncg3qh7n54",
        "0014c0ef1202759fff90ff19128936814321ee59e111",
        "testnet",
    ),
    (
        "tb1p35n52jy6xkm4wd905tdy8qtagrn73kqdz73xe4zxpvq9t3fp50aqk3s6gz",
        "51208d2745489a35b75734afa2da43817d40e7e8d80d17a26cd4460b0055c521a3fa",
        "testnet",
    ),
    ("tb1rgv5m6uvdk3kc7qsuz0c79v88ycr5w4wa", "53104329bd718db46d8f021c13f1e2b0e726", "testnet"),
    (
        "tb1rx9n9g37az8mu236e5jpxdt0m67y4fuq8rhs0ss3djnm0kscfrwvq0ntlyg",
        "532031665447dd11f7c54759a48266adfbd78954f0071de0f8422d94f6fb43091b98",
        "signet",
    ),
    (
        "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9",
        "00146f58bac9506f9bfb821d62e69330410bb56f0085",
        "regtest",
    ),
    (
        "bcrt1pfwxjqvtt4tcxrtdluukfmy2dv7xd2qzdfy6kajv5nwn4yam3wxkq3553uh",
        "51204b8d20316baaf061adbfe72c9d914d678cd5004d49356ec9949ba752777171ac",
        "regtest",
    ),
    (
        "bcrt1sx6p8njlx7h9mc2agz4yg82dzne23050ncq72cneeecez2pst8mahn8xecsf8g6hzx94420",
        "6028368279cbe6f5cbbc2ba8154883a9a29e5517d1f3c03cac4f39ce3225060b3efb799cd9c412746ae2",
        "regtest",
    ),
    (
        "1FjL87pn8ky6Vbavd1ZHeChRXtoxwRGCRd",
        "76a914a19331b7b2627e663e25a7b001e4c0dcc5e21bc788ac",
        "mainnet",
    ),
    (
        "3BZECeAH8gSKkjrTx8PwMrNQBLG18yHpvf",
        "a9146c382dcdf5b284760c8e3fead91f7422cd76aa8787",
        "mainnet",
    ),
    (
        "mfhE6jAUwjUDNZhaX1PAsDTKfneQF2Nshc",
        "76a91401f15a4cc063dae4f4d56b89bfbc8bcc9ae5387c88ac",
        "regtest",
    ),
]

# --- Bitcoin Core base58_encode_decode.json: (hex, base58) ---------------------------------
CORE_BASE58 = [
    ("", ""),
    ("61", "2g"),
    ("626262", "a3gV"),
    ("636363", "aPEr"),
    ("73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2"),
    ("00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"),
    ("516b6fcd0f", "ABnLTmg"),
    ("bf4f89001e670274dd", "3SEo3LWLoPntC"),
    ("572e4794", "3EFU7m"),
    ("ecac89cad93923c02321", "EJDM8drfXA6uyA"),
    ("10c8511e", "Rt5zm"),
    ("00000000000000000000", "1111111111"),
    ("00" * 40, "1" * 40),
    ("00" * 39 + "01", "1" * 39 + "2"),
    (
        "000111d38e5fc9071ffcd20b4a763cc9ae4f252bb4e48fd66a835e252ada93ff480d6dd43dc62a641155a5",
        "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz",
    ),
    ("271F359E", "zzzzy"),
    ("271F359F", "zzzzz"),
    ("271F35A0", "211111"),
    ("271F35A1", "211112"),
]


@pytest.mark.parametrize("text", BIP173_VALID_BECH32)
def test_bip173_valid_strings_decode_as_bech32(text: str) -> None:
    hrp, _data, const = bech32_decode(text)
    assert const == BECH32
    assert hrp == text[: text.rfind("1")].lower()


@pytest.mark.parametrize("text", BIP350_VALID_BECH32M)
def test_bip350_valid_strings_decode_as_bech32m(text: str) -> None:
    assert bech32_decode(text)[2] == BECH32M


@pytest.mark.parametrize(("text", "why"), BIP173_INVALID_BECH32 + BIP350_INVALID_BECH32M)
def test_bip173_and_bip350_invalid_strings_are_refused(text: str, why: str) -> None:
    with pytest.raises(AddressError) as info:
        bech32_decode(text)
    assert info.value.address == text and info.value.reason


@pytest.mark.parametrize(("address", "spk_hex"), VALID_SEGWIT)
def test_valid_segwit_address_decodes_to_its_script_and_back(address: str, spk_hex: str) -> None:
    spk = bytes.fromhex(spk_hex)
    assert address_to_script(address) == spk
    network = "mainnet" if address.lower().startswith("bc") else "testnet"
    assert script_to_address(spk, network) == address.lower()


@pytest.mark.parametrize(("address", "why"), INVALID_SEGWIT)
def test_invalid_segwit_address_is_refused_with_its_reason(address: str, why: str) -> None:
    with pytest.raises(AddressError) as info:
        address_to_script(address)
    assert why.lower() in info.value.reason.lower()


@pytest.mark.parametrize("address", BIP173_V1PLUS_NOW_INVALID)
def test_bip173_v1plus_bech32_addresses_are_invalid_under_bip350(address: str) -> None:
    with pytest.raises(AddressError, match="bech32 used for witness version"):
        address_to_script(address)


@pytest.mark.parametrize(("spk_hex", "address"), BIP341_SPK_TO_ADDRESS)
def test_bip341_scriptpubkey_gives_expected_address(spk_hex: str, address: str) -> None:
    assert script_to_address(bytes.fromhex(spk_hex)) == address
    assert address_to_script(address, "mainnet") == bytes.fromhex(spk_hex)


@pytest.mark.parametrize(("address", "spk_hex", "network"), CORE_KEY_IO)
def test_core_key_io_vectors_round_trip(address: str, spk_hex: str, network: str) -> None:
    spk = bytes.fromhex(spk_hex)
    script, networks = decode_address(address)
    assert script == spk and network in networks
    assert address_to_script(address, network) == spk
    assert script_to_address(spk, network) == address


@pytest.mark.parametrize(("hex_", "text"), CORE_BASE58)
def test_core_base58_vectors(hex_: str, text: str) -> None:
    assert b58encode(bytes.fromhex(hex_)) == text
    assert b58decode(text) == bytes.fromhex(hex_)


def test_mainnet_address_refused_on_testnet() -> None:
    with pytest.raises(AddressError, match="not an address on testnet"):
        address_to_script("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo", "testnet")
    with pytest.raises(AddressError, match="not testnet's"):
        address_to_script("bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv", "testnet")


def test_base58_checksum_typo_is_refused() -> None:
    with pytest.raises(AddressError, match="checksum"):
        address_to_script("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mp")


def test_base58_invalid_character_names_position() -> None:
    with pytest.raises(AddressError, match="position 1"):
        b58check_decode("10OIl")


def test_unknown_network_is_refused() -> None:
    with pytest.raises(AddressError, match="unknown network"):
        address_to_script("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo", "litecoin")


@pytest.mark.parametrize(
    "spk_hex",
    [
        "",  # empty
        "6a0b68656c6c6f20776f726c64",  # OP_RETURN
        # P2PK (uncompressed key, the genesis coinbase output): no address standard
        "4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38"
        "c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac",
        "0010751e76e8199196d454941c45d1b3a323",  # v0 program of 16 bytes (BIP 141: not 20/32)
        "5101ff",  # witness program of 1 byte
        "00140000",  # push length does not match
    ],
)
def test_scripts_without_address_give_none(spk_hex: str) -> None:
    assert script_to_address(bytes.fromhex(spk_hex)) is None


@given(st.integers(0, 16), st.binary(min_size=2, max_size=40))
def test_segwit_encode_decode_round_trip(version: int, program: bytes) -> None:
    if version == 0 and len(program) not in (20, 32):
        with pytest.raises(ValueError):
            segwit_encode("bc", version, program)
        return
    assert segwit_decode(segwit_encode("bc", version, program), "bc") == ("bc", version, program)


@given(st.text(max_size=100))
def test_random_text_only_ever_raises_address_error(text: str) -> None:
    with contextlib.suppress(AddressError):
        address_to_script(text)


# --- the real block: addresses of its outputs ----------------------------------------------


def test_readme_whale_outputs_have_the_listed_addresses(block_raw: bytes) -> None:
    from whalewire.mempool.tx import parse_block

    # ../shared/data/README.md: the >= 1 BTC outputs of block 951,658 (txid, address).
    expected = {
        (
            "6ec0ac0f5eda13232e4d9212fbb9393d55579dcd73b47d43e5c71486b790a7b4",
            "bc1qgw64kdhf67803240csrzg480atmkaxp5snq0cm",
        ),
        (
            "5cddc90f4f529448a1849b9d1ff21e2bb647bd41262fdce149454933926dc4be",
            "bc1q7t4vyehjsexdme84qhdgd4dawcn54djh0m78fz",
        ),
        (
            "fd09ffa77f4de17d5c10b46d11f4440ddfccd2c9613b30037edd6db96a014865",
            "bc1qey5lp33mkzsk93pmg3d89ml75xchgv4lx50w7j",
        ),
        (
            "45a8326eb58ee3eb9a30a3c7f5ac1b67e6fc0445fa80ac046d04df0e98f612c9",
            "bc1q5mqux2x3s4ywrvfjs7j0eywk5amhnvvn9g8855",
        ),
        (
            "e8a4eef8e2a4e528ba49d937f9a28b62bd8aad8e1a3ce0901a58b9eaef825b64",
            "184UrCctSTXZEQNE83ewbbNQE5kvKjmSDq",
        ),
        (
            "6716f5e881bdea5f894e63f4c84d79d73a26330a77c16c1ab1e285377e1b756f",
            "bc1qsatlphjcgvzlt9xhsgn0dnjus5jgwg83dr05c6",
        ),
        (
            "9f1c42cc7dffca8237601a9e9ea30b49877e8a3c684e8304d4d1650707d4747b",
            "bc1qcza6s6ew2kaxe9hdyrqqeuadc3za7fva5yjcnf",
        ),
    }
    block = parse_block(block_raw)
    got = {
        (tx.txid, script_to_address(o.script_pubkey))
        for tx in block.txs
        for o in tx.outputs
        if o.value >= 100_000_000
    }
    assert got == expected


def test_every_block_output_address_equals_embits(block_raw: bytes) -> None:
    from embit.networks import NETWORKS as EMBIT_NETWORKS
    from embit.script import Script

    from whalewire.mempool.tx import parse_block

    kinds = set()
    for tx in parse_block(block_raw).txs:
        for o in tx.outputs:
            ours = script_to_address(o.script_pubkey)
            try:
                theirs = Script(o.script_pubkey).address(EMBIT_NETWORKS["main"])
            except Exception:  # embit raises a bare error for scripts without address
                theirs = None
            if theirs is None and ours is not None:
                # embit 0.8 gives no address for future witness versions (2..16); BIP 350
                # says they are valid recipients, and Bitcoin Core encodes them too.
                assert 0x52 <= o.script_pubkey[0] <= 0x60, o.script_pubkey.hex()
                kinds.add("future")
            else:
                assert ours == theirs, o.script_pubkey.hex()
            if ours is not None:
                assert address_to_script(ours, "mainnet") == o.script_pubkey
                kinds.add(ours[:4] if ours.startswith("bc1") else ours[0])
    # P2PKH, P2SH, P2WPKH/P2WSH, P2TR all occur in this block
    assert {"1", "3", "bc1q", "bc1p", "future"} <= kinds

"""Types of the learner's C block walk (see ``_ingest.c`` and ``whalewire.addresses.walk``)."""

_Tx = tuple[bytes, list[bytes] | None, list[int], list[bytes], list[bytes]]

def walk_block(raw: bytes, /) -> tuple[bytes, bytes, list[_Tx]] | None:
    """Return (block hash, previous hash, txs); None: use the Python walk."""

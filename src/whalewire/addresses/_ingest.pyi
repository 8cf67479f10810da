"""Types of the learner's C block walk (see ``_ingest.c`` and ``whalewire.addresses.walk``)."""

def walk_block(
    raw: bytes, /
) -> tuple[bytes, bytes, list[tuple[bytes, list[bytes] | None, list[int], list[bytes]]]] | None:
    """Return (block hash, previous hash, txs); None: use the Python walk."""

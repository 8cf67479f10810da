"""Kraken's error strings ("Spot REST API" > "Errors"; WebSocket v2 answers use the same)
and the exception that carries one to the answer. Knows no request.
"""

from __future__ import annotations

INVALID_KEY = "EAPI:Invalid key"
INVALID_SIGNATURE = "EAPI:Invalid signature"
INVALID_NONCE = "EAPI:Invalid nonce"
UNKNOWN_METHOD = "EGeneral:Unknown method"
INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
INSUFFICIENT_FUNDS = "EOrder:Insufficient funds"
UNKNOWN_ORDER = "EOrder:Unknown order"
ORDER_MINIMUM = "EOrder:Order minimum not met"
UNKNOWN_PAIR = "EQuery:Unknown asset pair"
#: our choice: the v2 documentation gives no string for a bad or expired token
INVALID_SESSION = "ESession:Invalid session"
#: our choice: Kraken documents no string for a cl_ord_id already used by an open order
DUPLICATE_CL_ORD_ID = "EOrder:Duplicate cl_ord_id"
#: a post-only order that would take ("Spot REST API" > "Errors": EOrder:Post only order)
POST_ONLY_REJECTED = "EOrder:Post only order"
#: "Spot REST API" > "Errors": a reduce-only order with no margin position to reduce (a
#: spot account here never holds one)
NO_POSITION = "EOrder:Reduce only:No position exists"


class KrakenError(Exception):
    """A request failure carrying Kraken's error string."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error

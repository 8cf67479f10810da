"""The recorded tables: their names, their Arrow schemas, and how a row becomes columns.

One table per kind of fact, each in its own folder of rotated files: ``txs`` (the mempool
feeds' transactions with their first-seen stamps), ``alerts`` (whale alerts and what the
engine decided), ``tops`` (best bid and ask after every change), ``levels`` (depth
snapshots, one row per level) and ``trades`` (public trades). Every row carries
``ts_ns``, wall-clock nanoseconds since the epoch (``time.time_ns``), the one clock all
tables share so the study and the backtest can join them. Knows nothing of files or threads.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["SCHEMAS", "TABLES"]

_TS = pa.field("ts_ns", pa.int64(), nullable=False)

#: the Arrow schema of each table, by table name
SCHEMAS: dict[str, pa.Schema] = {
    "txs": pa.schema(
        [
            _TS,
            #: ``perf_counter_ns`` at receive (latency within one run; not comparable across runs)
            pa.field("recv_ns", pa.int64()),
            pa.field("feed", pa.string()),
            #: 1 mempool, 2 mined, 3 removed (``mempool.feeds.events.EventKind``)
            pa.field("kind", pa.int8()),
            pa.field("txid", pa.string()),
            pa.field("raw", pa.binary()),
        ]
    ),
    "alerts": pa.schema(
        [
            _TS,
            pa.field("txid", pa.string()),
            pa.field("entity", pa.string()),
            #: "deposit" or "withdrawal"
            pa.field("kind", pa.string()),
            pa.field("value_sats", pa.int64()),
            #: what the engine did ("SELL 0.001", "COOLDOWN", ...); "" when recorded without one
            pa.field("decision", pa.string()),
        ]
    ),
    "tops": pa.schema(
        [
            _TS,
            pa.field("venue", pa.string()),
            pa.field("symbol", pa.string()),
            pa.field("bid", pa.float64()),
            pa.field("bid_qty", pa.float64()),
            pa.field("ask", pa.float64()),
            pa.field("ask_qty", pa.float64()),
        ]
    ),
    "levels": pa.schema(
        [
            _TS,
            pa.field("venue", pa.string()),
            pa.field("symbol", pa.string()),
            #: "bid" or "ask"
            pa.field("side", pa.string()),
            #: 0 is the best level
            pa.field("level", pa.int16()),
            pa.field("price", pa.float64()),
            pa.field("qty", pa.float64()),
        ]
    ),
    "trades": pa.schema(
        [
            _TS,
            pa.field("venue", pa.string()),
            pa.field("symbol", pa.string()),
            pa.field("price", pa.float64()),
            pa.field("qty", pa.float64()),
            #: the aggressor: "buy" or "sell" ("" when the venue does not say)
            pa.field("taker", pa.string()),
        ]
    ),
}

#: the tables in a recording, in the order they are written
TABLES: tuple[str, ...] = tuple(SCHEMAS)

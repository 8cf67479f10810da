"""Structured logs: one JSON object per line, or plain text, to a file or stderr.

JSON lines carry ``ts`` (ISO 8601, UTC, µs), ``level``, ``logger``, ``msg`` and any
``extra={...}`` fields, so a log shipper needs no parsing rules. Nothing here knows about
secrets: they are ``venues.credentials.Secret`` objects, which format as ``<redacted>``
wherever they end up, including in these records.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import orjson

#: attributes every LogRecord has; anything else was passed with ``extra=``
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object (no newline inside)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure_logging(
    *,
    fmt: Literal["json", "text"] = "json",
    path: str | Path | None = None,
    level: int | str = logging.INFO,
) -> logging.Handler:
    """Send the ``whalewire`` loggers to ``path`` (or stderr) in ``fmt``; return the handler."""
    handler: logging.Handler = (
        logging.FileHandler(path, encoding="utf-8") if path else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger("whalewire")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    return handler

"""Structured logs (engine/logs.py): JSON lines with extras; secrets stay redacted."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from whalewire.engine.logs import configure_logging
from whalewire.venues.credentials import Secret


def test_json_lines_carry_level_logger_message_and_extras(tmp_path: Path) -> None:
    path = tmp_path / "whalewire.log"
    handler = configure_logging(fmt="json", path=path)
    try:
        log = logging.getLogger("whalewire.engine")
        log.warning("order %s denied", "ww-1", extra={"reason": "MAX_QTY", "qty": 2})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("send failed")
    finally:
        handler.close()
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first["level"] == "WARNING"
    assert first["logger"] == "whalewire.engine"
    assert first["msg"] == "order ww-1 denied"
    assert (first["reason"], first["qty"]) == ("MAX_QTY", 2)
    assert first["ts"].endswith("+00:00")
    assert "ValueError: boom" in second["exc"]


def test_a_secret_logged_by_mistake_is_redacted_in_message_and_extras(tmp_path: Path) -> None:
    path = tmp_path / "whalewire.log"
    handler = configure_logging(fmt="json", path=path)
    secret = Secret("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
    try:
        logging.getLogger("whalewire.venues").error("key %s", secret, extra={"key": secret})
    finally:
        handler.close()
    text = path.read_text()
    assert secret.reveal() not in text
    assert json.loads(text)["msg"] == f"key {secret}"

"""Follow a node's chain over Bitcoin Core's JSON-RPC: blocks by height, reorgs, new tips.

``RpcClient`` speaks JSON-RPC 1.0 over HTTP with basic auth (``user:password`` in the URL, or
Core's ``.cookie`` file) using only the standard library; ``follow`` hands each block after the
learner's tip to it (``getblockhash``, then ``getblock HASH 0`` for the raw bytes), and when the
node's block at the next height does not build on the learner's tip it disconnects the
learner's blocks until it does (a reorg). Polling ``getblockcount`` for new tips is the live
mode. Knows RPC and block linkage, nothing of heuristics.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from whalewire.addresses.learner import Learner

__all__ = ["RpcClient", "RpcError", "follow"]


class RpcError(RuntimeError):
    """The node answered with an error, or not with JSON-RPC."""


class RpcClient:
    """A JSON-RPC client for one node (one keep-alive HTTP connection)."""

    def __init__(
        self, url: str, *, cookie_file: str | Path | None = None, timeout: float = 30
    ) -> None:
        """Connect lazily to ``url`` (``http://user:pass@host:port``) or auth by a cookie."""
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"RPC URL must be http://[user:password@]host:port, got {url!r}")
        self.host, self.port = u.hostname, u.port or 8332
        if cookie_file is not None:
            cred = Path(cookie_file).read_text().strip()
        elif u.username is not None:
            cred = f"{urllib.parse.unquote(u.username)}:{urllib.parse.unquote(u.password or '')}"
        else:
            raise ValueError("RPC needs user:password in the URL or a cookie file")
        self._auth = "Basic " + base64.b64encode(cred.encode()).decode()
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._id = 0

    def call(self, method: str, *params: Any) -> Any:
        """Call ``method``; return its result.

        Raises:
            RpcError: the node returned an error or a non-JSON-RPC answer.
            OSError: the connection failed.
        """
        self._id += 1
        body = json.dumps({"jsonrpc": "1.0", "id": self._id, "method": method, "params": params})
        for attempt in (0, 1):  # a keep-alive connection the node closed: reconnect once
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self._timeout)
            try:
                self._conn.request(
                    "POST",
                    "/",
                    body,
                    {"Authorization": self._auth, "Content-Type": "application/json"},
                )
                resp = self._conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self._conn.close()
                self._conn = None
                if attempt:
                    raise
        try:
            answer = json.loads(data)
        except ValueError:
            raise RpcError(f"{method}: HTTP {resp.status}, not JSON") from None
        if answer.get("error"):
            raise RpcError(f"{method}: {answer['error']}")
        return answer["result"]

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def follow(
    rpc: RpcClient,
    learner: Learner,
    *,
    on_block: Callable[[int, int], None] | None = None,
    stop_at: int | None = None,
) -> int:
    """Connect every block the node has after the learner's tip; return the new height.

    Args:
        rpc: the node.
        learner: connected to; a reorg disconnects its blocks back to the fork point.
        on_block: called with ``(height, node tip height)`` after each block.
        stop_at: stop after this height (None: the node's tip).
    """
    tip = int(rpc.call("getblockcount"))
    # our tip must still be the node's block at its height (a reorg to a shorter or
    # different chain replaced it otherwise)
    while learner.tip:
        h = learner.height
        if h <= tip and rpc.call("getblockhash", h) == learner.tip[-1][1][::-1].hex():
            break
        learner.disconnect()
    if stop_at is not None:
        tip = min(tip, stop_at)
    while learner.height < tip:
        h = learner.height + 1
        block_hash = rpc.call("getblockhash", h)
        raw = bytes.fromhex(rpc.call("getblock", block_hash, 0))
        if learner.tip and raw[4:36] != learner.tip[-1][1]:
            learner.disconnect()  # the node's chain forked below our tip
            continue
        learner.connect(h, raw)
        if on_block is not None:
            on_block(h, tip)
    return learner.height


def poll(
    rpc: RpcClient,
    learner: Learner,
    *,
    interval: float = 2.0,
    on_block: Callable[[int, int], None] | None = None,
    until: Callable[[], bool] = lambda: False,
) -> None:
    """Follow the node's new blocks until ``until()`` says stop (checked every ``interval``)."""
    while not until():
        follow(rpc, learner, on_block=on_block)
        time.sleep(interval)

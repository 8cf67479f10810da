"""The soak harness: an engine process trading a busy mempool against a faulty emulator process.

``run_soak(spec, workdir)`` starts ``tests.soak.emulator_worker`` (a standalone emulated
Binance that takes fault plans on stdin) and ``tests.soak.engine_worker`` (a real engine
fed by ``SyntheticMempool``), switches fault plans at the times ``spec.phases`` names (on
the engine's own clock, read from its samples), lets the engine settle, turns faults off,
lets the engine's own reconciliations end, runs a final reconciliation, and gathers what
both sides hold: the journal, the venue's record of every order of the account, its BTC
balance (``account.status`` over the wire) and ``order.status`` for every order the
journal says the venue never had. The checks live in the tests; ``SoakResult`` only
carries the facts and the numbers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from whalewire.engine.journal import Journal
from whalewire.engine.oms import Order, OrderStatus
from whalewire.model import OrderInitialized, OrderStatusUnknown

ROOT = Path(__file__).parents[2]
#: what the emulator's default account starts with ("BTC 10, ETH 100, USDT 1,000,000")
START_BTC = Decimal(10)


@dataclass(frozen=True)
class Phase:
    """From ``at_s`` seconds into the feed on: ``plan`` (``FaultPlan`` fields; None: no faults),
    or, when ``disconnect`` is set, cut every connection once."""

    at_s: float
    plan: dict[str, Any] | None = None
    disconnect: bool = False


@dataclass(frozen=True)
class SoakSpec:
    """What to replay, how fast, for how long, and what goes wrong when."""

    seconds: float
    phases: tuple[Phase, ...]
    #: memory is compared from here on (caches fill and the allocator settles before)
    warmup_s: float
    rate: float = 400.0
    whale_every: int = 100
    #: deposits repeated per entity in the whale pool (their sizes differ; see the config)
    whale_weights: dict[str, int] = field(
        default_factory=lambda: {"demo-kraken": 2, "demo-coinbase": 2, "demo-okx": 1}
    )
    ack_timeout_s: float = 1.0
    settle_s: float = 10.0
    #: after faults stop, how long the engine's own reconciliations may take to end
    quiet_s: float = 40.0
    sample_s: float = 0.5
    #: the monitor's txid memory; small enough to be full before ``warmup_s`` ends
    dedup_capacity: int = 10_000


@dataclass
class SoakResult:
    """Everything both sides said, and the journal, after a soak."""

    spec: SoakSpec
    samples: list[dict[str, Any]]
    settled: dict[str, Any]
    #: what was still open once faults were off and the engine's own reconciliations ended
    quiet: dict[str, Any]
    reconciled: dict[str, Any]
    summary: dict[str, Any]
    faults_hit: dict[str, int]
    orders: dict[str, Order]
    initialized: Counter[str]
    venue_orders: list[dict[str, Any]]
    venue_btc: Decimal
    #: order.status answers (error code, or the venue's status) for NOT_FOUND/REJECTED ids
    absent_checked: dict[str, object]
    wall_s: float

    def rss_after_warmup(self) -> list[tuple[float, int]]:
        """Return (t, RSS KiB) samples taken once warm-up is over."""
        return [(s["t"], s["rss_kb"]) for s in self.samples if s["t"] >= self.spec.warmup_s]

    def rss_growth_kb(self) -> tuple[int, int, int]:
        """Return (baseline, end, max) RSS KiB after warm-up: medians of the first and last
        five samples, and the highest sample."""
        rss = [r for _, r in self.rss_after_warmup()]
        if len(rss) < 10:
            raise AssertionError(f"only {len(rss)} samples after warm-up: run longer")
        return int(statistics.median(rss[:5])), int(statistics.median(rss[-5:])), max(rss)

    def rss_slope_kb_per_min(self) -> float:
        """Return the least-squares slope of RSS over time after warm-up, KiB per minute."""
        pts = self.rss_after_warmup()
        return statistics.linear_regression([t for t, _ in pts], [r for _, r in pts])[0] * 60

    def filled(self) -> Decimal:
        """Return the quantity the journal says filled, over all orders."""
        return sum((o.filled_qty for o in self.orders.values()), Decimal(0))

    def numbers(self) -> dict[str, Any]:
        """Return the figures worth reporting, JSON-ready."""
        base, end, peak = self.rss_growth_kb()
        statuses = Counter(o.status.value for o in self.orders.values())
        went_unknown = sum(
            1
            for o in self.orders.values()
            if any(isinstance(e, OrderStatusUnknown) for e in o.events)
        )
        causes: Counter[str] = Counter()
        for o in self.orders.values():
            for e in o.events:
                if isinstance(e, OrderStatusUnknown):
                    reason = e.reason
                    causes[
                        "ack_timeout" if reason.startswith("no answer") else reason.split()[0]
                    ] += 1
        return {
            "feed_s": self.spec.seconds,
            "wall_s": round(self.wall_s, 1),
            "tx": self.summary["tx"],
            "whale_tx": self.summary["whale_tx"],
            "whales_seen": self.summary["whales_seen"],
            "ignored": self.summary["ignored"],
            "orders": len(self.orders),
            "statuses": dict(statuses),
            "venue_orders": len(self.venue_orders),
            "filled_btc": str(self.filled()),
            "faults_hit": self.faults_hit,
            "orders_through_unknown": went_unknown,
            "unknown_causes": dict(causes),
            "open_after_settle": self.settled["open"],
            "open_after_quiet": self.quiet["open"],
            "final_reconcile": self.reconciled["report"],
            "counters": self.summary["counters"],
            "rss_kb": {"baseline": base, "end": end, "max": peak},
            "rss_slope_kb_per_min": round(self.rss_slope_kb_per_min(), 1),
        }


class _Proc:
    """A worker process speaking JSON lines on stdout, read by a thread into a queue."""

    def __init__(self, args: list[str], name: str) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def next(
        self, deadline: float, want: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> dict[str, Any]:
        """Return the next JSON line that ``want`` accepts; fail at ``deadline`` or exit."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: no expected line in time")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"{self.name} exited with {self.proc.wait()}")
            if not line.startswith("{"):
                continue  # a library's stray print
            msg: dict[str, Any] = json.loads(line)
            if want(msg):
                return msg

    def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _config(workdir: Path, url: str, keys: Path) -> Path:
    path = workdir / "engine.toml"
    # sizes: 0.0002 of the deposit (1.62 BTC -> 0.00032, 0.5 -> 0.0001: above Binance's
    # 5 USDT minimum notional; 0.41/0.44 -> 0.00008: below it, so the venue rejects them
    # (-1013), and a dropped rejection is an order only reconciliation can call absent)
    path.write_text(
        f"""
[engine]
namespace = "soak"
journal = "{workdir / "journal.db"}"
[control]
port = 0
kill_file = ""
[strategy]
min_value_sats = 25_000_000
size_mode = "fraction"
fraction = "0.0002"
qty_step = "0.00001"
cooldown_s = 0.0
max_reactions = 1_000_000
[venues.binance]
endpoint = "{url}"
credentials_file = "{keys}"
[risk]
max_orders_per_second = 8
max_orders_per_minute = 480
[risk.symbols.BTCUSDT]
max_order_qty = 1
max_order_notional = 100_000
max_position = 9
max_daily_loss = 1_000_000
"""
    )
    return path


def run_soak(spec: SoakSpec, workdir: Path) -> SoakResult:
    """Run one soak as ``spec`` says, in ``workdir``; return what both sides hold after it."""
    started = time.monotonic()
    deadline = started + spec.seconds + spec.settle_s + spec.quiet_s + 180
    emulator = _Proc(["tests.soak.emulator_worker"], "emulator")
    engine: _Proc | None = None
    try:
        banner = emulator.next(time.monotonic() + 30)
        url, api_key, secret = banner["url"], banner["api_key"], banner["secret"]
        keys = workdir / "keys.toml"
        keys.write_text(f'[binance]\napi_key = "{api_key}"\napi_secret = "{secret}"\n')
        keys.chmod(0o600)
        params = workdir / "params.json"
        params.write_text(
            json.dumps(
                {
                    "config": str(_config(workdir, url, keys)),
                    "seconds": spec.seconds,
                    "rate": spec.rate,
                    "whale_every": spec.whale_every,
                    "whale_weights": spec.whale_weights,
                    "ack_timeout_s": spec.ack_timeout_s,
                    "settle_s": spec.settle_s,
                    "quiet_s": spec.quiet_s,
                    "sample_s": spec.sample_s,
                    "dedup_capacity": spec.dedup_capacity,
                }
            )
        )
        engine = _Proc(["tests.soak.engine_worker", str(params)], "engine")
        engine.next(time.monotonic() + 60, lambda m: m.get("event") == "ready")

        def steer(phase: Phase) -> None:
            cmd = (
                {"cmd": "disconnect"} if phase.disconnect else {"cmd": "faults", "plan": phase.plan}
            )
            emulator.send(json.dumps(cmd))
            reply = emulator.next(deadline)
            assert reply["ok"], reply

        pending = sorted(spec.phases, key=lambda ph: ph.at_s)
        while pending and pending[0].at_s <= 0:
            steer(pending.pop(0))
        engine.send("go")
        samples: list[dict[str, Any]] = []
        while True:
            msg = engine.next(deadline, lambda m: m.get("event") in ("sample", "settled"))
            if msg["event"] == "settled":
                settled = msg
                break
            samples.append(msg)
            while pending and pending[0].at_s <= msg["t"]:
                steer(pending.pop(0))
        emulator.send(json.dumps({"cmd": "faults_hit"}))
        faults_hit = emulator.next(deadline)["faults_hit"]
        emulator.send(json.dumps({"cmd": "faults", "plan": None}))
        emulator.next(deadline)
        engine.send("quiet")
        quiet = engine.next(deadline, lambda m: m.get("event") == "quiet")
        engine.send("reconcile")
        reconciled = engine.next(deadline, lambda m: m.get("event") == "reconciled")
        engine.send("stop")
        summary = engine.next(deadline, lambda m: m.get("event") == "summary")
        engine.stop()
        emulator.send(json.dumps({"cmd": "orders"}))
        venue_orders = emulator.next(deadline)["orders"]
        with Journal(workdir / "journal.db") as journal:
            orders = journal.replay()
            initialized = Counter(
                m.client_order_id for m in journal.messages() if isinstance(m, OrderInitialized)
            )
        absent = [
            coid
            for coid, o in orders.items()
            if o.status in (OrderStatus.NOT_FOUND, OrderStatus.REJECTED)
        ]
        venue_btc, absent_checked = asyncio.run(_ask_venue(url, api_key, secret, absent))
    finally:
        if engine is not None:
            engine.stop()
        emulator.stop()
    return SoakResult(
        spec=spec,
        samples=samples,
        settled=settled,
        quiet=quiet,
        reconciled=reconciled,
        summary=summary,
        faults_hit=faults_hit,
        orders=orders,
        initialized=initialized,
        venue_orders=venue_orders,
        venue_btc=venue_btc,
        absent_checked=absent_checked,
        wall_s=time.monotonic() - started,
    )


async def _ask_venue(
    url: str, api_key: str, secret: str, absent: list[str]
) -> tuple[Decimal, dict[str, object]]:
    """Ask the venue over its API: the account's BTC, and ``order.status`` of ``absent`` ids."""
    from whalewire.net.client import connect

    ws = await connect(url, deflate=False)

    async def call(method: str, params: dict[str, object]) -> dict[str, Any]:
        # signed by hand (HMAC-SHA256 over the sorted query string, web-socket-api.md
        # "SIGNED request security"), independently of the engine's signing code
        params = {**params, "apiKey": api_key, "timestamp": int(time.time() * 1000)}
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        params["signature"] = hmac.new(
            secret.encode(), payload.encode(), hashlib.sha256
        ).hexdigest()
        ws.send(json.dumps({"id": method, "method": method, "params": params}))
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        return reply

    try:
        account = await call("account.status", {})
        btc = next(
            Decimal(b["free"]) + Decimal(b["locked"])
            for b in account["result"]["balances"]
            if b["asset"] == "BTC"
        )
        checked: dict[str, object] = {}
        for coid in absent:
            reply = await call("order.status", {"symbol": "BTCUSDT", "origClientOrderId": coid})
            checked[coid] = (
                reply["error"]["code"] if "error" in reply else reply["result"]["status"]
            )
        return btc, checked
    finally:
        await ws.close()

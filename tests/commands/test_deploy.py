"""deploy/'s Grafana dashboard and Prometheus alert rules use only metrics the engine exports.

A paper engine runs over the replay until it has traded; its ``/metrics`` text (the real
exposition, fetched over loopback) gives the exported names. Every metric an alert rule or
a dashboard panel queries must be among them; ``promtool check rules`` also runs where
Prometheus' tool is installed (Debian: ``apt-get install prometheus``).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from whalewire.commands.embedded import build
from whalewire.engine.config import parse_config
from whalewire.engine.metrics import STATE_METRICS
from whalewire.engine.runner import run

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "whalewire.json"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Metric names in a traded engine's /metrics (summary parts folded into their name)."""
    tmp = tmp_path_factory.mktemp("metrics")
    config = parse_config(
        f'[engine]\njournal = "{tmp / "j.db"}"\n[control]\nport = 0\n'
        f'kill_file = "{tmp / "kill"}"\n[[feeds]]\ntype = "replay"\nspeed = 20.0\n'
    )

    async def main() -> str:
        running = await build(config)
        try:
            await run(running, seconds=4.0, dashboard=False)
            url = running.control.url + "/metrics"
            return await asyncio.to_thread(lambda: urllib.request.urlopen(url).read().decode())
        finally:
            await running.close()

    text = asyncio.run(main())
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names | {re.sub(r"_(sum|count)$", "", n) for n in names}


def queried(exprs: list[str]) -> tuple[set[str], list[str]]:
    """Metric names in PromQL expressions, and the ``__name__`` regexes they match on."""
    names: set[str] = set()
    patterns: list[str] = []
    for expr in exprs:
        patterns += re.findall(r'__name__=~"([^"]+)"', expr)
        stripped = re.sub(r'__name__=~"[^"]+"', "", expr)
        names |= set(re.findall(r"\bwhalewire_[a-z0-9_]*[a-z0-9]\b", stripped))
    return names, patterns


def check(exprs: list[str], exported: set[str]) -> None:
    names, patterns = queried(exprs)
    assert names, "no whalewire metric queried"
    assert names <= exported, f"not exported: {sorted(names - exported)}"
    for pattern in patterns:
        assert any(re.fullmatch(pattern, n) for n in exported), pattern


def test_the_engine_exports_its_state_metrics(exported: set[str]) -> None:
    for name in (
        "whalewire_trading_state",
        "whalewire_venue_up",
        "whalewire_whales_seen_total",
        "whalewire_orders_sent_total",
        "whalewire_position",
        "whalewire_realized_pnl",
        "whalewire_feed_events_total",
        "whalewire_events_total",
        "whalewire_venue_clock_offset_seconds",
        "whalewire_venue_rate_limit_headroom",
    ):
        assert name in exported, name
    assert set(STATE_METRICS) - exported <= {"whalewire_denials_total"}  # none denied here


def test_alert_rules_query_exported_metrics(exported: set[str]) -> None:
    yaml = pytest.importorskip("yaml")
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules} >= {"WhalewireHalted", "WhalewireVenueDown"}
    for rule in rules:
        assert rule["annotations"]["summary"]
    check(
        [r["expr"] for r in rules] + ['whalewire_denials_total{reason="X"}'],
        exported
        | {
            "whalewire_denials_total"  # exported once an order is denied (test_metrics.py)
        },
    )


def test_the_grafana_dashboard_queries_exported_metrics(exported: set[str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    check(exprs, exported | {"whalewire_denials_total"})
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr

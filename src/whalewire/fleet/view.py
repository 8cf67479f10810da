"""The fleet's terminal view: ``Operator.survey``'s picture drawn with rich.

One drawing for ``whalewire status --nats ...`` (``--watch`` redraws it live) and
``whalewire fleet status``: the kill switch and the totals first (never dropped), then one
row per executor (health, halt, orders, open orders, positions, its last alert), one per
sensor (feeds, peers, how many first arrivals it won at the executors), and the leads of
each sensor over the others as the executors measured them. Reads the survey only.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", expand=True, box=None, pad_edge=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i < 3 else "right", no_wrap=i < 2)
    return table


def switch_text(switch: dict[str, Any] | str | None) -> str:
    """Say what the kill switch's desired state is."""
    if switch is None:
        return "never set (trade)"
    if isinstance(switch, str):
        return switch
    return f"{switch.get('action')} by {switch.get('source')}"


def header(survey: dict[str, Any]) -> Text:
    """The line always shown: the kill switch, who trades, who is unhealthy."""
    halted, trading = survey["halted"], survey["trading"]
    text = Text.assemble(
        ("whalewire fleet  ", "bold"),
        ("kill switch ", ""),
        (switch_text(survey["kill_switch"]), "bold red" if halted else "bold green"),
        (f"  executors {len(trading)}/{survey['executors']} trading", ""),
        (f"  sensors {survey['sensors']}", ""),
    )
    if survey.get("unheard"):
        text.append(f"  unheard (in the order stream): {', '.join(survey['unheard'])}", "yellow")
    if survey["unhealthy"]:
        late = ", ".join(f"{n} {h}" for n, h in sorted(survey["unhealthy"].items()))
        text.append(f"  unhealthy: {late}", "bold yellow")
    return text


def render(survey: dict[str, Any]) -> Group:
    """Draw the whole fleet from one survey."""
    executors = _table(
        "executors", "name", "health", "state", "orders", "open", "positions", "last alert"
    )
    sensors = _table("sensors", "name", "health", "feeds", "tx", "alerts", "peers", "first at ex.")
    for row in survey["members"]:
        stats = row["stats"]
        if row["role"] == "executor":
            alerts = stats.get("recent_alerts") or []
            last = alerts[-1] if alerts else None
            executors.add_row(
                row["name"],
                row["health"],
                stats.get("halted") or "trading",
                str(stats.get("orders_sent", 0)),
                str(len(stats.get("open_orders") or [])),
                " ".join(f"{s} {p}" for s, p in (stats.get("positions") or {}).items()) or "-",
                f"{last['txid'][:10]}… {last['entity']} {last['outcome']} via {last['sensor']}"
                if last
                else "-",
            )
        elif row["role"] == "sensor":
            peers = stats.get("peers") or {}
            sensors.add_row(
                row["name"],
                row["health"],
                ", ".join(str(f.get("name")) for f in stats.get("feeds") or []) or "-",
                str(stats.get("transactions", 0)),
                str(stats.get("alerts", 0)),
                f"{peers.get('ready', 0)}/{len(peers.get('connected', []))}" if peers else "-",
                str(survey["sensor_wins"].get(row["name"], 0)),
            )
    leads = _table("first-arrival leads (p50 ms at each executor)", "first>later", "executors")
    for pair, per_executor in sorted(survey["sensor_leads"].items()):
        at = (f"{ex} {lead.get('p50_ms', 0):.1f}" for ex, lead in per_executor.items())
        leads.add_row(pair, "  ".join(at))
    return Group(header(survey), executors, sensors, leads)

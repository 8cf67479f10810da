"""The latency report (engine/report.py): table rows and a self-contained HTML file."""

from __future__ import annotations

import io
from html.parser import HTMLParser
from pathlib import Path

from rich.console import Console

from whalewire.engine.metrics import Metrics
from whalewire.engine.report import latency_table, write_html


def sample_metrics() -> Metrics:
    m = Metrics()
    for v in (18_000, 20_000, 22_000, 90_000):
        m.latency("trigger_to_send").record(v)
    m.latency("detect").record(1_500)
    m.latency("ack")  # a stage that saw nothing
    return m


def test_terminal_table_lists_stages_in_pipeline_order_with_microseconds() -> None:
    console = Console(file=io.StringIO(), width=200)
    console.print(latency_table(sample_metrics()))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert text.index("detect") < text.index("trigger_to_send") < text.index("ack")
    assert "20.0" in text  # p50 of trigger_to_send in µs


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for key, value in attrs:
            if key in ("src", "href") and value:
                self.external.append(value)


def test_html_report_has_a_histogram_per_stage_and_loads_nothing_external(
    tmp_path: Path,
) -> None:
    path = write_html(sample_metrics(), tmp_path / "report.html")
    parser = _Collect()
    parser.feed(path.read_text())
    assert parser.tags.count("svg") == 2  # detect and trigger_to_send have samples
    assert parser.tags.count("h3") == 3  # one heading per stage
    assert parser.external == []
    assert "no samples" in path.read_text()

"""What the watch-set and learner benchmarks share: command line, memory probe, docs section.

``parse_args`` adds ``--cpu`` and ``--no-write`` to a script's own options and pins the
process; ``write_section`` replaces the text between a section's markers in
docs/benchmarks.md, or adds it (under a heading, or after another section's end marker).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def rss_bytes() -> int:
    """Return this process's resident memory now."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def parse_args(
    doc: str, add: Callable[[argparse.ArgumentParser], None], *, cpu: int = 0
) -> argparse.Namespace:
    """Parse the script's options (``add``) plus ``--cpu``/``--no-write``; pin to the CPU."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    add(ap)
    ap.add_argument("--cpu", type=int, default=cpu, help="pin to this CPU (-1: do not pin)")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = ap.parse_args()
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})
    return args


def write_section(begin: str, end: str, text: str, *, heading: str = "", after: str = "") -> None:
    """Put ``text`` (markers included) in place of the section, or add it where asked."""
    doc = DOCS.read_text()
    if begin in doc:
        head, rest = doc.split(begin, 1)
        doc = head + text + rest.split(end, 1)[1]
    elif after and after in doc:
        doc = doc.replace(after, after + "\n\n" + text, 1)
    else:
        doc = doc.rstrip("\n") + f"\n\n## {heading}\n\n" + text + "\n"
    DOCS.write_text(doc)

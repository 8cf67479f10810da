"""The walls around ``whalewire.ws``: sans-IO in Python and in C (DESIGN.md, "Layout").

``ws`` promises no I/O: its C accelerator computes over buffers and never touches a socket
(the transport's C objects that do live in ``net._io``). Its C files include only the
shared headers of ``src/whalewire/_c``, never each other, and the WebSocket frame header
(RFC 6455 §5.2) is written by one function there (``wsframe.h``) for every extension.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "whalewire"
C_FILES = sorted(SRC.rglob("*.c"))
#: the libc functions a computation-only extension may import (found by the linker)
PURE_LIBC = {"memcpy", "memmove", "memset", "memcmp", "strlen"}


def test_ws_sources_reach_no_socket() -> None:
    for path in (SRC / "ws").glob("*.c"):
        text = path.read_text()
        for header in ("<unistd.h>", "<sys/uio.h>", "<sys/socket.h>", "maskpool.h"):
            assert header not in text, f"{path.name} includes {header}"
        assert not re.search(r"\b(write|writev|send|sendmsg|recv|read)\s*\(", text), path.name


def test_ws_python_imports_no_transport() -> None:
    for path in (SRC / "ws").glob("*.py"):
        text = path.read_text()
        for name in ("asyncio", "socket", "whalewire.net", "whalewire.venues"):
            assert not re.search(rf"^\s*(import|from) {re.escape(name)}\b", text, re.M), (
                f"{path.name} imports {name}"
            )


def test_c_files_include_only_shared_headers() -> None:
    for path in C_FILES:
        for included in re.findall(r'#include "([^"]+)"', path.read_text()):
            assert (SRC / "_c" / included).is_file(), f"{path.name} includes {included}"


def test_frame_header_is_written_in_one_place() -> None:
    # a hand-written 16-bit length marker ("| 126") outside wsframe.h is a copy of the rule
    for path in C_FILES:
        assert not re.search(r"\|\s*126\b", path.read_text()), path.name
    assert "ww_frame_header(" in (SRC / "_c" / "wsframe.h").read_text()


def test_built_ws_extension_imports_no_system_call() -> None:
    speedups = pytest.importorskip("whalewire.ws._speedups")
    nm = shutil.which("nm")
    if nm is None or speedups.__file__ is None:
        pytest.skip("nm is not installed")
    out = subprocess.run(
        [nm, "-D", "--undefined-only", speedups.__file__],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {line.split()[-1].split("@")[0] for line in out.splitlines() if " U " in line}
    libc = {n for n in names if not n.startswith(("Py", "_Py"))}
    assert libc <= PURE_LIBC, f"ws._speedups calls {sorted(libc - PURE_LIBC)}"

"""``whalewire.net`` as a package: its public names, and imports that run one way only.

DESIGN.md: ``whalewire.net`` exports the public names (``WebSocket``, ``connect``, ``serve``,
the errors); nothing outside ``net`` reaches into its private modules, and no two modules of
``ws`` or ``net`` import each other (keepalive declares what it needs of the transport as a
``Protocol`` instead of importing it).
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

from whalewire import net
from whalewire.net import _protocol, client, errors, server
from whalewire.ws import exceptions

SRC = Path(__file__).resolve().parents[2] / "src"


def imported_modules(path: Path) -> set[str]:
    """Every whalewire module ``path`` imports, at top level or under TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("whalewire"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("whalewire"))
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_public_names_are_the_implementations() -> None:
    assert net.WebSocket is _protocol.WebSocket
    assert net.Limits is _protocol.Limits
    assert net.connect is client.connect
    assert net.serve is server.serve
    assert net.ConnectFailed is errors.ConnectFailed
    assert net.OpenTimeout is errors.OpenTimeout
    assert net.ConnectionClosed is exceptions.ConnectionClosed
    assert net.InvalidStatus is exceptions.InvalidStatus
    for name in net.__all__:
        assert getattr(net, name) is not None, name


def test_no_module_outside_net_imports_its_private_protocol() -> None:
    for path in (SRC / "whalewire").rglob("*.py"):
        if path.parent.name == "net":
            continue
        assert "whalewire.net._protocol" not in imported_modules(path), path


def test_no_two_ws_or_net_modules_import_each_other() -> None:
    paths = [*(SRC / "whalewire" / "ws").glob("*.py"), *(SRC / "whalewire" / "net").glob("*.py")]
    graph = {module_name(p): imported_modules(p) for p in paths}
    for a, b in itertools.combinations(graph, 2):
        if a.rsplit(".", 1)[0] == b or b.rsplit(".", 1)[0] == a:
            continue  # a package's __init__ re-exports its modules
        assert not (b in graph[a] and a in graph[b]), f"{a} and {b} import each other"

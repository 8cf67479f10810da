"""The test tree's layout (issue 14): no test module imports another test module.

What tests share lives in one support module per folder (``tests/emulator/support.py``,
``tests/engine/factories.py``, ...), so each ``test_*.py`` stands alone: editing, renaming
or deleting one never breaks another's imports. Checked on the source with ``ast``, over
every Python file under ``tests/`` and ``fuzz/``, in every import form (``import a.test_b``,
``from a.test_b import x``, ``from a import test_b``, relative ones too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
FOLDERS = ("tests", "fuzz")


def is_test_module(dotted: str) -> bool:
    return dotted.rpartition(".")[2].startswith("test_")


def imported_test_modules(path: Path) -> list[str]:
    """Every module ``path`` imports whose last name starts with ``test_``, as written."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if any(map(is_test_module, prefixes(a.name)))]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            if node.module and any(map(is_test_module, prefixes(node.module))):
                found.append(base)
            else:
                # ``from pkg import test_x``: test_x may be a module
                found += [f"{base}.{a.name}" for a in node.names if a.name.startswith("test_")]
    return found


def prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def sources() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def test_there_are_sources_to_check() -> None:
    names = {p.name for p in sources()}
    assert "test_layout.py" in names and "support.py" in names


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("from tests.engine.test_strategy import Alert\n", ["tests.engine.test_strategy"]),
        ("from tests.emulator.test_kraken import (\n    call,\n    make,\n)\n", None),
        ("import tests.emulator.test_coinbase as cb\n", ["tests.emulator.test_coinbase"]),
        ("from tests.emulator import test_coinbase\n", ["tests.emulator.test_coinbase"]),
        ("from .test_kraken import call\n", [".test_kraken"]),
        ("def f():\n    from tests.engine.test_x import y\n", ["tests.engine.test_x"]),
        ("from tests.emulator.support import kraken_make as make\n", []),
        ("from tests.engine.factories import test_value\n", ["tests.engine.factories.test_value"]),
        ("import pytest\nfrom whalewire.testing import x\n", []),
    ],
)
def test_the_check_sees_every_import_form(
    tmp_path: Path, source: str, bad: list[str] | None
) -> None:
    path = tmp_path / "case.py"
    path.write_text(source, encoding="utf-8")
    expected = ["tests.emulator.test_kraken"] if bad is None else bad
    assert imported_test_modules(path) == expected


def test_no_file_under_tests_or_fuzz_imports_a_test_module() -> None:
    offenders = {
        str(p.relative_to(ROOT)): bad for p in sources() if (bad := imported_test_modules(p))
    }
    assert offenders == {}, (
        "a test module imports another test module; move the shared helper into the "
        f"folder's support module (tests/<folder>/support.py or factories.py): {offenders}"
    )

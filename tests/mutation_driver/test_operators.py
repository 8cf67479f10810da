"""The mutation driver's operators (mutation/pyops.py, mutation/cops.py) on small sources.

Each expected mutant is written out by hand: which changes a line must give, and which code
(docstrings, annotations, comments, strings, ``->``, ``<<``) must give none.
"""

from __future__ import annotations

import ast

from mutation.cops import cmutants, mutated_csource
from mutation.pyops import mutants, mutated_source

PY = '''"""Docstring: never mutated."""
from enum import Enum


class S(Enum):
    ONE = "ONE"
    TWO = "TWO"


TABLE: dict[str, S] = {"x": S.ONE, "y": S.TWO}
FINAL = frozenset({S.ONE, S.TWO})
Alias = bytes | bytearray


def f(n: int = 3) -> int:
    """Docstring."""
    total = 0
    for v in range(n):
        total += v
    if n < 126:
        raise ValueError("a message is never mutated")
    return total
'''


def idents(source: str) -> list[str]:
    return [m.ident for m in mutants("t", source)]


def test_python_mutants_cover_tables_comparisons_and_augmented_assignment() -> None:
    got = idents(PY)
    for want in [
        "<module> | TABLE | delete 'x': S.ONE",
        "<module> | TABLE | delete 'y': S.TWO",
        "<module> | FINAL | delete S.ONE",
        "<module> | FINAL | delete S.TWO",
        "<module> | 'x': S.ONE | S.ONE -> S.TWO",
        "f | total += v | + -> -",
        "f | total += v | += -> =",
        "f | n < 126 | < -> <=",
        "f | n < 126 | 126 -> 127",
        "f | total = 0 | 0 -> 1",
        "f | n < 126 | negate the condition",
    ]:
        assert want in got, want


def test_python_mutants_leave_docstrings_annotations_messages_and_aliases_alone() -> None:
    text = "\n".join(idents(PY))
    assert "Docstring" not in text
    assert "a message" not in text
    assert "bytearray" not in text  # the type alias
    assert "dict[str, S]" not in text


def test_every_python_mutant_parses_and_differs_from_the_code() -> None:
    base = ast.dump(ast.parse(PY))
    for m in mutants("t", PY):
        assert ast.dump(ast.parse(mutated_source(PY, m))) != base, m.ident


def test_deleting_the_last_member_of_a_set_gives_an_empty_set() -> None:
    source = "ONE = frozenset({1})\n"
    (deletion,) = [m for m in mutants("t", source) if "delete" in m.ident]
    assert mutated_source(source, deletion).strip() == "ONE = frozenset(set())"


def test_scopes_limit_the_mutants_to_the_named_functions() -> None:
    source = "def a(x):\n    return x < 1\n\n\ndef b(x):\n    return x > 1\n"
    assert {m.ident.split(" | ")[0] for m in mutants("t", source, ["b"])} == {"b"}


C = """#include <stdint.h>
#define LIMIT 126
/* a comment: x < 5 */
static int
f(const char *p, int n)
{
    const char *s = "n < 3";
    if (n < LIMIT && p->x >> 2 == 'a')
        return n << 1;
    return 0;
}
"""


def test_c_mutants_are_comparisons_and_integers_outside_comments_and_literals() -> None:
    got = {(m.line, m.old, m.new) for m in cmutants("t", C)}
    assert got == {
        (2, "126", "127"),  # the #define
        (8, "<", "<="),
        (8, "2", "3"),
        (8, "==", "!="),
        (9, "1", "2"),
        (10, "0", "1"),
    }


def test_c_mutant_changes_only_its_own_text() -> None:
    (m,) = [m for m in cmutants("t", C) if m.old == "=="]
    assert mutated_csource(C, m) == C.replace("p->x >> 2 == 'a'", "p->x >> 2 != 'a'")


def test_c_functions_limit_the_mutants() -> None:
    assert {m.line for m in cmutants("t", C, ["<file>"])} == {2}

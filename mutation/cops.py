"""C mutants: comparison and integer-constant changes in one C file's function bodies.

Finds the change points in the code text only (comments, strings, character literals and
``#include`` lines are blanked first, so positions stay those of the real file), inside the
functions named in ``targets.toml`` (or every function). Knows nothing of compilers or tests
(``runner`` builds each mutant in a scratch directory).

Operators: ``<``/``<=``, ``>``/``>=``, ``==``/``!=`` (never ``<<``, ``>>``, ``->``), and an
integer literal ``n`` (decimal or hex, with its suffix) to ``n + 1``, ``#define`` values
included: the length boundaries and opcode bytes the hot paths branch on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CMutant", "cmutants", "mutated_csource"]

_SWAP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
# a relational operator not part of <<, >>, <<=, >>=, ->, or an assignment/compound operator
_CMP = re.compile(r"(?<![<>=!\-])(<=|>=|==|!=|<|>)(?![<>=])")
_INT = re.compile(r"(?<![\w.])(0[xX][0-9a-fA-F]+|\d+)([uUlL]*)(?![\w.])")
_FUNC = re.compile(r"^([A-Za-z_]\w*)\s*\([^;{]*?\)\s*\{", re.M | re.S)


@dataclass(frozen=True)
class CMutant:
    """One change at ``offset`` of the file: ``old`` text replaced by ``new``."""

    target: str
    ident: str
    line: int
    offset: int
    old: str
    new: str


def _blank(source: str) -> str:
    """Return ``source`` with comments, literals and include lines replaced by spaces."""
    out = list(source)
    i, n = 0, len(source)

    def wipe(a: int, b: int) -> None:
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = source[i]
        if source.startswith("/*", i):
            j = source.find("*/", i + 2)
            j = n if j < 0 else j + 2
            wipe(i, j)
            i = j
        elif source.startswith("//", i):
            j = source.find("\n", i)
            j = n if j < 0 else j
            wipe(i, j)
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            wipe(i, j + 1)
            i = j + 1
        elif c == "#" and (i == 0 or source[i - 1] == "\n"):
            j = source.find("\n", i)
            j = n if j < 0 else j
            line = source[i:j]
            if not line.startswith("#define"):
                wipe(i, j)  # #include <...>, #if: nothing to mutate
            i = j
        else:
            i += 1
    return "".join(out)


def _functions(code: str) -> list[tuple[str, int, int]]:
    """(name, body start, body end) of each function definition in blanked ``code``."""
    found = []
    for m in _FUNC.finditer(code):
        start = m.end() - 1
        depth, j = 0, start
        while j < len(code):
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        found.append((m.group(1), start, j + 1))
    return found


def _scope_of(offset: int, functions: list[tuple[str, int, int]]) -> str:
    for name, a, b in functions:
        if a <= offset < b:
            return name
    return "<file>"


def cmutants(target: str, source: str, functions: list[str] | None = None) -> list[CMutant]:
    """Return the mutants of C ``source``; only inside ``functions`` if given.

    ``<file>`` in ``functions`` stands for code outside any function (``#define``s, tables).
    """
    code = _blank(source)
    funcs = _functions(code)
    lines = source.splitlines()
    out: list[CMutant] = []
    seen: dict[str, int] = {}
    points: list[tuple[int, str, str]] = []
    for m in _CMP.finditer(code):
        points.append((m.start(), m.group(1), _SWAP[m.group(1)]))
    for m in _INT.finditer(code):
        text, suffix = m.group(1), m.group(2)
        value = int(text, 16) + 1 if text[:2] in ("0x", "0X") else int(text) + 1
        new = (hex(value) if text[:2] in ("0x", "0X") else str(value)) + suffix
        points.append((m.start(), text + suffix, new))
    for offset, old, new in sorted(points):
        scope = _scope_of(offset, funcs)
        if functions is not None and scope not in functions:
            continue
        line = source.count("\n", 0, offset) + 1
        text = " ".join(lines[line - 1].split())
        ident = f"{scope} | {text[:80]} | {old} -> {new}"
        count = seen.get(ident, 0) + 1
        seen[ident] = count
        if count > 1:
            ident = f"{ident} #{count}"
        out.append(CMutant(target, ident, line, offset, old, new))
    return out


def mutated_csource(source: str, mutant: CMutant) -> str:
    """Return ``source`` with ``mutant`` applied."""
    end = mutant.offset + len(mutant.old)
    assert source[mutant.offset : end] == mutant.old, mutant.ident
    return source[: mutant.offset] + mutant.new + source[end:]

"""Python mutants: every small change of one module's source, module-level tables included.

Walks the module's AST once in a fixed order and yields a ``Mutant`` per change point; the
mutant's source is made by re-parsing, changing the node at the same walk position and
unparsing. Knows nothing of tests or processes (``runner`` runs them).

Operators (the classic set, kept small so that each survivor is worth reading):

- comparisons ``<``/``<=``, ``>``/``>=``, ``==``/``!=``, ``is``/``is not``, ``in``/``not in``;
- arithmetic and bit operators (``+``/``-``, ``*``/``/``, ``//``/``/``, ``%``/``*``,
  ``<<``/``>>``, ``&``/``|``, ``^``/``|``) and ``x += v`` to ``x -= v`` and ``x = v``;
- ``and``/``or``; ``not x`` to ``x``; a condition (``if``, ``while``, ``x if c else y``) to
  its negation; ``break``/``continue``;
- constants: a number ``n`` to ``n + 1``, ``True``/``False``, a string or bytes to empty
  (or ``"X"`` when empty);
- tables: deleting one entry of a dict, set, list or tuple literal assigned at module level
  (``TRANSITIONS``, ``FINAL``...); swapping an enum-like member ``S.A`` for the next member
  of the same base used in the module (``S.ACCEPTED`` to ``S.CANCELED``).

Skipped on purpose: docstrings, annotations (never evaluated here), error-message strings in
``raise``, f-string text and ``__all__``: changing them changes no behaviour a caller sees.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["Mutant", "mutants", "mutated_source"]

_CMP_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BIN_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.Mult,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
    ast.BitXor: ast.BitOr,
}


@dataclass(frozen=True)
class Mutant:
    """One change: where (walk position), what (``ident``, stable across unrelated edits)."""

    #: the target's name in ``targets.toml`` (e.g. ``oms``)
    target: str
    #: ``scope | before -> after`` (plus ``#n`` for the n-th identical change in a scope)
    ident: str
    line: int
    #: position of the changed node in ``ast.walk`` order, and the operator's variant
    node_index: int
    variant: int


# A change point's effect on a freshly parsed tree (its parent map passed in).
_Apply = Callable[[ast.AST, dict[ast.AST, ast.AST]], None]
_OP_TEXT = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
    ast.And: "and", ast.Or: "or",
}  # fmt: skip


def _replace_child(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    """Put ``new`` where ``old`` is in ``parent``."""
    for name, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, name, new)
            return
        if isinstance(value, list):
            for i, v in enumerate(value):
                if v is old:
                    value[i] = new
                    return
    raise AssertionError("node not found in its parent")


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _docstring(node: ast.AST) -> ast.AST | None:
    body = getattr(node, "body", None)
    if (
        isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and isinstance(body, list)
        and body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[0]
    return None


def _skipped(tree: ast.Module) -> set[int]:
    """Ids of nodes no operator touches (docstrings, annotations, messages, ``__all__``
    and ``__slots__``)."""
    skip: set[int] = set()

    def drop(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        drop(_docstring(node))
        if isinstance(node, ast.arg | ast.AnnAssign):
            drop(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            drop(node.returns)
        elif isinstance(node, ast.Raise):
            skip.update(
                id(n)
                for n in ast.walk(node)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            )
        elif isinstance(node, ast.JoinedStr | ast.Import | ast.ImportFrom) or (
            isinstance(node, ast.Assign)
            and any(
                isinstance(t, ast.Name) and t.id in ("__all__", "__slots__") for t in node.targets
            )
        ):
            drop(node)
    for stmt in tree.body:
        # module-level type aliases (X = dict[str, int] | None) are annotations too
        if isinstance(stmt, ast.Assign) and _looks_like_type(stmt.value):
            drop(stmt)
    return skip


_TYPE_NAMES = {"dict", "list", "tuple", "set", "frozenset", "Callable", "type", "Mapping"}


def _looks_like_type(node: ast.AST) -> bool:
    if isinstance(node, ast.Subscript):
        base = node.value
        return isinstance(base, ast.Name) and base.id in _TYPE_NAMES
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        # a union of names (bytes | bytearray | memoryview): a type, not arithmetic on flags
        return all(_union_part(side) for side in (node.left, node.right))
    return False


def _union_part(node: ast.AST) -> bool:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _looks_like_type(node)
    if isinstance(node, ast.Constant):
        return node.value is None
    return isinstance(node, ast.Name | ast.Attribute | ast.Subscript)


def _tables(tree: ast.Module) -> dict[int, str]:
    """Ids of the literals assigned at module level -> the table's name.

    The literal itself, or the one a call wraps (``frozenset({...})``); not the literals
    nested inside (a key tuple of ``TRANSITIONS`` is not a table).
    """
    found: dict[int, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            continue
        if isinstance(value, ast.Call) and len(value.args) == 1:
            value = value.args[0]
        if isinstance(value, ast.Dict | ast.Set | ast.List | ast.Tuple):
            found[id(value)] = target.id if isinstance(target, ast.Name) else _short(target)
    return found


def _enum_members(tree: ast.Module) -> dict[str, list[str]]:
    """Base name -> sorted upper-case attributes used on it (``S.ACCEPTED``...)."""
    members: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.attr.isupper()
            and len(node.attr) > 1
        ):
            members.setdefault(node.value.id, set()).add(node.attr)
    return {base: sorted(attrs) for base, attrs in members.items() if len(attrs) > 1}


def _short(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _context(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str:
    """Text around a small node: its largest enclosing expression up to 60 characters, or
    its ``key: value`` entry when it sits in a dict literal."""
    ctx = node
    while True:
        parent = parents.get(ctx)
        if isinstance(parent, ast.Dict):
            i = next((i for i, v in enumerate(parent.values) if v is ctx), None)
            if i is None:
                i = next(i for i, k in enumerate(parent.keys) if k is ctx)
            key = parent.keys[i]
            return _short(ast.Dict(keys=[key], values=[parent.values[i]]))[1:-1]
        if isinstance(parent, ast.Assign | ast.AnnAssign | ast.Return | ast.Expr) and (
            len(_short(parent)) <= 60
        ):
            return _short(parent)  # a short statement names the change best: X = 14
        if (
            parent is None
            or not isinstance(parent, ast.expr)
            or isinstance(parent, ast.Set | ast.List | ast.Tuple | ast.Lambda)
            or len(_short(parent)) > 60
        ):
            return _short(ctx)
        ctx = parent


def _points(tree: ast.Module) -> Iterator[tuple[int, int, ast.AST, str, _Apply]]:
    """Yield (walk index, variant, node, description, apply) for each change point."""
    parents = _parents(tree)
    skip = _skipped(tree)
    tables = _tables(tree)
    enums = _enum_members(tree)
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skip:
            continue
        changes = _node_changes(node, parents, enums)
        table = tables.get(id(node))
        if table is not None:
            changes.extend(_deletions(node, table))
        for variant, (text, fn) in enumerate(changes):
            yield index, variant, node, text, fn


def _node_changes(
    node: ast.AST, parents: dict[ast.AST, ast.AST], enums: dict[str, list[str]]
) -> list[tuple[str, _Apply]]:
    out: list[tuple[str, _Apply]] = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            new = _CMP_SWAP.get(type(op))
            if new is not None:
                out.append((f"{_short(node)} | {_OP_TEXT[type(op)]} -> {_OP_TEXT[new]}",
                            _set_cmp(i, new)))  # fmt: skip
    elif isinstance(node, ast.BinOp | ast.AugAssign):
        new_op = _BIN_SWAP.get(type(node.op))
        if new_op is not None:
            old = _OP_TEXT[type(node.op)]
            out.append((f"{_short(node)} | {old} -> {_OP_TEXT[new_op]}", _set_op(new_op)))
        if isinstance(node, ast.AugAssign):
            out.append((f"{_short(node)} | {old}= -> =", _aug_to_assign))
    elif isinstance(node, ast.BoolOp):
        new_bool = ast.Or if isinstance(node.op, ast.And) else ast.And
        old = _OP_TEXT[type(node.op)]
        out.append((f"{_short(node)} | {old} -> {_OP_TEXT[new_bool]}", _set_op(new_bool)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub | ast.Invert):
        out.append((f"{_short(node)} | drop the unary operator", _unwrap_unary))
    elif isinstance(node, ast.If | ast.While | ast.IfExp):
        out.append((f"{_short(node.test)} | negate the condition", _negate_test))
    elif isinstance(node, ast.Break | ast.Continue):
        new_stmt = ast.Continue if isinstance(node, ast.Break) else ast.Break
        old_text, new_text = _short(node), "continue" if new_stmt is ast.Continue else "break"
        out.append((f"{old_text} -> {new_text}", _swap_stmt(new_stmt)))
    elif isinstance(node, ast.Constant):
        new_value = _constant_change(node.value)
        if new_value is not _NO_CHANGE:
            out.append((f"{_context(node, parents)} | {node.value!r} -> {new_value!r}",
                        _set_field("value", new_value)))  # fmt: skip
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        attrs = enums.get(node.value.id)
        if attrs is not None and node.attr in attrs:
            nxt = attrs[(attrs.index(node.attr) + 1) % len(attrs)]
            base = node.value.id
            out.append((f"{_context(node, parents)} | {base}.{node.attr} -> {base}.{nxt}",
                        _set_field("attr", nxt)))  # fmt: skip
    return out


_NO_CHANGE = object()


def _constant_change(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return "" if value else "X"
    if isinstance(value, bytes):
        return b"" if value else b"X"
    return _NO_CHANGE


def _deletions(node: ast.AST, table: str) -> list[tuple[str, _Apply]]:
    if isinstance(node, ast.Dict):
        entries = [
            f"{_short(k) if k is not None else '**'}: {_short(v)}"
            for k, v in zip(node.keys, node.values, strict=True)
        ]
    elif isinstance(node, ast.Set | ast.List | ast.Tuple):
        entries = [_short(e) for e in node.elts]
    else:
        return []
    return [(f"{table} | delete {e}", _delete_entry(i)) for i, e in enumerate(entries)]


def _set_cmp(i: int, new: type[ast.cmpop]) -> _Apply:
    def apply(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> None:
        assert isinstance(node, ast.Compare)
        node.ops[i] = new()

    return apply


def _set_op(new: type[ast.AST]) -> _Apply:
    def apply(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> None:
        node.op = new()  # type: ignore[attr-defined]

    return apply


def _set_field(field: str, value: object) -> _Apply:
    def apply(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> None:
        setattr(node, field, value)

    return apply


def _aug_to_assign(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> None:
    assert isinstance(node, ast.AugAssign)
    target = copy.deepcopy(node.target)
    target.ctx = ast.Store()
    _replace_child(parents[node], node, ast.Assign(targets=[target], value=node.value))


def _unwrap_unary(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> None:
    assert isinstance(node, ast.UnaryOp)
    _replace_child(parents[node], node, node.operand)


def _negate_test(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> None:
    assert isinstance(node, ast.If | ast.While | ast.IfExp)
    node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)


def _swap_stmt(new: type[ast.stmt]) -> _Apply:
    def apply(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> None:
        _replace_child(parents[node], node, new())

    return apply


def _delete_entry(i: int) -> _Apply:
    def apply(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> None:
        if isinstance(node, ast.Dict):
            del node.keys[i]
            del node.values[i]
            return
        assert isinstance(node, ast.Set | ast.List | ast.Tuple)
        del node.elts[i]
        if isinstance(node, ast.Set) and not node.elts:
            # there is no empty set literal: set() is what deleting the last entry means
            empty = ast.Call(func=ast.Name(id="set", ctx=ast.Load()), args=[], keywords=[])
            _replace_child(parents[node], node, empty)

    return apply


def _scope_names(tree: ast.Module) -> dict[int, str]:
    """Id of every node -> qualified name of the def/class holding it (``<module>`` else)."""
    scope: dict[int, str] = {}
    defs = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef

    def enter(node: ast.AST, name: str) -> None:
        scope[id(node)] = name
        if isinstance(node, defs):
            name = node.name if name == "<module>" else f"{name}.{node.name}"
        for child in ast.iter_child_nodes(node):
            enter(child, name)

    enter(tree, "<module>")
    return scope


def mutants(target: str, source: str, scopes: list[str] | None = None) -> list[Mutant]:
    """Return every mutant of ``source``; only inside ``scopes`` (qualified names) if given.

    ``<module>`` in ``scopes`` stands for module-level code (the tables).
    """
    tree = ast.parse(source)
    names = _scope_names(tree)
    out: list[Mutant] = []
    seen: dict[str, int] = {}
    for index, variant, node, text, _ in _points(tree):
        scope = names[id(node)]
        if scopes is not None and not any(scope == s or scope.startswith(s + ".") for s in scopes):
            continue
        ident = f"{scope} | {text}"
        count = seen.get(ident, 0) + 1
        seen[ident] = count
        if count > 1:
            ident = f"{ident} #{count}"
        out.append(Mutant(target, ident, getattr(node, "lineno", 0), index, variant))
    return out


def mutated_source(source: str, mutant: Mutant) -> str:
    """Return the source of ``mutant`` (unparsed: comments and layout are not kept)."""
    tree = ast.parse(source)
    for index, variant, node, _, fn in _points(tree):
        if (index, variant) == (mutant.node_index, mutant.variant):
            fn(node, _parents(tree))
            return ast.unparse(ast.fix_missing_locations(tree))
    raise KeyError(mutant.ident)

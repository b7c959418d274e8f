"""The evaluator's own expression tree, converted once from the ``promql_parser`` AST.

``promql_parser`` hands out a fresh Python copy of a subtree on every attribute read, so
walking its AST once per evaluation step would be slow; :func:`compile_expr` converts it
into plain slotted dataclasses (kept next to the parser's node, ``src``, which is what a
function's ``Call.exprs`` carries).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, TypeAlias

import promql_parser as pp

from tradewarden.promql._errors import QueryError
from tradewarden.series import METRIC_NAME, LabelMatcher, MatchOp

__all__ = [
    "AT_END",
    "AT_START",
    "Aggregate",
    "Binary",
    "FuncCall",
    "MatrixSel",
    "Node",
    "NumberLit",
    "StringLit",
    "Subquery",
    "Unary",
    "VectorSel",
    "compile_expr",
    "function_names",
    "metric_names",
    "parse",
    "selectors",
    "with_at",
]

Expr: TypeAlias = Any
"""A ``promql_parser`` expression (the package ships no type hints)."""

AT_START = "start"
AT_END = "end"
# An ``@`` modifier: a fixed time in ms, ``AT_START``/``AT_END``, or None.
At: TypeAlias = int | str | None

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)
_MATCH_OPS = {
    "MatchOp.Equal": MatchOp.EQUAL,
    "MatchOp.NotEqual": MatchOp.NOT_EQUAL,
    "MatchOp.Re": MatchOp.REGEX,
    "MatchOp.NotRe": MatchOp.NOT_REGEX,
}


@dataclass(slots=True, eq=False)
class VectorSel:
    """An instant vector selector; ``alternatives`` are the ``or``-ed matcher sets."""

    src: Expr
    name: str | None
    alternatives: tuple[tuple[LabelMatcher, ...], ...]
    offset_ms: int
    at: At


@dataclass(slots=True, eq=False)
class MatrixSel:
    """A range vector selector."""

    src: Expr
    vs: VectorSel
    range_ms: int


@dataclass(slots=True, eq=False)
class Subquery:
    """``expr[range:step]``; ``step_ms`` is None for the default resolution."""

    src: Expr
    expr: Node
    range_ms: int
    step_ms: int | None
    offset_ms: int
    at: At


@dataclass(slots=True, eq=False)
class NumberLit:
    """A number literal."""

    src: Expr
    value: float


@dataclass(slots=True, eq=False)
class StringLit:
    """A string literal."""

    src: Expr
    value: str


@dataclass(slots=True, eq=False)
class Unary:
    """Unary minus (the parser folds unary plus away)."""

    src: Expr
    expr: Node


@dataclass(slots=True, eq=False)
class Binary:
    """A binary operation with its vector matching."""

    src: Expr
    op: str
    lhs: Node
    rhs: Node
    return_bool: bool
    card: str  # "one-to-one", "many-to-one", "one-to-many", "many-to-many"
    on: bool
    matching: tuple[str, ...]
    include: tuple[str, ...]


@dataclass(slots=True, eq=False)
class Aggregate:
    """An aggregation; ``grouping`` is None without ``by``/``without``."""

    src: Expr
    op: str
    expr: Node
    param: Node | None
    without: bool
    grouping: tuple[str, ...]


@dataclass(slots=True, eq=False)
class FuncCall:
    """A function call."""

    src: Expr
    name: str
    args: list[Node] = field(default_factory=list)


Node: TypeAlias = (
    VectorSel | MatrixSel | Subquery | NumberLit | StringLit | Unary | Binary | Aggregate | FuncCall
)


@lru_cache(maxsize=4096)
def parse(query: str) -> Expr:
    """Parse a PromQL query with ``promql_parser`` (cached); a syntax error raises
    :class:`QueryError` with the parser's message."""
    try:
        return pp.parse(query)
    except ValueError as exc:
        raise QueryError(str(exc)) from None


_COMPILED: OrderedDict[int, tuple[Expr, Node]] = OrderedDict()
_COMPILED_MAX = 4096
_COMPILED_LOCK = threading.Lock()


def compile_expr(expr: Expr) -> Node:
    """The evaluator's tree for a parsed expression (cached per expression object)."""
    key = id(expr)
    with _COMPILED_LOCK:
        hit = _COMPILED.get(key)
        if hit is not None and hit[0] is expr:
            _COMPILED.move_to_end(key)
            return hit[1]
    node = _convert(expr)
    with _COMPILED_LOCK:
        _COMPILED[key] = (expr, node)  # holding expr keeps its id from being reused
        if len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    return node


def metric_names(expr: Expr | str) -> frozenset[str] | None:
    """The metric names an expression selects; None if a selector has no fixed
    ``__name__`` (for example ``{job="x"}`` or ``{__name__=~"a|b"}``)."""
    node = compile_expr(parse(expr) if isinstance(expr, str) else expr)
    names: set[str] = set()
    for sel in selectors(node):
        for matchers in sel.alternatives:
            fixed = [m.value for m in matchers if m.name == METRIC_NAME and m.op is MatchOp.EQUAL]
            if not fixed:
                return None
            names.add(fixed[0])
    return frozenset(names)


def series_matchers(expr: Expr | str) -> tuple[tuple[LabelMatcher, ...], ...] | None:
    """Every matcher set an expression selects with (one per selector and ``or``-ed
    alternative): a series none of them matches cannot change its result. None where
    :func:`metric_names` is None."""
    node = compile_expr(parse(expr) if isinstance(expr, str) else expr)
    found: list[tuple[LabelMatcher, ...]] = []
    for sel in selectors(node):
        for matchers in sel.alternatives:
            if not any(m.name == METRIC_NAME and m.op is MatchOp.EQUAL for m in matchers):
                return None
            found.append(tuple(matchers))
    return tuple(found)


def with_at(node: Node, at_ms: int) -> Node:  # noqa: PLR0911 - one return per node type
    """A copy of the tree with ``@ at_ms`` on every selector and subquery that has no
    ``@`` yet, leaving the inside of subqueries alone (Prometheus's test harness runs
    each instant eval that way too)."""
    if isinstance(node, VectorSel):
        return node if node.at is not None else replace(node, at=at_ms)
    if isinstance(node, MatrixSel):
        return node if node.vs.at is not None else replace(node, vs=replace(node.vs, at=at_ms))
    if isinstance(node, Subquery):
        return node if node.at is not None else replace(node, at=at_ms)
    if isinstance(node, Unary):
        return replace(node, expr=with_at(node.expr, at_ms))
    if isinstance(node, Binary):
        return replace(node, lhs=with_at(node.lhs, at_ms), rhs=with_at(node.rhs, at_ms))
    if isinstance(node, Aggregate):
        param = None if node.param is None else with_at(node.param, at_ms)
        return replace(node, expr=with_at(node.expr, at_ms), param=param)
    if isinstance(node, FuncCall):
        return replace(node, args=[with_at(a, at_ms) for a in node.args])
    return node


def function_names(node: Node) -> set[str]:
    """The names of every function a tree calls."""
    names: set[str] = set()
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, FuncCall):
            names.add(n.name)
            stack.extend(n.args)
        elif isinstance(n, Subquery | Unary):
            stack.append(n.expr)
        elif isinstance(n, Binary):
            stack.extend((n.lhs, n.rhs))
        elif isinstance(n, Aggregate):
            stack.append(n.expr)
            if n.param is not None:
                stack.append(n.param)
    return names


def selectors(node: Node) -> list[VectorSel]:
    """Every vector selector in a tree (those of matrix selectors included)."""
    out: list[VectorSel] = []
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, VectorSel):
            out.append(n)
        elif isinstance(n, MatrixSel):
            out.append(n.vs)
        elif isinstance(n, Subquery | Unary):
            stack.append(n.expr)
        elif isinstance(n, Binary):
            stack.extend((n.lhs, n.rhs))
        elif isinstance(n, Aggregate):
            stack.append(n.expr)
            if n.param is not None:
                stack.append(n.param)
        elif isinstance(n, FuncCall):
            stack.extend(n.args)
    return out


def _ms(delta: dt.timedelta | None) -> int:
    return 0 if delta is None else delta // _MS


def _at(at: Any) -> At:
    if at is None:
        return None
    kind = str(at.type)
    if kind.endswith("Start"):
        return AT_START
    if kind.endswith("End"):
        return AT_END
    try:
        when = at.at
    except BaseException:  # noqa: BLE001 - promql_parser panics on times before 1970
        raise QueryError("@ modifier times before 1970 are not supported") from None
    return int((when - _EPOCH) // _MS)


def _matcher(m: Any) -> LabelMatcher:
    op = _MATCH_OPS[str(m.op)]
    value = m.value
    if op in (MatchOp.REGEX, MatchOp.NOT_REGEX) and "(?" in value:
        value = re2_flags_to_python(value)
    try:
        return LabelMatcher(m.name, op, value)
    except re.error as exc:
        raise QueryError(f"invalid regular expression {m.value!r}: {exc}") from None


_FLAG_GROUP = re.compile(r"\(\?([a-zA-Z]*(?:-[a-zA-Z]+)?)\)")


def re2_flags_to_python(pattern: str) -> str:
    """Rewrite RE2's flag groups ``(?i)`` (valid anywhere, in force to the end of the
    enclosing group) as Python's scoped ``(?i:...)``; Python accepts global flags only at
    the very start, and the matcher anchors every pattern in a group."""
    out: list[str] = []
    extras = [0]  # per open group: how many scoped flag groups to close with it
    i = 0
    n = len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            out.append(pattern[i:j])
            i = j
            continue
        if c == "(":
            m = _FLAG_GROUP.match(pattern, i)
            if m:
                out.append(f"(?{m.group(1)}:")
                extras[-1] += 1
                i = m.end()
                continue
            extras.append(0)
        elif c == ")" and len(extras) > 1:
            out.append(")" * extras.pop())
        out.append(c)
        i += 1
    out.append(")" * extras[0])
    return "".join(out)


def _vector_sel(e: Any) -> VectorSel:
    name = e.name
    ms = e.matchers
    groups = [list(g) for g in ms.or_matchers] if ms.or_matchers else [list(ms.matchers)]
    alternatives: list[tuple[LabelMatcher, ...]] = []
    for group in groups:
        matchers = [_matcher(m) for m in group]
        if name is not None:
            matchers.insert(0, LabelMatcher(METRIC_NAME, MatchOp.EQUAL, name))
        alternatives.append(tuple(matchers))
    return VectorSel(e, name, tuple(alternatives), _ms(e.offset), _at(e.at))


def _convert(e: Any) -> Node:  # noqa: PLR0911 - one branch per node type
    kind = type(e).__name__
    if kind == "ParenExpr":
        return _convert(e.expr)
    if kind == "VectorSelector":
        return _vector_sel(e)
    if kind == "MatrixSelector":
        return MatrixSel(e, _vector_sel(e.vector_selector), _ms(e.range))
    if kind == "NumberLiteral":
        return NumberLit(e, float(e.val))
    if kind == "StringLiteral":
        return StringLit(e, str(e.val))
    if kind == "UnaryExpr":
        return Unary(e, _convert(e.expr))
    if kind == "SubqueryExpr":
        step = e.step
        return Subquery(
            e,
            _convert(e.expr),
            _ms(e.range),
            None if step is None or _ms(step) == 0 else _ms(step),
            _ms(e.offset),
            _at(e.at),
        )
    if kind == "BinaryExpr":
        return _binary(e)
    if kind == "AggregateExpr":
        mod = e.modifier
        param = e.param
        return Aggregate(
            e,
            str(e.op),
            _convert(e.expr),
            None if param is None else _convert(param),
            mod is not None and str(mod.type).endswith("Without"),
            () if mod is None else tuple(mod.labels),
        )
    if kind == "Call":
        return FuncCall(e, str(e.func.name), [_convert(a) for a in e.args])
    raise QueryError(f"unsupported expression type {kind}")


_CARDS = {
    "VectorMatchCardinality.OneToOne": "one-to-one",
    "VectorMatchCardinality.ManyToOne": "many-to-one",
    "VectorMatchCardinality.OneToMany": "one-to-many",
    "VectorMatchCardinality.ManyToMany": "many-to-many",
}


def _binary(e: Any) -> Binary:
    op = str(e.op)
    mod = e.modifier
    card = "many-to-many" if op in ("and", "or", "unless") else "one-to-one"
    on = False
    matching: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    return_bool = False
    if mod is not None:
        card = _CARDS[str(mod.card)]
        return_bool = bool(mod.return_bool)
        m = mod.matching
        if m is not None:
            on = str(m.type).endswith("Include")
            matching = tuple(m.labels)
        include = tuple(mod.group_labels or ())
    return Binary(e, op, _convert(e.lhs), _convert(e.rhs), return_bool, card, on, matching, include)

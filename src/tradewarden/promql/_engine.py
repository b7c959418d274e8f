"""The PromQL evaluator: instant and range queries over a :class:`Queryable`.

Every selector reads storage once per query, for the whole time span the query needs
(``_selectors``); each step then slices the series it needs by bisection. A range query
evaluates the expression at every step; subquery steps are memoised per query. Name
removal is delayed (see ``_values``): ``__name__`` leaves the results at the end of each
step, where a duplicate label set is an error, as in Prometheus 3.
"""

from __future__ import annotations

import dataclasses
import operator
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from operator import attrgetter
from typing import Any

from tradewarden.promql._aggregate import aggregate
from tradewarden.promql._ast import (
    Aggregate,
    Binary,
    Expr,
    FuncCall,
    MatrixSel,
    Node,
    NumberLit,
    StringLit,
    Subquery,
    Unary,
    VectorSel,
    compile_expr,
    function_names,
    parse,
)
from tradewarden.promql._binary import binary_op
from tradewarden.promql._errors import QueryError
from tradewarden.promql._functions import FUNCTIONS
from tradewarden.promql._positions import CallSite, format_position, scan_calls
from tradewarden.promql._selectors import Selections
from tradewarden.promql._values import (
    Annotations,
    Call,
    FunctionImpl,
    Matrix,
    RangeWindow,
    Sample,
    Scalar,
    Series,
    String,
    Value,
    Vector,
)
from tradewarden.series import METRIC_NAME, Labels, Queryable

__all__ = ["Compiled", "Engine", "QueryResult"]

_DEFAULT_SUBQUERY_STEP_MS = 60_000
_SORT_FUNCTIONS = frozenset({"sort", "sort_desc", "sort_by_label", "sort_by_label_desc"})
_ORDERING_FUNCTIONS = frozenset({"sort", "sort_desc"})
_ORDERING_AGGREGATIONS = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})
_DUPLICATE = "vector cannot contain metrics with the same labelset"
_DROP_NAME = attrgetter("drop_name")
_LABELS = attrgetter("labels")
_CALL_FIELDS = frozenset(f.name for f in dataclasses.fields(Call))
_HAS_POSITION = re.compile(r"\(\d+:\d+\)$")
_PARAM_MESSAGES = ("quantile value should be", "ratio value should be")


@dataclass(frozen=True)
class QueryResult:
    """A query's value and the warnings and infos it collected."""

    value: Value
    annotations: Annotations


class Engine:
    """Evaluates PromQL over a storage.

    ``lookback_delta_ms`` is how far back an instant selector looks for a sample (left-open,
    Prometheus 3); ``subquery_step_ms`` is the resolution of a subquery without a step
    (Prometheus uses the global evaluation interval, 1 m by default). ``max_samples``
    bounds the samples a query may read from storage and ``timeout_s`` its duration (both
    unbounded by default; the HTTP API should set them, as Prometheus's ``--query.*``
    flags do). An engine holds no per-query state: one engine can serve concurrent queries.
    """

    def __init__(
        self,
        storage: Queryable,
        *,
        lookback_delta_ms: int = 300_000,
        subquery_step_ms: int = _DEFAULT_SUBQUERY_STEP_MS,
        max_samples: int | None = None,
        timeout_s: float | None = None,
    ) -> None:
        if lookback_delta_ms <= 0:
            raise ValueError("lookback_delta_ms must be positive")
        if subquery_step_ms <= 0:
            raise ValueError("subquery_step_ms must be positive")
        self._storage = storage
        self._lookback = lookback_delta_ms
        self._subquery_step = subquery_step_ms
        self._max_samples = max_samples
        self._timeout_s = timeout_s

    def instant(self, query: str | Expr, t_ms: int) -> QueryResult:
        """Evaluate ``query`` at ``t_ms``."""
        text, node = _compile(query)
        ev = _Evaluator(self, text, node, t_ms, t_ms, 0)
        value = ev.run_instant()
        return QueryResult(value, ev.annotations)

    def range(self, query: str | Expr, start_ms: int, end_ms: int, step_ms: int) -> QueryResult:
        """Evaluate ``query`` at every step from ``start_ms`` to ``end_ms``."""
        if step_ms <= 0:
            raise QueryError("zero or negative query resolution step widths are not accepted")
        if end_ms < start_ms:
            raise QueryError("end timestamp must not be before start time")
        text, node = _compile(query)
        if isinstance(node, MatrixSel | Subquery):
            raise QueryError(
                'invalid expression type "range vector" for range query, must be Scalar or '
                "instant Vector"
            )
        if isinstance(node, StringLit):
            raise QueryError(
                'invalid expression type "string" for range query, must be Scalar or instant Vector'
            )
        ev = _Evaluator(self, text, node, start_ms, end_ms, step_ms)
        value = ev.run_range()
        return QueryResult(value, ev.annotations)


@dataclass(frozen=True)
class Compiled:
    """An expression already in the evaluator's form, with its text (for positions)."""

    text: str
    node: Node


def _compile(query: str | Expr) -> tuple[str, Node]:
    if isinstance(query, str):
        return query, compile_expr(parse(query))
    if isinstance(query, Compiled):
        return query.text, query.node
    return str(query), compile_expr(query)


def _drop_names(vec: Vector) -> Vector:
    """Remove ``__name__`` where flagged; a duplicate label set is an error."""
    if not any(map(_DROP_NAME, vec)):
        if len(set(map(_LABELS, vec))) != len(vec):
            raise QueryError(_DUPLICATE)
        return vec
    seen: set[Labels] = set()
    out = Vector()
    for s in vec:
        labels = s.labels
        if s.drop_name:
            labels = _without_name(labels)
        if labels in seen:
            raise QueryError(_DUPLICATE)
        seen.add(labels)
        out.append(Sample(labels, s.t, s.v) if s.drop_name else s)
    return out


def _without_name(labels: Labels) -> Labels:
    if labels and labels[0][0] == METRIC_NAME:  # sorted: "__name__" is first but for
        return tuple.__new__(Labels, labels[1:])  # names that start with an upper-case letter
    return labels.without_name()


class _Evaluator:
    """One query's evaluation state."""

    def __init__(  # noqa: PLR0917 - private, called from two places
        self, engine: Engine, text: str, node: Node, start: int, end: int, step: int
    ) -> None:
        self._sel = Selections(
            engine._storage,
            engine._lookback,
            start,
            end,
            engine._max_samples,
            sort=_order_sensitive(node),
        )
        self._sub_step = engine._subquery_step
        self._deadline = None if engine._timeout_s is None else time.monotonic() + engine._timeout_s
        self._text = text
        self._node = node
        self._start = start
        self._end = end
        self._is_range = step > 0 and end > start
        self.annotations = Annotations()
        self._subquery_memo: dict[tuple[int, int], Vector | Scalar] = {}
        self._sort_positions: list[int] = []
        self._sites: dict[int, CallSite] | None = None
        self._call_extra: dict[int, dict[str, Any]] = {}
        self._step = step
        self._dispatch: dict[type, Callable[[Any, int], Any]] = {
            VectorSel: self._sel.vector,
            NumberLit: lambda n, t: Scalar(t, n.value),
            StringLit: lambda n, t: String(t, n.value),
            Unary: self._unary,
            Binary: self._binary,
            Aggregate: self._aggregate,
            FuncCall: self._call,
            MatrixSel: self._matrix_top,
            Subquery: self._subquery_top,
        }
        self._sel.plan(node, start, end)

    # -- top level ---------------------------------------------------------------------

    def run_instant(self) -> Value:
        t = self._start
        value = self._eval(self._node, t)
        self._warn_sort()
        if isinstance(value, Vector):
            return _drop_names(value)
        if isinstance(value, Matrix):
            return self._finish_matrix(value)
        if isinstance(value, Scalar | String):
            return value
        raise QueryError(f"unexpected result type {type(value).__name__}")

    def run_range(self) -> Matrix:
        points: dict[Labels, tuple[list[int], list[float]]] = {}
        for t in range(self._start, self._end + 1, self._step):
            if self._deadline is not None and time.monotonic() >= self._deadline:
                raise QueryError("query timed out in query execution")
            value = self._eval(self._node, t)
            if isinstance(value, Scalar):
                vec = Vector([Sample(Labels(), t, value.v)])
            elif isinstance(value, Vector):
                vec = _drop_names(value)
            else:
                raise QueryError(
                    f"invalid expression type {type(value).__name__!r} for range query, "
                    "must be Scalar or instant Vector"
                )
            for s in vec:
                pts = points.get(s.labels)
                if pts is None:
                    points[s.labels] = ([t], [s.v])
                else:
                    pts[0].append(t)
                    pts[1].append(s.v)
        self._warn_sort()
        return Matrix(Series(k, *points[k]) for k in sorted(points))

    def _finish_matrix(self, m: Matrix) -> Matrix:
        out: dict[Labels, Series] = {}
        for s in m:
            labels = _without_name(s.labels) if s.drop_name else s.labels
            if labels in out:
                raise QueryError(_DUPLICATE)
            out[labels] = Series(labels, list(s.ts), list(s.vs))  # results hold lists
        return Matrix(out[k] for k in sorted(out))

    def _warn_sort(self) -> None:
        if not self._is_range:
            return
        for pos in self._sort_positions:
            self.annotations.warn(
                "PromQL warning: sort is ineffective for range queries since results are "
                f"always ordered by labels ({format_position(self._text, pos)})"
            )

    # -- evaluation ----------------------------------------------------------------------

    def _eval(self, n: Node, t: int) -> Any:
        return self._dispatch[type(n)](n, t)

    def _subquery_window(self, n: Subquery, t: int) -> RangeWindow:
        ref = self._sel.ref(n.at, n.offset_ms, t)
        step = n.step_ms or self._sub_step
        lo_t = ref - n.range_ms
        first = (lo_t // step + 1) * step
        points: dict[Labels, tuple[list[int], list[float], list[bool]]] = {}
        memo = self._subquery_memo
        key = id(n)
        for ti in range(first, ref + 1, step):
            value = memo.get((key, ti))
            if value is None:
                if self._deadline is not None and time.monotonic() >= self._deadline:
                    raise QueryError("query timed out in query execution")
                value = self._eval(n.expr, ti)
                if isinstance(value, String | Matrix):
                    raise QueryError("subquery is only allowed on instant vector or scalar")
                memo[(key, ti)] = value
            if isinstance(value, Scalar):
                samples: Vector = Vector([Sample(Labels(), ti, value.v)])
            else:
                samples = value
            for s in samples:
                pts = points.get(s.labels)
                if pts is None:
                    points[s.labels] = ([ti], [s.v], [s.drop_name])
                else:
                    pts[0].append(ti)
                    pts[1].append(s.v)
                    pts[2][0] = pts[2][0] or s.drop_name
        series = Matrix(Series(k, ts, vs, drop[0]) for k, (ts, vs, drop) in points.items())
        return RangeWindow(series, lo_t, ref, n.range_ms)

    def _matrix_top(self, n: MatrixSel, t: int) -> Matrix:
        return self._sel.window(n, t).series

    def _subquery_top(self, n: Subquery, t: int) -> Matrix:
        return self._subquery_window(n, t).series

    def _unary(self, n: Unary, t: int) -> Vector | Scalar:
        value = self._eval(n.expr, t)
        if isinstance(value, Scalar):
            return Scalar(t, -value.v)
        if isinstance(value, Vector):
            return Vector(Sample(s.labels, s.t, -s.v, True) for s in value)
        raise QueryError("unary expression only allowed on expressions of type scalar or vector")

    def _binary(self, n: Binary, t: int) -> Vector | Scalar:
        lhs = self._prefiltered_lhs(n, t)
        if lhs is None:
            lhs = self._eval(n.lhs, t)
        if n.op == "and" and isinstance(lhs, Vector) and not lhs:
            return Vector()
        rhs = self._eval(n.rhs, t)
        if not isinstance(lhs, Vector | Scalar) or not isinstance(rhs, Vector | Scalar):
            raise QueryError("binary expression must contain only scalar and instant vector types")
        return binary_op(n, lhs, rhs, t)

    def _prefiltered_lhs(self, n: Binary, t: int) -> Vector | Scalar | None:
        """For ``<selector or range function> <comparison> <number>``, the left side
        without the samples the comparison drops (it still runs, on fewer samples)."""
        keep = _prefilter(n)
        if keep is None:
            return None
        lhs = n.lhs
        if isinstance(lhs, FuncCall):
            return self._call(lhs, t, keep=keep)
        if isinstance(lhs, VectorSel):
            return self._sel.vector(lhs, t, keep=keep)
        return None

    def _aggregate(self, n: Aggregate, t: int) -> Vector:
        param = None if n.param is None else self._eval(n.param, t)
        vec = self._eval(n.expr, t)
        if not isinstance(vec, Vector):
            raise QueryError(f"expected type instant vector in aggregation expression {n.op}")
        ann = self.annotations
        nw, ni = len(ann.warnings), len(ann.infos)
        out = aggregate(n, vec, param, t, ann)
        if len(ann.warnings) != nw or len(ann.infos) != ni:
            self._position_annotations(n, [param, vec] if n.param is not None else [vec], nw, ni)
        return out

    # -- annotation positions ------------------------------------------------------------

    def _site(self, node: FuncCall | Aggregate) -> CallSite | None:
        if self._sites is None:
            found = scan_calls(self._text)
            counters: dict[str, int] = {}
            self._sites = {}
            for call in _calls_in_order(self._node):
                name = (call.name if isinstance(call, FuncCall) else call.op).lower()
                k = counters.get(name, 0)
                counters[name] = k + 1
                candidates = found.get(name, [])
                if k < len(candidates):
                    self._sites[id(call)] = candidates[k]
        return self._sites.get(id(node))

    def _position_annotations(
        self, node: FuncCall | Aggregate, values: list[Any], nw: int, ni: int
    ) -> None:
        """Give the annotations a call just added the position Prometheus reports: the
        scalar argument's for a bad quantile or ratio, else the first vector argument's."""
        site = self._site(node)
        if site is None:
            return
        ann = self.annotations
        for messages, start in ((ann.warnings, nw), (ann.infos, ni)):
            added = messages[start:]
            del messages[start:]
            for message in added:
                text = message
                if not _HAS_POSITION.search(message):
                    offset = _argument_offset(site, values, message)
                    text = f"{message} ({format_position(self._text, offset)})"
                if text not in messages:
                    messages.append(text)

    def _call(
        self, n: FuncCall, t: int, *, keep: Callable[[float], bool] | None = None
    ) -> Vector | Scalar:
        name = n.name
        impl = FUNCTIONS.get(name)
        if impl is None:
            raise QueryError(f"unknown function {name}")
        if name in _SORT_FUNCTIONS and self._is_range:
            site = self._site(n)
            pos = 0 if site is None else site.start
            if pos not in self._sort_positions:
                self._sort_positions.append(pos)
        args: list[Value | RangeWindow] = []
        for arg in n.args:
            if isinstance(arg, MatrixSel):
                args.append(self._sel.window(arg, t))
            elif isinstance(arg, Subquery):
                args.append(self._subquery_window(arg, t))
            elif isinstance(arg, VectorSel) and name == "timestamp":
                args.append(self._sel.vector(arg, t, own_t=True))
            else:
                args.append(self._eval(arg, t))
        exprs = [a.src for a in n.args]
        ann = self.annotations
        nw, ni = len(ann.warnings), len(ann.infos)
        out = self._invoke(impl, n, t, args, exprs, keep=keep)
        if len(ann.warnings) != nw or len(ann.infos) != ni:
            self._position_annotations(n, args, nw, ni)
        return out

    def _invoke(
        self,
        impl: FunctionImpl,
        n: FuncCall,
        t: int,
        args: list[Value | RangeWindow],
        exprs: list[Any],
        *,
        keep: Callable[[float], bool] | None,
    ) -> Vector | Scalar:
        extra = self._call_extra.get(id(n))
        if extra is None:
            extra = {}
            if self._step:
                extra.update(
                    query_start_ms=self._start, query_end_ms=self._end, query_step_ms=self._step
                )
            if "arg_positions" in _CALL_FIELDS:
                site = self._site(n)
                if site is not None:
                    extra["arg_positions"] = tuple(
                        format_position(self._text, a) for a in site.args
                    )
            self._call_extra[id(n)] = extra
        return impl(Call(n.name, t, args, exprs, self.annotations, keep=keep, **extra))


# ``v <op> c`` as a call of a C function: ``c <mirrored op> v``.
_MIRRORED = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.lt,
    "<": operator.gt,
    ">=": operator.le,
    "<=": operator.ge,
}
_PREFILTER_FUNCTIONS = frozenset(
    {
        "rate",
        "increase",
        "delta",
        "irate",
        "idelta",
        "deriv",
        "predict_linear",
        "changes",
        "resets",
        "avg_over_time",
        "sum_over_time",
        "count_over_time",
        "min_over_time",
        "max_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "last_over_time",
        "quantile_over_time",
    }
)


def _prefilter(n: Binary) -> Callable[[float], bool] | None:
    """For ``<selector or range function> <comparison> <number>`` (no ``bool``), the test
    a sample's value must pass to survive the comparison; else None."""
    if n.return_bool or n.op not in _MIRRORED:
        return None
    lhs, rhs = n.lhs, n.rhs
    if not isinstance(rhs, NumberLit):
        return None
    if isinstance(lhs, VectorSel) or (
        isinstance(lhs, FuncCall) and lhs.name in _PREFILTER_FUNCTIONS
    ):
        return partial(_MIRRORED[n.op], rhs.value)
    return None


def _order_sensitive(node: Node) -> bool:
    """Whether an instant result's order, or ties in it, depend on the input order."""
    if function_names(node) & _ORDERING_FUNCTIONS:
        return True
    return any(
        call.op in _ORDERING_AGGREGATIONS
        for call in _calls_in_order(node)
        if isinstance(call, Aggregate)
    )


def _argument_offset(site: CallSite, values: list[Any], message: str) -> int:
    want_scalar = any(p in message for p in _PARAM_MESSAGES)
    for k, value in enumerate(values):
        if k >= len(site.args):
            break
        if isinstance(value, Scalar) == want_scalar and not isinstance(value, String):
            return site.args[k]
    return site.start


def _calls_in_order(node: Node) -> list[FuncCall | Aggregate]:
    """Calls and aggregations in pre-order, which is their order in the query text."""
    out: list[FuncCall | Aggregate] = []

    def walk(n: Node) -> None:
        if isinstance(n, FuncCall):
            out.append(n)
            for arg in n.args:
                walk(arg)
        elif isinstance(n, Aggregate):
            out.append(n)
            if n.param is not None:
                walk(n.param)
            walk(n.expr)
        elif isinstance(n, Binary):
            walk(n.lhs)
            walk(n.rhs)
        elif isinstance(n, Unary | Subquery):
            walk(n.expr)

    walk(node)
    return out

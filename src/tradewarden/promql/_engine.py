"""The PromQL evaluator: instant and range queries over a :class:`Queryable`.

Every selector reads storage once per query, for the whole time span the query needs
(planned before evaluation); each step then slices the series it needs by bisection.
A range query evaluates the expression at every step; subquery steps are memoised per
query. Name removal is delayed (see ``_values``): ``__name__`` leaves the results at the
end of each step, where a duplicate label set is an error, as in Prometheus 3.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from tradewarden.promql._aggregate import aggregate
from tradewarden.promql._ast import (
    AT_END,
    AT_START,
    Aggregate,
    At,
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
    parse,
)
from tradewarden.promql._binary import binary_op
from tradewarden.promql._errors import QueryError
from tradewarden.promql._functions import FUNCTIONS
from tradewarden.promql._positions import CallSite, format_position, scan_calls
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
from tradewarden.series import METRIC_NAME, Labels, Queryable, is_stale

__all__ = ["Compiled", "Engine", "QueryResult"]

_DEFAULT_SUBQUERY_STEP_MS = 60_000
_SORT_FUNCTIONS = frozenset({"sort", "sort_desc", "sort_by_label", "sort_by_label_desc"})
_DUPLICATE = "vector cannot contain metrics with the same labelset"
_TOO_MANY_SAMPLES = "query processing would load too many samples into memory in query execution"
_DROP_NAME = attrgetter("drop_name")
_LABELS = attrgetter("labels")
_CALL_FIELDS = frozenset(f.name for f in dataclasses.fields(Call))
_HAS_POSITION = re.compile(r"\(\d+:\d+\)$")
_PARAM_MESSAGES = ("quantile value should be", "ratio value should be")

# One selected series: labels, timestamps, values (lists, or the store's arrays).
_Buf = tuple[Labels, Any, Any]


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


def _as_list(seq: Any) -> list[Any]:
    if type(seq) is list:
        return seq
    tolist = getattr(seq, "tolist", None)
    return tolist() if tolist is not None else list(seq)


class _Evaluator:
    """One query's evaluation state."""

    def __init__(  # noqa: PLR0917 - private, called from two places
        self, engine: Engine, text: str, node: Node, start: int, end: int, step: int
    ) -> None:
        self._storage = engine._storage
        self._lookback = engine._lookback
        self._sub_step = engine._subquery_step
        self._budget = engine._max_samples
        self._deadline = None if engine._timeout_s is None else time.monotonic() + engine._timeout_s
        self._text = text
        self._node = node
        self._start = start
        self._end = end
        self._is_range = step > 0 and end > start
        self.annotations = Annotations()
        self._spans: dict[int, list[int]] = {}
        self._selected: dict[int, list[_Buf]] = {}
        self._selected_by_matchers: dict[tuple[Any, ...], list[_Buf]] = {}
        self._subquery_memo: dict[tuple[int, int], Vector | Scalar] = {}
        self._sort_positions: list[int] = []
        self._sites: dict[int, CallSite] | None = None
        self._call_extra: dict[int, dict[str, Any]] = {}
        self._step = step
        self._dispatch: dict[type, Callable[[Any, int], Any]] = {
            VectorSel: self._vector,
            NumberLit: lambda n, t: Scalar(t, n.value),
            StringLit: lambda n, t: String(t, n.value),
            Unary: self._unary,
            Binary: self._binary,
            Aggregate: self._aggregate,
            FuncCall: self._call,
            MatrixSel: self._matrix_top,
            Subquery: self._subquery_top,
        }
        self._plan(node, start, end)

    # -- planning: which time span each selector needs ---------------------------------

    def _at(self, at: At, lo: int, hi: int) -> tuple[int, int]:
        if at is None:
            return lo, hi
        if at == AT_START:
            return self._start, self._start
        if at == AT_END:
            return self._end, self._end
        return int(at), int(at)

    def _need(self, sel: VectorSel, lo: int, hi: int) -> None:
        span = self._spans.get(id(sel))
        if span is None:
            self._spans[id(sel)] = [lo, hi]
        else:
            span[0] = min(span[0], lo)
            span[1] = max(span[1], hi)

    def _plan(self, n: Node, lo: int, hi: int) -> None:
        # Lookback and range windows are left-open: the +1 leaves out the boundary.
        if isinstance(n, VectorSel):
            a, b = self._at(n.at, lo, hi)
            self._need(n, a - n.offset_ms - self._lookback + 1, b - n.offset_ms)
        elif isinstance(n, MatrixSel):
            a, b = self._at(n.vs.at, lo, hi)
            self._need(n.vs, a - n.vs.offset_ms - n.range_ms + 1, b - n.vs.offset_ms)
        elif isinstance(n, Subquery):
            a, b = self._at(n.at, lo, hi)
            self._plan(n.expr, a - n.offset_ms - n.range_ms, b - n.offset_ms)
        elif isinstance(n, Unary):
            self._plan(n.expr, lo, hi)
        elif isinstance(n, Binary):
            self._plan(n.lhs, lo, hi)
            self._plan(n.rhs, lo, hi)
        elif isinstance(n, Aggregate):
            self._plan(n.expr, lo, hi)
            if n.param is not None:
                self._plan(n.param, lo, hi)
        elif isinstance(n, FuncCall):
            for arg in n.args:
                self._plan(arg, lo, hi)

    def _select(self, sel: VectorSel, *, drop_stale: bool) -> list[_Buf]:
        key = id(sel)
        bufs = self._selected.get(key)
        if bufs is not None:
            return bufs
        lo, hi = self._spans[key]
        same = (sel.alternatives, lo, hi, drop_stale)  # the same selector twice: read once
        bufs = self._selected_by_matchers.get(same)
        if bufs is not None:
            self._selected[key] = bufs
            return bufs
        seen: set[Labels] = set()
        several = len(sel.alternatives) > 1
        bufs = []
        for matchers in sel.alternatives:
            for data in self._storage.select(matchers, lo, hi):
                if several:
                    if data.labels in seen:
                        continue
                    seen.add(data.labels)
                ts: Any = data.timestamps
                vs: Any = data.values
                if drop_stale:  # range selectors ignore stale markers: drop them once
                    ts = _as_list(ts)
                    vs = _as_list(vs)
                    if math.isnan(sum(vs)):  # any NaN (or +Inf and -Inf)
                        keep = [i for i, v in enumerate(vs) if not is_stale(v)]
                        ts = [ts[i] for i in keep]
                        vs = [vs[i] for i in keep]
                if len(ts) > 0:
                    bufs.append((data.labels, ts, vs))
                    if self._budget is not None:
                        self._budget -= len(ts)
                        if self._budget < 0:
                            raise QueryError(_TOO_MANY_SAMPLES)
        # Storage order is kept (sorting 1,000 unsorted label sets costs ~1 ms): range
        # results are sorted at the end, and limitk sorts its groups itself.
        self._selected[key] = bufs
        self._selected_by_matchers[same] = bufs
        return bufs

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
        series: dict[Labels, Series] = {}
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
                ser = series.get(s.labels)
                if ser is None:
                    series[s.labels] = Series(s.labels, [t], [s.v])
                else:
                    ser.ts.append(t)
                    ser.vs.append(s.v)
        self._warn_sort()
        return Matrix(series[k] for k in sorted(series))

    def _finish_matrix(self, m: Matrix) -> Matrix:
        out: dict[Labels, Series] = {}
        for s in m:
            labels = _without_name(s.labels) if s.drop_name else s.labels
            if labels in out:
                raise QueryError(_DUPLICATE)
            out[labels] = Series(labels, s.ts, s.vs)
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

    def _ref(self, at: At, offset: int, t: int) -> int:
        if at is None:
            return t - offset
        if at == AT_START:
            return self._start - offset
        if at == AT_END:
            return self._end - offset
        return int(at) - offset

    def _vector(self, n: VectorSel, t: int, *, own_t: bool = False) -> Vector:
        ref = self._ref(n.at, n.offset_ms, t)
        floor = ref - self._lookback
        out = Vector()
        for labels, ts, vs in self._select(n, drop_stale=False):
            i = len(ts) - 1
            if ts[i] > ref:  # not the usual instant query, whose selection ends at ref
                i = bisect_right(ts, ref) - 1
                if i < 0:
                    continue
            if ts[i] <= floor:
                continue
            v = vs[i]
            if math.isnan(v) and is_stale(v):
                continue
            out.append(Sample(labels, ts[i] if own_t else t, v))
        return out

    def _window(self, n: MatrixSel, t: int) -> RangeWindow:
        vs = n.vs
        ref = self._ref(vs.at, vs.offset_ms, t)
        lo_t = ref - n.range_ms
        series = Matrix()
        for labels, ts, vals in self._select(vs, drop_stale=True):
            if ts[0] > lo_t and ts[-1] <= ref:  # the usual instant query: all of it
                series.append(Series(labels, ts, vals))
                continue
            lo = bisect_right(ts, lo_t)
            hi = bisect_right(ts, ref)
            if lo < hi:
                series.append(Series(labels, ts[lo:hi], vals[lo:hi]))
        return RangeWindow(series, lo_t, ref, n.range_ms)

    def _subquery_window(self, n: Subquery, t: int) -> RangeWindow:
        ref = self._ref(n.at, n.offset_ms, t)
        step = n.step_ms or self._sub_step
        lo_t = ref - n.range_ms
        first = (lo_t // step + 1) * step
        series: dict[Labels, Series] = {}
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
                ser = series.get(s.labels)
                if ser is None:
                    series[s.labels] = Series(s.labels, [ti], [s.v], s.drop_name)
                else:
                    ser.ts.append(ti)
                    ser.vs.append(s.v)
                    ser.drop_name = ser.drop_name or s.drop_name
        return RangeWindow(Matrix(series.values()), lo_t, ref, n.range_ms)

    def _matrix_top(self, n: MatrixSel, t: int) -> Matrix:
        return self._window(n, t).series

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
        lhs = self._eval(n.lhs, t)
        if n.op == "and" and isinstance(lhs, Vector) and not lhs:
            return Vector()
        rhs = self._eval(n.rhs, t)
        if not isinstance(lhs, Vector | Scalar) or not isinstance(rhs, Vector | Scalar):
            raise QueryError("binary expression must contain only scalar and instant vector types")
        return binary_op(n, lhs, rhs, t)

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

    def _call(self, n: FuncCall, t: int) -> Vector | Scalar:
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
                args.append(self._window(arg, t))
            elif isinstance(arg, Subquery):
                args.append(self._subquery_window(arg, t))
            elif isinstance(arg, VectorSel) and name == "timestamp":
                args.append(self._vector(arg, t, own_t=True))
            else:
                args.append(self._eval(arg, t))
        exprs = [a.src for a in n.args]
        ann = self.annotations
        nw, ni = len(ann.warnings), len(ann.infos)
        out = self._invoke(impl, n, t, args, exprs)
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
        return impl(Call(n.name, t, args, exprs, self.annotations, **extra))


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

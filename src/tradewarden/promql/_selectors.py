"""What one query reads from storage: the span each selector needs is planned before
evaluation, every selector reads storage once for it, and each step slices the series by
bisection (instant selectors with lookback and stale markers, range selectors left-open
with stale markers removed)."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from math import isnan
from operator import itemgetter
from typing import Any

from tradewarden.promql._ast import (
    AT_END,
    AT_START,
    Aggregate,
    At,
    Binary,
    FuncCall,
    MatrixSel,
    Node,
    Subquery,
    Unary,
    VectorSel,
)
from tradewarden.promql._errors import QueryError
from tradewarden.promql._values import Matrix, RangeWindow, Sample, Series, Vector
from tradewarden.series import Labels, Queryable, is_stale

__all__ = ["TOO_MANY_SAMPLES", "Selections"]

TOO_MANY_SAMPLES = "query processing would load too many samples into memory in query execution"

# One selected series: labels, timestamps, values (lists, or the store's arrays for an
# instant selector), and for a range selector the whole series as a ``Series`` (shared by
# every window that covers all of it: functions never modify their argument).
_Buf = tuple[Labels, Any, Any, Series | None]
_BUF_LABELS = itemgetter(0)


def _as_list(seq: Any) -> list[Any]:
    if type(seq) is list:
        return seq
    tolist = getattr(seq, "tolist", None)
    return tolist() if tolist is not None else list(seq)


def _range_buf(labels: Labels, ts: Any, vs: Any) -> _Buf | None:
    """A range selector's series as lists without stale markers, and as a ``Series``
    ready for a window that covers all of it; None when nothing is left."""
    ts = ts.tolist() if type(ts) is array else _as_list(ts)
    vs = vs.tolist() if type(vs) is array else _as_list(vs)
    if isnan(sum(vs)):  # any NaN (or +Inf and -Inf)
        keep = [i for i, v in enumerate(vs) if not is_stale(v)]
        if len(keep) < len(vs):
            ts = [ts[i] for i in keep]
            vs = [vs[i] for i in keep]
            if not ts:
                return None
    return (labels, ts, vs, Series(labels, ts, vs))


class Selections:
    """The selections of one query (``start``/``end`` resolve ``@ start()``/``end()``;
    ``sort``: series in label order, as Prometheus's storage returns them)."""

    def __init__(
        self,
        storage: Queryable,
        lookback_ms: int,
        start: int,
        end: int,
        max_samples: int | None,
        *,
        sort: bool,
    ) -> None:
        self._storage = storage
        self._sort = sort
        self._lookback = lookback_ms
        self._start = start
        self._end = end
        self._budget = max_samples
        self._spans: dict[int, list[int]] = {}
        self._selected: dict[int, list[_Buf]] = {}
        self._selected_by_matchers: dict[tuple[Any, ...], list[_Buf]] = {}

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

    def plan(self, n: Node, lo: int, hi: int) -> None:
        """Record the spans the selectors under ``n`` need, evaluated from ``lo`` to ``hi``."""
        # Lookback and range windows are left-open: the +1 leaves out the boundary.
        if isinstance(n, VectorSel):
            a, b = self._at(n.at, lo, hi)
            self._need(n, a - n.offset_ms - self._lookback + 1, b - n.offset_ms)
        elif isinstance(n, MatrixSel):
            a, b = self._at(n.vs.at, lo, hi)
            self._need(n.vs, a - n.vs.offset_ms - n.range_ms + 1, b - n.vs.offset_ms)
        elif isinstance(n, Subquery):
            a, b = self._at(n.at, lo, hi)
            self.plan(n.expr, a - n.offset_ms - n.range_ms, b - n.offset_ms)
        elif isinstance(n, Unary):
            self.plan(n.expr, lo, hi)
        elif isinstance(n, Binary):
            self.plan(n.lhs, lo, hi)
            self.plan(n.rhs, lo, hi)
        elif isinstance(n, Aggregate):
            self.plan(n.expr, lo, hi)
            if n.param is not None:
                self.plan(n.param, lo, hi)
        elif isinstance(n, FuncCall):
            for arg in n.args:
                self.plan(arg, lo, hi)

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
        bufs = self._read(sel, lo, hi, drop_stale=drop_stale)
        self._selected[key] = bufs
        self._selected_by_matchers[same] = bufs
        return bufs

    def _read(self, sel: VectorSel, lo: int, hi: int, *, drop_stale: bool) -> list[_Buf]:
        seen: set[Labels] = set()
        several = len(sel.alternatives) > 1
        bufs: list[_Buf] = []
        append = bufs.append
        budget = self._budget
        for matchers in sel.alternatives:
            for data in self._storage.select(matchers, lo, hi):
                labels = data.labels
                if several:
                    if labels in seen:
                        continue
                    seen.add(labels)
                ts: Any = data.timestamps
                vs: Any = data.values
                if not ts:
                    continue
                if drop_stale:  # range selectors ignore stale markers: drop them once
                    buf = _range_buf(labels, ts, vs)
                    if buf is None:
                        continue
                    append(buf)
                    ts = buf[1]
                else:
                    append((labels, ts, vs, None))
                if budget is not None:
                    budget -= len(ts)
                    if budget < 0:
                        raise QueryError(TOO_MANY_SAMPLES)
        self._budget = budget
        # Prometheus's storage returns series sorted by labels. Sorting 1,000 unsorted
        # label sets costs ~1 ms, so only queries whose result depends on the order
        # (ties in sort/topk/...) pay for it; range results are sorted at the end anyway.
        if self._sort:
            bufs.sort(key=_BUF_LABELS)  # by labels (unique)
        return bufs

    def ref(self, at: At, offset: int, t: int) -> int:
        """The time a selector or subquery with ``at`` and ``offset`` reads at step ``t``."""
        if at is None:
            return t - offset
        if at == AT_START:
            return self._start - offset
        if at == AT_END:
            return self._end - offset
        return int(at) - offset

    def vector(self, n: VectorSel, t: int, *, own_t: bool = False) -> Vector:
        """An instant selector at step ``t`` (``own_t``: samples keep their own time)."""
        ref = self.ref(n.at, n.offset_ms, t)
        floor = ref - self._lookback
        out = Vector()
        append = out.append
        for labels, ts, vs, _ in self._select(n, drop_stale=False):
            i = len(ts) - 1
            ti = ts[i]
            if ti > ref:  # not the usual instant query, whose selection ends at ref
                i = bisect_right(ts, ref) - 1
                if i < 0:
                    continue
                ti = ts[i]
            if ti <= floor:
                continue
            v = vs[i]
            if isnan(v) and is_stale(v):
                continue
            append(Sample(labels, ti if own_t else t, v))
        return out

    def window(self, n: MatrixSel, t: int) -> RangeWindow:
        """A range selector's window at step ``t``."""
        vs = n.vs
        ref = self.ref(vs.at, vs.offset_ms, t)
        lo_t = ref - n.range_ms
        series = Matrix()
        append = series.append
        for labels, ts, vals, whole in self._select(vs, drop_stale=True):
            if ts[0] > lo_t and ts[-1] <= ref and whole:  # the usual instant query: all of it
                append(whole)
                continue
            lo = bisect_right(ts, lo_t)
            hi = bisect_right(ts, ref)
            if lo < hi:
                append(Series(labels, ts[lo:hi], vals[lo:hi]))
        return RangeWindow(series, lo_t, ref, n.range_ms)

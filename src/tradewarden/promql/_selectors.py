"""What one query reads from storage: the span each selector needs is planned before
evaluation, every selector reads storage once for it, and each step slices the series by
bisection (instant selectors with lookback and stale markers, range selectors left-open
with stale markers removed)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from itertools import compress
from math import isnan
from operator import attrgetter
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
from tradewarden.series import Labels, Queryable, SeriesData, is_stale

__all__ = ["TOO_MANY_SAMPLES", "Selections"]

TOO_MANY_SAMPLES = "query processing would load too many samples into memory in query execution"
_LABELS = attrgetter("labels")


class _Selected:
    """One selector's series, read once per query, with few objects per series (the
    garbage collector visits every container that lives through a query, and its full
    collections, over the whole store, are what such objects trigger).

    An instant selector keeps parallel lists: labels, and the store's timestamps and
    values; read at one time only (``last_at``: an instant query), just each series' last
    timestamp and value (plain numbers, which the collector ignores). A range selector
    keeps a ``Series`` each (stale markers removed), handed as it is to every window that
    covers all of it (functions never modify their argument).
    """

    __slots__ = ("labels", "last_at", "max_last", "min_first", "series", "ts", "vs")

    def __init__(self, last_at: int | None) -> None:
        self.last_at = last_at
        self.labels: list[Labels] = []
        self.ts: list[Any] = []
        self.vs: list[Any] = []
        self.series: list[Series] = []
        self.min_first = 2**63
        self.max_last = -(2**63)


def _without_stale(
    ts: tuple[int, ...], vs: tuple[float, ...]
) -> tuple[tuple[int, ...], tuple[float, ...]] | None:
    """``ts`` and ``vs`` without stale markers; None when nothing is left."""
    keep = [i for i, v in enumerate(vs) if not is_stale(v)]
    if len(keep) == len(vs):
        return ts, vs
    if not keep:
        return None
    return tuple([ts[i] for i in keep]), tuple([vs[i] for i in keep])


# The three ways to keep a selection, each one loop over the store's series; each returns
# how many samples it read (the query's sample budget counts them all).


def _read_ranges(out: _Selected, found: Iterable[SeriesData]) -> int:
    # Tuples, not lists: the collector stops tracking a tuple of numbers at its first
    # collection, so a query's windows do not pile up in its oldest generation (and
    # trigger full collections over the whole store).
    # Series scraped together have the same timestamps: they share one tuple (fewer
    # objects, and deriv/predict_linear find their x side by it).
    read = 0
    first, last = out.min_first, out.max_last
    append = out.series.append
    shared: dict[tuple[int, ...], tuple[int, ...]] = {}
    share = shared.setdefault
    for data in found:
        if not data.timestamps:
            continue
        ts = tuple(data.timestamps)
        ts = share(ts, ts)
        vs = tuple(data.values)
        if isnan(sum(vs)):  # any NaN (or +Inf and -Inf): maybe stale markers to drop
            kept = _without_stale(ts, vs)
            if kept is None:
                continue
            ts, vs = kept
        append(Series(data.labels, ts, vs))
        read += len(ts)
        if ts[0] < first:  # noqa: PLR1730 - no call per series
            first = ts[0]
        if ts[-1] > last:  # noqa: PLR1730
            last = ts[-1]
    out.min_first, out.max_last = first, last
    return read


def _read_last(out: _Selected, found: Iterable[SeriesData], lo: int, hi: int) -> int:
    read = 0
    labels, ts_out, vs_out = out.labels, out.ts, out.vs
    for data in found:
        ts = data.timestamps
        n = len(ts)
        if not n:
            continue
        read += n
        i = n - 1
        if ts[i] > hi:  # a store returns only [lo, hi]; this does not rely on it
            i = bisect_right(ts, hi) - 1
        if i < 0 or ts[i] < lo:
            continue
        labels.append(data.labels)
        ts_out.append(ts[i])
        vs_out.append(data.values[i])
    return read


def _read_all(out: _Selected, found: Iterable[SeriesData]) -> int:
    read = 0
    for data in found:
        ts = data.timestamps
        if ts:
            read += len(ts)
            out.labels.append(data.labels)
            out.ts.append(ts)
            out.vs.append(data.values)
    return read


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
        self._selected: dict[int, _Selected] = {}
        self._selected_by_matchers: dict[tuple[Any, ...], _Selected] = {}

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

    def _select(self, sel: VectorSel, *, drop_stale: bool) -> _Selected:
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
        # An instant selector read at one time only needs each series' last sample.
        one_time = not drop_stale and hi - lo + 1 == self._lookback
        bufs = self._read(sel, lo, hi, drop_stale=drop_stale, last_at=hi if one_time else None)
        self._selected[key] = bufs
        self._selected_by_matchers[same] = bufs
        return bufs

    def _read(
        self, sel: VectorSel, lo: int, hi: int, *, drop_stale: bool, last_at: int | None
    ) -> _Selected:
        out = _Selected(last_at)
        found = self._storage_series(sel, lo, hi)
        if drop_stale:
            read = _read_ranges(out, found)
        elif last_at is not None:
            read = _read_last(out, found, lo, hi)
        else:
            read = _read_all(out, found)
        if self._budget is not None:
            self._budget -= read
            if self._budget < 0:
                raise QueryError(TOO_MANY_SAMPLES)
        # Prometheus's storage returns series sorted by labels. Sorting 1,000 unsorted
        # label sets costs ~1 ms, so only queries whose result depends on the order
        # (ties in sort/topk/...) pay for it; range results are sorted at the end anyway.
        if self._sort:
            out.series.sort(key=_LABELS)  # by labels (unique)
            order = sorted(range(len(out.labels)), key=out.labels.__getitem__)
            out.labels = [out.labels[i] for i in order]
            out.ts = [out.ts[i] for i in order]
            out.vs = [out.vs[i] for i in order]
        return out

    def _storage_series(self, sel: VectorSel, lo: int, hi: int) -> Iterator[SeriesData]:
        """The store's series for every alternative of ``sel``, each label set once."""
        if len(sel.alternatives) == 1:
            yield from self._storage.select(sel.alternatives[0], lo, hi)
            return
        seen: set[Labels] = set()
        for matchers in sel.alternatives:
            for data in self._storage.select(matchers, lo, hi):
                if data.labels not in seen:
                    seen.add(data.labels)
                    yield data

    def ref(self, at: At, offset: int, t: int) -> int:
        """The time a selector or subquery with ``at`` and ``offset`` reads at step ``t``."""
        if at is None:
            return t - offset
        if at == AT_START:
            return self._start - offset
        if at == AT_END:
            return self._end - offset
        return int(at) - offset

    def vector(
        self,
        n: VectorSel,
        t: int,
        *,
        own_t: bool = False,
        keep: Callable[[float], bool] | None = None,
    ) -> Vector:
        """An instant selector at step ``t`` (``own_t``: samples keep their own time;
        ``keep``: only the samples whose value it accepts, for a comparison that filters
        the result anyway)."""
        ref = self.ref(n.at, n.offset_ms, t)
        floor = ref - self._lookback
        out = Vector()
        append = out.append
        selected = self._select(n, drop_stale=False)
        if selected.last_at is not None:
            if selected.last_at == ref:
                return self._vector_at_last(selected, t, own_t=own_t, keep=keep)
            # Not the time planned (never, when the plan is right): read it all again.
            lo, hi = self._spans[id(n)]
            selected = self._read(n, lo, hi, drop_stale=False, last_at=None)
        for labels, ts, vs in zip(selected.labels, selected.ts, selected.vs, strict=True):
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
            if keep is None or keep(v):
                append(Sample(labels, ti if own_t else t, v))
        return out

    def _vector_at_last(
        self,
        selected: _Selected,
        t: int,
        *,
        own_t: bool,
        keep: Callable[[float], bool] | None,
    ) -> Vector:
        # Every sample read lies in the lookback window: each series' last one is the value.
        # A comparison's test first, in C (it drops most); then the stale markers.
        found: Iterable[tuple[Labels, int, float]] = zip(
            selected.labels, selected.ts, selected.vs, strict=True
        )
        if keep is not None:
            found = compress(found, map(keep, selected.vs))
        out = Vector()
        append = out.append
        for labels, ti, v in found:
            if isnan(v) and is_stale(v):
                continue
            append(Sample(labels, ti if own_t else t, v))
        return out

    def window(self, n: MatrixSel, t: int) -> RangeWindow:
        """A range selector's window at step ``t``."""
        vs = n.vs
        ref = self.ref(vs.at, vs.offset_ms, t)
        lo_t = ref - n.range_ms
        selected = self._select(vs, drop_stale=True)
        if selected.min_first > lo_t and selected.max_last <= ref:
            # The usual instant query: every series whole.
            return RangeWindow(Matrix(selected.series), lo_t, ref, n.range_ms)
        series = Matrix()
        append = series.append
        for s in selected.series:
            ts = s.ts
            if ts[0] > lo_t and ts[-1] <= ref:
                append(s)
                continue
            lo = bisect_right(ts, lo_t)
            hi = bisect_right(ts, ref)
            if lo < hi:
                append(Series(s.labels, ts[lo:hi], s.vs[lo:hi]))
        return RangeWindow(series, lo_t, ref, n.range_ms)

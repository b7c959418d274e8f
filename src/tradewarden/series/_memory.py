"""A plain in-memory :class:`Queryable`: the reference the compact store is tested
against, and the storage of the PromQL conformance harness's ``load`` blocks."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence

from tradewarden.series._labels import LabelMatcher, Labels
from tradewarden.series._ports import SeriesData

__all__ = ["ListStorage"]


class ListStorage:
    """Series kept as two Python lists each; linear matching (small data only)."""

    def __init__(self) -> None:
        self._series: dict[Labels, tuple[list[int], list[float]]] = {}

    def append(self, labels: Labels, t_ms: int, value: float) -> None:
        """Add a sample; out of order or duplicate timestamps are dropped."""
        ts, vs = self._series.setdefault(labels, ([], []))
        if ts and t_ms <= ts[-1]:
            return
        ts.append(t_ms)
        vs.append(value)

    def clear(self) -> None:
        """Drop everything."""
        self._series.clear()

    def select(
        self, matchers: Sequence[LabelMatcher], start_ms: int, end_ms: int
    ) -> Iterator[SeriesData]:
        """See :class:`tradewarden.series.Queryable`."""
        for labels, (ts, vs) in self._series.items():
            if all(m.matches(labels.get(m.name)) for m in matchers):
                lo, hi = bisect_left(ts, start_ms), bisect_right(ts, end_ms)
                if lo < hi:
                    yield SeriesData(labels, ts[lo:hi], vs[lo:hi])

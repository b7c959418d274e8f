"""``histogram_quantile``, ``histogram_quantiles`` and ``histogram_fraction`` over classic
``le`` buckets, and the native-histogram accessors (which find no native histogram in a
float-only store and so return nothing)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from tradewarden.promql._errors import QueryError
from tradewarden.promql._fn_common import (
    at_arg,
    bad_bucket_label_warning,
    format_openmetrics_float,
    go_div,
    invalid_quantile_warning,
    monotonicity_info,
    scalar_arg,
    string_arg,
    vector_arg,
)
from tradewarden.promql._values import Call, FunctionImpl, Sample, Vector
from tradewarden.series import Labels

__all__ = ["HISTOGRAM_FUNCTIONS", "bucket_fraction", "bucket_quantile"]

_BUCKET_LABEL = "le"
_SMALL_DELTA_TOLERANCE = 1e-12
_MIN_NORMAL = 2.2250738585072014e-308  # math.Float64frombits(0x0010000000000000)


@dataclass(slots=True)
class _Histogram:
    labels: Labels  # the buckets' labels without ``le``
    buckets: list[tuple[float, float]] = field(default_factory=list)  # (upper bound, count)


def _parse_le(text: str) -> float | None:
    # Go's strconv.ParseFloat: no surrounding blanks and no digit separators, which
    # Python's float() would accept.
    if not text or text != text.strip() or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        try:
            return float.fromhex(text)
        except ValueError:
            return None


def _group(call: Call, index: int) -> list[_Histogram]:
    groups: dict[Labels, _Histogram] = {}
    for s in vector_arg(call, index):
        le = s.labels.get(_BUCKET_LABEL)
        upper = _parse_le(le)
        if upper is None:
            message = bad_bucket_label_warning(s.labels.metric_name, le)
            call.annotations.warn(message + at_arg(call, index))
            continue
        key = s.labels.without((_BUCKET_LABEL,))
        histogram = groups.get(key)
        if histogram is None:
            histogram = groups[key] = _Histogram(key)
        histogram.buckets.append((upper, s.v))
    return list(groups.values())


def _coalesced(buckets: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    ordered = sorted(buckets, key=lambda b: b[0])
    uppers: list[float] = []
    counts: list[float] = []
    for upper, count in ordered:
        if uppers and uppers[-1] == upper:
            counts[-1] += count
        else:
            uppers.append(upper)
            counts.append(count)
    return uppers, counts


def _almost_equal(a: float, b: float, epsilon: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < epsilon * _MIN_NORMAL
    return diff / min(abs_sum, 1.7976931348623157e308) < epsilon


def _make_monotonic(counts: list[float]) -> bool:
    # Drop decreases between buckets (reported) and float noise (silently).
    forced = False
    prev = counts[0]
    for i in range(1, len(counts)):
        curr = counts[i]
        if curr == prev:
            continue
        if _almost_equal(prev, curr, _SMALL_DELTA_TOLERANCE):
            counts[i] = prev
            continue
        if curr < prev:
            counts[i] = prev
            forced = True
            continue
        prev = curr
    return forced


def bucket_quantile(  # noqa: PLR0911 - one return per special case, as in Prometheus
    q: float, buckets: Sequence[tuple[float, float]]
) -> tuple[float, bool]:
    """The ``q``-quantile of classic ``(upper bound, cumulative count)`` buckets, and
    whether the counts had to be made monotonic (Prometheus's ``BucketQuantile``)."""
    if math.isnan(q):
        return math.nan, False
    if q < 0:
        return -math.inf, False
    if q > 1:
        return math.inf, False
    uppers, counts = _coalesced(buckets)
    if not uppers or not math.isinf(uppers[-1]) or uppers[-1] < 0:
        return math.nan, False
    forced = _make_monotonic(counts)
    if len(uppers) < 2:
        return math.nan, False
    observations = counts[-1]
    if observations == 0:
        return math.nan, False
    rank = q * observations
    last = len(uppers) - 1
    b = next((i for i in range(last) if counts[i] >= rank), last)
    if b == last:
        return uppers[-2], forced
    if b == 0 and uppers[0] <= 0:
        return uppers[0], forced
    start = 0.0
    end = uppers[b]
    count = counts[b]
    if b > 0:
        start = uppers[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * go_div(rank, count), forced


def bucket_fraction(lower: float, upper: float, buckets: Sequence[tuple[float, float]]) -> float:
    """The fraction of observations between ``lower`` and ``upper`` in classic buckets.

    Linear interpolation inside a bucket; the lowest bucket starts at 0 when its upper
    bound is positive; an unbounded bucket (below the lowest bound, or ``+Inf``) holds
    its observations at its infinite end, so it is counted only in full.
    """
    uppers, counts = _coalesced(buckets)
    if not uppers or not math.isinf(uppers[-1]) or uppers[-1] < 0:
        return math.nan
    total = counts[-1]
    if total == 0 or math.isnan(lower) or math.isnan(upper):
        return math.nan
    if lower >= upper:
        return 0.0
    rank = 0.0
    lower_rank: float | None = None
    upper_rank: float | None = None
    for i, (ub, count) in enumerate(zip(uppers, counts, strict=True)):
        lb = uppers[i - 1] if i > 0 else (0.0 if ub > 0 else -math.inf)
        if lower_rank is None and lb >= lower:
            lower_rank = rank
        if upper_rank is None and lb >= upper:
            upper_rank = rank
        if lower_rank is not None and upper_rank is not None:
            break
        if lower_rank is None and lb < lower < ub:
            lower_rank = _rank_at(lower, lb, ub, rank, count)
        if upper_rank is None and lb < upper < ub:
            upper_rank = _rank_at(upper, lb, ub, rank, count)
        if lower_rank is not None and upper_rank is not None:
            break
        rank = count
    if lower_rank is None or lower_rank > total:
        lower_rank = total
    if upper_rank is None or upper_rank > total:
        upper_rank = total
    return (upper_rank - lower_rank) / total


def _rank_at(v: float, lb: float, ub: float, rank: float, count: float) -> float:
    if math.isinf(lb):
        return count
    if math.isinf(ub):
        return rank
    return rank + (count - rank) * (v - lb) / (ub - lb)


def _check_quantile(call: Call, index: int) -> float:
    q = scalar_arg(call, index)
    if math.isnan(q) or q < 0 or q > 1:
        call.annotations.warn(invalid_quantile_warning(q) + at_arg(call, index))
    return q


def _histogram_quantile(call: Call) -> Vector:
    q = _check_quantile(call, 0)
    t = call.t
    out = Vector()
    for histogram in _group(call, 1):
        value, forced = bucket_quantile(q, histogram.buckets)
        if forced:
            message = monotonicity_info(histogram.labels.metric_name)
            call.annotations.info(message + at_arg(call, 1))
        out.append(Sample(histogram.labels, t, value, True))
    return out


def _histogram_quantiles(call: Call) -> Vector:
    label = string_arg(call, 1)
    qs = [_check_quantile(call, i) for i in range(2, len(call.args))]
    histograms = _group(call, 0)
    t = call.t
    out = Vector()
    seen: set[Labels] = set()
    for q in qs:
        q_text = format_openmetrics_float(q)
        for histogram in histograms:
            value, forced = bucket_quantile(q, histogram.buckets)
            if forced:
                message = monotonicity_info(histogram.labels.metric_name)
                call.annotations.info(message + at_arg(call, 0))
            labels = histogram.labels.set(label, q_text)
            if labels in seen:
                raise QueryError("vector cannot contain metrics with the same labelset")
            seen.add(labels)
            out.append(Sample(labels, t, value, True))
    return out


def _histogram_fraction(call: Call) -> Vector:
    lower = scalar_arg(call, 0)
    upper = scalar_arg(call, 1)
    t = call.t
    return Vector(
        Sample(h.labels, t, bucket_fraction(lower, upper, h.buckets), True) for h in _group(call, 2)
    )


def _native_only(call: Call) -> Vector:  # noqa: ARG001 - the contract passes the call
    # These read native histogram samples; float samples give no result (Prometheus).
    return Vector()


HISTOGRAM_FUNCTIONS: dict[str, FunctionImpl] = {
    "histogram_quantile": _histogram_quantile,
    "histogram_quantiles": _histogram_quantiles,
    "histogram_fraction": _histogram_fraction,
    "histogram_count": _native_only,
    "histogram_sum": _native_only,
    "histogram_avg": _native_only,
    "histogram_stddev": _native_only,
    "histogram_stdvar": _native_only,
}

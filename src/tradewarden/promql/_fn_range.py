"""Functions over a range vector: ``rate`` and its family, ``*_over_time``, ``deriv``,
``predict_linear``, ``changes``, ``resets``, ``double_exponential_smoothing``.

Each gets one :class:`RangeWindow` per step and returns one sample per series of it
(Prometheus calls its functions series by series; the result is the same).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import islice, repeat
from math import isfinite, isnan
from operator import ne

from tradewarden.promql._errors import QueryError
from tradewarden.promql._fn_common import (
    at_arg,
    go_div,
    invalid_quantile_warning,
    kahan_inc,
    possible_non_counter_info,
    quantile,
    scalar_arg,
    window_arg,
)
from tradewarden.promql._fn_labels import absent_labels
from tradewarden.promql._values import Call, FunctionImpl, RangeWindow, Sample, Series, Vector
from tradewarden.series import METRIC_NAME

__all__ = ["RANGE_FUNCTIONS"]

# One series of the window (points oldest first) -> the value, or None for no sample.
SeriesFn = Callable[[Series], "float | None"]
VectorFn = Callable[[Call], Vector]

_COUNTER_SUFFIXES = ("_total", "_sum", "_count", "_bucket")


def _apply(call: Call, window: RangeWindow, fn: SeriesFn, *, keep_name: bool = False) -> Vector:
    t = call.t
    keep = call.keep
    out = Vector()
    append = out.append
    for s in window.series:
        if not s.ts:
            continue
        v = fn(s)
        if v is not None and (keep is None or keep(v)):
            append(Sample(s.labels, t, v, s.drop_name if keep_name else True))
    return out


def _over_series(fn: SeriesFn, *, keep_name: bool = False) -> VectorFn:
    def impl(call: Call) -> Vector:
        return _apply(call, window_arg(call, 0), fn, keep_name=keep_name)

    return impl


def _extrapolated(is_counter: bool, is_rate: bool) -> VectorFn:
    def impl(call: Call) -> Vector:
        window = window_arg(call, 0)
        t = call.t
        keep = call.keep
        start_ms, end_ms, range_s = window.start_ms, window.end_ms, window.range_ms / 1000
        out = Vector()
        append = out.append
        for s in window.series:
            # Prometheus's extrapolatedRate, written out in the loop (no call per series).
            ts, vs = s.ts, s.vs
            n = len(ts)
            if n < 2:
                continue
            first_t, last_t = ts[0], ts[-1]
            first_v = vs[0]
            result = vs[-1] - first_v
            if is_counter:
                prev = first_v
                for v in vs:
                    if v < prev:
                        result += prev
                    prev = v
            to_start = (first_t - start_ms) / 1000
            to_end = (end_ms - last_t) / 1000
            sampled = (last_t - first_t) / 1000
            average = sampled / (n - 1)
            threshold = average * 1.1
            if to_start >= threshold:
                to_start = average / 2
            if is_counter and result > 0 and first_v >= 0:
                # A counter cannot go below zero: extrapolate at most to where it was 0.
                to_zero = sampled * (first_v / result)
                if to_zero < to_start:  # noqa: PLR1730 - min(), without the call
                    to_start = to_zero
            if to_end >= threshold:
                to_end = average / 2
            factor = (sampled + to_start + to_end) / sampled
            if is_rate:
                factor /= range_s
            v = result * factor
            if keep is None or keep(v):
                append(Sample(s.labels, t, v, True))
        return out

    return impl


def _counter_rate(inner: VectorFn) -> VectorFn:
    def impl(call: Call) -> Vector:
        out = inner(call)
        # The series with a result (two points or more), also those a comparison drops
        # (call.keep); the info is added once per name anyway.
        checked: set[str] = set()
        for s in window_arg(call, 0).series:
            if len(s.ts) < 2:
                continue
            labels = s.labels
            named = labels and labels[0][0] == METRIC_NAME
            metric = labels[0][1] if named else labels.metric_name
            if metric in checked:
                continue
            checked.add(metric)
            if metric and not metric.endswith(_COUNTER_SUFFIXES):
                call.annotations.info(possible_non_counter_info(metric) + at_arg(call, 0))
        return out

    return impl


def _instant_value(is_rate: bool) -> SeriesFn:
    def fn(series: Series) -> float | None:
        ts, vs = series.ts, series.vs
        if len(ts) < 2:
            return None
        interval = ts[-1] - ts[-2]
        if interval == 0:
            return None
        last, prev = vs[-1], vs[-2]
        # A counter reset leaves the last value itself as the increase.
        result = last if is_rate and last < prev else last - prev
        if is_rate:
            result /= interval / 1000
        return result

    return fn


# A window's x side of the regression: the x values, their compensated sum and sum of
# squares. It depends only on the timestamps (and the intercept time): series scraped
# together share it, so one call works it out once per distinct set of timestamps.
_XSums = tuple[tuple[float, ...], float, float]


def _x_sums(ts: Sequence[int], intercept_ms: int) -> _XSums | None:
    xs = tuple([(t - intercept_ms) / 1e3 for t in ts])
    sx = cx = sx2 = cx2 = 0.0
    for x in xs:
        for_x2 = x * x
        new = sx + x
        if abs(sx) >= abs(x):
            cx += (sx - new) + x
        else:
            cx += (x - new) + sx
        sx = new
        new = sx2 + for_x2
        if abs(sx2) >= abs(for_x2):
            cx2 += (sx2 - new) + for_x2
        else:
            cx2 += (for_x2 - new) + sx2
        sx2 = new
    if not isfinite(sx + cx + sx2 + cx2):
        return None
    return xs, sx + cx, sx2 + cx2


def _linear_regression(
    ts: Sequence[int],
    vs: Sequence[float],
    intercept_ms: int,
    cache: dict[tuple[int, ...], _XSums] | None = None,
) -> tuple[float, float]:
    # Least squares with Kahan-compensated sums, as Prometheus's linearRegression; each of
    # the four sums is its own sequence of additions, so the x sums can come from the
    # cache. These loops leave out the compensation's reset on an infinite sum: a sum
    # that reaches ±Inf never comes back (Inf, or NaN after -Inf), so finite sums at the
    # end mean the reset never happened and the result is the careful loop's, bit for bit.
    key = ts if cache is not None and type(ts) is tuple else None
    xsums = None if key is None or cache is None else cache.get(key)
    if xsums is None:
        xsums = _x_sums(ts, intercept_ms)
        if xsums is None:
            return _linear_regression_careful(ts, vs, intercept_ms)
        if key is not None and cache is not None:
            cache[key] = xsums
    xs, sx, sx2 = xsums
    sy = cy = sxy = cxy = 0.0
    for x, v in zip(xs, vs, strict=True):
        for_xy = x * v
        new = sy + v
        if abs(sy) >= abs(v):
            cy += (sy - new) + v
        else:
            cy += (v - new) + sy
        sy = new
        new = sxy + for_xy
        if abs(sxy) >= abs(for_xy):
            cxy += (sxy - new) + for_xy
        else:
            cxy += (for_xy - new) + sxy
        sxy = new
    if not isfinite(sy + cy + sxy + cxy):
        return _linear_regression_careful(ts, vs, intercept_ms)
    init_y = vs[0]
    if not any(map(ne, islice(vs, 1, None), repeat(init_y))):  # constant
        return 0.0, init_y
    n = float(len(ts))
    sy += cy
    sxy += cxy
    cov_xy = sxy - sx * sy / n
    var_x = sx2 - sx * sx / n
    slope = go_div(cov_xy, var_x)
    intercept = sy / n - slope * sx / n
    return slope, intercept


def _linear_regression_careful(  # noqa: PLR0912, PLR0915 - four Kahan sums written out
    ts: Sequence[int], vs: Sequence[float], intercept_ms: int
) -> tuple[float, float]:
    # Least squares with Kahan-compensated sums, as Prometheus's linearRegression; the
    # four compensated additions are written out (this runs for every series and step).
    isinf = math.isinf
    n = 0.0
    sx = cx = sy = cy = sxy = cxy = sx2 = cx2 = 0.0
    init_y = vs[0]
    const_y = True
    for i, (t, v) in enumerate(zip(ts, vs, strict=True)):
        if const_y and i > 0 and v != init_y:  # NaN != NaN: a NaN start is not constant
            const_y = False
        n += 1.0
        x = (t - intercept_ms) / 1e3
        for_xy = x * v
        for_x2 = x * x
        new = sx + x
        if isinf(new):
            cx = 0.0
        elif abs(sx) >= abs(x):
            cx += (sx - new) + x
        else:
            cx += (x - new) + sx
        sx = new
        new = sy + v
        if isinf(new):
            cy = 0.0
        elif abs(sy) >= abs(v):
            cy += (sy - new) + v
        else:
            cy += (v - new) + sy
        sy = new
        new = sxy + for_xy
        if isinf(new):
            cxy = 0.0
        elif abs(sxy) >= abs(for_xy):
            cxy += (sxy - new) + for_xy
        else:
            cxy += (for_xy - new) + sxy
        sxy = new
        new = sx2 + for_x2
        if isinf(new):
            cx2 = 0.0
        elif abs(sx2) >= abs(for_x2):
            cx2 += (sx2 - new) + for_x2
        else:
            cx2 += (for_x2 - new) + sx2
        sx2 = new
    if const_y:
        if isinf(init_y):
            return math.nan, math.nan
        return 0.0, init_y
    sx += cx
    sy += cy
    sxy += cxy
    sx2 += cx2
    cov_xy = sxy - sx * sy / n
    var_x = sx2 - sx * sx / n
    slope = go_div(cov_xy, var_x)
    intercept = sy / n - slope * sx / n
    return slope, intercept


def _deriv(call: Call) -> Vector:
    cache: dict[tuple[int, ...], _XSums] = {}

    def fn(series: Series) -> float | None:
        if len(series.ts) < 2:
            return None
        slope, _ = _linear_regression(series.ts, series.vs, series.ts[0], cache)
        return slope

    return _apply(call, window_arg(call, 0), fn)


def _predict_linear(call: Call) -> Vector:
    duration = scalar_arg(call, 1)
    cache: dict[tuple[int, ...], _XSums] = {}

    def fn(series: Series) -> float | None:
        if len(series.ts) < 2:
            return None
        slope, intercept = _linear_regression(series.ts, series.vs, call.t, cache)
        return slope * duration + intercept

    return _apply(call, window_arg(call, 0), fn)


def _double_exponential_smoothing(call: Call) -> Vector:
    sf = scalar_arg(call, 1)
    tf = scalar_arg(call, 2)
    window = window_arg(call, 0)
    if not window.series:  # Prometheus checks the factors only when it has a series
        return Vector()
    if not 0 < sf < 1:
        raise QueryError(f"invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:f}")
    if not 0 < tf < 1:
        raise QueryError(f"invalid trend factor. Expected: 0 < tf < 1, got: {tf:f}")

    def fn(series: Series) -> float | None:
        vs = series.vs
        n = len(vs)
        if n < 2:
            return None
        s0 = 0.0
        s1 = vs[0]
        b = vs[1] - vs[0]
        for i in range(1, n):
            x = sf * vs[i]
            if i > 1:  # the trend at step i-1 (Prometheus's calcTrendValue)
                b = tf * (s1 - s0) + (1 - tf) * b
            y = (1 - sf) * (s1 + b)
            s0, s1 = s1, x + y
        return s1

    return _apply(call, window, fn)


def _kahan_sum(vs: Sequence[float]) -> tuple[float, float, bool]:
    # kahan_inc over vs, written out for speed; also says whether a running sum overflowed.
    # First without the reset on an infinite sum (see _linear_regression): finite at the
    # end means no reset happened.
    total = comp = 0.0
    for v in vs:
        new = total + v
        if abs(total) >= abs(v):
            comp += (total - new) + v
        else:
            comp += (v - new) + total
        total = new
    if isfinite(total + comp):
        return total, comp, False
    return _kahan_sum_careful(vs)


def _kahan_sum_careful(vs: Sequence[float]) -> tuple[float, float, bool]:
    isinf = math.isinf
    total = comp = 0.0
    overflowed = False
    for v in vs:
        new = total + v
        if isinf(new):
            comp = 0.0
            overflowed = True
        elif abs(total) >= abs(v):
            comp += (total - new) + v
        else:
            comp += (v - new) + total
        total = new
    return total, comp, overflowed


def _avg(series: Series) -> float | None:
    vs = series.vs
    total, comp, overflowed = _kahan_sum(vs)
    if not overflowed:
        count = float(len(vs))
        return total / count + comp / count
    return _avg_incremental(vs)


def _avg_incremental(vs: Sequence[float]) -> float:
    # Direct mean with Kahan summation, switching to an incremental mean once the running
    # sum would overflow (Prometheus's funcAvgOverTime, step by step).
    total, count = vs[0], 1.0
    mean = comp = 0.0
    incremental = False
    for i in range(1, len(vs)):
        v = vs[i]
        count = float(i + 1)
        if not incremental:
            new_sum, new_c = kahan_inc(v, total, comp)
            if not math.isinf(new_sum):
                total, comp = new_sum, new_c
                continue
            incremental = True
            mean = total / (count - 1)
            comp /= count - 1
        q = (count - 1) / count
        mean, comp = kahan_inc(v / count, q * mean, q * comp)
    if incremental:
        return mean + comp
    return total / count + comp / count


def _sum(series: Series) -> float | None:
    total, comp, _ = _kahan_sum(series.vs)
    return total if math.isinf(total) else total + comp


def _count(series: Series) -> float | None:
    vs = series.vs
    return float(len(vs))


def _pick(
    better: Callable[[float, float], bool],
    *,
    timestamp: bool,
    builtin: Callable[[Sequence[float]], float] | None = None,
) -> SeriesFn:
    def fn(series: Series) -> float | None:
        if builtin is not None and not isnan(sum(series.vs)):
            # No NaN: min/max keep the first extreme, as the strict comparison does.
            return builtin(series.vs)
        ts, vs = series.ts, series.vs
        best, best_t = vs[0], ts[0]
        for t, v in zip(ts, vs, strict=True):
            if better(v, best) or math.isnan(best):
                best, best_t = v, t
        return best_t / 1000 if timestamp else best

    return fn


def _last(series: Series) -> float | None:
    vs = series.vs
    return vs[-1]


def _first(series: Series) -> float | None:
    vs = series.vs
    return vs[0]


def _ts_of_last(series: Series) -> float | None:
    return series.ts[-1] / 1000


def _ts_of_first(series: Series) -> float | None:
    return series.ts[0] / 1000


def _variance(vs: Sequence[float]) -> float:
    # kahan_inc written out, without the reset on an infinite sum first (see
    # _linear_regression: finite at the end means no reset happened).
    count = mean = c_mean = aux = c_aux = 0.0
    for v in vs:
        count += 1
        delta = v - (mean + c_mean)
        inc = delta / count
        new = mean + inc
        if abs(mean) >= abs(inc):
            c_mean += (mean - new) + inc
        else:
            c_mean += (inc - new) + mean
        mean = new
        inc = delta * (v - (mean + c_mean))
        new = aux + inc
        if abs(aux) >= abs(inc):
            c_aux += (aux - new) + inc
        else:
            c_aux += (inc - new) + aux
        aux = new
    if isfinite(mean + c_mean + aux + c_aux):
        return (aux + c_aux) / count
    return _variance_careful(vs)


def _variance_careful(vs: Sequence[float]) -> float:
    count = mean = c_mean = aux = c_aux = 0.0
    for v in vs:
        count += 1
        delta = v - (mean + c_mean)
        mean, c_mean = kahan_inc(delta / count, mean, c_mean)
        aux, c_aux = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux)
    return (aux + c_aux) / count


def _stdvar(series: Series) -> float | None:
    vs = series.vs
    return _variance(vs)


def _stddev(series: Series) -> float | None:
    vs = series.vs
    variance = _variance(vs)
    return math.sqrt(variance) if variance >= 0 else math.nan


def _mad(series: Series) -> float | None:
    vs = series.vs
    if any(math.isnan(v) for v in vs):
        return math.nan
    median = quantile(0.5, vs)
    return quantile(0.5, [abs(v - median) for v in vs])


def _present(series: Series) -> float | None:
    return 1.0 if series.ts else None


def _quantile_over_time(call: Call) -> Vector:
    q = scalar_arg(call, 0)
    window = window_arg(call, 1)
    if window.series and (math.isnan(q) or q < 0 or q > 1):
        call.annotations.warn(invalid_quantile_warning(q) + at_arg(call, 0))
    return _apply(call, window, lambda s: quantile(q, s.vs))


def _changes(series: Series) -> float | None:
    vs = series.vs
    if not isnan(sum(vs)):
        return float(sum(map(ne, islice(vs, 1, None), vs)))
    changes = 0
    prev = vs[0]
    for v in vs[1:]:
        if v != prev and not (math.isnan(v) and math.isnan(prev)):
            changes += 1
        prev = v
    return float(changes)


def _resets(series: Series) -> float | None:
    vs = series.vs
    resets = 0
    prev = vs[0]
    for v in vs[1:]:
        if v < prev:
            resets += 1
        prev = v
    return float(resets)


def _absent_over_time(call: Call) -> Vector:
    window = window_arg(call, 0)
    if any(s.ts for s in window.series):
        return Vector()
    expr = call.exprs[0] if call.exprs else None
    return Vector([Sample(absent_labels(expr), call.t, 1.0)])


RANGE_FUNCTIONS: dict[str, FunctionImpl] = {
    "rate": _counter_rate(_extrapolated(is_counter=True, is_rate=True)),
    "increase": _counter_rate(_extrapolated(is_counter=True, is_rate=False)),
    "delta": _extrapolated(is_counter=False, is_rate=False),
    "irate": _over_series(_instant_value(is_rate=True)),
    "idelta": _over_series(_instant_value(is_rate=False)),
    "deriv": _deriv,
    "predict_linear": _predict_linear,
    "double_exponential_smoothing": _double_exponential_smoothing,
    "changes": _over_series(_changes),
    "resets": _over_series(_resets),
    "avg_over_time": _over_series(_avg),
    "sum_over_time": _over_series(_sum),
    "count_over_time": _over_series(_count),
    "min_over_time": _over_series(
        _pick(lambda cur, best: cur < best, timestamp=False, builtin=min)
    ),
    "max_over_time": _over_series(
        _pick(lambda cur, best: cur > best, timestamp=False, builtin=max)
    ),
    "ts_of_min_over_time": _over_series(_pick(lambda cur, best: cur <= best, timestamp=True)),
    "ts_of_max_over_time": _over_series(_pick(lambda cur, best: cur >= best, timestamp=True)),
    "last_over_time": _over_series(_last, keep_name=True),
    "first_over_time": _over_series(_first, keep_name=True),
    "ts_of_last_over_time": _over_series(_ts_of_last),
    "ts_of_first_over_time": _over_series(_ts_of_first),
    "quantile_over_time": _quantile_over_time,
    "stddev_over_time": _over_series(_stddev),
    "stdvar_over_time": _over_series(_stdvar),
    "mad_over_time": _over_series(_mad),
    "present_over_time": _over_series(_present),
    "absent_over_time": _absent_over_time,
}

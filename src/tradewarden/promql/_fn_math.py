"""Element-wise maths, the scalar functions and the date and time functions."""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Callable

from tradewarden.promql._fn_common import scalar_arg, vector_arg
from tradewarden.promql._values import Call, FunctionImpl, Sample, Scalar, Vector
from tradewarden.series import Labels

__all__ = ["MATH_FUNCTIONS"]

_EMPTY = Labels()


def _elementwise(fn: Callable[[float], float]) -> FunctionImpl:
    def impl(call: Call) -> Vector:
        t = call.t
        return Vector(Sample(s.labels, t, fn(s.v), True) for s in vector_arg(call, 0))

    return impl


def _guard(fn: Callable[[float], float]) -> Callable[[float], float]:
    # Go's math functions return NaN or ±Inf where Python's raise ValueError or
    # OverflowError; the fallback gives Go's answer for those inputs.
    def safe(v: float) -> float:
        try:
            return fn(v)
        except OverflowError:
            return math.inf
        except ValueError:
            return _go_domain_edge(fn, v)

    return safe


def _go_domain_edge(fn: Callable[[float], float], v: float) -> float:
    if fn in {math.log, math.log2, math.log10} and v == 0:
        return -math.inf
    if fn is math.atanh and abs(v) == 1:
        return math.copysign(math.inf, v)
    return math.nan


def _exp(v: float) -> float:
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def _sinh(v: float) -> float:
    try:
        return math.sinh(v)
    except OverflowError:
        return math.copysign(math.inf, v)


def _sgn(v: float) -> float:
    if v < 0:
        return -1.0
    if v > 0:
        return 1.0
    return v


def _rad(v: float) -> float:
    return v * math.pi / 180


def _deg(v: float) -> float:
    return v * 180 / math.pi


def _ceil(v: float) -> float:
    return v if math.isinf(v) or math.isnan(v) else float(math.ceil(v))


def _floor(v: float) -> float:
    return v if math.isinf(v) or math.isnan(v) else float(math.floor(v))


def _clamp_values(call: Call, low: float, high: float) -> Vector:
    if high < low:
        return Vector()
    t = call.t
    # Go's math.Max/math.Min propagate NaN from either side.
    if math.isnan(low) or math.isnan(high):
        return Vector(Sample(s.labels, t, math.nan, True) for s in vector_arg(call, 0))
    return Vector(
        Sample(s.labels, t, s.v if math.isnan(s.v) else max(low, min(high, s.v)), True)
        for s in vector_arg(call, 0)
    )


def _clamp(call: Call) -> Vector:
    return _clamp_values(call, scalar_arg(call, 1), scalar_arg(call, 2))


def _clamp_min(call: Call) -> Vector:
    return _clamp_values(call, scalar_arg(call, 1), math.inf)


def _clamp_max(call: Call) -> Vector:
    return _clamp_values(call, -math.inf, scalar_arg(call, 1))


def _round(call: Call) -> Vector:
    to_nearest = scalar_arg(call, 1) if len(call.args) > 1 else 1.0
    # Prometheus multiplies by the inverse: fewer floating point surprises.
    inverse = 1.0 / to_nearest if to_nearest != 0 else math.copysign(math.inf, to_nearest)
    t = call.t

    def rounded(v: float) -> float:
        x = v * inverse + 0.5
        if math.isinf(x) or math.isnan(x):
            return x / inverse
        return math.floor(x) / inverse

    return Vector(Sample(s.labels, t, rounded(s.v), True) for s in vector_arg(call, 0))


def _scalar(call: Call) -> Scalar:
    vector = vector_arg(call, 0)
    return Scalar(call.t, vector[0].v if len(vector) == 1 else math.nan)


def _vector(call: Call) -> Vector:
    return Vector([Sample(_EMPTY, call.t, scalar_arg(call, 0))])


def _time(call: Call) -> Scalar:
    return Scalar(call.t, call.t / 1000)


def _pi(call: Call) -> Scalar:
    return Scalar(call.t, math.pi)


def _timestamp(call: Call) -> Vector:
    t = call.t
    return Vector(Sample(s.labels, t, s.t / 1000, True) for s in vector_arg(call, 0))


def _min_of(call: Call) -> Scalar:
    a, b = scalar_arg(call, 0), scalar_arg(call, 1)
    return Scalar(call.t, math.nan if math.isnan(a) or math.isnan(b) else min(a, b))


def _max_of(call: Call) -> Scalar:
    a, b = scalar_arg(call, 0), scalar_arg(call, 1)
    return Scalar(call.t, math.nan if math.isnan(a) or math.isnan(b) else max(a, b))


def _start(call: Call) -> Scalar:
    start = call.t if call.query_start_ms is None else call.query_start_ms
    return Scalar(call.t, start / 1000)


def _end(call: Call) -> Scalar:
    end = call.t if call.query_end_ms is None else call.query_end_ms
    return Scalar(call.t, end / 1000)


def _step(call: Call) -> Scalar:
    return Scalar(call.t, call.query_step_ms / 1000)


def _range(call: Call) -> Scalar:
    if call.query_start_ms is None or call.query_end_ms is None:
        return Scalar(call.t, 0.0)
    return Scalar(call.t, (call.query_end_ms - call.query_start_ms) / 1000)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _date(part: Callable[[dt.datetime], int]) -> FunctionImpl:
    def impl(call: Call) -> Vector:
        t = call.t
        if not call.args:
            return Vector([Sample(_EMPTY, t, float(part(_utc(t // 1000))))])
        out = Vector()
        for s in vector_arg(call, 0):
            v = s.v
            # Go converts with int64(v): NaN and ±Inf give the minimum int64 (a time far
            # outside datetime's range); report NaN for those instead of failing.
            if math.isnan(v) or math.isinf(v):
                out.append(Sample(s.labels, t, math.nan, True))
                continue
            try:
                value = float(part(_utc(int(v))))
            except (OverflowError, ValueError):
                value = math.nan
            out.append(Sample(s.labels, t, value, True))
        return out

    return impl


def _utc(seconds: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(seconds=seconds)


def _day_of_week(d: dt.datetime) -> int:
    return (d.weekday() + 1) % 7  # Go: Sunday is 0


def _days_in_month(d: dt.datetime) -> int:
    return calendar.monthrange(d.year, d.month)[1]


MATH_FUNCTIONS: dict[str, FunctionImpl] = {
    "abs": _elementwise(abs),
    "ceil": _elementwise(_ceil),
    "floor": _elementwise(_floor),
    "exp": _elementwise(_exp),
    "sqrt": _elementwise(_guard(math.sqrt)),
    "ln": _elementwise(_guard(math.log)),
    "log2": _elementwise(_guard(math.log2)),
    "log10": _elementwise(_guard(math.log10)),
    "sgn": _elementwise(_sgn),
    "deg": _elementwise(_deg),
    "rad": _elementwise(_rad),
    "sin": _elementwise(_guard(math.sin)),
    "cos": _elementwise(_guard(math.cos)),
    "tan": _elementwise(_guard(math.tan)),
    "asin": _elementwise(_guard(math.asin)),
    "acos": _elementwise(_guard(math.acos)),
    "atan": _elementwise(math.atan),
    "sinh": _elementwise(_sinh),
    "cosh": _elementwise(_guard(math.cosh)),
    "tanh": _elementwise(math.tanh),
    "asinh": _elementwise(math.asinh),
    "acosh": _elementwise(_guard(math.acosh)),
    "atanh": _elementwise(_guard(math.atanh)),
    "clamp": _clamp,
    "clamp_min": _clamp_min,
    "clamp_max": _clamp_max,
    "round": _round,
    "scalar": _scalar,
    "vector": _vector,
    "time": _time,
    "pi": _pi,
    "timestamp": _timestamp,
    "min_of": _min_of,
    "max_of": _max_of,
    "start": _start,
    "end": _end,
    "step": _step,
    "range": _range,
    "minute": _date(lambda d: d.minute),
    "hour": _date(lambda d: d.hour),
    "day_of_week": _date(_day_of_week),
    "day_of_month": _date(lambda d: d.day),
    "day_of_year": _date(lambda d: d.timetuple().tm_yday),
    "days_in_month": _date(_days_in_month),
    "month": _date(lambda d: d.month),
    "year": _date(lambda d: d.year),
}

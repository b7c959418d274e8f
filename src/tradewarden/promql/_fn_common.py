"""Helpers the function implementations share: argument access, Kahan summation,
quantiles, Go-compatible float formatting and Prometheus's annotation texts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from tradewarden.promql._errors import QueryError
from tradewarden.promql._values import Call, RangeWindow, Scalar, String, Vector

__all__ = [
    "at_arg",
    "bad_bucket_label_warning",
    "format_openmetrics_float",
    "go_div",
    "invalid_quantile_warning",
    "kahan_inc",
    "monotonicity_info",
    "possible_non_counter_info",
    "quantile",
    "scalar_arg",
    "string_arg",
    "valid_label_name",
    "vector_arg",
    "window_arg",
]


def scalar_arg(call: Call, index: int) -> float:
    """Return argument ``index`` of ``call`` as a float (it must be a scalar)."""
    arg = call.args[index]
    if isinstance(arg, Scalar):
        return arg.v
    raise QueryError(f"{call.name}(): argument {index + 1} must be a scalar")


def string_arg(call: Call, index: int) -> str:
    """Return argument ``index`` of ``call`` as a string (it must be a string literal)."""
    arg = call.args[index]
    if isinstance(arg, String):
        return arg.v
    raise QueryError(f"{call.name}(): argument {index + 1} must be a string")


def vector_arg(call: Call, index: int) -> Vector:
    """Return argument ``index`` of ``call`` as an instant vector."""
    arg = call.args[index]
    if isinstance(arg, Vector):
        return arg
    raise QueryError(f"{call.name}(): argument {index + 1} must be an instant vector")


def window_arg(call: Call, index: int) -> RangeWindow:
    """Return argument ``index`` of ``call`` as a range vector's window."""
    arg = call.args[index]
    if isinstance(arg, RangeWindow):
        return arg
    raise QueryError(f"{call.name}(): argument {index + 1} must be a range vector")


def kahan_inc(inc: float, total: float, comp: float) -> tuple[float, float]:
    """Add ``inc`` to a Kahan-Neumaier sum; return the new sum and compensation.

    The same steps as Prometheus's ``kahansum.Inc``, so sums round alike.
    """
    t = total + inc
    if math.isinf(t):
        comp = 0.0
    elif abs(total) >= abs(inc):
        comp += (total - t) + inc
    else:
        comp += (inc - t) + total
    return t, comp


def go_div(a: float, b: float) -> float:
    """IEEE division as Go does it: ``x/0`` is ±Inf or NaN instead of an exception."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def quantile(q: float, values: Sequence[float]) -> float:
    """The ``q``-quantile of ``values`` as Prometheus computes it (NaN sorts lowest).

    NaN for no values or a NaN ``q``, -Inf for ``q < 0``, +Inf for ``q > 1``.
    """
    if not values or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(values, key=_nan_lowest)
    n = len(ordered)
    rank = q * (n - 1)
    lower = max(0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def _nan_lowest(v: float) -> tuple[int, float]:
    return (0, 0.0) if math.isnan(v) else (1, v)


def format_openmetrics_float(f: float) -> str:
    """Format like Prometheus's ``FormatOpenMetricsFloat`` (Go's shortest ``%g``, plus
    ``.0`` when the result has neither a dot nor an exponent)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    text = _go_shortest_g(f)
    if "." in text or "e" in text:
        return text
    return text + ".0"


def _go_shortest_g(f: float) -> str:
    # Go's strconv.FormatFloat(f, 'g', -1, 64): the shortest round-tripping digits
    # (the same digits as Python's repr), exponent form when exp < -4 or exp >= 6.
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    sign, digits, exponent = Decimal(repr(f)).as_tuple()
    if not isinstance(exponent, int):  # only NaN and Inf have a non-int exponent
        return repr(f)
    ds = list(digits)
    while len(ds) > 1 and ds[-1] == 0:
        ds.pop()
        exponent += 1
    text = "".join(str(d) for d in ds)
    point = len(ds) + exponent  # position of the decimal point
    exp10 = point - 1
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        esign = "-" if exp10 < 0 else "+"
        return f"{prefix}{mantissa}e{esign}{abs(exp10):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def valid_label_name(name: str) -> bool:
    """Whether ``name`` is a valid label name under Prometheus 3's UTF-8 rules.

    promql-parser turns a ``\\xNN`` escape into the code point U+00NN where Go keeps the
    raw byte; a name made only of such code points is checked as those bytes, so
    ``"\\xff"`` is invalid UTF-8 here as in Prometheus.
    """
    if not name:
        return False
    if all(ord(ch) < 0x100 for ch in name) and any(ord(ch) >= 0x80 for ch in name):
        try:
            name.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def at_arg(call: Call, index: int) -> str:
    """The `` (line:column)`` suffix of an annotation about argument ``index``, or ``""``
    when the evaluator does not know where the argument is."""
    positions = call.arg_positions
    return f" ({positions[index]})" if index < len(positions) else ""


def _quoted(text: str) -> str:
    # Go's %q for the plain strings these messages carry.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _for_metric(message: str, name: str) -> str:
    return f"{message} for metric name {_quoted(name)}" if name else message


def invalid_quantile_warning(q: float) -> str:
    """``quantile value should be between 0 and 1``."""
    return f"PromQL warning: quantile value should be between 0 and 1, got {_go_g(q)}"


def _go_g(f: float) -> str:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return _go_shortest_g(f)


def bad_bucket_label_warning(name: str, value: str) -> str:
    """A classic bucket without a parsable ``le``."""
    return _for_metric(
        'PromQL warning: bucket label "le" is missing or has a malformed value of '
        + _quoted(value),
        name,
    )


def monotonicity_info(name: str) -> str:
    """``histogram_quantile`` had to make the bucket counts monotonic."""
    return _for_metric(
        "PromQL info: input to histogram_quantile needed to be fixed for monotonicity "
        "(see https://prometheus.io/docs/prometheus/latest/querying/functions/"
        "#histogram_quantile)",
        name,
    )


def possible_non_counter_info(name: str) -> str:
    """``rate``/``increase`` over a metric whose name does not look like a counter's."""
    return (
        "PromQL info: metric might not be a counter, name does not end in "
        f"_total/_sum/_count/_bucket: {_quoted(name)}"
    )

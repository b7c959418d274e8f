"""Aggregation operators (``sum``, ``avg``, ..., ``topk``, ``quantile``, ``count_values``,
``limitk``) with ``by``/``without``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from math import isnan
from operator import attrgetter

from tradewarden.promql._ast import Aggregate
from tradewarden.promql._errors import QueryError
from tradewarden.promql._values import Annotations, Sample, Scalar, String, Value, Vector
from tradewarden.promql._xxhash import labels_hash
from tradewarden.series import METRIC_NAME, Labels

__all__ = ["aggregate", "format_float", "kahan_sum"]

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_INT64_MAX = 2.0**63
_LABELS = attrgetter("labels")
_UINT64_MAX = float(2**64 - 1)


def kahan_sum(values: Iterable[float]) -> float:
    """A sum as exact as Prometheus's Kahan-Neumaier sum (``math.fsum`` where it can)."""
    vals = values if isinstance(values, list) else list(values)
    try:
        return math.fsum(vals)
    except (OverflowError, ValueError):
        pass
    total = 0.0
    c = 0.0
    for inc in vals:
        t = total + inc
        if math.isinf(t):
            c = 0.0
        elif abs(total) >= abs(inc):
            c += (total - t) + inc
        else:
            c += (inc - t) + total
        total = t
    return total + c


def format_float(v: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)`` (``+Inf``, ``-Inf``, ``NaN``)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    r = repr(v)
    if "e" in r or "E" in r:
        r = format(Decimal(r), "f")
    elif r.endswith(".0"):
        r = r[:-2]
    return r


def _group_key(agg: Aggregate) -> Callable[[Labels], tuple[tuple[str, str], ...]]:
    names = frozenset(agg.grouping)
    if agg.without:
        drop = names | {METRIC_NAME}
        return lambda labels: tuple([p for p in labels if p[0] not in drop])
    if not names:
        return lambda _labels: ()
    return lambda labels: tuple([p for p in labels if p[0] in names])


_CACHE_MAX = 200_000
_CACHE_KINDS = 64
# Per grouping (by/without and the names): the group key of each label set seen. Label
# sets come from the store and live long; a cache is dropped when it grows large.
_KEYS: dict[tuple[bool, tuple[str, ...]], dict[Labels, tuple[tuple[str, str], ...]]] = {}


def _groups(agg: Aggregate, vec: Vector) -> dict[tuple[tuple[str, str], ...], list[Sample]]:
    if not agg.without and not agg.grouping:
        return {(): list(vec)} if vec else {}
    key = _group_key(agg)
    which = (agg.without, agg.grouping)
    if len(_KEYS) > _CACHE_KINDS or sum(map(len, _KEYS.values())) > _CACHE_MAX:
        _KEYS.clear()  # at most ~200,000 label sets in all (and one query's more)
    cache = _KEYS.get(which)
    if cache is None:
        cache = _KEYS[which] = {}
    known = cache.get
    groups: dict[tuple[tuple[str, str], ...], list[Sample]] = {}
    find = groups.get
    for s in vec:
        labels = s.labels
        k = known(labels)
        if k is None:
            k = cache[labels] = key(labels)
        g = find(k)
        if g is None:
            groups[k] = [s]
        else:
            g.append(s)
    return groups


def _mean(vals: list[float]) -> float:
    n = len(vals)
    try:
        return math.fsum(vals) / n
    except ValueError:  # +Inf and -Inf
        return math.nan
    except OverflowError:
        return kahan_sum([v / n for v in vals])


def _stdvar(vals: list[float]) -> float:
    count = 0
    mean = 0.0
    m2 = 0.0
    for f in vals:
        count += 1
        delta = f - mean
        mean += delta / count
        m2 += delta * (f - mean)
    return m2 / count


def _min(vals: list[float]) -> float:
    if not isnan(sum(vals)):  # no NaN: the built-in keeps the first minimum too
        return min(vals)
    out = vals[0]
    for v in vals[1:]:
        if out > v or math.isnan(out):
            out = v
    return out


def _max(vals: list[float]) -> float:
    if not isnan(sum(vals)):  # no NaN: the built-in keeps the first maximum too
        return max(vals)
    out = vals[0]
    for v in vals[1:]:
        if out < v or math.isnan(out):
            out = v
    return out


def _quantile(q: float, vals: list[float]) -> float:
    if not vals or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if isnan(sum(vals)):
        ordered = sorted(vals, key=lambda v: (not math.isnan(v), v))  # NaN first, as Go's sort
    else:
        ordered = sorted(vals)
    n = len(ordered)
    rank = q * (n - 1)
    lower = max(0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


_SIMPLE: dict[str, Callable[[list[float]], float]] = {
    "sum": kahan_sum,
    "avg": _mean,
    "count": lambda vals: float(len(vals)),
    "group": lambda _vals: 1.0,
    "min": _min,
    "max": _max,
    "stdvar": _stdvar,
    "stddev": lambda vals: math.sqrt(_stdvar(vals)),
}


def aggregate(
    agg: Aggregate, vec: Vector, param: Value | None, t: int, annotations: Annotations
) -> Vector:
    """Aggregate one step's vector."""
    op = agg.op
    simple = _SIMPLE.get(op)
    if simple is not None:
        return _simple(agg, vec, t, simple)
    if op in ("topk", "bottomk", "limitk"):
        return _top(agg, vec, _scalar(param), op)
    if op == "quantile":
        q = _scalar(param)
        if math.isnan(q) or q < 0 or q > 1:
            annotations.warn(
                f"PromQL warning: quantile value should be between 0 and 1, got {_go_g(q)}"
            )
        return _simple(agg, vec, t, lambda vals: _quantile(q, vals))
    if op == "count_values":
        if not isinstance(param, String):
            raise QueryError("count_values needs a string parameter")
        return _count_values(agg, vec, param.v, t)
    if op == "limit_ratio":
        return _limit_ratio(agg, vec, _scalar(param), annotations)
    raise QueryError(f"unknown aggregation {op}")


def _go_g(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return format_float(v)


def _scalar(param: Value | None) -> float:
    if not isinstance(param, Scalar):
        raise QueryError("expected a scalar parameter")
    return param.v


def _simple(agg: Aggregate, vec: Vector, t: int, fn: Callable[[list[float]], float]) -> Vector:
    out = Vector()
    # The name survives only a by(__name__); then the group drops it if any input does.
    keeps_name = not agg.without and METRIC_NAME in agg.grouping
    for key, group in _groups(agg, vec).items():
        # The group key is the output label set: the by-labels, or all but the without-labels.
        labels = tuple.__new__(Labels, key)
        drop = keeps_name and any(s.drop_name for s in group)
        out.append(Sample(labels, t, fn([s.v for s in group]), drop))
    return out


def _top(agg: Aggregate, vec: Vector, k_param: float, op: str) -> Vector:
    if math.isnan(k_param):
        raise QueryError("Parameter value is NaN")
    if not (-_INT64_MAX <= k_param < _INT64_MAX):
        raise QueryError(f"Scalar value {_go_g(k_param)} overflows int64")
    k = int(k_param)
    out = Vector()
    if k < 1:
        return out
    for group in _groups(agg, vec).values():
        if op == "limitk":  # Prometheus's first k, in its (label-sorted) input order
            out.extend(sorted(group, key=_LABELS)[:k] if k < len(group) else group)
            continue
        key = _topk_key if op == "topk" else _bottomk_key
        out.extend(sorted(group, key=key)[:k])
    return out


def _limit_ratio(agg: Aggregate, vec: Vector, param: float, annotations: Annotations) -> Vector:
    if math.isnan(param):
        raise QueryError("Ratio value is NaN")
    ratio = min(1.0, max(-1.0, param))
    if ratio != param:
        annotations.warn(
            "PromQL warning: ratio value should be between -1 and 1, "
            f"got {_go_g(param)}, capping to {_go_g(ratio)}"
        )
    out = Vector()
    if ratio == 0:
        return out
    for group in _groups(agg, vec).values():
        for s in group:
            offset = labels_hash(s.labels) / _UINT64_MAX
            if (ratio >= 0 and offset < ratio) or (ratio < 0 and offset >= 1.0 + ratio):
                out.append(s)
    return out


def _topk_key(s: Sample) -> tuple[bool, float]:
    nan = math.isnan(s.v)
    return nan, 0.0 if nan else -s.v


def _bottomk_key(s: Sample) -> tuple[bool, float]:
    nan = math.isnan(s.v)
    return nan, 0.0 if nan else s.v


def _count_values(agg: Aggregate, vec: Vector, label: str, t: int) -> Vector:
    if not _LABEL_NAME.match(label):
        raise QueryError(f"invalid label name {_go_quote(label)}")
    counts: dict[Labels, int] = {}
    key = _group_key(agg)
    for s in vec:
        base = tuple.__new__(Labels, key(s.labels))
        labels = base.set(label, format_float(s.v))
        counts[labels] = counts.get(labels, 0) + 1
    return Vector(Sample(labels, t, float(n)) for labels, n in counts.items())


def _go_quote(s: str) -> str:
    out = []
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif 0x20 <= ord(ch) < 0x7F or ord(ch) > 0xFF:
            out.append(ch)
        else:  # the parser decodes a "\\xNN" escape to U+00NN
            out.append(f"\\x{ord(ch):02x}")
    return '"' + "".join(out) + '"'

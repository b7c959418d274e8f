"""Binary operators: scalar/vector arithmetic and comparisons, vector matching
(``on``/``ignoring``/``group_left``/``group_right``) and the set operators, with
Prometheus's error messages."""

from __future__ import annotations

from collections.abc import Callable

from tradewarden.promql._arith import ARITHMETIC, COMPARISONS
from tradewarden.promql._ast import Binary
from tradewarden.promql._errors import QueryError
from tradewarden.promql._values import Sample, Scalar, Vector
from tradewarden.series import METRIC_NAME, Labels

__all__ = ["binary_op", "format_labels"]

Signature = Callable[[Labels], tuple[tuple[str, str], ...]]


def format_labels(labels: Labels) -> str:
    """Prometheus's ``labels.String()``: ``{__name__="x", a="b"}``."""
    inner = ", ".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def binary_op(  # noqa: PLR0911 - one return per operand kind
    n: Binary, lhs: Vector | Scalar, rhs: Vector | Scalar, t: int
) -> Vector | Scalar:
    """Apply ``n``'s operator to evaluated operands at step ``t``."""
    op = n.op
    if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
        return Scalar(t, _scalar_scalar(op, lhs.v, rhs.v))
    if isinstance(lhs, Vector) and isinstance(rhs, Vector):
        if op == "and":
            return _and(n, lhs, rhs)
        if op == "or":
            return _or(n, lhs, rhs)
        if op == "unless":
            return _unless(n, lhs, rhs)
        return _vector_vector(n, lhs, rhs)
    if isinstance(lhs, Vector) and isinstance(rhs, Scalar):
        return _vector_scalar(n, lhs, rhs.v, swap=False)
    if isinstance(lhs, Scalar) and isinstance(rhs, Vector):
        return _vector_scalar(n, rhs, lhs.v, swap=True)
    raise QueryError(f"binary expression must contain only scalar and instant vector types ({op})")


def _scalar_scalar(op: str, a: float, b: float) -> float:
    fn = ARITHMETIC.get(op)
    if fn is not None:
        return fn(a, b)
    return 1.0 if COMPARISONS[op](a, b) else 0.0


# A comparison that filters, written out per operator (a comprehension with the operator
# inline is several times faster than a call per sample); a scalar on the left is the
# mirrored comparison on the right (exact for floats, NaN included).
_KEEP: dict[str, Callable[[Vector, float], list[Sample]]] = {
    "==": lambda vec, c: [x for x in vec if x.v == c],
    "!=": lambda vec, c: [x for x in vec if x.v != c],
    ">": lambda vec, c: [x for x in vec if x.v > c],
    "<": lambda vec, c: [x for x in vec if x.v < c],
    ">=": lambda vec, c: [x for x in vec if x.v >= c],
    "<=": lambda vec, c: [x for x in vec if x.v <= c],
}
_MIRROR = {"==": "==", "!=": "!=", ">": "<", "<": ">", ">=": "<=", "<=": ">="}


def _vector_scalar(n: Binary, vec: Vector, s: float, *, swap: bool) -> Vector:
    op = n.op
    arith = ARITHMETIC.get(op)
    if arith is not None:
        if swap:
            return Vector([Sample(x.labels, x.t, arith(s, x.v), True) for x in vec])
        return Vector([Sample(x.labels, x.t, arith(x.v, s), True) for x in vec])
    if swap:
        op = _MIRROR[op]
    if n.return_bool:
        cmp = COMPARISONS[op]
        return Vector([Sample(x.labels, x.t, 1.0 if cmp(x.v, s) else 0.0, True) for x in vec])
    return Vector(_KEEP[op](vec, s))


_CACHE_MAX = 200_000
_CACHE_KINDS = 64
# Per matching (on/ignoring and the names): the signature of each label set seen. Label
# sets come from the store and live long; the caches are dropped when they grow large.
_SIGNATURES: dict[tuple[bool, frozenset[str]], dict[Labels, tuple[tuple[str, str], ...]]] = {}


def _signature(n: Binary) -> Signature:
    names = frozenset(n.matching)
    if not n.on and not names:

        def without_name(labels: Labels) -> tuple[tuple[str, str], ...]:
            if labels and labels[0][0] == METRIC_NAME:
                return labels[1:]
            return tuple([p for p in labels if p[0] != METRIC_NAME])

        return without_name
    on = n.on
    keep = names if on else names | {METRIC_NAME}
    if len(_SIGNATURES) > _CACHE_KINDS or sum(map(len, _SIGNATURES.values())) > _CACHE_MAX:
        _SIGNATURES.clear()  # at most ~200,000 label sets in all (and one query's more)
    cache = _SIGNATURES.get((on, names))
    if cache is None:
        cache = _SIGNATURES[(on, names)] = {}
    get = cache.get

    def signature(labels: Labels) -> tuple[tuple[str, str], ...]:
        key = get(labels)
        if key is None:
            if on:
                key = tuple([p for p in labels if p[0] in keep])
            else:
                key = tuple([p for p in labels if p[0] not in keep])
            cache[labels] = key
        return key

    return signature


def _and(n: Binary, lhs: Vector, rhs: Vector) -> Vector:
    if not lhs or not rhs:
        return Vector()
    sig = _signature(n)
    right = {sig(s.labels) for s in rhs}
    return Vector(s for s in lhs if sig(s.labels) in right)


def _or(n: Binary, lhs: Vector, rhs: Vector) -> Vector:
    if not lhs:
        return Vector(rhs)
    if not rhs:
        return Vector(lhs)
    sig = _signature(n)
    left = {sig(s.labels) for s in lhs}
    out = Vector(lhs)
    out.extend(s for s in rhs if sig(s.labels) not in left)
    return out


def _unless(n: Binary, lhs: Vector, rhs: Vector) -> Vector:
    if not lhs or not rhs:
        return Vector(lhs)
    sig = _signature(n)
    right = {sig(s.labels) for s in rhs}
    return Vector(s for s in lhs if sig(s.labels) not in right)


def _vector_vector(n: Binary, lhs: Vector, rhs: Vector) -> Vector:  # noqa: PLR0912, PLR0915
    op = n.op
    card = n.card
    if card == "many-to-many":
        raise QueryError("many-to-many only allowed for set operators")
    if not lhs or not rhs:
        return Vector()
    sig = _signature(n)
    swapped = card == "one-to-many"
    if swapped:
        lhs, rhs = rhs, lhs
    right: dict[tuple[tuple[str, str], ...], Sample] = {}
    for rs in rhs:
        key = sig(rs.labels)
        dup = right.get(key)
        if dup is not None:
            side = "left" if swapped else "right"
            pair = sorted((format_labels(rs.labels), format_labels(dup.labels)))
            group = format_labels(Labels(_match_labels(n, rs.labels)))
            raise QueryError(
                f"found duplicate series for the match group {group} on the {side} "
                f"hand-side of the operation: [{pair[0]}, {pair[1]}]"
                ";many-to-many matching not allowed: matching labels must be unique on one side"
            )
        right[key] = rs
    arith = ARITHMETIC.get(op)
    cmp = COMPARISONS.get(op)
    return_bool = n.return_bool
    drop_name = arith is not None
    one_to_one = card == "one-to-one"
    matched: dict[tuple[tuple[str, str], ...], set[Labels] | None] = {}
    cache: dict[tuple[Labels, Labels], Labels] = {}
    simple = _simple_result(n, drop_name=drop_name)
    out = Vector()
    for ls in lhs:
        key = sig(ls.labels)
        match = right.get(key)
        if match is None:
            continue
        rs = match
        fl, fr = (rs.v, ls.v) if swapped else (ls.v, rs.v)
        if arith is not None:
            value = arith(fl, fr)
            keep = True
        elif cmp is not None:
            keep = cmp(fl, fr)
            value = fl
            if return_bool:
                value = 1.0 if keep else 0.0
                keep = True
        else:
            raise QueryError(f"unknown binary operator {op}")
        if simple is not None:
            metric = simple(ls.labels, key)
        else:
            cache_key = (ls.labels, rs.labels)
            found = cache.get(cache_key)
            if found is None:
                found = _result_metric(n, ls.labels, rs.labels, drop_name=drop_name)
                cache[cache_key] = found
            metric = found
        if one_to_one:
            if key in matched:
                raise QueryError(
                    "multiple matches for labels: many-to-one matching must be explicit "
                    "(group_left/group_right)"
                )
            matched[key] = None
        else:
            inserted = matched.get(key)
            if inserted is None:
                inserted = set()
                matched[key] = inserted
            elif metric in inserted:
                raise QueryError(
                    "multiple matches for labels: grouping labels must ensure unique matches"
                )
            inserted.add(metric)
        if keep:
            out.append(Sample(metric, ls.t, value, return_bool or ls.drop_name))
    return out


def _match_labels(n: Binary, labels: Labels) -> tuple[tuple[str, str], ...]:
    names = set(n.matching)
    if n.on:
        return tuple([p for p in labels if p[0] in names])
    names.add(METRIC_NAME)
    return tuple([p for p in labels if p[0] not in names])


def _simple_result(
    n: Binary, *, drop_name: bool
) -> Callable[[Labels, tuple[tuple[str, str], ...]], Labels] | None:
    """The result labels of a one-to-one operation from the left side's labels and the
    match signature, without building a dict (``_result_metric``'s cases that need no
    right-hand labels); None for the other cases."""
    if n.card != "one-to-one" or n.include:
        return None
    names = frozenset(n.matching)
    if n.on:
        if METRIC_NAME in names:
            return None
        # The signature is the left side's on-labels, in order: exactly the result.
        return lambda _lhs, key: tuple.__new__(Labels, key)
    if names:
        return None
    if drop_name:
        return lambda lhs, _key: _without_name(lhs)
    return lambda lhs, _key: lhs


def _without_name(labels: Labels) -> Labels:
    if labels and labels[0][0] == METRIC_NAME:
        return tuple.__new__(Labels, labels[1:])
    return labels.without_name()


def _result_metric(n: Binary, lhs: Labels, rhs: Labels, *, drop_name: bool) -> Labels:
    pairs = dict(lhs)
    if drop_name:
        pairs.pop(METRIC_NAME, None)
    if n.card == "one-to-one":
        names = set(n.matching)
        if n.on:
            pairs = {k: v for k, v in pairs.items() if k in names}
        else:
            for name in names:
                pairs.pop(name, None)
    if n.include:
        one = dict(rhs)
        for name in n.include:
            value = one.get(name, "")
            if value:
                pairs[name] = value
            else:
                pairs.pop(name, None)
    return Labels.from_pairs(pairs.items())

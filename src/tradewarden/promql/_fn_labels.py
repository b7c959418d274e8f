"""Functions on labels and order: ``label_replace``, ``label_join``, the ``sort`` family,
``absent`` (and the label set ``absent``/``absent_over_time`` report)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import cmp_to_key, lru_cache
from typing import Any

from tradewarden.promql._errors import QueryError
from tradewarden.promql._fn_common import string_arg, valid_label_name, vector_arg
from tradewarden.promql._values import Call, FunctionImpl, Sample, Vector
from tradewarden.series import METRIC_NAME, Labels

__all__ = ["LABEL_FUNCTIONS", "absent_labels", "natural_less"]

_DUPLICATE = "vector cannot contain metrics with the same labelset"


_LEADING_FLAGS = re.compile(r"\(\?([imsU]+)\)")


@lru_cache(maxsize=1024)
def _replace_regex(pattern: str) -> re.Pattern[str]:
    # Prometheus compiles "^(?s:" + regex + ")$". RE2 allows a flag group such as "(?i)"
    # anywhere; Python only at the very start, so a leading one is moved outside the group.
    flags = ""
    body = pattern
    leading = _LEADING_FLAGS.match(pattern)
    if leading and "U" not in leading.group(1):
        flags, body = f"(?{leading.group(1)})", pattern[leading.end() :]
    try:
        return re.compile(f"{flags}(?s:{body})")
    except re.error:
        raise QueryError(f"invalid regular expression in label_replace(): {pattern}") from None


# A parsed Go ``Regexp.Expand`` template: literal text, or a group (index or name).
_Piece = str | int | tuple[str]
_NAME_CHARS = re.compile(r"[A-Za-z0-9_]+")


@lru_cache(maxsize=1024)
def _template(text: str) -> tuple[_Piece, ...]:
    pieces: list[_Piece] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "$":
            literal.append(ch)
            i += 1
            continue
        if text.startswith("$$", i):
            literal.append("$")
            i += 2
            continue
        name, end = _group_name(text, i + 1)
        if name is None:  # malformed: Go keeps the "$" as text
            literal.append("$")
            i += 1
            continue
        if literal:
            pieces.append("".join(literal))
            literal = []
        pieces.append(int(name) if name.isdigit() else (name,))
        i = end
    if literal:
        pieces.append("".join(literal))
    return tuple(pieces)


def _group_name(text: str, start: int) -> tuple[str | None, int]:
    if text.startswith("{", start):
        close = text.find("}", start + 1)
        if close < 0:
            return None, start
        name = text[start + 1 : close]
        if not name or not _NAME_CHARS.fullmatch(name):
            return None, start
        return name, close + 1
    match = _NAME_CHARS.match(text, start)
    if match is None:
        return None, start
    return match.group(), match.end()


def _expand(pieces: tuple[_Piece, ...], match: re.Match[str]) -> str:
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        key: int | str = piece if isinstance(piece, int) else piece[0]
        try:
            out.append(match.group(key) or "")
        except IndexError:  # no such group: Go expands it to nothing
            continue
    return "".join(out)


def _check_unique(out: Iterable[Sample]) -> None:
    seen: set[Labels] = set()
    for s in out:
        if s.labels in seen:
            raise QueryError(_DUPLICATE)
        seen.add(s.labels)


def _label_replace(call: Call) -> Vector:
    dst = string_arg(call, 1)
    replacement = string_arg(call, 2)
    src = string_arg(call, 3)
    pattern = string_arg(call, 4)
    regex = _replace_regex(pattern)
    if not valid_label_name(dst):
        raise QueryError(f"invalid destination label name in label_replace(): {dst}")
    pieces = _template(replacement)
    t = call.t
    out = Vector()
    for s in vector_arg(call, 0):
        match = regex.fullmatch(s.labels.get(src))
        if match is None:
            out.append(Sample(s.labels, t, s.v, s.drop_name))
            continue
        labels = s.labels.set(dst, _expand(pieces, match))
        out.append(Sample(labels, t, s.v, False if dst == METRIC_NAME else s.drop_name))
    _check_unique(out)
    return out


def _label_join(call: Call) -> Vector:
    dst = string_arg(call, 1)
    separator = string_arg(call, 2)
    sources = [string_arg(call, i) for i in range(3, len(call.args))]
    for src in sources:
        if not valid_label_name(src):
            raise QueryError(f"invalid source label name in label_join(): {src}")
    if not valid_label_name(dst):
        raise QueryError(f"invalid destination label name in label_join(): {dst}")
    t = call.t
    out = Vector()
    for s in vector_arg(call, 0):
        value = separator.join(s.labels.get(src) for src in sources)
        labels = s.labels.set(dst, value)
        out.append(Sample(labels, t, s.v, False if dst == METRIC_NAME else s.drop_name))
    _check_unique(out)
    return out


def _restamped(call: Call, samples: Iterable[Sample]) -> Vector:
    t = call.t
    return Vector(Sample(s.labels, t, s.v, s.drop_name) for s in samples)


def _sort(call: Call) -> Vector:
    # Ascending, NaN last (Prometheus sorts descending with NaN first and reverses).
    ordered = sorted(vector_arg(call, 0), key=lambda s: (math.isnan(s.v), s.v))
    return _restamped(call, ordered)


def _sort_desc(call: Call) -> Vector:
    ordered = sorted(vector_arg(call, 0), key=lambda s: (not math.isnan(s.v), s.v), reverse=True)
    return _restamped(call, ordered)


_CHUNKS = re.compile(r"\d+|\D+")
_MAX_INT64_DIGITS = 18


def _chunk_int(chunk: str) -> int | None:
    # Go's strconv.Atoi: decimal digits only, within int64.
    if chunk.isascii() and chunk.isdigit() and len(chunk) <= _MAX_INT64_DIGITS:
        return int(chunk)
    return None


def natural_less(a: str, b: str) -> bool:
    """Whether ``a`` sorts before ``b`` in natural order (the ``natsort.Compare`` that
    Prometheus's ``sort_by_label`` uses: digit runs compare as numbers)."""
    chunks_a: list[str] = _CHUNKS.findall(a)
    chunks_b: list[str] = _CHUNKS.findall(b)
    last_a, last_b = len(chunks_a) - 1, len(chunks_b) - 1
    for i, ca in enumerate(chunks_a):
        if i > last_b:
            return False
        cb = chunks_b[i]
        ia, ib = _chunk_int(ca), _chunk_int(cb)
        if ia is not None and ib is not None:
            if ia != ib:
                return ia < ib
        elif ca != cb:
            return ca < cb
        if i == last_a:
            return True
        if i == last_b:
            return False
    return False


def _by_label(call: Call, *, descending: bool) -> Vector:
    names = [string_arg(call, i) for i in range(1, len(call.args))]
    sign = -1 if descending else 1

    def compare(a: Sample, b: Sample) -> int:
        for name in names:
            va, vb = a.labels.get(name), b.labels.get(name)
            if va == vb:
                continue
            return -sign if natural_less(va, vb) else sign
        if a.labels == b.labels:
            return 0
        return -sign if a.labels < b.labels else sign

    return _restamped(call, sorted(vector_arg(call, 0), key=cmp_to_key(compare)))


def _sort_by_label(call: Call) -> Vector:
    return _by_label(call, descending=False)


def _sort_by_label_desc(call: Call) -> Vector:
    return _by_label(call, descending=True)


def absent_labels(expr: Any) -> Labels:
    """The labels ``absent`` reports for an argument expression: the equality matchers of
    a (vector or matrix) selector, minus any label matched more than once or otherwise;
    none for other expressions."""
    matchers = _selector_matchers(expr)
    if matchers is None:
        return Labels()
    values: dict[str, str] = {}
    seen: set[str] = set()
    for name, is_equal, value in matchers:
        if name == METRIC_NAME:
            continue
        if is_equal and name not in seen:
            values[name] = value
            seen.add(name)
        else:
            values.pop(name, None)
    return Labels.from_pairs(values.items())


def _selector_matchers(expr: Any) -> list[tuple[str, bool, str]] | None:
    kind = type(expr).__name__
    if kind == "MatrixSel":  # the evaluator's compiled nodes (promql._ast)
        expr, kind = expr.vs, "VectorSel"
    if kind == "VectorSel":
        if len(expr.alternatives) != 1:
            return None
        return [(m.name, m.op.value == "=", m.value) for m in expr.alternatives[0]]
    if kind == "MatrixSelector":  # promql_parser's nodes
        expr, kind = expr.vector_selector, "VectorSelector"
    if kind == "VectorSelector":
        found = expr.matchers
        if found.or_matchers:
            return None
        return [(m.name, str(m.op) == "MatchOp.Equal", m.value) for m in found.matchers]
    return None


def _absent(call: Call) -> Vector:
    if vector_arg(call, 0):
        return Vector()
    expr = call.exprs[0] if call.exprs else None
    return Vector([Sample(absent_labels(expr), call.t, 1.0)])


LABEL_FUNCTIONS: dict[str, FunctionImpl] = {
    "label_replace": _label_replace,
    "label_join": _label_join,
    "sort": _sort,
    "sort_desc": _sort_desc,
    "sort_by_label": _sort_by_label,
    "sort_by_label_desc": _sort_by_label_desc,
    "absent": _absent,
}

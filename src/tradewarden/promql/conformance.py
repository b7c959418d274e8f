"""The PromQL conformance harness: runs Prometheus's own ``.test`` files (the
``promqltest`` format, see ``FORMAT.md`` next to them) against :class:`Engine` over a
:class:`ListStorage`, and reports passed / failed / skipped per file.

    python -m tradewarden.promql.conformance [-v] [DIR or FILE ...]

The default directory is ``../shared/promqltest`` next to the repository root;
``TW_PROMQLTEST_DIR`` overrides it. Comparison follows ``promql/promqltest/test.go``:
relative float tolerance 1e-6 (``almost.Equal``: NaN equals NaN), exact timestamps,
result order only with ``expect ordered``, warnings/infos matched by message or regex, and
every instant eval is also run as a range query around its time (middle step compared).
Out of scope and counted as skipped, each with its reason: evals that expect or select
native histograms (``{{...}}`` points, ``load_with_nhcb`` series).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tradewarden.promql._ast import compile_expr, function_names, parse, selectors, with_at
from tradewarden.promql._engine import Compiled, Engine
from tradewarden.promql._errors import QueryError
from tradewarden.promql._promqltest import (
    Clear,
    Eval,
    Load,
    parse_duration_ms,
    parse_file,
    parse_series,
)
from tradewarden.promql._values import Annotations, Matrix, Sample, Scalar, String, Value, Vector
from tradewarden.series import Labels, ListStorage, is_stale

__all__ = [
    "EvalFailure",
    "FileReport",
    "default_dir",
    "main",
    "parse_duration_ms",
    "parse_series",
    "run_file",
]

EPSILON = 1e-6
_MIN_NORMAL = 2.2250738585072014e-308
# Functions whose result changes with the evaluation time even for pinned arguments.
_AT_UNSAFE = frozenset(
    {
        "days_in_month",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "hour",
        "minute",
        "month",
        "year",
        "predict_linear",
        "time",
        "timestamp",
    }
)
_CONTEXT_FUNCS = re.compile(r"(start|end|range|step)\(\)")


# -- comparison ------------------------------------------------------------------------


def almost_equal(a: float, b: float) -> bool:
    """Prometheus's ``almost.Equal`` with the harness's epsilon."""
    a_stale = math.isnan(a) and is_stale(a)
    b_stale = math.isnan(b) and is_stale(b)
    if a_stale or b_stale:
        return a_stale and b_stale
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < EPSILON * _MIN_NORMAL
    return diff / min(abs_sum, sys.float_info.max) < EPSILON


class _MismatchError(Exception):
    """An eval whose outcome differs from the file's expectation."""


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def _compare(ev: Eval, value: Value) -> None:  # noqa: PLR0912
    if isinstance(value, Matrix):
        if ev.is_ordered:
            raise _MismatchError("expected ordered result, but query returned a matrix")
        if ev.expect_scalar is not None:
            raise _MismatchError("expected scalar result, but got matrix")
        seen = set()
        for s in value:
            if s.labels not in ev.expected:
                raise _MismatchError(f"unexpected metric {s.labels} in result, has {_points(s)}")
            seen.add(s.labels)
            _, vals = ev.expected[s.labels]
            expected: list[tuple[int, float]] = []
            for k, p in enumerate(vals):
                t = ev.start + k * ev.step
                if t > ev.end:
                    raise _MismatchError(f"expected {len(vals)} points for {s.labels}, too many")
                if p is not None:
                    expected.append((t, p))
            if len(expected) != len(s.ts):
                raise _MismatchError(
                    f"expected {len(expected)} points for {s.labels}: {expected}, got {_points(s)}"
                )
            for (et, evv), at, av in zip(expected, s.ts, s.vs, strict=True):
                if et != at or not almost_equal(av, evv):
                    raise _MismatchError(f"expected {expected} for {s.labels}, got {_points(s)}")
        for labels in ev.expected:
            if labels not in seen:
                raise _MismatchError(
                    f"expected metric {labels} not found (got {_matrix_str(value)})"
                )
        return
    if isinstance(value, Vector):
        if ev.expect_scalar is not None:
            raise _MismatchError(f"expected scalar result, but got vector {_vector_str(value)}")
        seen = set()
        for pos, smp in enumerate(value):
            if smp.labels not in ev.expected:
                raise _MismatchError(
                    f"unexpected metric {smp.labels} in result, has value {_fmt(smp.v)} "
                    f"(got {_vector_str(value)})"
                )
            exp_pos, vals = ev.expected[smp.labels]
            if ev.is_ordered and exp_pos != pos + 1:
                raise _MismatchError(
                    f"expected metric {smp.labels} at position {exp_pos} but was at {pos + 1}"
                )
            if not vals or vals[0] is None or not almost_equal(vals[0], smp.v):
                shown = _fmt(vals[0]) if vals and vals[0] is not None else "_"
                raise _MismatchError(f"expected {shown} for {smp.labels} but got {_fmt(smp.v)}")
            seen.add(smp.labels)
        for labels, (_, vals) in ev.expected.items():
            if labels not in seen:
                raise _MismatchError(
                    f"expected metric {labels} with {vals} not found (got {_vector_str(value)})"
                )
        return
    if isinstance(value, Scalar):
        if ev.expect_scalar is None:
            raise _MismatchError(
                f"expected vector or matrix result, but got scalar {_fmt(value.v)}"
            )
        if not almost_equal(ev.expect_scalar, value.v):
            raise _MismatchError(
                f"expected scalar {_fmt(ev.expect_scalar)} but got {_fmt(value.v)}"
            )
        return
    if isinstance(value, String):
        if ev.expected_string != value.v:
            raise _MismatchError(f'expected string "{ev.expected_string}" but got "{value.v}"')
        return
    raise _MismatchError(f"unexpected result type {type(value).__name__}")


def _points(s: object) -> str:
    ts = getattr(s, "ts", [])
    vs = getattr(s, "vs", [])
    return "[" + ", ".join(f"{_fmt(v)}@{t}" for t, v in zip(ts, vs, strict=True)) + "]"


def _vector_str(v: Vector) -> str:
    return "{" + ", ".join(f"{s.labels} => {_fmt(s.v)}" for s in v) + "}"


def _matrix_str(m: Matrix) -> str:
    return "{" + ", ".join(f"{s.labels} => {_points(s)}" for s in m) + "}"


def _check_annotations(ev: Eval, ann: Annotations) -> None:
    if ev.warn and not ann.warnings:
        raise _MismatchError("expected warnings but got none")
    if ev.info and not ann.infos:
        raise _MismatchError("expected info annotations but got none")
    for kind, actual in (("warn", ann.warnings), ("info", ann.infos)):
        wanted = ev.of(kind)
        if not wanted:
            continue
        if not actual:
            raise _MismatchError(f"expected {kind} annotations but none were found")
        for e in wanted:
            if not any(e.matches(a) for a in actual):
                raise _MismatchError(
                    f"expected {kind} annotation matching {str(e)!r}, found {actual}"
                )
        for a in actual:
            if not any(e.matches(a) for e in wanted):
                raise _MismatchError(f"unexpected {kind} annotation {a!r}")
    if ev.of("no_warn") and ann.warnings:
        raise _MismatchError(f"unexpected warning annotations: {ann.warnings}")
    if ev.of("no_info") and ann.infos:
        raise _MismatchError(f"unexpected info annotations: {ann.infos}")


def _check_failure(ev: Eval, err: QueryError) -> None:
    msg = str(err)
    if ev.fail_message is not None and ev.fail_message != msg:
        raise _MismatchError(f"expected error {ev.fail_message!r}, got {msg!r}")
    if ev.fail_regex is not None and not ev.fail_regex.search(msg):
        raise _MismatchError(f"expected error matching {ev.fail_regex.pattern!r}, got {msg!r}")
    fails = ev.of("fail")
    if fails and not fails[0].matches(msg):
        raise _MismatchError(f"expected error matching {str(fails[0])!r}, got {msg!r}")


def _run_eval(engine: Engine, ev: Eval) -> None:
    """Run one eval as test.go does: a range eval once; an instant eval as written, then
    with ``@ <eval time>`` added to every selector and evaluated at other times, each also
    as a range query around its time."""
    if ev.is_range:
        try:
            result = engine.range(ev.expr, ev.start, ev.end, ev.step)
        except QueryError as err:
            if ev.is_fail:
                _check_failure(ev, err)
                return
            raise _MismatchError(f"error evaluating query: {err}") from None
        if ev.is_fail:
            raise _MismatchError("expected error evaluating query but got none")
        _check_annotations(ev, result.annotations)
        _compare(ev, result.value)
        return
    _run_instant(engine, ev, ev.expr, ev.end, "")
    for query, t in _at_variants(ev):
        _run_instant(engine, ev, query, t, f" (with @ {ev.end / 1000:g} at t={t / 1000:g}s)")


def _at_variants(ev: Eval) -> list[tuple[Compiled, int]]:
    try:
        node = compile_expr(parse(ev.expr))
    except QueryError:
        return []
    if function_names(node) & _AT_UNSAFE or _CONTEXT_FUNCS.search(ev.expr):
        return []  # start(), end(), range() and step() would answer for the moved query
    ts = ev.end
    pinned = Compiled(ev.expr, with_at(node, ts))
    times = [-1000, 0, 1000] if ts == 0 else [-10 * ts, 0, ts // 5, ts, 10 * ts]
    return [(pinned, t) for t in times]


def _run_instant(engine: Engine, ev: Eval, query: str | Compiled, t: int, variant: str) -> None:
    try:
        _check_instant(engine, ev, query, t)
    except _MismatchError as exc:
        if not variant:
            raise
        raise _MismatchError(f"{exc}{variant}") from None


def _check_instant(engine: Engine, ev: Eval, query: str | Compiled, t: int) -> None:
    try:
        result = engine.instant(query, t)
    except QueryError as err:
        if ev.is_fail:
            _check_failure(ev, err)
            return
        raise _MismatchError(f"error evaluating query: {err}") from None
    if ev.is_fail:
        raise _MismatchError("expected error evaluating query but got none")
    _check_annotations(ev, result.annotations)
    _compare(ev, result.value)
    if ev.exclude_from_range or _CONTEXT_FUNCS.search(ev.expr):
        return
    _check_range_mode(engine, ev, query, t, result.value)


def _check_range_mode(
    engine: Engine, ev: Eval, query: str | Compiled, t: int, value: Value
) -> None:
    try:
        ranged = engine.range(query, t - 60_000, t + 60_000, 60_000)
    except QueryError as err:
        raise _MismatchError(f"error evaluating query in range mode: {err}") from None
    if ev.is_ordered:
        return
    if not isinstance(ranged.value, Matrix):
        raise _MismatchError("range mode did not return a matrix")
    vec = Vector()
    for s in ranged.value:
        for pt, pv in zip(s.ts, s.vs, strict=True):
            if pt == t:
                vec.append(Sample(s.labels, pt, pv))
                break
    if isinstance(value, Scalar) and not vec:
        raise _MismatchError("range mode returned no point for the scalar")
    try:
        _compare(ev, Scalar(t, vec[0].v) if isinstance(value, Scalar) else vec)
    except _MismatchError as exc:
        raise _MismatchError(f"range mode: {exc}") from None


# -- running ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalFailure:
    """One failed eval."""

    file: str
    line: int
    expr: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.expr}\n    {self.message}"


@dataclass
class FileReport:
    """Counts for one test file."""

    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[EvalFailure] = field(default_factory=list)
    skip_reasons: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """``name: passed N, failed N, skipped N (reason: N, ...)``."""
        line = f"{self.name}: passed {self.passed}, failed {self.failed}, skipped {self.skipped}"
        if self.skip_reasons:
            reasons = ", ".join(f"{r}: {n}" for r, n in sorted(self.skip_reasons.items()))
            line += f" ({reasons})"
        return line


def _selects_histogram(expr: str, histograms: Sequence[Labels]) -> bool:
    if not histograms:
        return False
    try:
        node = compile_expr(parse(expr))
    except QueryError:
        return False
    for sel in selectors(node):
        for matchers in sel.alternatives:
            for labels in histograms:
                if all(m.matches(labels.get(m.name)) for m in matchers):
                    return True
    return False


def run_file(path: Path) -> FileReport:  # noqa: PLR0912 - one branch per command kind
    """Run every command of one test file."""
    report = FileReport(path.name)
    storage = ListStorage()
    engine = Engine(storage)
    histograms: list[Labels] = []
    try:
        commands = parse_file(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    for cmd in commands:
        if isinstance(cmd, Clear):
            storage.clear()
            histograms.clear()
        elif isinstance(cmd, Load):
            for labels, points in cmd.series:
                for k, p in enumerate(points):
                    if p is not None:
                        storage.append(labels, k * cmd.step_ms, p)
            histograms.extend(cmd.histograms)
        else:
            reason = cmd.skip
            if reason is None and _selects_histogram(cmd.expr, histograms):
                reason = "selects native histograms"
            if reason is not None:
                report.skipped += 1
                report.skip_reasons[reason] += 1
                continue
            try:
                _run_eval(engine, cmd)
            except _MismatchError as exc:
                report.failed += 1
                report.failures.append(EvalFailure(path.name, cmd.line, cmd.expr, str(exc)))
            except Exception as exc:  # noqa: BLE001 - a crash is one failed eval, not the run's end
                report.failed += 1
                report.failures.append(
                    EvalFailure(path.name, cmd.line, cmd.expr, f"{type(exc).__name__}: {exc}")
                )
            else:
                report.passed += 1
    return report


def default_dir() -> Path:
    """``TW_PROMQLTEST_DIR``, else ``../shared/promqltest`` next to the repository root."""
    env = os.environ.get("TW_PROMQLTEST_DIR")
    if env:
        return Path(env)
    root = Path(__file__).resolve().parents[3]
    return root.parent / "shared" / "promqltest"


def _files(targets: Sequence[str]) -> Iterator[Path]:
    for target in targets:
        p = Path(target)
        if p.is_dir():
            yield from sorted(p.glob("*.test"))
        else:
            yield p


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; exit status 1 when an eval failed."""
    parser = argparse.ArgumentParser(prog="python -m tradewarden.promql.conformance")
    parser.add_argument("targets", nargs="*", help="test directories or files")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each failure")
    args = parser.parse_args(argv)
    targets = args.targets or [str(default_dir())]
    paths = list(_files(targets))
    if not paths:
        print(f"no .test files in {', '.join(targets)}", file=sys.stderr)
        return 2
    total = FileReport("total")
    for path in paths:
        if not path.exists():
            print(f"{path}: no such file", file=sys.stderr)
            return 2
        try:
            report = run_file(path)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        if args.verbose:
            for failure in report.failures:
                print(failure)
        print(report.summary())
        total.passed += report.passed
        total.failed += report.failed
        total.skipped += report.skipped
    print(total.summary())
    return 1 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main())

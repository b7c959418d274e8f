"""PromQL's functions called directly with hand-built ``Call`` objects; the expected values
come from Prometheus's own test files (functions.test, histograms.test)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import promql_parser
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewarden.promql import QueryError
from tradewarden.promql._fn_common import format_openmetrics_float, quantile
from tradewarden.promql._fn_histogram import bucket_fraction, bucket_quantile
from tradewarden.promql._fn_labels import natural_less
from tradewarden.promql._functions import FUNCTIONS
from tradewarden.promql._values import (
    Annotations,
    Call,
    Matrix,
    RangeWindow,
    Sample,
    Scalar,
    Series,
    String,
    Value,
    Vector,
)
from tradewarden.series import Labels

MINUTE = 60_000


def call(
    name: str,
    *args: Value | RangeWindow,
    t: int = 0,
    exprs: Sequence[Any] = (),
    query: tuple[int, int, int] | None = None,
    positions: Sequence[str] = (),
) -> tuple[Vector | Scalar, Annotations]:
    annotations = Annotations()
    start, end, step = query if query is not None else (None, None, 0)
    c = Call(name, t, list(args), list(exprs), annotations, start, end, step, positions)
    return FUNCTIONS[name](c), annotations


def vec(*items: tuple[dict[str, str], float]) -> Vector:
    return Vector(Sample(Labels.of(labels), 0, v) for labels, v in items)


def series(labels: dict[str, str], step_ms: int, values: Sequence[float | None]) -> Series:
    ts = [i * step_ms for i, v in enumerate(values) if v is not None]
    vs = [v for v in values if v is not None]
    return Series(Labels.of(labels), ts, vs)


def window(t: int, range_ms: int, *items: Series) -> RangeWindow:
    start = t - range_ms
    clipped = Matrix()
    for s in items:
        points = [(pt, pv) for pt, pv in zip(s.ts, s.vs, strict=True) if start < pt <= t]
        if points:
            clipped.append(Series(s.labels, [p[0] for p in points], [p[1] for p in points]))
    return RangeWindow(clipped, start, t, range_ms)


def values(result: Vector | Scalar) -> dict[Labels, float]:
    assert isinstance(result, Vector)
    return {s.labels.without_name(): s.v for s in result}


def one(result: Vector | Scalar) -> float:
    assert isinstance(result, Vector)
    assert len(result) == 1
    return result[0].v


def counter(step_ms: int, *vs: float, **labels: str) -> Series:
    return series({"__name__": "http_requests_total", **labels}, step_ms, list(vs))


# --- rate, increase, delta ---------------------------------------------------------------


def test_increase_extrapolates_but_not_below_zero() -> None:
    five = 5 * MINUTE
    items = [
        counter(five, *[10.0 * i for i in range(11)], path="/foo"),
        counter(five, *[18.0 * i for i in range(6)], *[18.0 * i for i in range(5)], path="/bar"),
        counter(five, *[10 + 10.0 * i for i in range(11)], path="/dings"),
        counter(five, *[1 + 10.0 * i for i in range(11)], path="/bumms"),
    ]
    got, _ = call("increase", window(50 * MINUTE, 100 * MINUTE, *items), t=50 * MINUTE)
    assert values(got) == pytest.approx(
        {
            Labels.of(path="/foo"): 100,
            Labels.of(path="/bar"): 162,
            Labels.of(path="/dings"): 105,
            Labels.of(path="/bumms"): 101,
        }
    )


def test_rate_handles_a_counter_reset_in_the_middle() -> None:
    five = 5 * MINUTE
    s = series(
        {"__name__": "reset_total"},
        five,
        [27.0 * i for i in range(5)] + [27.0 * i for i in range(6)],
    )
    got, _ = call("rate", window(50 * MINUTE, 50 * MINUTE, s), t=50 * MINUTE)
    assert one(got) == pytest.approx(0.08)


def test_rate_zero_cutoff_limits_the_left_extrapolation() -> None:
    four = 4 * MINUTE
    items = [
        series({"start": f"{m}m"}, four, [60.0 * m + 240 * i for i in range(11)]) for m in range(6)
    ]
    got, _ = call("rate", window(10 * MINUTE, 20 * MINUTE, *items), t=10 * MINUTE)
    assert [round(v, 6) for v in values(got).values()] == [0.5, 0.55, 0.6, 0.6, 0.6, 0.6]


def test_rate_needs_two_samples_and_drops_the_name() -> None:
    s = counter(5 * MINUTE, *[10.0 * i for i in range(10)], 0, 10)
    got, _ = call("rate", window(50 * MINUTE, 5 * MINUTE, s), t=50 * MINUTE)
    assert got == Vector()
    got, _ = call("rate", window(50 * MINUTE, 6 * MINUTE, s), t=50 * MINUTE)
    assert isinstance(got, Vector)
    assert got[0].v == 0
    assert got[0].drop_name


def test_rate_of_a_name_without_counter_suffix_adds_an_info() -> None:
    s = series({"__name__": "http_requests"}, MINUTE, [1, 2, 3])
    _, annotations = call("rate", window(2 * MINUTE, 5 * MINUTE, s), t=2 * MINUTE)
    assert annotations.infos == [
        (
            "PromQL info: metric might not be a counter, name does not end in "
            '_total/_sum/_count/_bucket: "http_requests"'
        )
    ]
    _, annotations = call("delta", window(2 * MINUTE, 5 * MINUTE, s), t=2 * MINUTE)
    assert annotations.infos == []


def test_delta_of_a_gauge() -> None:
    five = 5 * MINUTE
    items = [
        series({"path": "/foo"}, five, [0, 50, 100, 150, 200]),
        series({"path": "/bar"}, five, [200, 150, 100, 50, 0]),
    ]
    got, _ = call("delta", window(20 * MINUTE, 20 * MINUTE, *items), t=20 * MINUTE)
    assert values(got) == {Labels.of(path="/foo"): 200, Labels.of(path="/bar"): -200}


def test_irate_and_idelta_use_the_last_two_samples() -> None:
    five = 5 * MINUTE
    reset = series({"path": "/bar"}, five, [0, 10, 20, 30, 40, 50, 0, 10])
    got, _ = call("irate", window(30 * MINUTE, 50 * MINUTE, reset), t=30 * MINUTE)
    assert one(got) == 0
    nan_series = series({}, five, [1, math.nan, math.nan, 5, 11])
    got, _ = call("irate", window(20 * MINUTE, 15 * MINUTE + 1000, nan_series), t=20 * MINUTE)
    assert one(got) == pytest.approx(0.02)
    got, _ = call("idelta", window(20 * MINUTE, 15 * MINUTE + 1000, nan_series), t=20 * MINUTE)
    assert one(got) == 6
    gauge = series({}, five, [0, 50, 100, 50])
    got, _ = call("idelta", window(20 * MINUTE, 20 * MINUTE, gauge), t=20 * MINUTE)
    assert one(got) == -50


# --- deriv, predict_linear, double_exponential_smoothing -----------------------------------


RESET_MIDDLE = series({}, 5 * MINUTE, [0, 10, 20, 30, 40, 0, 10, 20, 30, 40, 50])


def test_deriv_is_the_least_squares_slope() -> None:
    got, _ = call("deriv", window(50 * MINUTE, 100 * MINUTE, RESET_MIDDLE), t=50 * MINUTE)
    assert one(got) == pytest.approx(0.010606060606060607)


def test_predict_linear_extrapolates_from_the_evaluation_time() -> None:
    w = window(50 * MINUTE, 50 * MINUTE, RESET_MIDDLE)
    got, _ = call("predict_linear", w, Scalar(0, 3600), t=50 * MINUTE)
    assert one(got) == pytest.approx(70)
    w = window(3000_000, 55 * MINUTE, RESET_MIDDLE)  # ... [55m] @ 3000
    got, _ = call("predict_linear", w, Scalar(0, 3600), t=10 * MINUTE)
    assert one(got) == pytest.approx(51.36363636363637)


def test_deriv_of_infinities_is_nan() -> None:
    s = series({}, 5 * MINUTE, [-math.inf, *[80.0 * i for i in range(11)], math.inf])
    got, _ = call("deriv", window(100 * MINUTE, 100 * MINUTE, s), t=100 * MINUTE)
    assert math.isnan(one(got))


def test_double_exponential_smoothing_follows_a_linear_trend() -> None:
    s = series({}, 10_000, [10.0 * i for i in range(1001)])
    w = window(8000_000, MINUTE, s)
    got, _ = call("double_exponential_smoothing", w, Scalar(0, 0.01), Scalar(0, 0.1), t=8000_000)
    assert one(got) == pytest.approx(8000)


def test_double_exponential_smoothing_rejects_factors_outside_zero_and_one() -> None:
    w = window(MINUTE, MINUTE, series({}, 10_000, [1, 2, 3]))
    with pytest.raises(QueryError, match="invalid smoothing factor"):
        call("double_exponential_smoothing", w, Scalar(0, 1), Scalar(0, 0.1))
    with pytest.raises(QueryError, match="invalid trend factor"):
        call("double_exponential_smoothing", w, Scalar(0, 0.5), Scalar(0, 0))
    empty = RangeWindow(Matrix(), 0, MINUTE, MINUTE)
    assert call("double_exponential_smoothing", empty, Scalar(0, 1), Scalar(0, 0))[0] == Vector()


# --- *_over_time ------------------------------------------------------------------------


def over_time(name: str, vs: Sequence[float | None], t: int, range_ms: int) -> float:
    got, _ = call(name, window(t, range_ms, series({}, 10_000, vs)), t=t)
    return one(got)


def test_avg_over_time_is_exact_for_constant_and_huge_values() -> None:
    assert over_time("avg_over_time", [52.0] * 101, 10 * MINUTE, 130_000) == 52
    big = 9.988465674311579e307
    assert over_time("avg_over_time", [big, big], 55_000, MINUTE) == big
    assert over_time("sum_over_time", [big, big], 55_000, MINUTE) == math.inf
    assert over_time("avg_over_time", [1, 1e100, 1, -1e100], MINUTE, 2 * MINUTE) == 0.5
    assert over_time("sum_over_time", [1, 1e100, 1, -1e100], MINUTE, 2 * MINUTE) == 2
    assert math.isnan(over_time("avg_over_time", [1, 2, 3, math.inf, -math.inf], 55_000, MINUTE))
    assert over_time("avg_over_time", [math.inf, 0, math.inf], 55_000, MINUTE) == math.inf


def test_min_max_skip_nan_unless_everything_is_nan() -> None:
    assert over_time("min_over_time", [2, math.nan, 1], MINUTE, 2 * MINUTE) == 1
    assert over_time("max_over_time", [math.nan, 0, 1], MINUTE, 2 * MINUTE) == 1
    assert math.isnan(over_time("max_over_time", [math.nan] * 3, MINUTE, 2 * MINUTE))


def test_ts_of_min_max_last_first() -> None:
    s = series({}, 10_053, [1, 2, 3, 0, 5, 6, 2, 1, 4])
    got, _ = call("ts_of_min_over_time", window(90_000, 90_000, s), t=90_000)
    assert one(got) == pytest.approx(30.159)
    got, _ = call("ts_of_max_over_time", window(90_000, 90_000, s), t=90_000)
    assert one(got) == pytest.approx(50.265)
    s = series({}, 10_053, [None, None, 1, 2, 3])
    got, _ = call("ts_of_first_over_time", window(95_000, 90_000, s), t=95_000)
    assert one(got) == pytest.approx(20.106)
    got, _ = call("ts_of_last_over_time", window(95_000, 90_000, s), t=95_000)
    assert one(got) == pytest.approx(40.212)


def test_last_and_first_over_time_keep_the_name() -> None:
    s = series({"__name__": "data"}, 10_000, [2, 0, 3])
    for name in ("last_over_time", "first_over_time"):
        got, _ = call(name, window(MINUTE, 2 * MINUTE, s), t=MINUTE)
        assert isinstance(got, Vector)
        assert not got[0].drop_name
    got, _ = call("count_over_time", window(MINUTE, 2 * MINUTE, s), t=MINUTE)
    assert isinstance(got, Vector)
    assert got[0].drop_name
    assert got[0].v == 3


def test_stddev_stdvar_mad() -> None:
    assert over_time("stdvar_over_time", [0, 8, 8, 2, 3], MINUTE, 2 * MINUTE) == pytest.approx(
        10.56
    )
    assert over_time("stddev_over_time", [0, 8, 8, 2, 3], MINUTE, 2 * MINUTE) == pytest.approx(
        3.249615, abs=1e-6
    )
    assert over_time("stdvar_over_time", [1.5990505637277868] * 3, 55_000, MINUTE) == 0
    assert over_time("mad_over_time", [4, 6, 2, 1, 999, 1, 2], 70_000, 70_000) == 1
    assert math.isnan(over_time("mad_over_time", [1, 2, math.nan, 4], 30_000, 40_000))


def test_quantile_over_time_warns_for_a_quantile_outside_zero_and_one() -> None:
    w = window(MINUTE, 2 * MINUTE, series({}, 10_000, [0, 1, 4]))
    got, annotations = call("quantile_over_time", Scalar(0, 0.8), w, t=MINUTE)
    assert one(got) == pytest.approx(2.8)
    assert annotations.warnings == []
    got, annotations = call("quantile_over_time", Scalar(0, 2), w, t=MINUTE)
    assert one(got) == math.inf
    assert annotations.warnings == [
        "PromQL warning: quantile value should be between 0 and 1, got 2"
    ]


def test_changes_and_resets() -> None:
    foo = series({}, 5 * MINUTE, [1, 2, 3, 0, 1, 0, 0, 1, 2, 0])
    got, _ = call("changes", window(50 * MINUTE, 50 * MINUTE, foo), t=50 * MINUTE)
    assert one(got) == 7  # the window (0, 50m] leaves the sample at 0 out
    got, _ = call("resets", window(50 * MINUTE, 50 * MINUTE, foo), t=50 * MINUTE)
    assert one(got) == 3
    assert over_time("changes", [0, math.nan, 0], 15 * MINUTE, 20 * MINUTE) == 2
    assert over_time("changes", [math.nan] * 3, 15 * MINUTE, 20 * MINUTE) == 0


def test_present_and_absent_over_time() -> None:
    s = series({"job": "node"}, MINUTE, [1])
    got, _ = call("present_over_time", window(0, 30_000, s), t=0)
    assert values(got) == {Labels.of(job="node"): 1}
    sel = promql_parser.parse('x{handler="/foo", handler="/bar", instance="127.0.0.1"}[5m]')
    got, _ = call("absent_over_time", window(MINUTE, 30_000, s), t=MINUTE, exprs=[sel])
    assert isinstance(got, Vector)
    assert [(s.labels, s.v) for s in got] == [(Labels.of(instance="127.0.0.1"), 1)]
    got, _ = call("absent_over_time", window(0, 30_000, s), t=0, exprs=[sel])
    assert got == Vector()


# --- maths and scalars ------------------------------------------------------------------


DATA = vec(
    ({"type": "positive"}, 2.5),
    ({"type": "negative"}, -2.5),
    ({"type": "inf"}, math.inf),
    ({"type": "nan"}, math.nan),
)


def test_rounding_functions() -> None:
    def of(name: str, *extra: Value) -> list[float]:
        got, _ = call(name, DATA, *extra)
        return list(values(got).values())

    assert of("ceil")[:3] == [3, -2, math.inf]
    assert of("floor")[:3] == [2, -3, math.inf]
    assert of("round")[:3] == [3, -2, math.inf]
    assert of("abs")[:3] == [2.5, 2.5, math.inf]
    assert math.isnan(of("round")[3])
    assert of("round", Scalar(0, 5))[:2] == [5, -0.0]


def test_math_follows_go_at_the_edges_of_the_domain() -> None:
    x = vec(({"l": "x"}, 0), ({"l": "y"}, -10))
    ln_zero, ln_negative = values(call("ln", x)[0]).values()
    assert ln_zero == -math.inf
    assert math.isnan(ln_negative)
    assert math.isnan(values(call("sqrt", x)[0])[Labels.of(l="y")])
    assert list(values(call("exp", vec(({}, 1000)))[0]).values()) == [math.inf]
    assert math.isnan(one(call("sin", vec(({}, math.inf)))[0]))
    assert one(call("sgn", vec(({}, -50)))[0]) == -1
    assert one(call("deg", vec(({}, math.pi)))[0]) == 180
    assert one(call("tanh", vec(({}, 20)))[0]) == 1


def test_clamp_family() -> None:
    v = vec(({"src": "a"}, -50), ({"src": "b"}, 0), ({"src": "c"}, 100))
    got, _ = call("clamp", v, Scalar(0, -25), Scalar(0, 75))
    assert list(values(got).values()) == [-25, 0, 75]
    got, _ = call("clamp_max", v, Scalar(0, 75))
    assert list(values(got).values()) == [-50, 0, 75]
    got, _ = call("clamp_min", v, Scalar(0, -25))
    assert list(values(got).values()) == [-25, 0, 100]
    got, _ = call("clamp", v, Scalar(0, 5), Scalar(0, -5))
    assert got == Vector()
    got, _ = call("clamp", v, Scalar(0, 0), Scalar(0, math.nan))
    assert all(math.isnan(x) for x in values(got).values())


def test_element_wise_functions_drop_the_name() -> None:
    got, _ = call("abs", vec(({"__name__": "m"}, -1)))
    assert isinstance(got, Vector)
    assert got[0].drop_name
    assert got[0].labels.metric_name == "m"  # removed by the evaluator, not here


def test_scalar_vector_time_pi_min_of() -> None:
    assert call("scalar", vec(({}, 1)))[0] == Scalar(0, 1)
    assert math.isnan(call("scalar", vec(({"a": "1"}, 1), ({"a": "2"}, 2)))[0].v)  # type: ignore[union-attr]
    assert call("vector", Scalar(5000, 5), t=5000)[0] == Vector([Sample(Labels(), 5000, 5)])
    assert call("time", t=3_000_000)[0] == Scalar(3_000_000, 3000)
    assert call("pi")[0] == Scalar(0, math.pi)
    assert call("min_of", Scalar(0, 3), Scalar(0, 5))[0] == Scalar(0, 3)
    assert call("max_of", Scalar(0, 3), Scalar(0, 5))[0] == Scalar(0, 5)
    assert math.isnan(call("max_of", Scalar(0, math.nan), Scalar(0, 5))[0].v)  # type: ignore[union-attr]


def test_query_range_functions() -> None:
    q = (100_000, 130_000, 10_000)
    assert call("start", t=110_000, query=q)[0] == Scalar(110_000, 100)
    assert call("end", t=110_000, query=q)[0] == Scalar(110_000, 130)
    assert call("step", t=110_000, query=q)[0] == Scalar(110_000, 10)
    assert call("range", t=110_000, query=q)[0] == Scalar(110_000, 30)
    assert call("start", t=100_000)[0] == Scalar(100_000, 100)
    assert call("range", t=100_000)[0] == Scalar(100_000, 0)


def test_timestamp_reports_the_samples_own_time() -> None:
    v = Vector([Sample(Labels.of(__name__="metric"), 10_000, 1)])
    got, _ = call("timestamp", v, t=15_000)
    assert isinstance(got, Vector)
    assert (got[0].t, got[0].v, got[0].drop_name) == (15_000, 10, True)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("year", 2006),
        ("month", 1),
        ("day_of_month", 2),
        ("day_of_year", 2),
        ("day_of_week", 1),
        ("hour", 22),
        ("minute", 4),
        ("days_in_month", 31),
    ],
)
def test_date_functions_of_a_vector(name: str, expected: float) -> None:
    assert one(call(name, vec(({}, 1136239445)))[0]) == expected


def test_date_functions_without_argument_use_the_evaluation_time() -> None:
    assert one(call("year")[0]) == 1970
    assert one(call("day_of_week")[0]) == 4  # a Thursday
    assert one(call("days_in_month", vec(({}, 1454284800)))[0]) == 29


# --- labels, sorting, absent ----------------------------------------------------------


TESTMETRIC = vec(
    ({"__name__": "testmetric", "src": "source-value-10", "dst": "original"}, 0),
    ({"__name__": "testmetric", "src": "source-value-20", "dst": "original"}, 1),
)


def replace(*strings: str, v: Vector = TESTMETRIC) -> list[Labels]:
    got, _ = call("label_replace", v, *(String(0, s) for s in strings))
    assert isinstance(got, Vector)
    return [s.labels for s in got]


def test_label_replace_full_match_groups_and_empty_values() -> None:
    assert [
        ls.get("dst") for ls in replace("dst", "destination-value-$1", "src", "source-value-(.*)")
    ] == [
        "destination-value-10",
        "destination-value-20",
    ]
    assert [ls.get("dst") for ls in replace("dst", "d-$1", "src", "value-(.*)")] == ["original"] * 2
    assert [ls.get("dst") for ls in replace("dst", "$1-value-$2", "src", "(.*)-value-(.*)")] == [
        "source-value-10",
        "source-value-20",
    ]
    assert [ls.get("dst") for ls in replace("dst", "value-$1", "nonexistent-src", "(.*)")] == [
        "value-"
    ] * 2
    assert [ls.has("dst") for ls in replace("dst", "", "dst", ".*")] == [False, False]
    assert [ls.get("dst") for ls in replace("dst", "${1}x$1x", "src", "source-value-(.*)")] == [
        "10x",
        "20x",
    ]


def test_label_replace_accepts_a_leading_flag_group() -> None:
    assert [ls.get("dst") for ls in replace("dst", "$1", "src", "(?i)SOURCE-value-(.*)")] == [
        "10",
        "20",
    ]


def test_label_replace_errors() -> None:
    with pytest.raises(QueryError, match="invalid regular expression"):
        replace("dst", "value-$1", "src", "(.*")
    with pytest.raises(QueryError, match="invalid destination label name"):
        replace("\xff", "", "src", "(.*)")
    with pytest.raises(QueryError, match="same labelset"):
        replace("src", "", "", "")


def test_label_replace_of_the_name_keeps_it() -> None:
    v = Vector([Sample(Labels.of(__name__="m", env="1"), 0, 1, drop_name=True)])
    got, _ = call(
        "label_replace", v, *(String(0, s) for s in ("__name__", "rate_$1", "__name__", "(.+)"))
    )
    assert isinstance(got, Vector)
    assert (got[0].labels.metric_name, got[0].drop_name) == ("rate_m", False)
    got, _ = call("label_replace", v, *(String(0, s) for s in ("my", "x_$1", "__name__", "(.+)")))
    assert isinstance(got, Vector)
    assert got[0].drop_name


def test_label_join() -> None:
    v = vec(({"src": "a", "src1": "b", "src2": "c", "dst": "x"}, 0))
    got, _ = call("label_join", v, *(String(0, s) for s in ("dst", "-", "src", "src3", "src1")))
    assert isinstance(got, Vector)
    assert got[0].labels.get("dst") == "a--b"
    dup = vec(({"label": "a", "this": "a"}, 1), ({"label": "b", "this": "a"}, 1))
    with pytest.raises(QueryError, match="vector cannot contain metrics with the same labelset"):
        call("label_join", dup, *(String(0, s) for s in ("label", "", "this")))


def test_sort_puts_nan_last_both_ways() -> None:
    v = vec(({"i": "1"}, 300), ({"i": "2"}, math.nan), ({"i": "3"}, 100))
    asc, _ = call("sort", v)
    desc, _ = call("sort_desc", v)
    assert [s.labels.get("i") for s in asc] == ["3", "1", "2"]  # type: ignore[union-attr]
    assert [s.labels.get("i") for s in desc] == ["1", "3", "2"]  # type: ignore[union-attr]


def test_sort_by_label_is_natural_then_by_all_labels() -> None:
    cpus = ["0", "1", "2", "3", "10", "11", "12", "20", "21", "100"]
    v = vec(*(({"cpu": c, "job": "cpu"}, 1) for c in reversed(cpus)))
    got, _ = call("sort_by_label", v, String(0, "cpu"))
    assert [s.labels.get("cpu") for s in got] == cpus  # type: ignore[union-attr]
    got, _ = call("sort_by_label_desc", v, String(0, "cpu"))
    assert [s.labels.get("cpu") for s in got] == cpus[::-1]  # type: ignore[union-attr]
    releases = vec(
        ({"release": "1.111.3"}, 1), ({"release": "1.2.3"}, 1), ({"release": "1.11.3"}, 1)
    )
    got, _ = call("sort_by_label", releases, String(0, "release"))
    assert [s.labels.get("release") for s in got] == ["1.2.3", "1.11.3", "1.111.3"]  # type: ignore[union-attr]


def test_natural_order_of_mixed_chunks() -> None:
    assert natural_less("4m5", "4m600")
    assert natural_less("4m600", "4m1000")
    assert not natural_less("b", "a")
    assert natural_less("a", "a1")


@pytest.mark.parametrize(
    ("query", "labels"),
    [
        ("absent(nonexistent)", {}),
        (
            'absent(nonexistent{job="testjob", instance="testinstance", method=~".x"})',
            {"instance": "testinstance", "job": "testjob"},
        ),
        ('absent(nonexistent{job="testjob",job="testjob2",foo="bar"})', {"foo": "bar"}),
        ('absent(nonexistent{job="testjob",job=~"testjob2",foo="bar"})', {"foo": "bar"}),
        ('absent(sum(nonexistent{job="testjob"}))', {}),
    ],
)
def test_absent_takes_labels_from_equality_matchers(query: str, labels: dict[str, str]) -> None:
    parsed: Any = promql_parser.parse(query)
    expr = parsed.args[0]
    got, _ = call("absent", Vector(), t=50 * MINUTE, exprs=[expr])
    assert got == Vector([Sample(Labels.of(labels), 50 * MINUTE, 1)])
    got, _ = call("absent", vec(({}, 1)), exprs=[expr])
    assert got == Vector()


# --- histograms -------------------------------------------------------------------------


def buckets(name: str, **counts: float) -> Vector:
    return vec(*(({"__name__": name, "le": le.replace("p", ".")}, c) for le, c in counts.items()))


NONMONOTONIC = [(0.1, 20), (1, 10), (10, 50), (100, 40), (1000, 90), (math.inf, 80)]


def test_histogram_quantile_interpolates_within_buckets() -> None:
    v = vec(
        ({"__name__": "h_bucket", "le": "0.1"}, 50),
        ({"__name__": "h_bucket", "le": "0.2"}, 70),
        ({"__name__": "h_bucket", "le": "+Inf"}, 110),
    )
    got, annotations = call("histogram_quantile", Scalar(0, 0.5), v)
    assert isinstance(got, Vector)
    assert got[0].labels == Labels.of(__name__="h_bucket")
    assert got[0].drop_name
    assert got[0].v == pytest.approx(0.125)
    assert annotations.warnings == annotations.infos == []


def test_histogram_quantile_forces_monotonic_buckets_and_says_so() -> None:
    assert bucket_quantile(0.01, NONMONOTONIC)[0] == pytest.approx(0.0045)
    value, forced = bucket_quantile(0.5, NONMONOTONIC)
    assert (value, forced) == (8.5, True)
    assert bucket_quantile(0.99, NONMONOTONIC)[0] == pytest.approx(979.75)
    v = vec(*(({"__name__": "nonmonotonic_bucket", "le": str(le)}, c) for le, c in NONMONOTONIC))
    _, annotations = call("histogram_quantile", Scalar(0, 0.5), v)
    assert annotations.infos[0].startswith(
        "PromQL info: input to histogram_quantile needed to be fixed for monotonicity"
    )


def test_bucket_quantile_special_cases() -> None:
    assert math.isnan(bucket_quantile(0.5, [(1, 1), (2, 2)])[0])  # no +Inf bucket
    assert math.isnan(bucket_quantile(0.5, [(math.inf, 0), (1, 0)])[0])  # no observations
    assert bucket_quantile(-0.1, [(math.inf, 1)])[0] == -math.inf
    assert bucket_quantile(1.01, [(math.inf, 1)])[0] == math.inf
    assert bucket_quantile(1, [(0.5, 1), (1, 2), (math.inf, 3)])[0] == 1  # highest bucket
    assert bucket_quantile(0, [(-0.2, 1), (0, 2), (math.inf, 3)])[0] == -0.2


def test_histogram_quantile_warnings() -> None:
    _, annotations = call("histogram_quantile", Scalar(0, math.nan), Vector())
    assert annotations.warnings == [
        "PromQL warning: quantile value should be between 0 and 1, got NaN"
    ]
    got, annotations = call(
        "histogram_quantile", Scalar(0, 0.8), vec(({"__name__": "series", "ale": "0.1"}, 2))
    )
    assert got == Vector()
    assert annotations.warnings == [
        (
            'PromQL warning: bucket label "le" is missing or has a malformed value of "" '
            'for metric name "series"'
        )
    ]


def test_annotations_end_with_the_position_of_their_argument() -> None:
    bad = vec(({"__name__": "series", "le": "Hello World"}, 2))
    _, annotations = call(
        "histogram_fraction", Scalar(0, 0), Scalar(0, 1), bad, positions=("1:20", "1:26", "1:29")
    )
    assert annotations.warnings[0].endswith('for metric name "series" (1:29)')
    _, annotations = call(
        "histogram_quantiles",
        Vector(),
        String(0, "q"),
        Scalar(0, 0.5),
        Scalar(0, math.nan),
        positions=("1:21", "1:31", "1:36", "1:41"),
    )
    assert annotations.warnings == [
        "PromQL warning: quantile value should be between 0 and 1, got NaN (1:41)"
    ]
    s = series({"__name__": "requests"}, MINUTE, [1, 2])
    _, annotations = call("increase", window(MINUTE, 2 * MINUTE, s), positions=("1:10",))
    assert annotations.infos[0].endswith('"requests" (1:10)')


def test_histogram_quantiles_label_each_quantile() -> None:
    v = buckets("h_bucket", **{"0p1": 50, "0p2": 70, "+Inf": 110})
    got, _ = call(
        "histogram_quantiles", v, String(0, "q"), Scalar(0, 0), Scalar(0, 0.5), Scalar(0, 1)
    )
    assert [s.labels.get("q") for s in got] == ["0.0", "0.5", "1.0"]  # type: ignore[union-attr]
    two = Vector([*v, *(Sample(s.labels.set("x", "y"), 0, s.v) for s in v)])
    with pytest.raises(QueryError, match="same labelset"):
        call("histogram_quantiles", two, String(0, "x"), Scalar(0, 0.5))


@pytest.mark.parametrize(
    ("lower", "upper", "counts", "expected"),
    [
        (0, 1.5, [(1, 1), (2, 3), (3, 6), (math.inf, 100)], 0.02),
        (-4, -2, [(-3, 10), (-2, 12), (-1, 15), (math.inf, 100)], 0.02),
        (-math.inf, -1.5, [(-3, 10), (-2, 12), (-1, 15), (math.inf, 100)], 0.135),
        (-math.inf, math.inf, [(1, 1), (2, 3), (3, 6), (math.inf, 100)], 1.0),
        (4, 5, [(1, 1), (2, 3), (3, 6), (math.inf, 100)], 0.0),
        (2, 5, [(1, 1), (2, 3), (3, 6), (math.inf, 100)], 0.03),
        (400, math.inf, [(1, 1), (2, 3), (3, 6), (math.inf, 100)], 0.94),
        (3, 2, [(1, 1), (2, 3), (3, 6), (math.inf, 100)], 0.0),
        (0, 1, [(math.inf, 100)], 0.0),
        (0.5, 2, [(1, 1), (2, 3), (3, 6), (math.inf, 100)], 0.025),
        (0.1, 0.75, [(0.5, 2.5), (1, 7.5), (math.inf, 100)], 0.045),
        (-1, 1, [(-2, 5), (-1, 10), (0, 15), (1, 20), (math.inf, 100)], 0.1),
        (-10, -5, [(1, 1), (2, 3), (math.inf, 10)], 0.0),
        (5, 10, [(1, 1), (2, 3), (math.inf, 10)], 0.0),
    ],
)
def test_bucket_fraction(
    lower: float, upper: float, counts: list[tuple[float, float]], expected: float
) -> None:
    assert bucket_fraction(lower, upper, counts) == pytest.approx(expected)


def test_bucket_fraction_nan_cases() -> None:
    assert math.isnan(bucket_fraction(0, 5, [(1, 0), (math.inf, 0)]))
    assert math.isnan(bucket_fraction(math.nan, 1, [(1, 1), (math.inf, 100)]))
    assert math.isnan(bucket_fraction(0, 1, [(1, 1), (2, 3)]))


def test_native_histogram_accessors_find_nothing_in_floats() -> None:
    for name in ("histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev"):
        assert call(name, vec(({}, 1)))[0] == Vector()


# --- shared helpers ---------------------------------------------------------------------


def test_openmetrics_float_formatting() -> None:
    assert [format_openmetrics_float(f) for f in (0, 1, 0.25, -0.1, 1e6, math.nan, -math.inf)] == [
        "0.0",
        "1.0",
        "0.25",
        "-0.1",
        "1e+06",
        "NaN",
        "-Inf",
    ]


@given(
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1),
    st.floats(0, 1),
)
def test_quantile_lies_between_min_and_max(vs: list[float], q: float) -> None:
    assert min(vs) <= quantile(q, vs) <= max(vs) or math.isclose(quantile(q, vs), min(vs))


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50),
)
def test_sum_over_time_matches_an_exact_sum(vs: list[float]) -> None:
    got = over_time("sum_over_time", vs, len(vs) * 10_000, len(vs) * 10_000 + 10_000)
    assert got == pytest.approx(math.fsum(vs), abs=1e-6)


@given(st.lists(st.floats(0, 1e6), min_size=2, max_size=30))
def test_increase_is_never_negative(vs: list[float]) -> None:
    got, _ = call(
        "increase", window(len(vs) * 10_000, len(vs) * 10_000 + 10_000, series({}, 10_000, vs))
    )
    assert one(got) >= 0


counter_values = st.lists(st.floats(0, 1e6), min_size=2, max_size=30)


@given(counter_values, st.integers(1, 20))
def test_increase_is_rate_times_the_range(vs: list[float], range_steps: int) -> None:
    t = len(vs) * 10_000
    w = window(t, range_steps * 10_000, series({}, 10_000, vs))
    rate, _ = call("rate", w, t=t)
    increase, _ = call("increase", w, t=t)
    assert isinstance(rate, Vector)
    assert isinstance(increase, Vector)
    assert [s.v * range_steps * 10 for s in rate] == pytest.approx([s.v for s in increase])


@given(st.lists(st.floats(allow_infinity=False), max_size=30))
def test_sort_orders_ascending_with_nan_last(vs: list[float]) -> None:
    got, _ = call("sort", vec(*(({"i": str(i)}, v) for i, v in enumerate(vs))))
    assert isinstance(got, Vector)
    out = [s.v for s in got]
    numbers = [v for v in out if not math.isnan(v)]
    assert numbers == sorted(v for v in vs if not math.isnan(v))
    assert all(math.isnan(v) for v in out[len(numbers) :])


monotonic_buckets = st.lists(st.floats(0, 1e3), min_size=1, max_size=8).map(
    lambda increments: (
        [(float(i + 1), sum(increments[: i + 1])) for i in range(len(increments) - 1)]
        + [(math.inf, sum(increments))]
    )
)


@given(monotonic_buckets)
def test_the_whole_range_holds_every_observation(buckets: list[tuple[float, float]]) -> None:
    total = buckets[-1][1]
    fraction = bucket_fraction(-math.inf, math.inf, buckets)
    assert math.isnan(fraction) if total == 0 else fraction == pytest.approx(1)


@given(monotonic_buckets, st.floats(0, 1), st.floats(0, 1))
def test_bucket_quantile_grows_with_q(
    buckets: list[tuple[float, float]], a: float, b: float
) -> None:
    low, high = sorted((a, b))
    q_low, forced_low = bucket_quantile(low, buckets)
    q_high, _ = bucket_quantile(high, buckets)
    assert not forced_low
    if not (math.isnan(q_low) or math.isnan(q_high)):
        assert q_low <= q_high

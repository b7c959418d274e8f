"""The evaluator's own behaviour, beyond what Prometheus's test files check: the API
surface, bad input, how it reads storage, and the ``Call`` it builds for functions."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pytest

from tradewarden.promql import (
    Call,
    Engine,
    Matrix,
    QueryError,
    RangeWindow,
    Sample,
    Scalar,
    String,
    Vector,
    _engine,
    metric_names,
    parse,
)
from tradewarden.series import STALE_NAN, LabelMatcher, Labels, ListStorage, SeriesData

MIN = 60_000


class CountingStorage:
    """A ListStorage that counts its select calls."""

    def __init__(self) -> None:
        self.inner = ListStorage()
        self.selects: list[tuple[int, int]] = []

    def append(self, labels: Labels, t_ms: int, value: float) -> None:
        self.inner.append(labels, t_ms, value)

    def select(
        self, matchers: Sequence[LabelMatcher], start_ms: int, end_ms: int
    ) -> Iterator[SeriesData]:
        self.selects.append((start_ms, end_ms))
        return self.inner.select(matchers, start_ms, end_ms)


def _load(
    storage: Any, name: str, values: Iterable[float | None], step: int = MIN, **labels: str
) -> None:
    for k, v in enumerate(values):
        if v is not None:
            storage.append(Labels.of(__name__=name, **labels), k * step, v)


@pytest.fixture
def storage() -> ListStorage:
    s = ListStorage()
    _load(s, "up", [1, 1, 0, 1, 1, 1, 1, 1, 1, 1], job="api", instance="a")
    _load(s, "up", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], job="api", instance="b")
    _load(s, "req_total", [0, 10, 20, 30, 40, 50, 60, 70, 80, 90], job="api", instance="a")
    return s


def _values(result: Vector) -> dict[str, float]:
    return {str(s.labels): s.v for s in result}


# -- parsing and metric names ------------------------------------------------------------


def test_a_syntax_error_is_a_query_error_with_the_parsers_message() -> None:
    with pytest.raises(QueryError, match="unclosed left parenthesis"):
        parse("sum(")
    with pytest.raises(QueryError, match="unexpected end of input inside braces"):
        Engine(ListStorage()).instant("up{", 0)


def test_parse_is_cached() -> None:
    assert parse("up == 1") is parse("up == 1")


def test_the_engine_accepts_a_parsed_expression(storage: ListStorage) -> None:
    result = Engine(storage).instant(parse('up{instance="a"}'), 2 * MIN)
    assert _values(result.value) == {'up{instance="a", job="api"}': 0.0}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("up", {"up"}),
        ('rate(req_total{job="x"}[5m]) / on(job) group_left up', {"req_total", "up"}),
        ('{__name__="up", job="x"}', {"up"}),
        ("max_over_time(abs(up)[10m:1m])", {"up"}),
        ("time() - 1", set()),
        ('{job="x"}', None),
        ('{__name__=~"up|down"}', None),
        ("up or absent(nothing)", {"up", "nothing"}),
    ],
)
def test_metric_names(query: str, names: set[str] | None) -> None:
    got = metric_names(query)
    assert got == (None if names is None else frozenset(names))
    assert metric_names(parse(query)) == got


# -- bad input -------------------------------------------------------------------------


def test_range_queries_refuse_a_range_vector_or_a_string(storage: ListStorage) -> None:
    engine = Engine(storage)
    with pytest.raises(QueryError, match='invalid expression type "range vector"'):
        engine.range("up[5m]", 0, MIN, MIN)
    with pytest.raises(QueryError, match='invalid expression type "string"'):
        engine.range('"text"', 0, MIN, MIN)


def test_range_queries_refuse_a_bad_step_or_an_inverted_range(storage: ListStorage) -> None:
    engine = Engine(storage)
    with pytest.raises(QueryError, match="zero or negative query resolution step"):
        engine.range("up", 0, MIN, 0)
    with pytest.raises(QueryError, match="end timestamp must not be before start"):
        engine.range("up", MIN, 0, MIN)


def test_the_lookback_delta_must_be_positive(storage: ListStorage) -> None:
    with pytest.raises(ValueError, match="lookback_delta_ms"):
        Engine(storage, lookback_delta_ms=0)


def test_an_at_modifier_before_1970_is_a_clear_error(storage: ListStorage) -> None:
    with pytest.raises(QueryError, match="before 1970"):
        Engine(storage).instant("up @ -5", 0)


def test_an_invalid_regex_names_the_pattern(storage: ListStorage) -> None:
    with pytest.raises(QueryError, match="illegal regex"):
        Engine(storage).instant('up{job=~"(?<x)"}', 0)  # the parser's check
    with pytest.raises(QueryError, match="invalid regular expression"):
        Engine(storage).instant('up{job=~"\\\\pL"}', 0)  # RE2 has it, Python's re not


def test_an_unknown_function_is_an_error(
    storage: ListStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_engine, "FUNCTIONS", {})
    with pytest.raises(QueryError, match="unknown function abs"):
        Engine(storage).instant("abs(up)", 0)


def test_a_query_that_reads_too_many_samples_fails(storage: ListStorage) -> None:
    engine = Engine(storage, max_samples=15)
    assert len(engine.instant("req_total[10m]", 9 * MIN).value) == 1  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="would load too many samples"):
        engine.instant("up[10m]", 9 * MIN)


def test_a_query_past_its_deadline_fails(storage: ListStorage) -> None:
    engine = Engine(storage, timeout_s=0.0)
    with pytest.raises(QueryError, match="query timed out in query execution"):
        engine.range("up", 0, 9 * MIN, MIN)
    with pytest.raises(QueryError, match="query timed out in query execution"):
        engine.instant("max_over_time(up[5m:1m])", 9 * MIN)


# -- selection and time ------------------------------------------------------------------


def test_a_range_query_reads_storage_once_per_selector() -> None:
    storage = CountingStorage()
    _load(storage, "up", [1] * 30, job="api")
    result = Engine(storage).range("up + up offset 5m", 10 * MIN, 20 * MIN, MIN)
    assert isinstance(result.value, Matrix)
    assert len(result.value[0].ts) == 11
    assert sorted(storage.selects) == [(1, 15 * MIN), (5 * MIN + 1, 20 * MIN)]


def test_a_selector_written_twice_reads_storage_once() -> None:
    storage = CountingStorage()
    _load(storage, "up", [1] * 10, job="api")
    Engine(storage).instant('up / (up + up{job="api"})', 5 * MIN)
    assert len(storage.selects) == 2


def test_ties_in_sort_come_in_label_order_as_from_prometheus_storage() -> None:
    storage = ListStorage()  # yields series in insertion order
    for name in ("c", "a", "b"):
        storage.append(Labels.of(__name__="x", n=name), 0, 1.0)
    engine = Engine(storage)
    ordered = engine.instant("sort(x)", 0).value
    assert [s.labels.get("n") for s in ordered] == ["a", "b", "c"]  # type: ignore[union-attr]
    plain = engine.instant("x", 0).value  # order-insensitive: storage order, unsorted
    assert [s.labels.get("n") for s in plain] == ["c", "a", "b"]  # type: ignore[union-attr]


def test_range_results_are_sorted_by_labels_with_one_point_per_step(storage: ListStorage) -> None:
    result = Engine(storage).range("up", 0, 4 * MIN, 2 * MIN)
    assert isinstance(result.value, Matrix)
    assert [str(s.labels) for s in result.value] == [
        'up{instance="a", job="api"}',
        'up{instance="b", job="api"}',
    ]
    assert result.value[0].ts == [0, 2 * MIN, 4 * MIN]
    assert result.value[0].vs == [1.0, 0.0, 1.0]


def test_a_stale_marker_ends_a_series_and_the_lookback_delta_is_configurable() -> None:
    storage = ListStorage()
    _load(storage, "gauge", [1, STALE_NAN, None, 3])
    engine = Engine(storage)
    assert _values(engine.instant("gauge", 30_000).value) == {"gauge": 1.0}  # type: ignore[arg-type]
    assert engine.instant("gauge", MIN + 30_000).value == Vector()
    assert _values(engine.instant("gauge", 8 * MIN - 1).value) == {"gauge": 3.0}  # type: ignore[arg-type]
    assert engine.instant("gauge", 8 * MIN).value == Vector()  # the lookback is left-open
    short = Engine(storage, lookback_delta_ms=MIN)
    assert short.instant("gauge", 4 * MIN).value == Vector()


def test_negative_offset_and_at_start_end(storage: ListStorage) -> None:
    engine = Engine(storage)
    ahead = engine.instant("req_total offset -2m", 3 * MIN).value
    assert _values(ahead) == {'req_total{instance="a", job="api"}': 50.0}  # type: ignore[arg-type]
    pinned = engine.range("req_total @ start()", 2 * MIN, 4 * MIN, MIN).value
    assert isinstance(pinned, Matrix)
    assert pinned[0].vs == [20.0, 20.0, 20.0]
    pinned = engine.range("req_total @ end()", 2 * MIN, 4 * MIN, MIN).value
    assert isinstance(pinned, Matrix)
    assert pinned[0].vs == [40.0, 40.0, 40.0]


def test_an_instant_range_selector_returns_its_raw_window(storage: ListStorage) -> None:
    value = Engine(storage).instant("req_total[3m]", 5 * MIN).value
    assert isinstance(value, Matrix)
    assert value[0].ts == [3 * MIN, 4 * MIN, 5 * MIN]  # left-open: 2m is out


def test_literals_and_scalar_arithmetic() -> None:
    engine = Engine(ListStorage())
    assert engine.instant("0x10 + 2 ^ 3 * 2", 0).value == Scalar(0, 32.0)
    assert engine.instant('"hello"', 5).value == String(5, "hello")
    assert engine.instant("1 / 0", 0).value == Scalar(0, math.inf)
    nan = engine.instant("0 / 0", 0).value
    assert isinstance(nan, Scalar)
    assert math.isnan(nan.v)
    assert engine.instant("-7 % 3", 0).value == Scalar(0, -1.0)
    assert engine.instant("1 < bool 2", 0).value == Scalar(0, 1.0)


# -- operators and their errors ----------------------------------------------------------


def test_many_to_many_matching_names_both_series(storage: ListStorage) -> None:
    with pytest.raises(QueryError) as err:
        Engine(storage).instant("req_total + on(job) up", 0)
    assert str(err.value) == (
        'found duplicate series for the match group {job="api"} on the right hand-side of the '
        'operation: [{__name__="up", instance="a", job="api"}, '
        '{__name__="up", instance="b", job="api"}];many-to-many matching not allowed: '
        "matching labels must be unique on one side"
    )


def test_group_left_copies_labels_from_the_one_side() -> None:
    storage = ListStorage()
    storage.append(Labels.of(__name__="cpu", node="n1", core="0"), 0, 2)
    storage.append(Labels.of(__name__="cpu", node="n1", core="1"), 0, 4)
    storage.append(Labels.of(__name__="info", node="n1", zone="z"), 0, 1)
    value = Engine(storage).instant("cpu * on(node) group_left(zone) info", 0).value
    assert _values(value) == {  # type: ignore[arg-type]
        '{core="0", node="n1", zone="z"}': 2.0,
        '{core="1", node="n1", zone="z"}': 4.0,
    }


def test_names_are_removed_at_the_end_and_collisions_fail(storage: ListStorage) -> None:
    engine = Engine(storage)
    value = engine.instant('sum by (__name__) (up{instance="a"}) * 2', 0).value
    assert _values(value) == {"{}": 2.0}  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="vector cannot contain metrics with the same labelset"):
        engine.instant('-{instance="a"}', 0)


def test_aggregation_parameters(storage: ListStorage) -> None:
    engine = Engine(storage)
    with pytest.raises(QueryError, match="Parameter value is NaN"):
        engine.instant("topk(NaN, up)", 0)
    assert engine.instant("topk(0, up)", 0).value == Vector()
    result = engine.instant("quantile(2, up)", 0)
    assert _values(result.value) == {"{}": math.inf}  # type: ignore[arg-type]
    assert result.annotations.warnings == [
        "PromQL warning: quantile value should be between 0 and 1, got 2 (1:10)"
    ]
    with pytest.raises(QueryError, match='invalid label name "a-b"'):
        engine.instant('count_values("a-b", up)', 0)


# -- the Call the functions receive -------------------------------------------------------


class Recorder:
    """A fake function that records its calls and returns an empty vector."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def __call__(self, call: Call) -> Vector:
        self.calls.append(call)
        return Vector()


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    passthrough = {"abs": lambda call: call.args[0]}
    monkeypatch.setattr(_engine, "FUNCTIONS", {"rate": rec, "timestamp": rec, **passthrough})
    return rec


def test_a_matrix_argument_is_a_window_with_offset_applied(
    storage: ListStorage, recorder: Recorder
) -> None:
    Engine(storage).instant("rate(req_total[3m] offset 1m)", 6 * MIN)
    (call,) = recorder.calls
    (window,) = call.args
    assert isinstance(window, RangeWindow)
    assert (window.start_ms, window.end_ms, window.range_ms) == (2 * MIN, 5 * MIN, 3 * MIN)
    assert list(window.series[0].ts) == [3 * MIN, 4 * MIN, 5 * MIN]
    assert type(call.exprs[0]).__name__ == "MatrixSelector"
    assert call.t == 6 * MIN
    assert call.arg_positions == ("1:6",)


def test_a_subquery_argument_is_a_window_of_its_steps(
    storage: ListStorage, recorder: Recorder
) -> None:
    Engine(storage).instant("rate(abs(req_total)[4m:2m])", 9 * MIN)
    (call,) = recorder.calls
    (window,) = call.args
    assert isinstance(window, RangeWindow)
    assert list(window.series[0].ts) == [6 * MIN, 8 * MIN]
    assert list(window.series[0].vs) == [60.0, 80.0]


def test_timestamp_of_a_selector_gets_the_samples_own_time(recorder: Recorder) -> None:
    storage = ListStorage()
    storage.append(Labels.of(__name__="m"), 30_000, 1)
    Engine(storage).instant("timestamp(m)", 100_000)
    (call,) = recorder.calls
    (vec,) = call.args
    assert vec == Vector([Sample(Labels.of(__name__="m"), 30_000, 1.0)])


def test_range_queries_tell_functions_the_query_times(
    storage: ListStorage, recorder: Recorder
) -> None:
    Engine(storage).range("rate(req_total[2m])", MIN, 3 * MIN, MIN)
    assert [c.t for c in recorder.calls] == [MIN, 2 * MIN, 3 * MIN]
    first = recorder.calls[0]
    assert (first.query_start_ms, first.query_end_ms, first.query_step_ms) == (MIN, 3 * MIN, MIN)

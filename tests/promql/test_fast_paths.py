"""The evaluator's fast paths give the results of the plain ones: a comparison with a
number filtering inside the selector or function, an instant selector that keeps only
each series' last sample, Kahan and regression loops that check for infinities at the
end, and the regression's x side shared by series with the same timestamps."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Sequence

from hypothesis import given
from hypothesis import strategies as st

from tradewarden.promql import Engine, Vector, _aggregate, _binary, _fn_range
from tradewarden.series import STALE_NAN, LabelMatcher, Labels, ListStorage, SeriesData

MIN = 60_000

_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 0.0, -0.0, 1.0, math.inf, -math.inf]),
)


def _bits(v: float) -> bytes:
    return struct.pack("<d", v)


def _same(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return [_bits(x) for x in a] == [_bits(x) for x in b]


class LooseStorage:
    """Returns every sample of a matching series, whatever the range asked for (the
    port allows a store to return less, not more; the evaluator does not rely on it)."""

    def __init__(self, inner: ListStorage) -> None:
        self.inner = inner

    def select(
        self, matchers: Sequence[LabelMatcher], start_ms: int, end_ms: int
    ) -> Iterator[SeriesData]:
        del start_ms, end_ms
        return self.inner.select(matchers, -(2**62), 2**62)


def _storage() -> ListStorage:
    s = ListStorage()
    for i in range(6):
        labels = Labels.of(__name__="temperature", room=f"r{i}")
        counter = Labels.of(__name__="requests_total", room=f"r{i}")
        for k in range(12):
            value = (i * 7 + k * 3) % 10 / 10
            s.append(labels, k * MIN, STALE_NAN if (i, k) == (2, 11) else value)
            s.append(counter, k * MIN, float(k * (i + 1) - (5 if k > 6 and i == 3 else 0)))
    return s


def _rows(value: object) -> list[tuple[Labels, int, bytes]]:
    assert isinstance(value, Vector)
    return [(s.labels, s.t, _bits(s.v)) for s in value]


def test_a_comparison_keeps_the_samples_the_plain_comparison_keeps() -> None:
    engine = Engine(_storage())
    for inner in [
        "temperature",
        "rate(requests_total[5m])",
        "deriv(temperature[5m])",
        "max_over_time(temperature[3m])",
        "changes(temperature[6m])",
    ]:
        for op in ["<", ">", "<=", ">=", "==", "!="]:
            for t in (10 * MIN, 11 * MIN + 30_000):
                fast = engine.instant(f"{inner} {op} 0.3", t)
                # "+ 0" stops the fast path: the comparison runs on the whole vector.
                plain = engine.instant(f"({inner} + 0) {op} 0.3", t)
                swapped = engine.instant(f"0.3 {_mirror(op)} {inner}", t)
                assert [r[1:] for r in _rows(fast.value)] == [r[1:] for r in _rows(plain.value)]
                assert _rows(fast.value) == _rows(swapped.value)


def _mirror(op: str) -> str:
    return {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)


def test_a_comparison_that_drops_every_sample_keeps_the_functions_infos() -> None:
    result = Engine(_storage()).instant("rate(temperature[5m]) > 1e9", 10 * MIN)
    assert result.value == Vector()
    assert any("might not be a counter" in info for info in result.annotations.infos)


def test_an_instant_selector_does_not_rely_on_the_store_keeping_to_the_range() -> None:
    storage = _storage()
    tight, loose = Engine(storage), Engine(LooseStorage(storage))
    for query in [
        "temperature",
        "temperature offset 3m",
        "temperature > 0.2",
        "rate(requests_total[4m])",
    ]:
        for t in (0, 5 * MIN, 11 * MIN, 30 * MIN):
            assert _rows(tight.instant(query, t).value) == _rows(loose.instant(query, t).value)


def test_series_with_the_same_timestamps_share_the_regressions_x_side() -> None:
    engine = Engine(_storage())
    together = {
        labels: bits
        for labels, _, bits in _rows(engine.instant("deriv(temperature[6m])", 10 * MIN).value)
    }
    assert len(together) == 6
    for room in range(6):
        query = f'deriv(temperature{{room="r{room}"}}[6m])'
        ((labels, _, bits),) = _rows(engine.instant(query, 10 * MIN).value)
        assert together[labels] == bits


@given(st.lists(_floats, min_size=1, max_size=12))
def test_the_kahan_sum_matches_the_careful_loop(vs: list[float]) -> None:
    assert _same(_fn_range._kahan_sum(vs)[:2], _fn_range._kahan_sum_careful(vs)[:2])
    assert _fn_range._kahan_sum(vs)[2] == _fn_range._kahan_sum_careful(vs)[2]


@given(st.lists(_floats, min_size=1, max_size=12))
def test_the_variance_matches_the_careful_loop(vs: list[float]) -> None:
    assert _same((_fn_range._variance(vs),), (_fn_range._variance_careful(vs),))


@given(
    st.lists(_floats, min_size=2, max_size=12),
    st.integers(min_value=0, max_value=10**6),
    st.booleans(),
)
def test_the_regression_matches_the_careful_loop(vs: list[float], start: int, cached: bool) -> None:
    ts = tuple(start + 15_000 * k for k in range(len(vs)))
    cache: dict[tuple[int, ...], _fn_range._XSums] | None = {} if cached else None
    for _ in range(2):  # the second time from the cache
        fast = _fn_range._linear_regression(ts, vs, ts[0], cache)
        assert _same(fast, _fn_range._linear_regression_careful(ts, vs, ts[0]))


def test_the_label_caches_stay_bounded() -> None:
    engine = Engine(_storage())
    for k in range(100):
        engine.instant(f"sum by (room, l{k}) (temperature)", 10 * MIN)
        engine.instant(f"temperature + on (room, l{k}) temperature", 10 * MIN)
    assert len(_aggregate._KEYS) <= _aggregate._CACHE_KINDS + 1
    assert len(_binary._SIGNATURES) <= _binary._CACHE_KINDS + 1

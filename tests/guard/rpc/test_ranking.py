"""Ranking maths: viem's score (0.3 latency + 0.7 stability), slot lag, the order."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewarden.guard.rpc import Sample, Standing, lags, rank, scores

samples_st = st.lists(
    st.builds(
        Sample,
        ok=st.booleans(),
        latency_s=st.floats(min_value=0.0, max_value=10.0, allow_nan=False),
    ),
    min_size=1,
    max_size=10,
)
groups_st = st.dictionaries(st.sampled_from("abcdef"), samples_st, min_size=1)


@given(groups_st)
def test_scores_are_between_zero_and_one(groups: dict[str, list[Sample]]) -> None:
    for value in scores(groups).values():
        assert 0.0 <= value <= 1.0 + 1e-9


@given(groups_st)
def test_an_endpoint_that_never_answered_scores_zero(groups: dict[str, list[Sample]]) -> None:
    result = scores(groups)
    for name, window in groups.items():
        if not any(s.ok for s in window):
            assert result[name] == 0.0


@given(groups_st, st.randoms())
def test_the_order_of_samples_in_the_window_does_not_matter(
    groups: dict[str, list[Sample]], rnd: random.Random
) -> None:
    shuffled = {}
    for name, window in groups.items():
        copy = list(window)
        rnd.shuffle(copy)
        shuffled[name] = copy
    assert scores(shuffled) == pytest.approx(scores(groups))


@given(groups_st, st.sampled_from("abcdef"))
def test_turning_a_failure_into_a_success_never_lowers_a_score(
    groups: dict[str, list[Sample]], name: str
) -> None:
    window = groups.get(name)
    if window is None or all(s.ok for s in window):
        return
    index = next(i for i, s in enumerate(window) if not s.ok)
    better = list(window)
    better[index] = Sample(True, window[index].latency_s)
    assert scores({**groups, name: better})[name] >= scores(groups)[name] - 1e-9


@given(samples_st, samples_st)
def test_the_slowest_endpoint_scores_on_stability_alone(
    fast: list[Sample], slow: list[Sample]
) -> None:
    slow = [Sample(s.ok, s.latency_s + 20.0) for s in slow]  # surely the slower mean
    result = scores({"fast": fast, "slow": slow})
    stability = sum(s.ok for s in slow) / len(slow)
    assert result["slow"] == pytest.approx(0.7 * stability)


def test_the_weights_are_viems() -> None:
    window_a = [Sample(True, 0.1)] * 4  # fastest, stable
    window_b = [Sample(True, 0.4)] * 2 + [Sample(False, 0.4)] * 2  # slowest, half stable
    result = scores({"a": window_a, "b": window_b})
    assert result["a"] == pytest.approx(0.3 * (1 - 0.1 / 0.4) + 0.7 * 1.0)
    assert result["b"] == pytest.approx(0.3 * 0.0 + 0.7 * 0.5)


def test_endpoints_without_samples_have_no_score() -> None:
    assert scores({"a": [], "b": [Sample(True, 0.0)]}) == {"b": 1.0}


def test_lag_is_measured_from_the_highest_height() -> None:
    assert lags({"a": 100, "b": 40, "c": None}) == {"a": 0, "b": 60, "c": None}
    assert lags({"a": None}) == {"a": None}


@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 10**9) | st.none()))
def test_lags_are_never_negative_and_someone_is_at_zero(heights: dict[str, int | None]) -> None:
    result = lags(heights)
    known = [v for v in result.values() if v is not None]
    assert all(v >= 0 for v in known)
    if known:
        assert 0 in known


def standing(
    name: str, priority: int = 1, score: float = 1.0, *, demoted: bool = False, weight: float = 1.0
) -> Standing:
    return Standing(name, priority, weight, score, None, demoted)


def test_tiers_come_before_scores() -> None:
    order = rank([standing("public", 3, 1.0), standing("paid", 1, 0.2), standing("second", 2, 0.9)])
    assert [s.name for s in order] == ["paid", "second", "public"]


def test_a_demoted_endpoint_goes_last_whatever_its_tier() -> None:
    order = rank([standing("paid", 1, demoted=True), standing("second", 2), standing("public", 3)])
    assert [s.name for s in order] == ["second", "public", "paid"]


def test_within_a_tier_score_times_weight_decides() -> None:
    order = rank([standing("a", 1, 0.9), standing("b", 1, 0.6, weight=2.0), standing("c", 1, 0.95)])
    assert [s.name for s in order] == ["b", "c", "a"]


@given(
    st.lists(
        st.builds(
            standing,
            st.text("abcdefgh", min_size=1, max_size=3),
            st.integers(1, 3),
            st.floats(0.0, 1.0),
            demoted=st.booleans(),
        ),
        max_size=8,
    )
)
def test_no_demoted_endpoint_ranks_above_one_that_keeps_up(standings: list[Standing]) -> None:
    order = rank(standings)
    flags = [s.demoted for s in order]
    assert flags == sorted(flags)

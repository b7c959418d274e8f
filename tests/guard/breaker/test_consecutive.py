"""Consecutive counting: the seeds' rules, state by state, on a manual clock."""

from __future__ import annotations

import pytest

from tradewarden.clock import ManualClock
from tradewarden.guard.breaker import BreakerConfig, BreakerState, CircuitBreaker, CircuitOpenError

from .conftest import fail, ok, succeed


def test_opens_after_failure_threshold_failures_in_a_row(clock: ManualClock) -> None:
    breaker = CircuitBreaker("rpc", clock=clock)
    fail(breaker, 4)
    assert breaker.state is BreakerState.CLOSED
    fail(breaker)
    assert breaker.state is BreakerState.OPEN


def test_a_success_resets_the_count(clock: ManualClock) -> None:
    breaker = CircuitBreaker("rpc", clock=clock)
    fail(breaker, 4)
    succeed(breaker)
    fail(breaker, 4)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.status().failure_count == 4


def test_a_gap_longer_than_the_monitoring_period_restarts_the_count(clock: ManualClock) -> None:
    breaker = CircuitBreaker("rpc", BreakerConfig(monitoring_period_s=60), clock=clock)
    fail(breaker, 4)
    clock.advance(61)
    fail(breaker)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.status().failure_count == 1


def test_failures_within_the_period_keep_counting(clock: ManualClock) -> None:
    breaker = CircuitBreaker("rpc", BreakerConfig(monitoring_period_s=60), clock=clock)
    for _ in range(4):
        fail(breaker)
        clock.advance(59)
    fail(breaker)
    assert breaker.state is BreakerState.OPEN


def test_open_breaker_rejects_without_calling(clock: ManualClock) -> None:
    breaker = CircuitBreaker("rpc", BreakerConfig(failure_threshold=1), clock=clock)
    fail(breaker)
    clock.advance(10)
    calls: list[int] = []
    with pytest.raises(CircuitOpenError) as caught:
        breaker.call(calls.append, 1)
    assert calls == []
    assert caught.value.name == "rpc"
    assert caught.value.state is BreakerState.OPEN
    assert caught.value.remaining_s == pytest.approx(20.0)
    assert not caught.value.permanent
    assert breaker.rejected_total == 1


def test_open_turns_half_open_after_timeout(clock: ManualClock) -> None:
    breaker = CircuitBreaker("rpc", BreakerConfig(failure_threshold=1, timeout_s=30), clock=clock)
    fail(breaker)
    clock.advance(29.9)
    assert breaker.state is BreakerState.OPEN
    clock.advance(0.1)
    assert breaker.state is BreakerState.HALF_OPEN


def test_success_threshold_trials_close_the_breaker(clock: ManualClock) -> None:
    breaker = CircuitBreaker("rpc", BreakerConfig(failure_threshold=1), clock=clock)
    fail(breaker)
    clock.advance(30)
    succeed(breaker)
    assert breaker.state is BreakerState.HALF_OPEN
    succeed(breaker)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.status().failure_count == 0


def test_a_failed_trial_reopens_for_another_timeout(clock: ManualClock) -> None:
    breaker = CircuitBreaker("rpc", BreakerConfig(failure_threshold=1), clock=clock)
    fail(breaker)
    clock.advance(30)
    succeed(breaker)
    fail(breaker)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError) as caught:
        breaker.call(ok)
    assert caught.value.remaining_s == pytest.approx(30.0)


def test_half_open_rejects_past_the_permitted_trials(clock: ManualClock) -> None:
    config = BreakerConfig(failure_threshold=1, permitted_calls_in_half_open=2)
    breaker = CircuitBreaker("rpc", config, clock=clock)
    fail(breaker)
    clock.advance(30)
    first, second, third = breaker.guarded(), breaker.guarded(), breaker.guarded()
    with first, second:
        with pytest.raises(CircuitOpenError) as caught, third:
            pass
        assert caught.value.state is BreakerState.HALF_OPEN
        assert caught.value.remaining_s is None
    assert breaker.state is BreakerState.CLOSED


def test_a_trial_that_outlives_its_half_open_is_not_counted(clock: ManualClock) -> None:
    breaker = CircuitBreaker("rpc", BreakerConfig(failure_threshold=1), clock=clock)
    fail(breaker)
    clock.advance(30)
    trial = breaker.guarded()
    with trial:
        breaker.reset()
        fail(breaker)  # reopens: the trial now belongs to a past half-open
        clock.advance(30)
        assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.state is BreakerState.HALF_OPEN


def test_a_call_admitted_while_closed_does_not_count_as_a_trial(clock: ManualClock) -> None:
    breaker = CircuitBreaker("rpc", BreakerConfig(failure_threshold=1), clock=clock)
    with breaker.guarded():
        fail(breaker)
        clock.advance(30)
        assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.state is BreakerState.HALF_OPEN

"""Sliding windows: failure and slow-call rates once the window holds enough calls."""

from __future__ import annotations

from tradewarden.clock import ManualClock
from tradewarden.guard.breaker import BreakerConfig, BreakerState, CircuitBreaker, WindowKind

from .conftest import fail, ok, succeed


def count_breaker(clock: ManualClock, **settings: object) -> CircuitBreaker:
    config = BreakerConfig(window=WindowKind.COUNT, **settings)  # type: ignore[arg-type]
    return CircuitBreaker("w", config, clock=clock)


def test_failure_rate_at_the_threshold_opens(clock: ManualClock) -> None:
    breaker = count_breaker(clock, window_size=10, minimum_number_of_calls=10)
    succeed(breaker, 5)
    fail(breaker, 4)
    assert breaker.state is BreakerState.CLOSED
    fail(breaker)  # 5 of 10: 50 %
    assert breaker.state is BreakerState.OPEN


def test_nothing_opens_below_the_minimum_number_of_calls(clock: ManualClock) -> None:
    breaker = count_breaker(clock, window_size=10, minimum_number_of_calls=5)
    fail(breaker, 4)
    assert breaker.state is BreakerState.CLOSED
    fail(breaker)
    assert breaker.state is BreakerState.OPEN


def test_a_small_window_needs_only_to_be_full(clock: ManualClock) -> None:
    breaker = count_breaker(clock, window_size=4, minimum_number_of_calls=100)
    succeed(breaker, 2)
    fail(breaker, 2)
    assert breaker.state is BreakerState.OPEN


def test_old_calls_leave_a_count_window(clock: ManualClock) -> None:
    breaker = count_breaker(clock, window_size=4, minimum_number_of_calls=4)
    fail(breaker)
    succeed(breaker, 6)  # the failure has left the ring
    fail(breaker)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.status().failure_count == 0  # consecutive count unused with a window


def test_slow_calls_at_the_slow_rate_open(clock: ManualClock) -> None:
    breaker = count_breaker(
        clock,
        window_size=4,
        minimum_number_of_calls=4,
        slow_call_duration_s=1.0,
        slow_call_rate_threshold=50,
    )

    def slow() -> str:
        clock.advance(1.5)
        return "late"

    succeed(breaker, 2)
    assert breaker.call(slow) == "late"
    assert breaker.state is BreakerState.CLOSED
    breaker.call(slow)
    assert breaker.state is BreakerState.OPEN


def test_time_window_forgets_calls_older_than_its_seconds(clock: ManualClock) -> None:
    config = BreakerConfig(window=WindowKind.TIME, window_size=10, minimum_number_of_calls=4)
    breaker = CircuitBreaker("t", config, clock=clock)
    fail(breaker, 3)
    clock.advance(11)
    succeed(breaker)
    fail(breaker)
    assert breaker.state is BreakerState.CLOSED  # 1 of 2 in the window: below the minimum
    fail(breaker, 2)
    assert breaker.state is BreakerState.OPEN  # 3 of 4


def test_time_window_counts_every_call_within_its_seconds(clock: ManualClock) -> None:
    config = BreakerConfig(window=WindowKind.TIME, window_size=10, minimum_number_of_calls=4)
    breaker = CircuitBreaker("t", config, clock=clock)
    for _ in range(2):
        fail(breaker)
        clock.advance(4)
    succeed(breaker, 2)
    assert breaker.state is BreakerState.OPEN  # 2 of 4 within 8 s


def test_a_slow_trial_reopens(clock: ManualClock) -> None:
    breaker = count_breaker(
        clock, window_size=2, minimum_number_of_calls=2, slow_call_duration_s=1.0
    )
    fail(breaker, 2)
    clock.advance(30)

    def slow() -> str:
        clock.advance(2)
        return "late"

    breaker.call(slow)
    assert breaker.state is BreakerState.OPEN


def test_window_closes_from_half_open_and_starts_empty(clock: ManualClock) -> None:
    breaker = count_breaker(clock, window_size=2, minimum_number_of_calls=2)
    fail(breaker, 2)
    clock.advance(30)
    succeed(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    fail(breaker)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.call(ok) == "ok"

"""Operator states and actions, and the listeners that hear every transition."""

from __future__ import annotations

import pytest

from tradewarden.clock import ManualClock
from tradewarden.guard.breaker import BreakerConfig, BreakerState, CircuitBreaker, CircuitOpenError

from .conftest import fail, ok, succeed


def test_forced_open_rejects_past_any_timeout(clock: ManualClock) -> None:
    breaker = CircuitBreaker("x", clock=clock)
    breaker.force_open()
    clock.advance(3600)
    with pytest.raises(CircuitOpenError) as caught:
        breaker.call(ok)
    assert caught.value.state is BreakerState.FORCED_OPEN
    assert caught.value.remaining_s is None
    assert breaker.state is BreakerState.FORCED_OPEN


def test_disabled_lets_everything_through_uncounted(clock: ManualClock) -> None:
    breaker = CircuitBreaker("x", BreakerConfig(failure_threshold=1), clock=clock)
    breaker.disable()
    fail(breaker, 10)
    succeed(breaker)
    assert breaker.state is BreakerState.DISABLED
    assert (breaker.failures_total, breaker.successes_total) == (0, 0)


def test_reset_closes_from_any_state_and_clears_counts(clock: ManualClock) -> None:
    breaker = CircuitBreaker("x", clock=clock)
    for action in (breaker.force_open, breaker.disable, breaker.open):
        action()
        breaker.reset()
        assert breaker.state is BreakerState.CLOSED
    fail(breaker, 4)
    breaker.close()
    fail(breaker, 4)
    assert breaker.state is BreakerState.CLOSED


def test_open_recovers_after_the_timeout(clock: ManualClock) -> None:
    breaker = CircuitBreaker("x", clock=clock)
    breaker.open()
    clock.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN


def test_listeners_hear_each_transition_in_order(clock: ManualClock) -> None:
    heard: list[tuple[str, BreakerState, BreakerState]] = []
    breaker = CircuitBreaker(
        "x",
        BreakerConfig(failure_threshold=1, success_threshold=1),
        clock=clock,
        listeners=[lambda b, old, new: heard.append((b.name, old, new))],
    )
    fail(breaker)
    clock.advance(30)
    succeed(breaker)
    breaker.force_open()
    assert heard == [
        ("x", BreakerState.CLOSED, BreakerState.OPEN),
        ("x", BreakerState.OPEN, BreakerState.HALF_OPEN),
        ("x", BreakerState.HALF_OPEN, BreakerState.CLOSED),
        ("x", BreakerState.CLOSED, BreakerState.FORCED_OPEN),
    ]
    assert breaker.transitions()[(BreakerState.CLOSED, BreakerState.OPEN)] == 1


def test_a_failing_listener_does_not_stop_the_others(clock: ManualClock) -> None:
    heard: list[BreakerState] = []

    def broken(breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        raise RuntimeError("listener bug")

    breaker = CircuitBreaker("x", clock=clock, listeners=[broken])
    breaker.add_listener(lambda _b, _old, new: heard.append(new))
    breaker.open()
    assert heard == [BreakerState.OPEN]


def test_a_listener_may_call_the_breaker(clock: ManualClock) -> None:
    breaker = CircuitBreaker("x", clock=clock)
    seen: list[BreakerState] = []
    breaker.add_listener(lambda b, _old, _new: seen.append(b.status().state))
    breaker.open()
    assert seen == [BreakerState.OPEN]


def test_status_reports_times_and_counts(clock: ManualClock) -> None:
    breaker = CircuitBreaker("x", BreakerConfig(failure_threshold=2), clock=clock)
    fail(breaker)
    status = breaker.status()
    assert (status.state, status.failure_count) == (BreakerState.CLOSED, 1)
    assert status.last_failure_time == clock.now()
    fail(breaker)
    clock.advance(10)
    status = breaker.status()
    assert status.state is BreakerState.OPEN
    assert status.opened_at == clock.now() - 10
    assert status.remaining_s == pytest.approx(20)


def test_an_empty_name_is_refused() -> None:
    with pytest.raises(ValueError, match="name"):
        CircuitBreaker("")

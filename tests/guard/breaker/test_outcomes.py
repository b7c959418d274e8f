"""Which exceptions and results are failures; ignored ones pass through uncounted."""

from __future__ import annotations

import asyncio

import pytest

from tradewarden.clock import ManualClock
from tradewarden.guard.breaker import BreakerConfig, BreakerState, CircuitBreaker

from .conftest import BoomError, fail


class DeterministicError(Exception):
    """An error that says nothing about the dependency's health."""


def raise_(exc: BaseException) -> None:
    raise exc


def test_ignored_exceptions_pass_through_uncounted(clock: ManualClock) -> None:
    config = BreakerConfig(failure_threshold=1, ignore_exceptions=(DeterministicError,))
    breaker = CircuitBreaker("x", config, clock=clock)
    for _ in range(3):
        with pytest.raises(DeterministicError):
            breaker.call(raise_, DeterministicError())
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures_total == 0
    assert breaker.successes_total == 0


def test_an_ignored_exception_does_not_reset_the_count(clock: ManualClock) -> None:
    config = BreakerConfig(failure_threshold=2, ignore_exceptions=(DeterministicError,))
    breaker = CircuitBreaker("x", config, clock=clock)
    fail(breaker)
    with pytest.raises(DeterministicError):
        breaker.call(raise_, DeterministicError())
    fail(breaker)
    assert breaker.state is BreakerState.OPEN


def test_only_record_exceptions_count(clock: ManualClock) -> None:
    config = BreakerConfig(failure_threshold=1, record_exceptions=(TimeoutError,))
    breaker = CircuitBreaker("x", config, clock=clock)
    fail(breaker)
    assert breaker.state is BreakerState.CLOSED
    with pytest.raises(TimeoutError):
        breaker.call(raise_, TimeoutError())
    assert breaker.state is BreakerState.OPEN


def test_failure_predicate_decides_for_recorded_types(clock: ManualClock) -> None:
    config = BreakerConfig(failure_threshold=1, failure_predicate=lambda exc: "503" in str(exc))
    breaker = CircuitBreaker("x", config, clock=clock)
    with pytest.raises(BoomError):
        breaker.call(raise_, BoomError("400 bad request"))
    assert breaker.state is BreakerState.CLOSED
    with pytest.raises(BoomError):
        breaker.call(raise_, BoomError("503 unavailable"))
    assert breaker.state is BreakerState.OPEN


def test_result_predicate_turns_a_value_into_a_failure(clock: ManualClock) -> None:
    config = BreakerConfig(failure_threshold=2, result_predicate=lambda r: r is None)
    breaker = CircuitBreaker("x", config, clock=clock)
    guarded = breaker(lambda: None)
    assert guarded() is None  # the value is still returned
    assert breaker.call(lambda: None) is None
    assert breaker.state is BreakerState.OPEN
    assert breaker.failures_total == 2


async def test_cancellation_is_not_a_failure(clock: ManualClock) -> None:
    breaker = CircuitBreaker("x", BreakerConfig(failure_threshold=1), clock=clock)

    @breaker
    async def hang() -> None:
        await asyncio.Event().wait()

    task = asyncio.create_task(hang())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures_total == 0


def test_an_ignored_exception_in_a_trial_frees_the_slot(clock: ManualClock) -> None:
    config = BreakerConfig(failure_threshold=1, ignore_exceptions=(DeterministicError,))
    breaker = CircuitBreaker("x", config, clock=clock)
    fail(breaker)
    clock.advance(30)
    with pytest.raises(DeterministicError):
        breaker.call(raise_, DeterministicError())
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.call(lambda: 1) == 1  # the slot is free again


class PredicateBugError(Exception):
    """A predicate's own bug."""


def broken_predicate(_: object) -> bool:
    raise PredicateBugError("predicate failed")


def _half_open(config: BreakerConfig, clock: ManualClock) -> CircuitBreaker:
    breaker = CircuitBreaker("x", config, clock=clock)
    breaker.open()
    clock.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN
    return breaker


def test_a_result_predicate_that_raises_frees_the_trial_slot(clock: ManualClock) -> None:
    breaker = _half_open(BreakerConfig(result_predicate=broken_predicate), clock)
    with pytest.raises(PredicateBugError):
        breaker.call(lambda: 1)
    with pytest.raises(PredicateBugError):
        breaker.call(lambda: 1)  # admitted: the first trial's slot was given back


def test_a_failure_predicate_that_raises_frees_the_trial_slot(clock: ManualClock) -> None:
    breaker = _half_open(BreakerConfig(failure_predicate=broken_predicate), clock)
    with pytest.raises(PredicateBugError):
        breaker.call(raise_, BoomError("down"))
    with pytest.raises(PredicateBugError), breaker.guarded():
        raise BoomError("down")
    assert breaker.call(lambda: 1) == 1
    assert breaker.state is BreakerState.HALF_OPEN


async def test_an_async_result_predicate_that_raises_frees_the_trial_slot(
    clock: ManualClock,
) -> None:
    breaker = _half_open(BreakerConfig(result_predicate=broken_predicate), clock)

    async def one() -> int:
        return 1

    with pytest.raises(PredicateBugError):
        await breaker.acall(one)
    with pytest.raises(PredicateBugError):
        await breaker.acall(one)


class ListenerStopError(BaseException):
    """A listener's BaseException (a KeyboardInterrupt, a SystemExit) during admission."""


def test_a_listener_that_raises_base_exception_on_half_open_frees_the_trial_slot(
    clock: ManualClock,
) -> None:
    stops = [True]

    def listener(_: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        if new is BreakerState.HALF_OPEN and stops.pop():
            raise ListenerStopError

    breaker = CircuitBreaker("x", BreakerConfig(), clock=clock, listeners=[listener])
    breaker.open()
    clock.advance(30)
    with pytest.raises(ListenerStopError):
        breaker.call(lambda: 1)  # the call that moved OPEN to HALF_OPEN, and took the slot
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.call(lambda: 2) == 2  # the slot was given back

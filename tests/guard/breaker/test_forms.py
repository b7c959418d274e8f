"""Every form (decorator, call, context manager; sync and async) enforces the state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tradewarden.clock import ManualClock
from tradewarden.guard.breaker import (
    LAST_GOOD_VALUE,
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    WindowKind,
)

from .conftest import BoomError


@pytest.fixture
def breaker(clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker("forms", BreakerConfig(failure_threshold=2), clock=clock)


def sync_forms(breaker: CircuitBreaker) -> dict[str, Callable[[Callable[[], str]], str]]:
    def decorated(fn: Callable[[], str]) -> str:
        return breaker(fn)()

    def called(fn: Callable[[], str]) -> str:
        return breaker.call(fn)

    def with_block(fn: Callable[[], str]) -> str:
        with breaker.guarded():
            return fn()

    return {"decorator": decorated, "call": called, "with": with_block}


def async_forms(
    breaker: CircuitBreaker,
) -> dict[str, Callable[[Callable[[], Awaitable[str]]], Awaitable[str]]]:
    async def decorated(fn: Callable[[], Awaitable[str]]) -> str:
        async def wrapped() -> str:
            return await fn()

        return await breaker(wrapped)()

    async def called(fn: Callable[[], Awaitable[str]]) -> str:
        return await breaker.acall(fn)

    async def with_block(fn: Callable[[], Awaitable[str]]) -> str:
        async with breaker.guarded():
            return await fn()

    return {"decorator": decorated, "acall": called, "async with": with_block}


@pytest.mark.parametrize("form", ["decorator", "call", "with"])
def test_sync_form_counts_and_rejects(breaker: CircuitBreaker, form: str) -> None:
    run = sync_forms(breaker)[form]
    ran: list[str] = []

    def good() -> str:
        ran.append("good")
        return "good"

    def bad() -> str:
        ran.append("bad")
        raise BoomError

    assert run(good) == "good"
    for _ in range(2):
        with pytest.raises(BoomError):
            run(bad)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError):
        run(good)
    assert ran == ["good", "bad", "bad"]
    assert (breaker.successes_total, breaker.failures_total, breaker.rejected_total) == (1, 2, 1)


@pytest.mark.parametrize("form", ["decorator", "acall", "async with"])
async def test_async_form_counts_and_rejects(breaker: CircuitBreaker, form: str) -> None:
    run = async_forms(breaker)[form]
    ran: list[str] = []

    async def good() -> str:
        ran.append("good")
        return "good"

    async def bad() -> str:
        ran.append("bad")
        raise BoomError

    assert await run(good) == "good"
    for _ in range(2):
        with pytest.raises(BoomError):
            await run(bad)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError):
        await run(good)
    assert ran == ["good", "bad", "bad"]
    assert (breaker.successes_total, breaker.failures_total, breaker.rejected_total) == (1, 2, 1)


@pytest.mark.parametrize("form", ["decorator", "call", "with"])
def test_sync_form_runs_half_open_trials(
    breaker: CircuitBreaker, clock: ManualClock, form: str
) -> None:
    run = sync_forms(breaker)[form]
    breaker.open()
    clock.advance(30)
    run(lambda: "trial")
    run(lambda: "trial")
    assert breaker.state is BreakerState.CLOSED


async def test_async_decorator_keeps_the_function_async(breaker: CircuitBreaker) -> None:
    @breaker
    async def fetch(x: int) -> int:
        return x * 2

    assert fetch.__name__ == "fetch"
    assert await fetch(21) == 42


def test_decorated_function_keeps_its_arguments(breaker: CircuitBreaker) -> None:
    @breaker
    def add(a: int, b: int = 0) -> int:
        return a + b

    assert add(1, b=2) == 3
    breaker.disable()
    assert add(2, b=2) == 4


def test_a_guarded_block_is_entered_once(breaker: CircuitBreaker) -> None:
    block = breaker.guarded()
    with block:
        pass
    with pytest.raises(RuntimeError, match="entered twice"), block:
        pass


def window_breaker(clock: ManualClock) -> CircuitBreaker:
    config = BreakerConfig(
        window=WindowKind.COUNT,
        window_size=4,
        minimum_number_of_calls=4,
        result_predicate=lambda r: r == "bad",
    )
    return CircuitBreaker("w", config, clock=clock, fallback=LAST_GOOD_VALUE)


def test_windowed_decorator_counts_exceptions_and_results(clock: ManualClock) -> None:
    breaker = window_breaker(clock)
    results = iter(["good", "bad", "bad"])

    @breaker
    def fetch() -> str:
        return next(results)

    @breaker
    def broken() -> str:
        raise BoomError

    assert fetch() == "good"
    assert fetch() == "bad"
    assert fetch() == "bad"
    assert breaker.state is BreakerState.CLOSED
    with pytest.raises(BoomError):
        broken()
    assert breaker.state is BreakerState.OPEN  # 3 of 4 failed
    assert fetch() == "good"  # the last good value while OPEN
    assert (breaker.successes_total, breaker.failures_total) == (1, 3)


async def test_windowed_async_forms_count_exceptions_and_results(clock: ManualClock) -> None:
    breaker = window_breaker(clock)
    results = iter(["good", "bad", "bad"])

    @breaker
    async def fetch() -> str:
        return next(results)

    async def broken() -> str:
        raise BoomError

    async def plain_bad() -> str:
        return "bad"

    assert await fetch() == "good"
    assert await breaker.acall(plain_bad) == "bad"
    assert await fetch() == "bad"
    with pytest.raises(BoomError):
        await breaker.acall(broken)
    assert breaker.state is BreakerState.OPEN
    assert await fetch() == "good"


async def test_acall_falls_back_to_its_last_good_value(clock: ManualClock) -> None:
    breaker = window_breaker(clock)

    async def quote() -> str:
        return "good"

    assert await breaker.acall(quote) == "good"
    breaker.open()
    assert await breaker.acall(quote) == "good"


def test_a_sync_call_refuses_an_async_fallback(clock: ManualClock) -> None:
    async def cached() -> str:
        return "cached"

    breaker = CircuitBreaker("x", BreakerConfig(failure_threshold=1), clock=clock, fallback=cached)
    breaker.open()
    with pytest.raises(TypeError, match="awaitable"):
        breaker.call(lambda: "live")

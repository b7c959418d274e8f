"""Every form (decorator, call, context manager; sync and async) enforces the state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tradewarden.clock import ManualClock
from tradewarden.guard.breaker import BreakerConfig, BreakerState, CircuitBreaker, CircuitOpenError

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

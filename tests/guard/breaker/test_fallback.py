"""Fallbacks while rejected: a function of the call's arguments, or the last good value."""

from __future__ import annotations

import pytest

from tradewarden.clock import ManualClock
from tradewarden.guard.breaker import (
    LAST_GOOD_VALUE,
    BreakerConfig,
    CircuitBreaker,
    CircuitOpenError,
)

from .conftest import fail


def test_fallback_function_gets_the_call_arguments(clock: ManualClock) -> None:
    breaker = CircuitBreaker(
        "price", BreakerConfig(failure_threshold=1), clock=clock, fallback=lambda s: f"cached {s}"
    )

    @breaker
    def price(symbol: str) -> str:
        return f"live {symbol}"

    assert price("SOL") == "live SOL"
    fail(breaker)
    assert price("SOL") == "cached SOL"


def test_last_good_value_is_per_decorated_function(clock: ManualClock) -> None:
    breaker = CircuitBreaker("rpc", BreakerConfig(failure_threshold=1), clock=clock)

    @breaker.decorate(fallback=LAST_GOOD_VALUE)
    def slot() -> int:
        return 100

    @breaker.decorate(fallback=LAST_GOOD_VALUE)
    def balance() -> float:
        return 2.5

    assert (slot(), balance()) == (100, 2.5)
    fail(breaker)
    assert (slot(), balance()) == (100, 2.5)


def test_without_a_good_value_the_rejection_is_raised(clock: ManualClock) -> None:
    breaker = CircuitBreaker(
        "rpc", BreakerConfig(failure_threshold=1), clock=clock, fallback=LAST_GOOD_VALUE
    )
    fail(breaker)
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: 1)


def test_call_falls_back_to_the_breakers_last_good_value(clock: ManualClock) -> None:
    breaker = CircuitBreaker(
        "rpc", BreakerConfig(failure_threshold=1), clock=clock, fallback=LAST_GOOD_VALUE
    )
    assert breaker.call(lambda: 7) == 7
    fail(breaker)
    assert breaker.call(lambda: 8) == 7


async def test_async_fallback_may_be_a_coroutine_function(clock: ManualClock) -> None:
    async def cached(symbol: str) -> str:
        return f"cached {symbol}"

    breaker = CircuitBreaker("p", BreakerConfig(failure_threshold=1), clock=clock, fallback=cached)

    @breaker
    async def price(symbol: str) -> str:
        return f"live {symbol}"

    fail(breaker)
    assert await price("SOL") == "cached SOL"


async def test_async_last_good_value(clock: ManualClock) -> None:
    breaker = CircuitBreaker("p", BreakerConfig(failure_threshold=1), clock=clock)

    @breaker.decorate(fallback=LAST_GOOD_VALUE)
    async def quote() -> int:
        return 5

    assert await quote() == 5
    fail(breaker)
    assert await quote() == 5


def test_decorator_can_drop_the_breakers_fallback(clock: ManualClock) -> None:
    breaker = CircuitBreaker(
        "p", BreakerConfig(failure_threshold=1), clock=clock, fallback=lambda: "cached"
    )
    strict = breaker.decorate(fallback=None)(lambda: "live")
    fail(breaker)
    with pytest.raises(CircuitOpenError):
        strict()


def test_the_context_manager_always_raises(clock: ManualClock) -> None:
    breaker = CircuitBreaker(
        "p", BreakerConfig(failure_threshold=1), clock=clock, fallback=lambda: "cached"
    )
    fail(breaker)
    with pytest.raises(CircuitOpenError), breaker.guarded():
        pass

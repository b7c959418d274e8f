"""Breakers on a manual clock, and one-line ways to feed them outcomes."""

from __future__ import annotations

import pytest

from tradewarden.clock import ManualClock
from tradewarden.guard.breaker import CircuitBreaker


class BoomError(Exception):
    """The failure the guarded calls raise."""


def ok() -> str:
    return "ok"


def boom() -> str:
    raise BoomError("down")


def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    """Make ``times`` failing calls through ``breaker`` (each one admitted)."""
    for _ in range(times):
        with pytest.raises(BoomError):
            breaker.call(boom)


def succeed(breaker: CircuitBreaker, times: int = 1) -> None:
    """Make ``times`` successful calls through ``breaker``."""
    for _ in range(times):
        assert breaker.call(ok) == "ok"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
